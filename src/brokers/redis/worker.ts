/**
 * `slowwork workers`: one process serving a Redis queue with N slots on its own piscina pool.
 * This class opens the connections, runs the timers (heartbeat, reaper, promotion of due
 * retries), hears control messages and stops; the work itself is done in its rooms (worker/):
 *
 *   read-loop.ts   reads entries (each a batch of one job's items) for its free slots and claims
 *                  their items, one script call per job (items beyond its slots go back)
 *   local-runs.ts  runs them as local items of an embedded run per job (threads, time limits,
 *                  watchdog: all of the embedded broker)
 *   leases.ts      the items held and the entries they came from (an entry is acknowledged
 *                  once every item taken from it is settled)
 *   outcomes.ts    what the items do, as report records: results, and each charged failure
 *                  retried through the delayed set (on any worker) or dead-lettered
 *   reports.ts     one fenced `report` per job and interval
 *
 * A heartbeat says the process is alive; a reaper (reaper.ts) hands the entries of dead workers
 * to the living.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import { describeError } from '../../core/errors.js';
import { EmbeddedBroker } from '../embedded/broker.js';
import { openRedis, type RedisTarget } from './connection.js';
import { ensureGroup } from './group.js';
import { queueKeys, type QueueKeys } from './keys.js';
import { RedisQuotaHost } from './quota-host.js';
import { Reaper } from './reaper.js';
import { heartbeat, promote } from './script-calls.js';
import type { ScriptedRedis } from './scripts.js';
import type { ReadEntry } from './work-entry.js';
import { Leases } from './worker/leases.js';
import { LocalRuns } from './worker/local-runs.js';
import { Outcomes } from './worker/outcomes.js';
import { ReadLoop } from './worker/read-loop.js';
import { entryFinished } from './worker/report-buffer.js';
import { Reporter } from './worker/reports.js';
import { WorkerStats } from './worker/stats.js';

export interface WorkerOptions {
  readonly target: RedisTarget;
  readonly queue: string;
  /** Items this process runs at once. */
  readonly slots: number;
  readonly threads?: number;
  /** The worker's own processors by name (from `--processor`), as module URLs. */
  readonly processors: ReadonlyMap<string, string>;
  /** Heartbeat interval; the heartbeat expires after `heartbeatTtlMs`. */
  readonly heartbeatMs?: number;
  readonly heartbeatTtlMs?: number;
  /** Entries a reaped item may lose to dead workers before it is dead-lettered. */
  readonly maxReclaims?: number;
  /** How long chunks may wait to be reported together. */
  readonly chunkFlushMs?: number;
  /** A line for the operator (stderr). */
  readonly log: (line: string) => void;
}

/** The worker's three connections. */
interface Connections {
  /** Scripts, heartbeats, reports. */
  readonly cmd: ScriptedRedis;
  /** Only XREADGROUP … BLOCK (never auto-pipelined: a read blocks everything behind it). */
  readonly blocking: ScriptedRedis;
  /** The control channel's wake-ups. */
  readonly sub: Redis;
}

const DEFAULT_HEARTBEAT_MS = 1000;
const DEFAULT_MAX_RECLAIMS = 5;
const DEFAULT_CHUNK_FLUSH_MS = 25;
/** How long stopping waits for Redis to take the results and the handed-back items. */
const STOP_WAIT_MS = 5000;

export class RedisWorker {
  private readonly keys: QueueKeys;
  private readonly heartbeatMs: number;
  private readonly heartbeatTtlMs: number;
  private readonly stats: WorkerStats;
  private readonly leases: Leases;
  private readonly runs: LocalRuns;
  private readonly reports: Reporter;
  private readonly outcomes: Outcomes;
  private readonly reads: ReadLoop;
  private readonly reaper: Reaper;
  private stopping: 'no' | 'drain' | 'now' = 'no';
  private timers: NodeJS.Timeout[] = [];
  private loop: Promise<void> = Promise.resolve();
  private stopPromise: Promise<void> | null = null;

