/**
 * Results a resumed submit takes over from earlier jobs of its results file: a job whose submit
 * died goes on without it on the workers, and may end before `submit --resume` comes. Its
 * results then live only in its events stream (kept for the job's TTL, `--keep`): they are
 * recorded from there, never run again.
 */
import type { Redis } from 'ioredis';
import type { ItemDoneEvent, ItemFailedEvent } from '../../core/events.js';
import { listJobs } from './admin.js';
import type { QueueKeys } from './keys.js';
import { decodeEntry } from './wire.js';

export type FinalEvent = ItemDoneEvent | ItemFailedEvent;

export interface CarryOptions {
  /** The results file (absolute), as the jobs recorded it. */
  readonly outPath: string;
  /** Items the results file holds already: nothing to carry for them. */
  readonly recorded: (id: string) => boolean;
  /** `--retry-failed`: a failure is not carried, the item runs again. */
  readonly retryFailed: boolean;
}

/** Jobs looked at: the newest of the queue (the index is bounded; older ones expire anyway). */
const JOBS_LOOKED_AT = 500;
const PAGE = 1000;

/**
 * The final results, by item index, of the ended jobs (done or cancelled) that wrote to this
 * results file and are still kept, less the items the file holds. A done result beats a failure
 * (a later job retried it); among equals the newer job wins.
 */
export async function carriedResults(redis: Redis, keys: QueueKeys, opts: CarryOptions): Promise<Map<number, FinalEvent>> {
  const out = new Map<number, FinalEvent>();
  if (!opts.outPath) return out;
  const jobs = (await listJobs(redis, keys, JOBS_LOOKED_AT))
    .filter((j) => j.out === opts.outPath && (j.status === 'done' || j.status === 'cancelled'))
    .sort((a, b) => a.created - b.created);
  for (const job of jobs) {
    const stream = keys.job(job.id).events;
    let from = '-';
    for (;;) {
      const page = (await redis.xrange(stream, from, '+', 'COUNT', PAGE)) as [string, string[]][];
      for (const [, kv] of page) {
        for (let k = 0; k + 1 < kv.length; k += 2) {
          if (kv[k] !== 'e') continue;
          for (const e of decodeEntry(kv[k + 1]!)) {
            if (e.type !== 'item-done' && e.type !== 'item-failed') continue;
            if (opts.recorded(e.id)) continue;
            if (e.type === 'item-failed' && (opts.retryFailed || out.get(e.index)?.type === 'item-done')) continue;
            out.set(e.index, e);
          }
        }
      }
      if (page.length < PAGE) break;
      from = `(${page[page.length - 1]![0]}`;
    }
  }
  return out;
}
