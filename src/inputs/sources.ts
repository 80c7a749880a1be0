/**
 * Turns the command line's inputs into an ordered list of re-readable sources: checks the
 * arguments (pure), then finds each file and spools what can be read only once.
 */
import { stat } from 'node:fs/promises';
import { InputError, UsageError } from '../core/errors.js';
import { type InputFormat, type LineFormat, formatForPath, isBlank, sniffFormat } from './formats.js';
import { readError, readLines } from './lines.js';
import type { Spool } from './spool.js';

export const STDIN = '-';
export const STDIN_LABEL = 'stdin';

export type Source =
  | { readonly kind: 'prompts'; readonly prompts: readonly string[] }
  /** `path` is what is read (maybe a spool file); `label` is what the user gave, for messages. */
  | {
      readonly kind: 'file';
      readonly label: string;
      readonly path: string;
      readonly format: LineFormat;
      readonly stdin: boolean;
    };

export interface SourceArgs {
  readonly files: readonly string[];
  readonly prompts: readonly string[];
}

/** Argument checks that need no I/O. */
export function checkArgs({ files, prompts }: SourceArgs): void {
  if (files.length === 0 && prompts.length === 0) {
    throw new UsageError('no inputs: give prompt files, -p PROMPT, or - for stdin');
  }
  if (prompts.some(isBlank)) throw new UsageError('-p needs a non-empty prompt');
  if (files.some((f) => f === '')) throw new UsageError('an input file name is empty');
  if (files.filter((f) => f === STDIN).length > 1) {
    throw new UsageError('stdin (-) can be given only once');
  }
}

export interface ResolveOptions extends SourceArgs {
  readonly format: InputFormat;
  readonly spool: Spool;
  /** Touched only when a file is '-'; process.stdin when absent. */
  readonly stdin: NodeJS.ReadableStream | undefined;
}

/** Prompts first, then files in order. Spools stdin and pipes; fails early on missing files. */
export async function resolveSources(opts: ResolveOptions): Promise<Source[]> {
  checkArgs(opts);
  const sources: Source[] = [];
  if (opts.prompts.length > 0) sources.push({ kind: 'prompts', prompts: opts.prompts });
  for (const file of opts.files) {
    if (file === STDIN) {
      const path = await opts.spool.save(opts.stdin ?? process.stdin, STDIN_LABEL);
      const format = opts.format === 'auto' ? await sniff(path, STDIN_LABEL) : opts.format;
      sources.push({ kind: 'file', label: STDIN_LABEL, path, format, stdin: true });
    } else {
      const path = await readablePath(file, opts.spool);
      sources.push({ kind: 'file', label: file, path, format: formatForPath(file, opts.format), stdin: false });
    }
  }
  return sources;
}

/** A regular file is read in place; a FIFO or device (`<(cmd)`, /dev/stdin) is spooled first. */
async function readablePath(file: string, spool: Spool): Promise<string> {
  let info;
  try {
    info = await stat(file);
  } catch (err) {
    throw readError(err, file);
  }
  if (info.isDirectory()) throw new InputError('is a directory, not a file', file);
  return info.isFile() ? file : spool.saveFile(file, file);
}

async function sniff(path: string, label: string): Promise<LineFormat> {
  for await (const { text } of readLines(path, { label })) {
    if (!isBlank(text)) return sniffFormat(text);
  }
  return 'txt';
}
