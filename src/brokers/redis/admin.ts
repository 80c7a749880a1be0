/**
 * Reading and steering a queue from outside: the workers alive, the jobs and their progress,
 * cancelling a job. Cheap on Redis: bounded ranges and hashes, never KEYS or scans.
 */
import type { Redis } from 'ioredis';
import type { QueueKeys } from './keys.js';
import { cancel } from './script-calls.js';
import type { ScriptedRedis } from './scripts.js';
import { fencedItems } from './work-entry.js';

export interface WorkerRow {
  readonly name: string;
  readonly host: string;
  readonly pid: number;
  readonly slots: number;
  readonly busy: number;
  readonly processed: number;
  readonly failed: number;
  readonly chunks: number;
  readonly avgMs: number;
  readonly cpu: number;
  readonly rss: number;
  readonly lastBeat: number;
  readonly heartbeatMs: number;
  readonly alive: boolean;
}

/** Workers seen in the last ten minutes; `alive` if their heartbeat has not expired. */
export async function listWorkers(redis: Redis, keys: QueueKeys, limit = 200): Promise<WorkerRow[]> {
  const names = await redis.zrevrange(keys.workers, 0, limit - 1, 'WITHSCORES');
  const pipe = redis.pipeline();
  const rows: { name: string; beat: number }[] = [];
  for (let k = 0; k + 1 < names.length; k += 2) {
    rows.push({ name: names[k]!, beat: Number(names[k + 1]) });
    pipe.hgetall(keys.worker(names[k]!));
  }
  const hashes = rows.length > 0 ? ((await pipe.exec()) ?? []) : [];
  return rows.map((row, k) => toWorkerRow(row.name, row.beat, (hashes[k]?.[1] ?? {}) as Record<string, string>));
}

/** A worker's row from its heartbeat hash (empty once expired: the worker is presumed dead). */
export function toWorkerRow(name: string, zsetBeat: number, h: Record<string, string>): WorkerRow {
  return {
    name,
    host: h.host ?? name.split(':')[0] ?? '?',
    pid: Number(h.pid ?? name.split(':')[1]) || 0,
    slots: Number(h.slots) || 0,
    busy: Number(h.busy) || 0,
    processed: Number(h.processed) || 0,
    failed: Number(h.failed) || 0,
    chunks: Number(h.chunks) || 0,
    avgMs: Number(h.avgMs) || 0,
    cpu: Number(h.cpu) || 0,
    rss: Number(h.rss) || 0,
    lastBeat: Number(h.beat) || zsetBeat,
    heartbeatMs: Number(h.heartbeatMs) || 0,
    alive: Object.keys(h).length > 0,
  };
}

export async function liveWorkers(redis: Redis, keys: QueueKeys): Promise<WorkerRow[]> {
  return (await listWorkers(redis, keys)).filter((w) => w.alive);
}

export interface JobRow {
  readonly id: string;
  readonly status: string;
  readonly total: number;
  readonly enqueued: number;
  readonly done: number;
  readonly failed: number;
  /** Items given up one by one (their clients went away). */
  readonly dropped: number;
  /** Items workers hold now. */
  readonly running: number;
  readonly created: number;
  readonly finished: number | null;
  readonly submitter: string;
  readonly out: string;
  readonly processors: string[];
  /** Completion tokens its workers' items reported so far (every attempt). */
  readonly tokensOut: number;
}

/** The newest jobs first; ids whose keys expired are dropped from the index on the way. */
export async function listJobs(redis: Redis, keys: QueueKeys, limit = 50): Promise<JobRow[]> {
  const ids = await redis.zrevrange(keys.jobs, 0, limit - 1);
  if (ids.length === 0) return [];
  const pipe = redis.pipeline();
  for (const id of ids) {
    const jk = keys.job(id);
    pipe.hmget(jk.hash, ...JOB_FIELDS);
    pipe.hvals(jk.run);
  }
  const replies = (await pipe.exec()) ?? [];
  const rows: JobRow[] = [];
  const expired: string[] = [];
  ids.forEach((id, k) => {
    const h = (replies[2 * k]?.[1] ?? []) as (string | null)[];
    if (!h[0]) {
      expired.push(id);
      return;
    }
    rows.push(toJobRow(id, h, fencedItems((replies[2 * k + 1]?.[1] ?? []) as string[])));
  });
  if (expired.length > 0) await redis.zrem(keys.jobs, ...expired);
  return rows;
}

export async function getJob(redis: Redis, keys: QueueKeys, id: string): Promise<JobRow | null> {
  const jk = keys.job(id);
  const [h, fences] = await Promise.all([
    redis.hmget(jk.hash, ...JOB_FIELDS),
    redis.hvals(jk.run),
  ]);
  return h[0] ? toJobRow(id, h, fencedItems(fences)) : null;
}

/** The job hash fields toJobRow reads, in its order. */
export const JOB_FIELDS = ['status', 'total', 'n', 'done', 'failed', 'created', 'finished', 'submitter', 'out', 'spec', 'dropped', 'tokens_out'] as const;

export function toJobRow(id: string, h: (string | null)[], running: number): JobRow {
  let processors: string[] = [];
  try {
    processors = (JSON.parse(h[9] ?? '{}') as { processors?: { name: string }[] }).processors?.map((p) => p.name) ?? [];
  } catch {
    processors = [];
  }
  const total = Number(h[1]);
  return {
    id,
    status: h[0] ?? '?',
    total: Number.isFinite(total) ? total : -1,
    enqueued: Number(h[2]) || 0,
    done: Number(h[3]) || 0,
    failed: Number(h[4]) || 0,
    dropped: Number(h[10]) || 0,
    running,
    created: Number(h[5]) || 0,
    finished: h[6] ? Number(h[6]) : null,
    submitter: h[7] ?? '',
    out: h[8] ?? '',
    processors,
    tokensOut: Number(h[11]) || 0,
  };
}

/** Stops a job everywhere; returns its status afterwards, or null if there is no such job. */
export async function cancelJob(redis: ScriptedRedis, keys: QueueKeys, id: string, mode: 'drain' | 'abort', reason: string): Promise<string | null> {
  return cancel(redis, keys, id, { now: Date.now(), mode, reason });
}
