/**
 * Messages between the dispatching side and a thread running batches. The thread posts arrays
 * of messages on its parentPort (a MessagePort), coalesced per event-loop tick and tagged with
 * the batch id; control goes the other way on a BroadcastChannel, rare and tiny.
 */
import type { ItemInput, Params } from '../core/types.js';
import type { ItemMeta } from '../core/item-meta.js';
import type { MessagePort } from 'node:worker_threads';
import type { QuotaRequest } from '../core/quota/ledger.js';

export interface BatchItem {
  readonly i: number;
  readonly id: string;
  /** 1-based execution number. */
  readonly a: number;
  readonly input: ItemInput;
}

export interface BatchTask {
  readonly batchId: number;
  /** Module URLs of the pipeline's processors. */
  readonly processors: readonly string[];
  readonly params: Params;
  readonly timeoutMs: number;
  /** Bound on each stage's output, in characters; 0 for none. */
  readonly maxOutputChars: number;
  readonly items: readonly BatchItem[];
  /** The batch's watchdog cells (see `newProbe`), shared with the dispatching side. */
  readonly probe?: Int32Array;
  /**
   * Track which item's asynchronous code runs (item-runner's `itemScope`), so that a thread
   * killed from it names its culprit. Off until a thread of the pool died naming no culprit.
   */
  readonly scoped?: boolean;
}

/**
 * Watchdog cells of one batch, on a SharedArrayBuffer so the dispatcher can read them while the
 * thread is blocked and cannot post anything: the thread running the batch (0 until it begins),
 * the item (index + 1; 0 for none) whose processor code the runner is calling synchronously
 * right now, and a count of such calls (one long call and many short ones look different).
 */
export const PROBE_THREAD = 0;
export const PROBE_BUSY = 1;
export const PROBE_CALLS = 2;
export const newProbe = (): Int32Array => new Int32Array(new SharedArrayBuffer(3 * Int32Array.BYTES_PER_ELEMENT));

/** What each thread gets at start (piscina's workerData). */
export interface ThreadData {
  /** Name of the BroadcastChannel that carries control messages. */
  readonly control: string;
  /** Processor modules to import as the thread starts, so the first batch finds them loaded. */
  readonly preload?: readonly string[];
}

/** What a thread posts on its parentPort. */
export interface BatchEnvelope {
  /** Batch id. */
  readonly sw: number;
  readonly m: ThreadMessage[];
}

export const isBatchEnvelope = (value: unknown): value is BatchEnvelope =>
  typeof value === 'object' && value !== null && typeof (value as { sw?: unknown }).sw === 'number';

/** Thread → dispatcher. */
export type ThreadMessage =
  /** First message of a batch: which thread runs it. */
  | { readonly t: 'begin'; readonly thread: number }
  | { readonly t: 'start'; readonly i: number; readonly a: number; readonly s: number }
  | { t: 'chunk'; readonly i: number; readonly a: number; readonly s: number; text: string; n: number }
  /**
   * `ms`: the item's time on the thread, from its first stage's start to its result; `fc`: its
   * first chunk's time after that start (-1: none). Measured there, because a thread kept busy by
   * its item posts start, chunks and result together, and the dispatcher would see 0 ms.
   */
  | { readonly t: 'done'; readonly i: number; readonly a: number; readonly out: string; readonly ms?: number; readonly fc?: number; readonly meta?: ItemMeta }
  /**
   * An item's first-stage start, its chunks (n of them, merged into `text`) and its result, all
   * within one tick: what a short single-stage item sends, as one message instead of three.
   */
  | {
      readonly t: 'outcome';
      readonly i: number;
      readonly a: number;
      readonly text: string;
      readonly n: number;
      readonly out: string;
      readonly ms?: number;
      readonly fc?: number;
      readonly meta?: ItemMeta;
    }
  /**
   * `sys`: the processor said the error is no fault of the item (its `systemic` cause); `final`:
   * fail the item now, without its retries (its output passed the bound).
   */
  | {
      readonly t: 'error';
      readonly i: number;
      readonly a: number;
      readonly err: string;
      readonly aborted: boolean;
      readonly sys?: string;
      readonly final?: true;
      /** What the failed attempt reported (its tokens were billed). */
      readonly meta?: ItemMeta;
    }
  /** A diagnostic line from `ctx.log`. */
  | { readonly t: 'log'; readonly i: number; readonly line: string }
  /** The thread is about to die; `culprit` is the item whose code killed it, if known. */
  | { readonly t: 'fatal'; readonly culprit: { readonly batchId: number; readonly i: number } | null; readonly err: string };

/** Dispatcher → thread. */
export type ControlMessage =
  | {
      readonly t: 'abort';
      readonly batchIds: readonly number[];
      /** One item only; all items of the batches when absent. */
      readonly i?: number;
      readonly reason: string;
    }
  /** The pool is shutting down: call every processor's `close`, then answer with a ClosedMessage. */
  | { readonly t: 'close' };

/**
 * A thread has loaded its module and the pipeline's (ThreadData.preload), on its parentPort.
 * Terminating a thread while it still loads modules can abort the whole process (a V8 fatal
 * error in Node 20), so the pool waits for this before it ends a thread.
 */
export interface LoadedMessage {
  readonly swLoaded: number;
}

export const isLoadedMessage = (value: unknown): value is LoadedMessage =>
  typeof value === 'object' && value !== null && typeof (value as { swLoaded?: unknown }).swLoaded === 'number';

/** A thread's answer to `close`, on its parentPort. */
export interface ClosedMessage {
  readonly swClosed: number;
}

export const isClosedMessage = (value: unknown): value is ClosedMessage =>
  typeof value === 'object' && value !== null && typeof (value as { swClosed?: unknown }).swClosed === 'number';

/**
 * A thread's quota reply port (runtime/quota/thread-link.ts), on its parentPort before its first
 * request: the main thread's QuotaHost answers that thread's requests on it.
 */
export interface QuotaPortMessage {
  readonly swQuota: MessagePort;
  readonly thread: number;
}

export const isQuotaPortMessage = (value: unknown): value is QuotaPortMessage =>
  typeof value === 'object' && value !== null && typeof (value as { swQuota?: { postMessage?: unknown } }).swQuota?.postMessage === 'function';

/** A quota request of thread `swq`, on its parentPort. */
export interface QuotaEnvelope {
  readonly swq: number;
  readonly r: QuotaRequest;
}

export const isQuotaEnvelope = (value: unknown): value is QuotaEnvelope =>
  typeof value === 'object' && value !== null && typeof (value as { swq?: unknown }).swq === 'number';
