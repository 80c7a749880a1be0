/**
 * The plug-in contract. A processor module's default export is a `Processor`: a name and a
 * `process(input, ctx)` that returns an async iterable of text chunks.
 */
import type { ItemInput, Params } from '../core/types.js';
import type { ItemMeta } from '../core/item-meta.js';
import type { QuotaCostInput, QuotaLimits } from '../core/quota/limits.js';
import type { HeaderSource } from '../core/quota/headers.js';

export type { QuotaCostInput, QuotaLimits, HeaderSource };

/** One `--param` a processor takes. */
export interface ParamSpec {
  /** One line, for errors and docs. */
  readonly description: string;
  /** Values are strings on the wire; a declared type is checked before any work. Default: string. */
  readonly type?: 'string' | 'number' | 'integer' | 'boolean';
  /** What an absent param means (documentation; the processor applies it). */
  readonly default?: string | number | boolean;
  /** Refused when absent or empty. */
  readonly required?: boolean;
}

/** Every param a processor takes, by name: declared once, checked by the CLI, actions and workers. */
export type ParamDeclaration = Readonly<Record<string, ParamSpec>>;

/**
 * A processor's error may say it is no fault of the item (a refused connection, a wrong URL, a
 * bad key: every item would fail the same way) by carrying `systemic`, a short text naming the
 * cause; equal texts mean the same cause. A job stops once several items end that way.
 */
export interface SystemicError extends Error {
  readonly systemic: string;
}

/** The cause a thrown value names as systemic, if it does. */
export function systemicCause(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const cause = (err as { systemic?: unknown }).systemic;
  return typeof cause === 'string' && cause !== '' ? cause : undefined;
}

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
  /**
   * What this item cost and how it ended, for the results file and the run's totals: token usage,
   * the model, the finish reason, the server's request id (see core/item-meta.ts). Call it any time
   * during the item, e.g. when a stream's usage arrives; a later call replaces the fields it names.
   * A failed attempt's report counts too: its tokens were billed.
   */
  report(meta: ItemMeta): void;
  /**
   * Waits until the rate limit of `key` lets one more call through, then resolves with its permit
   * (see docs/processors.md, "Quota: ctx.limit"). One limiter per key is shared by every thread of
   * the pool; a call costs `cost` (default one request, no tokens) against `limits` (per minute;
   * any not given is learned from the server's x-ratelimit-* headers). The key is any string that
   * names the endpoint and credentials, e.g. the base URL and a hash of the API key: never the key
   * itself. Rejects with the item's abort reason if the item is aborted while it waits (the
   * reservation is given back).
   */
  limit(key: string, cost?: QuotaCostInput, limits?: QuotaLimits): Promise<Permit>;
}

/** What the server answered a call, for the limiter to learn from. */
export interface ServerAnswer {
  readonly status: number;
  /** fetch's `Headers`, or node:http's header record. */
  readonly headers?: HeaderSource;
}

/** Leave to make one call; tell it how the call went. Every method may be called after another; `done` and `cancel` once. */
export interface Permit {
  /** When it was due, in ms on the limiter's monotonic clock (for diagnostics and tests). */
  readonly dueAtMs: number;
  /**
   * The server's answer (call it as soon as the status and headers arrive): a 429 or 503 with
   * retry-after pauses the whole key; x-ratelimit-* headers teach it the limits and where the
   * server's buckets stand; a 429 or 503 that says nothing makes the key allow fewer calls at once.
   */
  learn(answer: ServerAnswer): void;
  /** The call was made and is over; `tokens`: what it really used, to correct the estimate. */
  done(usage?: { readonly tokens?: number }): void;
  /** The call was never made (gave up before sending): its cost is given back. */
  cancel(): void;
}

export type Chunks = AsyncIterable<string> | Iterable<string>;

export interface Processor {
  readonly name: string;
  /**
   * The params this processor takes. Declared, a param it does not name is refused before any
   * work (with the nearest name: `did you mean max_tokens?`); undeclared, any param passes.
   */
  readonly params?: ParamDeclaration;
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
   * Called once on the main thread before any work starts (after the declared `params` were
   * checked): throw to reject bad `--param` values with a message, so the user hears it once
   * instead of once per item. The message need not name the processor: slowwork does.
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