  private constructor(
    private readonly opts: WorkerOptions,
    readonly name: string,
    private readonly pool: EmbeddedBroker,
    private readonly conn: Connections,
    private readonly quota: RedisQuotaHost,
  ) {
    const log = opts.log;
    this.keys = queueKeys(opts.queue);
    this.heartbeatMs = opts.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
    this.heartbeatTtlMs = opts.heartbeatTtlMs ?? 5 * this.heartbeatMs;
    this.stats = new WorkerStats(opts.slots, opts.threads ?? 0);
    this.leases = new Leases(opts.slots, (held) => this.reports.buffer.add(held.jobId, entryFinished(held.entryId)));
    this.runs = new LocalRuns(pool, name, opts.slots, opts.processors, {
      onEvents: (events) => this.outcomes.onLocalEvents(events),
      onUnfinished: (local) => this.outcomes.onUnfinished(local),
      log,
    });
    this.reports = new Reporter(conn.cmd, this.keys, name, opts.chunkFlushMs ?? DEFAULT_CHUNK_FLUSH_MS, {
      acknowledged: (entryId) => this.leases.acknowledged(entryId),
      stale: (entryId, jobId) => this.outcomes.dropEntry(entryId, jobId),
      status: (jobId, status) => {
        if (status === null || status === 'aborting' || status === 'cancelled') this.outcomes.abortJob(jobId, 'the job was cancelled');
      },
      log,
    });
    this.outcomes = new Outcomes(name, this.leases, this.runs, this.reports, this.stats, log);
    this.reads = new ReadLoop({
      worker: name,
      slots: opts.slots,
      keys: this.keys,
      cmd: conn.cmd,
      blocking: conn.blocking,
      leases: this.leases,
      runs: this.runs,
      outcomes: this.outcomes,
      stats: this.stats,
      log,
      stopping: () => this.stopping !== 'no',
      handBack: (ids, entries) => this.handBack(ids, entries),
    });
    this.reaper = new Reaper(conn.cmd, this.keys, { self: name, ttlMs: this.heartbeatTtlMs, maxReclaims: opts.maxReclaims ?? DEFAULT_MAX_RECLAIMS, log });
  }

  /** Connects (failing fast with one line), registers, and starts serving. */
  static async start(opts: WorkerOptions): Promise<RedisWorker> {
    const name = `${hostname()}:${process.pid}:${randomBytes(2).toString('hex')}`;
    // The pool's ctx.limit asks the queue's limiters in Redis: one per key for every worker.
    const quota = new RedisQuotaHost(queueKeys(opts.queue), opts.slots, opts.log);
    const pool = new EmbeddedBroker({ threads: opts.threads, maxConcurrency: opts.slots, quota });
    let worker: RedisWorker;
    try {
      const { target } = opts;
      const cmd = await openRedis(target, 'command', { name: `slowwork:worker:${name}`, checkVersion: true });
      const blocking = await openRedis(target, 'blocking', { name: `slowwork:worker-read:${name}` });
      const sub = await openRedis(target, 'subscriber', { name: `slowwork:worker-ctl:${name}` });
      quota.connect(cmd);
      worker = new RedisWorker(opts, name, pool, { cmd, blocking, sub }, quota);
      await worker.register();
    } catch (err) {
      await pool.close();
      throw err;
    }
    worker.begin();
    return worker;
  }

  private async register(): Promise<void> {
    const { cmd, sub } = this.conn;
    await ensureGroup(cmd, this.keys);
    await this.reads.attach();
    await sub.subscribe(this.keys.ctl, this.keys.quotaChannel);
    sub.on('message', (channel: string, message: string) => {
      if (channel === this.keys.quotaChannel) this.quota.onPause(message);
      else this.onControl(message);
    });
    await this.heartbeat();
  }

  private begin(): void {
    const every = (ms: number, fn: () => Promise<unknown>) => {
      let busy = false;
      const t = setInterval(() => {
        if (busy) return; // Redis is slow or away: never pile calls up
        busy = true;
        fn()
          .catch((err: unknown) => this.opts.log(`worker ${this.name}: ${describeError(err)}`))
          .finally(() => (busy = false));
      }, ms);
      this.timers.push(t);
    };
    every(this.heartbeatMs, () => this.heartbeat());
    every(this.heartbeatMs, () => this.reaper.tick());
    every(Math.max(50, Math.min(250, this.heartbeatMs / 4)), () => promote(this.conn.cmd, this.keys, Date.now(), 100));
    // Not under a claim in flight: it may be about to add to a run that looks idle.
    every(5000, async () => {
      if (!this.reads.claiming) this.runs.closeIdle();
    });
    this.loop = this.reads.run();
    void this.reaper.tick().catch(() => undefined);
  }

