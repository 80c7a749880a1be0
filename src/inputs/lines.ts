/**
 * Streaming line splitter over a file: yields decoded lines with their 1-based numbers and
 * rejects what is not text (NUL bytes, invalid UTF-8) or a line too long to hold.
 *
 * Splitting happens on bytes, before decoding: '\n' never occurs inside a multi-byte UTF-8
 * sequence, so each line decodes on its own and a decoding error names its exact line.
 */
import { createReadStream } from 'node:fs';
import { InputError, describeError } from '../core/errors.js';

export const MAX_LINE_BYTES = 8 * 1024 * 1024;

export interface Line {
  readonly text: string;
  /** 1-based. */
  readonly lineNo: number;
}

export interface LineOptions {
  /** How errors name the file: the path as the user gave it, or `stdin`. */
  readonly label: string;
  /** Longest accepted line in bytes, without its line ending. */
  readonly maxLineBytes?: number;
  readonly highWaterMark?: number;
}

const LF = 0x0a;
const CR = 0x0d;

/**
 * Reads `path` as arrays of lines, one array per chunk read, so consumers pay one await per
 * chunk rather than per line. Breaking out of the loop destroys the file stream (closes the fd).
 */
export async function* readLineBatches(path: string, opts: LineOptions): AsyncGenerator<Line[]> {
  const { label } = opts;
  const maxLineBytes = opts.maxLineBytes ?? MAX_LINE_BYTES;
  // ignoreBOM keeps U+FEFF so that only a BOM at the very start of the file is dropped.
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  const stream = createReadStream(path, { highWaterMark: opts.highWaterMark ?? 64 * 1024 });

  const decode = (bytes: Uint8Array, lineNo: number): string => {
    let end = bytes.length;
    if (end > 0 && bytes[end - 1] === CR) end--;
    let start = 0;
    if (lineNo === 1 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) start = 3;
    try {
      return decoder.decode(bytes.subarray(start, end));
    } catch {
      throw new InputError(`looks like a binary file (invalid UTF-8 at line ${lineNo}), not text prompts`, label);
    }
  };

  // The unfinished line: pieces of earlier chunks, never more than maxLineBytes in total.
  let parts: Buffer[] = [];
  let partBytes = 0;
  let lineNo = 1;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      const nul = chunk.indexOf(0);
      const batch: Line[] = [];
      let start = 0;
      while (start < chunk.length) {
        const nl = chunk.indexOf(LF, start);
        const end = nl === -1 ? chunk.length : nl;
        if (nul !== -1 && nul < end) {
          throw new InputError(`looks like a binary file (NUL byte at line ${lineNo}), not text prompts`, label);
        }
        const segment = chunk.subarray(start, end);
        // A CR right before the LF is part of the line ending, not of the line's length.
        const ownBytes = partBytes + segment.length - (nl !== -1 && segment.at(-1) === CR ? 1 : 0);
        if (ownBytes > maxLineBytes) throw tooLong(lineNo, maxLineBytes, label);
        if (nl === -1) {
          parts.push(segment);
          partBytes += segment.length;
          break;
        }
        const bytes = parts.length === 0 ? segment : Buffer.concat([...parts, segment]);
        parts = [];
        partBytes = 0;
        batch.push({ text: decode(bytes, lineNo), lineNo });
        lineNo++;
        start = nl + 1;
      }
      if (batch.length > 0) yield batch;
    }
    // Last line without a trailing newline.
    if (partBytes > 0) yield [{ text: decode(Buffer.concat(parts), lineNo), lineNo }];
  } catch (err) {
    throw readError(err, label);
  } finally {
    stream.destroy();
  }
}

/** Line by line, for callers that read only a few lines. */
export async function* readLines(path: string, opts: LineOptions): AsyncGenerator<Line> {
  for await (const batch of readLineBatches(path, opts)) yield* batch;
}

function tooLong(lineNo: number, max: number, label: string): InputError {
  const limit = max === MAX_LINE_BYTES ? '8 MiB' : `${max} bytes`;
  return new InputError(`line ${lineNo} is longer than ${limit}`, label);
}

/** Turns an fs error into one line naming the file; InputErrors pass through. */
export function readError(err: unknown, label: string): unknown {
  if (err instanceof InputError) return err;
  const code = (err as NodeJS.ErrnoException | null)?.code;
  switch (code) {
    case 'ENOENT':
    case 'ENOTDIR':
      return new InputError('cannot read: no such file', label);
    case 'EACCES':
    case 'EPERM':
      return new InputError('cannot read: permission denied', label);
    case 'EISDIR':
      return new InputError('is a directory, not a file', label);
    default:
      return new InputError(`cannot read: ${describeError(err)}`, label);
  }
}
