/**
 * The plug-in contract. A processor module's default export is a `Processor`: a name and a
 * `process(input, ctx)` that returns an async iterable of text chunks.
 */
import type { ItemInput, Params } from '../core/types.js';

export interface ProcessContext {
  /** Aborted when the item times out, is cancelled, or the job is aborted. */
  readonly signal: AbortSignal;
  /** 1-based attempt number: a retry sees 2, 3, ... */
  readonly attempt: number;
  readonly itemId: string;
  /** `--param k=v` values, as strings. */
  readonly params: Params;
  /** Pipeline stage (0-based). */
  readonly stage: number;
  /** A diagnostic line for this item (kept out of the output). */
  log(message: string): void;
}

export type Chunks = AsyncIterable<string> | Iterable<string>;

export interface Processor {
  readonly name: string;
  /**
   * What a chat request (`/v1/chat/completions` on `slowwork serve`) hands it: the conversation
   * as text (the default), or `'messages'`: the `{messages}` object as the client sent it.
   */
  readonly accepts?: 'text' | 'messages';
  process(input: ItemInput, ctx: ProcessContext): Chunks | Promise<Chunks>;
  /**
   * Optional, for backends that batch natively: one call for a whole batch, returning one chunk
   * stream per input, in order. Used only for single-processor jobs.
   */
  processBatch?(inputs: readonly ItemInput[], ctxs: readonly ProcessContext[]): Promise<readonly Chunks[]> | readonly Chunks[];
  /**
   * Called once on the main thread before any work starts: throw to reject bad `--param`
   * values with a message, so the user hears it once instead of once per item.
   */
  validate?(params: Params): void;
  /** Per-thread setup, called once before the first item. */
  init?(params: Params): void | Promise<void>;
  /** Per-thread teardown, called when the pool shuts down. */
  close?(): void | Promise<void>;
}

/** Accepts what a user module exported and checks it is a processor. */
export function isProcessor(value: unknown): value is Processor {
  if (typeof value !== 'object' || value === null) return false;
  const p = value as Record<string, unknown>;
  return typeof p.name === 'string' && typeof p.process === 'function';
}
