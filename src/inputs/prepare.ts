/**
 * Orchestration: resolve the sources, validate every item in one streaming pass (so bad input
 * fails before any work starts), then hand out a re-reader that streams them again in chunks.
 */
import type { ItemSpec } from '../core/types.js';
import { InputError } from '../core/errors.js';
import type { InputFormat } from './formats.js';
import { IdTracker } from './ids.js';
import { readItemBatches, readRawBatches, toItem } from './read.js';
import { type Source, resolveSources } from './sources.js';
import { Spool } from './spool.js';

export interface InputArgs {
  /** Paths; '-' means stdin (at most once). */
  files: string[];
  /** From repeated -p; they come first, before files, in order. */
  prompts: string[];
  /** Read when a file is '-'; defaults to process.stdin. */
  stdin?: NodeJS.ReadableStream;
  format?: InputFormat;
  /** Where stdin is spooled (default os.tmpdir()). */
  tmpDir?: string;
}

export interface PreparedInputs {
  /** Items found by the validation pass. */
  readonly total: number;
  /** Streams the items again, in order, in arrays of up to `chunk` items (default 256). */
  items(chunk?: number): AsyncIterable<ItemSpec[]>;
  /** Removes the stdin spool file, if any. */
  cleanup(): Promise<void>;
}

export const DEFAULT_CHUNK = 256;

export async function prepareInputs(args: InputArgs): Promise<PreparedInputs> {
  const spool = new Spool(args.tmpDir);
  try {
    const sources = await resolveSources({
      files: args.files,
      prompts: args.prompts,
      format: args.format ?? 'auto',
      spool,
      stdin: args.stdin,
    });
    const total = await validate(sources);
    return new Prepared(sources, total, spool);
  } catch (err) {
    await spool.cleanup();
    throw err;
  }
}

/** Reads everything once: parse errors surface here, and ids must be unique across inputs. */
async function validate(sources: readonly Source[]): Promise<number> {
  const ids = new IdTracker();
  let index = 0;
  for await (const batch of readRawBatches(sources)) {
    for (const raw of batch) {
      const earlier = ids.add(index, raw.id);
      if (earlier !== undefined) {
        const { id } = toItem(raw, index);
        const first = await sourceOf(sources, earlier);
        throw new InputError(`duplicate id "${id}" (first seen at ${first})`, raw.source);
      }
      index++;
    }
  }
  return index;
}

/** Where item `index` came from. Only for error messages: locations are not kept in memory. */
async function sourceOf(sources: readonly Source[], index: number): Promise<string> {
  for await (const batch of readItemBatches(sources)) {
    const last = batch.at(-1);
    if (last === undefined || last.index < index) continue;
    const item = batch.find((it) => it.index === index);
    return item?.source ?? `item #${index + 1}`;
  }
  return `item #${index + 1}`;
}

class Prepared implements PreparedInputs {
  constructor(
    private readonly sources: readonly Source[],
    readonly total: number,
    private readonly spool: Spool,
  ) {}

  items(chunk: number = DEFAULT_CHUNK): AsyncIterable<ItemSpec[]> {
    if (!Number.isInteger(chunk) || chunk < 1) throw new RangeError(`chunk must be a positive integer, got ${chunk}`);
    return inChunks(readItemBatches(this.sources), chunk);
  }

  cleanup(): Promise<void> {
    return this.spool.cleanup();
  }
}

/** Regroups batches of any size into arrays of exactly `size` (the last one may be shorter). */
async function* inChunks<T>(batches: AsyncIterable<T[]>, size: number): AsyncGenerator<T[]> {
  let chunk: T[] = [];
  for await (const batch of batches) {
    for (const item of batch) {
      chunk.push(item);
      if (chunk.length === size) {
        yield chunk;
        chunk = [];
      }
    }
  }
  if (chunk.length > 0) yield chunk;
}
