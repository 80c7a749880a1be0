/**
 * A batch of an embedded job run: the items one piscina task runs together, the thread it landed
 * on, and the watchdog that reads its probe to find a thread a processor blocks.
 */
import type { ItemSpec } from '../../core/types.js';
import { PROBE_BUSY, PROBE_CALLS, PROBE_THREAD, newProbe } from '../../runtime/protocol.js';
import { BookItem } from '../item-book.js';
import type { PoolPort, ThreadDeath } from './pool-port.js';
import { startsAlone, type Culprit } from './thread-faults.js';

/** An item of an embedded run: the book's record, plus where it runs and its free reruns. */
export class PoolItem extends BookItem {
  /** Uncharged reruns after losing its thread (bounded: see thread-faults.ts). */
  reruns: number;
  /** Runs alone on a thread of its own from now on. */
  alone: boolean;
  batch: Batch | null = null;

  constructor(spec: ItemSpec, now: number) {
    super(spec, now);
    this.reruns = spec.reruns ?? 0;
    this.alone = startsAlone(this.reruns);
  }
}

export interface Batch {
  readonly id: number;
  readonly items: Map<number, PoolItem>;
  thread: number;
  fatal: { culprit: Culprit | null; err: string } | null;
  /** One item, run alone on a thread of its own. */
  readonly alone: boolean;
  killing: boolean;
  /** The task returned; its last messages may still be on their way (they use another port). */
  returned: boolean;
  lateTimer: NodeJS.Timeout | null;
  /** Shared watchdog cells (which thread, which item is inside a processor call). */
  readonly probe: Int32Array;
  /** The probe's call count when the watchdog first saw the current call, and when. */
  probeCalls: number;
  probeSeenAt: number;
}

export const newBatch = (id: number, alone: boolean): Batch => ({
  id,
  items: new Map(),
  thread: -1,
  fatal: null,
  alone,
  killing: false,
  returned: false,
  lateTimer: null,
  probe: newProbe(),
  probeCalls: -1,
  probeSeenAt: 0,
});

/**
 * The thread running a batch: from its `begin` message, or from its probe if that is still on
 * its way, or the thread the pool handed it to if it has not begun.
 */
export function threadOf(batch: Batch, pool: PoolPort): number {
  if (batch.thread <= 0) {
    const thread = Atomics.load(batch.probe, PROBE_THREAD) || (pool.assignedThread?.(batch.id) ?? -1);
    if (thread > 0) batch.thread = thread;
  }
  return batch.thread;
}

/** Whether the thread the batch is on began it (marked before anything there can kill it). */
export const begun = (batch: Batch): boolean => Atomics.load(batch.probe, PROBE_THREAD) > 0;

/**
 * The watchdog's round: a batch whose item is past its time limit plus grace (`limitMs`) means its
 * thread is blocked; `kill` ends that thread, naming the item.
 */
export function findStuck(
  batches: ReadonlyMap<number, Batch>,
  limitMs: number,
  timeoutMs: number,
  now: number,
  thread: (batch: Batch) => number,
  kill: (batch: Batch, death: ThreadDeath) => void,
): void {
  // A thread stuck inside one call into an item's processor code names that item exactly
  // (its start may not even have been posted: the thread blocked before its next tick).
  const busyThreads = new Set<number>();
  for (const batch of batches.values()) {
    const busy = Atomics.load(batch.probe, PROBE_BUSY);
    if (busy === 0) {
      batch.probeCalls = -1;
      continue;
    }
    const calls = Atomics.load(batch.probe, PROBE_CALLS);
    if (calls !== batch.probeCalls) {
      batch.probeCalls = calls;
      batch.probeSeenAt = now;
    }
    busyThreads.add(thread(batch));
    if (!batch.killing && now - batch.probeSeenAt > limitMs) {
      kill(batch, { batchId: batch.id, i: busy - 1, err: `timed out after ${timeoutMs} ms while blocking its thread (the thread was restarted)` });
    }
  }
  // Otherwise (blocked after an await of its own, out of the runner's sight): the first item
  // past its limit.
  for (const batch of batches.values()) {
    if (batch.killing || busyThreads.has(thread(batch))) continue;
    for (const rec of batch.items.values()) {
      if (rec.startedAt && now - rec.startedAt > limitMs) {
        kill(batch, { batchId: batch.id, i: rec.spec.index, err: `timed out after ${timeoutMs} ms and ignored its abort signal (its thread was restarted)` });
        break;
      }
    }
  }
}