  describe(): string {
    return `${this.name}: ${this.opts.slots} slots on ${this.pool.threads} thread${this.pool.threads === 1 ? '' : 's'}, queue ${this.opts.queue}`;
  }

  /** Resolves when the worker has stopped (after `drain` or `stop`). */
  get stopped(): Promise<void> {
    return this.loop;
  }

  /** Wake-ups on the control channel (the job's status and fin bits are the truth). */
  private onControl(message: string): void {
    const [status, id, index] = message.split(' ');
    if (status === 'aborting' && id) this.outcomes.abortJob(id, 'the job was cancelled');
    if (status === 'item' && id && index) this.outcomes.dropGivenUp(id, index);
  }

  private async heartbeat(): Promise<void> {
    const fields = this.stats.fields({ name: this.name, queue: this.opts.queue, heartbeatMs: this.heartbeatMs });
    const alive = await heartbeat(this.conn.cmd, this.keys, this.name, { now: Date.now(), ttlMs: this.heartbeatTtlMs, fields });
    if (!alive && this.stats.beats > 0) {
      this.opts.log(`worker ${this.name}: its heartbeat had expired (Redis away, or this process stalled); its items may run elsewhere now`);
    }
    this.stats.beats++;
  }

  // ---- stopping ----------------------------------------------------------------------------

  /**
   * First signal: take nothing new, let running items finish for up to `graceMs`, then hand back
   * what is left. Resolves when the worker has left.
   */
  async drain(graceMs: number): Promise<void> {
    if (this.stopping !== 'no') return this.stop();
    this.stopping = 'drain';
    this.reads.unblock();
    await this.loop;
    const deadline = Date.now() + graceMs;
    while (this.leases.size > 0 && Date.now() < deadline && this.stopping === 'drain') await sleep(50);
    return this.stop();
  }

  /** Second signal, or the drain's end: hand every held entry back to the queue now, and leave. */
  stop(): Promise<void> {
    this.stopPromise ??= this.stopNow();
    return this.stopPromise;
  }

  private async stopNow(): Promise<void> {
    this.stopping = 'now';
    this.reads.unblock();
    for (const t of this.timers) clearInterval(t);
    // Finished items are reported first: their results must not run again. Redis may be away:
    // then leave anyway, and the reaper hands the items on once the heartbeat expires.
    const handedBack = (async () => {
      await this.reports.flushNow();
      // Then the read loop ends (a little while at most): a claim in flight then holds its
      // entries here, handed back with the rest.
      await Promise.race([this.loop.catch(() => undefined), sleep(STOP_WAIT_MS / 2)]);
      await this.reports.flushNow();
      for (const [, lease] of this.leases.all()) lease.lost = true;
      await this.handBack(this.leases.takeHeld(), []);
    })();
    const gaveUp = await Promise.race([handedBack.then(() => false), sleep(STOP_WAIT_MS).then(() => true)]).catch((err: unknown) => {
      this.opts.log(`worker ${this.name}: could not hand items back (${describeError(err)}); they return when its heartbeat expires`);
      return false;
    });
    if (gaveUp) this.opts.log(`worker ${this.name}: Redis did not answer in ${STOP_WAIT_MS / 1000} s; its items return when its heartbeat expires`);
    this.outcomes.abortAll();
    const { cmd, blocking, sub } = this.conn;
    // A clean stop leaves the workers list too: a worker gone from it left on purpose, while one
    // still listed without a heartbeat is dead (the dashboard says so). Its consumer in the group
    // is forgotten by the reaper as before (no hash, no pending entries).
    if (!gaveUp) await cmd.multi().del(this.keys.worker(this.name)).zrem(this.keys.workers, this.name).exec().catch(() => undefined);
    await this.pool.close();
    sub.disconnect();
    blocking.disconnect();
    cmd.disconnect();
  }

  /** Requeues entries this worker holds (or read and did not claim), free of charge. */
  private async handBack(ids: string[], entries: readonly ReadEntry[]): Promise<void> {
    if (ids.length === 0) return;
    const jobOf = new Map<string, string>();
    for (const e of entries) if (e.entry) jobOf.set(e.id, e.entry.jobId);
    for (const [, lease] of this.leases.all()) jobOf.set(lease.held.entryId, lease.held.jobId);
    await this.reaper.requeue(this.name, ids, jobOf, 'handback', `worker ${this.name} stopped and handed it back`);
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
