/**
 * What an embedded job run needs from the broker's pool, and the state all jobs of one pool
 * share (thread deaths, item scopes). The broker implements it; tests script it.
 */
import type { BatchTask, ControlMessage, ThreadMessage } from '../../runtime/protocol.js';
import type { JobRunOptions } from '../broker.js';

export interface PoolPort {
  /** Runs a batch task; resolves when the thread returned, rejects if the thread died. */
  run(task: BatchTask): Promise<unknown>;
  /** Runs a batch of one item alone on a thread of its own (a suspect; see thread-faults.ts). */
  runAlone(task: BatchTask): Promise<unknown>;
  /** Threads free now for a batch run alone, shared by all jobs of the pool. */
  aloneSlots(): number;
  nextBatchId(): number;
  /** Threads in the pool: a batch is at most one thread's share of the concurrency. */
  readonly threads: number;
  /** `items` of a batch are finished (for balancing). */
  settled(batchId: number, items: number): void;
  /** Routes the thread messages of one batch to `handler` until `unlisten`. */
  listen(batchId: number, handler: (messages: ThreadMessage[]) => void): void;
  unlisten(batchId: number): void;
  /** Sends a control message to every thread. */
  control(message: ControlMessage): void;
  /** Ends a thread that no longer answers (a processor blocked it). */
  terminateThread(threadId: number): void;
  /**
   * Threads ended on purpose and why, shared by all jobs of the pool: another job's batches on
   * such a thread were not at fault. A job keeps its own map when absent.
   */
  readonly deaths?: Map<number, ThreadDeath>;
  /** The thread a batch was handed to, if known (-1 if not). */
  assignedThread?(batchId: number): number;
  /**
   * Whether batches run scoped (see BatchTask.scoped), shared by all jobs of the pool: once any
   * thread of it died without a named culprit. A job keeps its own when absent.
   */
  readonly scopes?: ItemScopes;
}

/** Whether item scopes are tracked; turned on for good by the first death with no named culprit. */
export interface ItemScopes {
  tracked: boolean;
}

/** Why a thread was ended: the culprit item (`i` is -1 when no item was at fault). */
export interface ThreadDeath {
  readonly batchId: number;
  readonly i: number;
  readonly err: string;
}

/** What a Redis worker needs beyond JobRunOptions to run items on its local pool. */
export interface LocalRunOptions extends JobRunOptions {
  /** An item ended without a result: aborted (`abortItem`, abort) or never started (drain). */
  readonly onItemUnfinished?: (index: number) => void;
}
