/**
 * The reaper: any worker, every heartbeat interval, looks for consumers of the group whose
 * heartbeat has expired and hands their entries to the living (requeued with the next attempt
 * number; the old entries are deleted, which fences off the dead worker should it come back).
 * Liveness is the heartbeat key alone, never an entry's idle time: a healthy item may run for
 * minutes without a delivery. It also forgets dead consumers that hold nothing and trims the
 * work stream now and then.
 *
 * A slow Redis must not pass for dead workers: while Redis is busy (a long script, a stall), the
 * heartbeats sent meanwhile wait in its sockets while their keys expire, and the reaper's own
 * look may be served first. So a worker is reaped only when a second look, a tick after the
 * first (the queued heartbeats have been served by then), still finds no heartbeat and the same
 * last beat; and the requeue itself checks the heartbeat again, atomically.
 */
import type { Redis } from 'ioredis';
import { GROUP, type QueueKeys } from './keys.js';
import { forgetWorker, requeue, trim } from './script-calls.js';
import type { ScriptedRedis } from './scripts.js';

export interface ReaperOptions {
  /** This worker: never reaped by itself. */
  readonly self: string;
  readonly ttlMs: number;
  readonly maxReclaims: number;
  readonly log: (line: string) => void;
}

/** Dead workers stay listed (for the dashboard) this long. */
const FORGET_AFTER_MS = 10 * 60_000;
const TRIM_EVERY_TICKS = 10;
const PAGE = 100;

export class Reaper {
  private ticks = 0;
  /** Workers found without a heartbeat by the last tick, with their last beat then. */
  private suspects = new Map<string, string | null>();

  constructor(
    private readonly redis: ScriptedRedis,
    private readonly keys: QueueKeys,
    private readonly opts: ReaperOptions,
  ) {}

  async tick(): Promise<void> {
    this.ticks++;
    const consumers = await listConsumers(this.redis, this.keys);
    const others = consumers.filter((c) => c.name !== this.opts.self);
    const suspects = new Map<string, string | null>();
    if (others.length > 0) {
      const pipe = this.redis.pipeline();
      for (const c of others) pipe.exists(this.keys.worker(c.name)).zscore(this.keys.workers, c.name);
      const replies = (await pipe.exec()) ?? [];
      for (let k = 0; k < others.length; k++) {
        if (replies[2 * k]?.[1] === 1) continue;
        const c = others[k]!;
        const beat = (replies[2 * k + 1]?.[1] as string | null | undefined) ?? null;
        if (this.suspects.get(c.name) !== beat || !this.suspects.has(c.name)) {
          suspects.set(c.name, beat);
          continue;
        }
        if (c.pending > 0 && !(await this.reap(c.name))) continue;
        await forgetWorker(this.redis, this.keys, c.name, Date.now() - FORGET_AFTER_MS);
      }
    }
    this.suspects = suspects;
    if (this.ticks % TRIM_EVERY_TICKS === 0) await trim(this.redis, this.keys);
  }

  /** Requeues everything a dead consumer holds, a page at a time; false if it turned out alive. */
  private async reap(name: string): Promise<boolean> {
    const reason = `its worker ${name} stopped answering (no heartbeat for ${Math.round(this.opts.ttlMs / 1000)} s)`;
    let total = 0;
    for (;;) {
      const page = (await this.redis.xpending(this.keys.items, GROUP, '-', '+', PAGE, name)) as [string, string, number, number][];
      if (page.length === 0) break;
      const moved = await this.requeue(name, page.map((p) => p[0]), new Map(), 'reclaim', reason);
      if (moved < 0) return false;
      total += page.length;
      if (moved === 0 && page.length < PAGE) break;
    }
    if (total > 0) this.opts.log(`reaper ${this.opts.self}: handed ${total} batch${total === 1 ? '' : 'es'} of items of dead worker ${name} to the others`);
    return true;
  }

  /**
   * Requeues entries held by `from`, one script call per job. `jobOf` names the job of the
   * entries the caller knows; the others are read from the stream. A reclaim returns -1, and
   * touches nothing more, once the script finds `from` alive.
   */
  async requeue(from: string, ids: readonly string[], jobOf: ReadonlyMap<string, string>, mode: 'reclaim' | 'handback', reason: string): Promise<number> {
    const unknown = ids.filter((id) => !jobOf.has(id));
    const jobs = new Map<string, string[]>();
    const orphans: string[] = [];
    if (unknown.length > 0) {
      const pipe = this.redis.pipeline();
      for (const id of unknown) pipe.xrange(this.keys.items, id, id);
      const replies = (await pipe.exec()) ?? [];
      unknown.forEach((id, k) => {
        const entry = (replies[k]?.[1] as [string, string[]][] | undefined)?.[0];
        const j = entry ? fieldOf(entry[1], 'j') : null;
        if (j) push(jobs, j, id);
        else orphans.push(id);
      });
    }
    for (const id of ids) {
      const j = jobOf.get(id);
      if (j) push(jobs, j, id);
    }
    let moved = 0;
    for (const [jobId, list] of jobs) {
      const n = await requeue(this.redis, this.keys, jobId, { from, now: Date.now(), mode, maxReclaims: this.opts.maxReclaims, reason, entries: list });
      if (n < 0) return -1;
      moved += n;
    }
    // Entries deleted while pending: nothing to requeue, only the PEL to clean.
    if (orphans.length > 0) await this.redis.xack(this.keys.items, GROUP, ...orphans);
    return moved + orphans.length;
  }
}

export interface ConsumerInfo {
  readonly name: string;
  readonly pending: number;
  readonly idleMs: number;
}

export async function listConsumers(redis: Redis, keys: QueueKeys): Promise<ConsumerInfo[]> {
  let reply: unknown;
  try {
    reply = await redis.xinfo('CONSUMERS', keys.items, GROUP);
  } catch {
    return []; // no stream or group yet
  }
  return (reply as unknown[][]).map((row) => {
    const f = new Map<string, unknown>();
    for (let k = 0; k + 1 < row.length; k += 2) f.set(String(row[k]), row[k + 1]);
    return { name: String(f.get('name')), pending: Number(f.get('pending')) || 0, idleMs: Number(f.get('idle')) || 0 };
  });
}

function fieldOf(kv: string[], name: string): string | null {
  for (let k = 0; k + 1 < kv.length; k += 2) if (kv[k] === name) return kv[k + 1]!;
  return null;
}

function push(map: Map<string, string[]>, key: string, value: string): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
