/**
 * The event spine: every state change of a job is one of these. The terminal UI, the results
 * writer, `--json` and (later) HTTP streams and the Redis events stream all consume this union.
 */
import type { ItemDurations, ItemInput } from './types.js';
import type { ItemMeta } from './item-meta.js';

export interface ItemStartEvent {
  readonly type: 'item-start';
  readonly index: number;
  readonly id: string;
  /** 1-based execution number of this item. */
  readonly attempt: number;
  /** Where it runs, e.g. `thread-2`. */
  readonly worker: string;
  /** Pipeline stage (0-based) when a pipeline moves to its next processor. */
  readonly stage?: number;
}

export interface ChunkEvent {
  readonly type: 'chunk';
  readonly index: number;
  readonly attempt: number;
  readonly text: string;
  /** How many processor chunks were coalesced into `text` (>= 1). */
  readonly n: number;
  readonly stage?: number;
}

export interface ItemDoneEvent {
  readonly type: 'item-done';
  readonly index: number;
  readonly id: string;
  readonly attempt: number;
  readonly output: string;
  readonly worker: string;
  readonly durations: ItemDurations;
  readonly input?: ItemInput;
  /** What the processor reported for this attempt (usage, model, finish reason, request id). */
  readonly meta?: ItemMeta;
}

export interface ItemRetryEvent {
  readonly type: 'item-retry';
  readonly index: number;
  readonly id: string;
  /** The attempt that just ended. */
  readonly attempt: number;
  readonly error: string;
  /** When the next attempt may start. */
  readonly delayMs: number;
  /** False when the attempt was lost through no fault of the item (its thread died of another). */
  readonly charged: boolean;
  /** Set when the processor said the error is no fault of the item: the cause, equal for each item it ends. */
  readonly cause?: string;
  /** What the failed attempt reported: its tokens count in the run's totals. */
  readonly meta?: ItemMeta;
}

export interface ItemFailedEvent {
  readonly type: 'item-failed';
  readonly index: number;
  readonly id: string;
  readonly attempts: number;
  readonly error: string;
  readonly worker: string | null;
  readonly durations: ItemDurations;
  readonly input?: ItemInput;
  /** As in ItemRetryEvent: the non-item cause of the last attempt's error, if any. */
  readonly cause?: string;
  /** Failed without its retries: retrying could not help (its output passed the bound). */
  readonly final?: true;
  /** What the last attempt reported. */
  readonly meta?: ItemMeta;
}

export interface JobCounts {
  readonly total: number;
  readonly done: number;
  readonly failed: number;
  /** Items never finished: not started or aborted, when the job was stopped early. */
  readonly unfinished: number;
}

export interface JobDoneEvent {
  readonly type: 'job-done';
  readonly counts: JobCounts;
}

export interface JobCancelledEvent {
  readonly type: 'job-cancelled';
  readonly reason: string;
  readonly counts: JobCounts;
}

/** The number of items is known once all inputs were read. */
export interface JobTotalEvent {
  readonly type: 'job-total';
  readonly total: number;
}

export type ItemEvent = ItemStartEvent | ChunkEvent | ItemDoneEvent | ItemRetryEvent | ItemFailedEvent;
export type JobEvent = ItemEvent | JobDoneEvent | JobCancelledEvent | JobTotalEvent;
export type JobEventType = JobEvent['type'];

/** Consumers receive events in arrays, coalesced per event-loop tick. */
export type EventListener = (events: readonly JobEvent[]) => void;
