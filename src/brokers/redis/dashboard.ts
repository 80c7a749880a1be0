/**
 * One dashboard sample of Redis queues in two pipelined round trips, cheap on Redis: sorted-set
 * ranges, counters, XINFO and bounded reads only (never KEYS, SCAN or a walk of a big structure).
 *
 *   round 1, per queue: ZREVRANGE workers (bounded), ZREVRANGE jobs (bounded), XLEN items,
 *                       XINFO GROUPS items, ZCARD delayed, XLEN dlq
 *   round 2:            HGETALL per worker, HMGET + HVALS of the fences per job (bounded: one
 *                       field per entry a worker holds), and per queue one XRANGE of COUNT 1 for
 *                       the oldest entry no worker has read yet (the lag's age)
 *
 * Work stream entries are batches, so the queue's items are counted from figures, not entries:
 * in flight = the items its live workers run (their heartbeats' `busy`), waiting = what its
 * running jobs enqueued and have not finished, less what runs and what waits to retry.
 */
import type { Redis } from 'ioredis';
import type { DashJob, DashQueue, DashSample, DashWorker } from '../../core/dashboard-sample.js';
import { jobStatusOf } from '../../core/dashboard-sample.js';
import { JOB_FIELDS, toJobRow, toWorkerRow } from './admin.js';
import { GROUP, queueKeys } from './keys.js';
import { fencedItems } from './work-entry.js';

export interface RedisSampleOptions {
  /** Workers listed per queue at most (newest heartbeat first). Default 200. */
  readonly maxWorkers?: number;
  /** Jobs listed per queue at most (newest first). Default 30. */
  readonly maxJobs?: number;
}

export interface RedisSample {
  readonly sample: DashSample;
  /** Redis commands this sample cost (both round trips). */
  readonly commands: number;
}

type Reply = [Error | null, unknown];

export async function sampleRedis(redis: Redis, queues: readonly string[], source: string, opts: RedisSampleOptions = {}): Promise<RedisSample> {
  const maxWorkers = opts.maxWorkers ?? 200;
  const maxJobs = opts.maxJobs ?? 30;
  const first = redis.pipeline();
  for (const q of queues) {
    const k = queueKeys(q);
    first.zrevrange(k.workers, 0, maxWorkers - 1, 'WITHSCORES');
    first.zrevrange(k.jobs, 0, maxJobs - 1);
    first.xlen(k.items);
    first.xinfo('GROUPS', k.items);
    first.zcard(k.delayed);
    first.xlen(k.dlq);
  }
  const r1 = ((await first.exec()) ?? []) as Reply[];
  let commands = queues.length * 6;

  const second = redis.pipeline();
  const perQueue = queues.map((q, n) => {
    const k = queueKeys(q);
    const at = n * 6;
    const names = okValue<string[]>(r1[at]) ?? [];
    const workers: { name: string; beat: number }[] = [];
    for (let i = 0; i + 1 < names.length; i += 2) {
      workers.push({ name: names[i]!, beat: Number(names[i + 1]) });
      second.hgetall(k.worker(names[i]!));
    }
    const jobIds = okValue<string[]>(r1[at + 1]) ?? [];
    for (const id of jobIds) {
      second.hmget(k.job(id).hash, ...JOB_FIELDS);
      second.hvals(k.job(id).run);
    }
    const group = groupInfo(okValue<unknown[]>(r1[at + 3]));
    const length = Number(okValue(r1[at + 2])) || 0;
    const lag = Math.max(0, length - group.pending);
    if (lag > 0) second.xrange(k.items, group.lastDelivered === '0-0' ? '-' : `(${group.lastDelivered}`, '+', 'COUNT', 1);
    commands += workers.length + 2 * jobIds.length + (lag > 0 ? 1 : 0);
    return { q, workers, jobIds, group, lag, delayed: Number(okValue(r1[at + 4])) || 0, dead: Number(okValue(r1[at + 5])) || 0 };
  });
  const r2 = commands > queues.length * 6 ? (((await second.exec()) ?? []) as Reply[]) : [];
  const at = Date.now();

  const workers: DashWorker[] = [];
  const jobs: DashJob[] = [];
  const queueRows: DashQueue[] = [];
  let k = 0;
  for (const pq of perQueue) {
    let inFlight = 0;
    let waiting = 0;
    for (const w of pq.workers) {
      const row = toWorkerRow(w.name, w.beat, (okValue<Record<string, string>>(r2[k++]) ?? {}));
      if (row.alive) inFlight += row.busy;
      workers.push({
        name: row.name,
        host: row.host,
        pid: row.pid,
        queue: pq.q,
        slots: row.slots,
        busy: row.alive ? row.busy : 0,
        cpu: row.alive ? row.cpu : null,
        rssBytes: row.alive ? row.rss : null,
        processed: row.processed,
        failed: row.failed,
        chunks: row.chunks,
        avgMs: row.processed + row.failed > 0 ? row.avgMs : null,
        lastBeatAt: row.lastBeat || null,
        heartbeatMs: row.heartbeatMs || null,
        alive: row.alive,
      });
    }
    for (const id of pq.jobIds) {
      const h = okValue<(string | null)[]>(r2[k++]) ?? [];
      const running = fencedItems(okValue<string[]>(r2[k++]) ?? []);
      if (!h[0]) continue; // expired
      const row = toJobRow(id, h, running);
      if (row.status === 'running') waiting += Math.max(0, row.enqueued - row.done - row.failed - row.dropped);
      jobs.push({
        id,
        queue: pq.q,
        submitter: row.submitter,
        processors: row.processors,
        status: jobStatusOf(row.status),
        total: row.total >= 0 ? row.total : null,
        done: row.done,
        failed: row.failed,
        running: row.running,
        createdAt: row.created,
        finishedAt: row.finished,
        tokensOut: row.tokensOut,
      });
    }
    let oldestWaitingMs: number | null = null;
    if (pq.lag > 0) {
      const entries = okValue<[string, string[]][]>(r2[k++]) ?? [];
      const id = entries[0]?.[0];
      if (id) oldestWaitingMs = Math.max(0, at - Number(id.split('-')[0]));
    }
    waiting = Math.max(0, waiting - inFlight - pq.delayed);
    queueRows.push({ name: pq.q, waiting, inFlight, delayed: pq.delayed, dead: pq.dead, oldestWaitingMs: waiting > 0 ? oldestWaitingMs : null });
  }
  return { sample: { at, source, workers, queues: queueRows, jobs }, commands };
}

function okValue<T>(reply: Reply | undefined): T | null {
  if (!reply || reply[0]) return null;
  return reply[1] as T;
}

/** The workers group from XINFO GROUPS (a flat field/value array per group). */
function groupInfo(groups: unknown[] | null): { pending: number; lastDelivered: string } {
  for (const g of groups ?? []) {
    if (!Array.isArray(g)) continue;
    const f = new Map<string, unknown>();
    for (let i = 0; i + 1 < g.length; i += 2) f.set(String(g[i]), g[i + 1]);
    if (f.get('name') !== GROUP) continue;
    return { pending: Number(f.get('pending')) || 0, lastDelivered: String(f.get('last-delivered-id') ?? '0-0') };
  }
  return { pending: 0, lastDelivered: '0-0' };
}
