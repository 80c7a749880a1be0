/**
 * `slowwork workers`: one process serving a Redis queue with N slots on its own piscina pool.
 *
 * A read loop takes entries (each a batch of one job's items) for as many items as it has free
 * slots (XREADGROUP on its own blocking connection), claims their items with one script call per
 * job (items beyond its free slots go back to the stream), and runs them as local items of an
 * embedded run per job (threads, time limits, watchdog: all of the embedded broker). What the
 * items do comes back as events, gathered into one fenced `report` per job and interval; an entry
 * is acknowledged once every item taken from it is settled. Faults
 * are settled in Redis: a failed attempt is retried through the delayed set (on any worker) or
 * dead-lettered. A heartbeat says the process is alive; a reaper hands the entries of dead
 * workers to the living.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import { describeError } from '../../core/errors.js';
import type { JobEvent } from '../../core/events.js';
import { backoffMs, defaultRetryPolicy } from '../../core/retry.js';
import type { ItemInput, Pipeline } from '../../core/types.js';
import { EmbeddedBroker } from '../embedded/broker.js';
import type { EmbeddedJobRun } from '../embedded/job-run.js';
import { openRedis, type RedisTarget } from './connection.js';
import { parseWireSpec, resolveOnWorker, type WireJobSpec } from './job-spec.js';
import { GROUP, queueKeys, type QueueKeys } from './keys.js';
import { Reaper } from './reaper.js';
import { ReportBuffer, ReportRecord, reportArgs, reportParts } from './report-buffer.js';
import type { ScriptedRedis } from './scripts.js';
import { WorkerStats } from './worker-stats.js';
import { withWatchdog } from './watchdog.js';
import { wireFailed, wireRetry } from './wire.js';
import { parseReadReply, type ReadEntry, type WorkEntry } from './work-entry.js';

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

/** One entry this worker claimed items of. */
interface Held {
  readonly jobId: string;
  readonly entryId: string;
  /** The local numbers of its items not settled yet: at none, the entry is finished. */
  readonly open: Set<number>;
}

/** One item this worker runs. */
interface Lease {
  /** Its entry (and job). */
  readonly held: Held;
  readonly i: number;
  readonly id: string;
  readonly a: number;
  /** Charged failures before this attempt. */
  readonly c: number;
  readonly r: number;
  readonly payload: string;
  /** When it was first enqueued (epoch ms). */
  readonly q: number;
  startedAt: number;
  /** Its first stage's start record while that goes with the next report (chunks and result fold into it). */
  started: ReportRecord | null;
  /** Redis no longer lets this worker report it (reaped, handed back, given up): forget it quietly. */
  lost: boolean;
  /** Already being aborted because its job stopped: not aborted twice. */
  release: boolean;
}

interface JobLocal {
  readonly spec: WireJobSpec;
  /** Null when this worker cannot load the job's processors; `error` says why. */
  readonly pipeline: Pipeline | null;
  readonly error: string | null;
  run: EmbeddedJobRun | null;
  leases: number;
  idleSince: number;
}

const BLOCK_MS = 5000;
/**
 * Most payload bytes one claim takes (at least one item): the claim's reply carries them, and
 * Redis serves nobody else meanwhile. What does not fit goes back to the stream for any worker.
 */
const CLAIM_BYTES = 8 * 1024 * 1024;
/** Most text one report script call carries (see reportParts). */
const REPORT_BYTES = 4 * 1024 * 1024;
const DEFAULT_HEARTBEAT_MS = 1000;
const DEFAULT_MAX_RECLAIMS = 5;
const DEFAULT_CHUNK_FLUSH_MS = 25;
/** How long stopping waits for Redis to take the results and the handed-back items. */
const STOP_WAIT_MS = 5000;

export class RedisWorker {
  readonly name: string;
  private readonly keys: QueueKeys;
  private readonly heartbeatMs: number;
  private readonly heartbeatTtlMs: number;
  private readonly chunkFlushMs: number;
  private readonly pool: EmbeddedBroker;
  private readonly leases = new Map<number, Lease>();
  private readonly held = new Map<string, Held>();
  /** Entries whose E is queued or in flight: not ours to claim again when our PEL is read. */
  private readonly finishing = new Set<string>();
  /** Claims in flight: idle runs are not closed under them. */
  private claiming = 0;
  /** Items per entry seen lately: how many entries make the free slots' worth. */
  private entryItems = 1;
  private readonly jobs = new Map<string, JobLocal>();
  private readonly buffer = new ReportBuffer();
  private readonly stats: WorkerStats;
  private reaper!: Reaper;
  private cmd!: ScriptedRedis;
  private blocking!: ScriptedRedis;
  private sub!: Redis;
  private blockingId: number | null = null;
  private nextLocal = 0;
  /** Numbers every report, so one sent again after a lost reply is applied once. */
  private reportSeq = 0;
  private stopping: 'no' | 'drain' | 'now' = 'no';
  private readPel = true;
  private flushTimer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> | null = null;
  private timers: NodeJS.Timeout[] = [];
  private slotWaiter: (() => void) | null = null;
  private loop: Promise<void> = Promise.resolve();
  private stopPromise: Promise<void> | null = null;

  private constructor(private readonly opts: WorkerOptions) {
    this.name = `${hostname()}:${process.pid}:${randomBytes(2).toString('hex')}`;
    this.keys = queueKeys(opts.queue);
    this.heartbeatMs = opts.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
    this.heartbeatTtlMs = opts.heartbeatTtlMs ?? 5 * this.heartbeatMs;
    this.chunkFlushMs = opts.chunkFlushMs ?? DEFAULT_CHUNK_FLUSH_MS;
    this.stats = new WorkerStats(opts.slots, opts.threads ?? 0);
    this.pool = new EmbeddedBroker({ threads: opts.threads, maxConcurrency: opts.slots,  });
  }

  /** Connects (failing fast with one line), registers, and starts serving. */
  static async start(opts: WorkerOptions): Promise<RedisWorker> {
    const worker = new RedisWorker(opts);
    try {
      await worker.connect();
    } catch (err) {
      await worker.pool.close();
      throw err;
    }
    worker.begin();
    return worker;
  }

  private async connect(): Promise<void> {
    const { target } = this.opts;
    this.cmd = await openRedis(target, 'command', { name: `slowwork:worker:${this.name}`, checkVersion: true });
    this.blocking = await openRedis(target, 'blocking', { name: `slowwork:worker-read:${this.name}` });
    this.sub = await openRedis(target, 'subscriber', { name: `slowwork:worker-ctl:${this.name}` });
    await ensureGroup(this.cmd, this.keys);
    this.blockingId = Number(await this.blocking.client('ID'));
    // A read whose reply was lost with the connection left entries in our PEL that `>` will
    // never return: read our own PEL again whenever the connection comes back.
    this.blocking.on('ready', () => {
      this.readPel = true;
      void this.blocking.client('ID').then((id) => (this.blockingId = Number(id)), () => undefined);
    });
    await this.sub.subscribe(this.keys.ctl);
    this.sub.on('message', (_channel: string, message: string) => this.onControl(message));
    this.reaper = new Reaper(this.cmd, this.keys, {
      self: this.name,
      ttlMs: this.heartbeatTtlMs,
      maxReclaims: this.opts.maxReclaims ?? DEFAULT_MAX_RECLAIMS,
      log: this.opts.log,
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
    every(Math.max(50, Math.min(250, this.heartbeatMs / 4)), () => this.promote());
    every(5000, async () => this.closeIdleRuns());
    this.loop = this.readLoop();
    void this.reaper.tick().catch(() => undefined);
  }

  describe(): string {
    return `${this.name}: ${this.opts.slots} slots on ${this.pool.threads} thread${this.pool.threads === 1 ? '' : 's'}, queue ${this.opts.queue}`;
  }

  /** Resolves when the worker has stopped (after `drain` or `stop`). */
  get stopped(): Promise<void> {
    return this.loop;
  }

  // ---- the read loop -----------------------------------------------------------------------

  private async readLoop(): Promise<void> {
    let pelCursor = '0';
    while (this.stopping === 'no') {
      const free = this.opts.slots - this.leases.size;
      if (free <= 0) {
        await new Promise<void>((resolve) => (this.slotWaiter = resolve));
        continue;
      }
      const fromPel = this.readPel;
      // Entries, each a batch: as many as fill the free slots, at least one (what does not fit
      // goes back at claim time). Our PEL is read page by page.
      const count = fromPel ? 100 : Math.max(1, Math.floor(free / this.entryItems));
      let reply: unknown;
      try {
        reply = await withWatchdog(
          this.blocking.xreadgroup('GROUP', GROUP, this.name, 'COUNT', count, 'BLOCK', BLOCK_MS, 'STREAMS', this.keys.items, fromPel ? pelCursor : '>'),
          this.blocking,
        );
      } catch (err) {
        if (this.stopping !== 'no') break;
        if (/NOGROUP/.test(describeError(err))) await ensureGroup(this.cmd, this.keys).catch(() => undefined);
        else this.opts.log(`worker ${this.name}: reading the queue failed: ${describeError(err)}`);
        this.readPel = true;
        pelCursor = '0';
        await sleep(500);
        continue;
      }
      const entries = parseReadReply(reply);
      if (fromPel) {
        if (entries.length === 0) {
          this.readPel = false;
          pelCursor = '0';
          continue;
        }
        pelCursor = entries[entries.length - 1]!.id;
      }
      if (entries.length === 0) continue;
      // Entries of ours already (our PEL read again) are running or being finished here.
      const fresh = entries.filter((e) => !this.held.has(e.id) && !this.finishing.has(e.id));
      if (this.stopping !== 'no') {
        await this.handBack(fresh.map((e) => e.id), fresh);
        break;
      }
      try {
        await this.claim(fresh);
      } catch (err) {
        // Entries we could not claim stay in our PEL: read it again.
        this.opts.log(`worker ${this.name}: claiming items failed: ${describeError(err)}`);
        this.readPel = true;
        pelCursor = '0';
        await sleep(500);
      }
    }
  }

  private async claim(entries: ReadEntry[]): Promise<void> {
    const gone = entries.filter((e) => e.entry === null);
    if (gone.length > 0) await this.cmd.xack(this.keys.items, GROUP, ...gone.map((e) => e.id));
    const byJob = new Map<string, WorkEntry[]>();
    let most = 1;
    for (const { entry } of entries) {
      if (!entry) continue;
      most = Math.max(most, entry.items.length);
      let list = byJob.get(entry.jobId);
      if (!list) byJob.set(entry.jobId, (list = []));
      list.push(entry);
    }
    // Up at once, down slowly: a lone one-item entry (a retry) must not make the next read take
    // far more full batches than the free slots hold (they would all be split and handed back).
    this.entryItems = Math.max(most, Math.floor(this.entryItems * 0.9));
    // The free slots shared out in read order: a job's claim takes at most its share.
    let free = Math.max(0, this.opts.slots - this.leases.size);
    const claims: Promise<void>[] = [];
    for (const [jobId, list] of byJob) {
      const want = list.reduce((sum, e) => sum + e.items.length, 0);
      const share = Math.min(free, want);
      free -= share;
      claims.push(this.claimForJob(jobId, list, share));
    }
    // Every claim settles before a failure is thrown: the loop then reads our PEL again, and an
    // entry whose claim were still in flight would be claimed twice.
    const failed = (await Promise.allSettled(claims)).find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  private async claimForJob(jobId: string, entries: WorkEntry[], free: number): Promise<void> {
    const jk = this.keys.job(jobId);
    const known = this.jobs.get(jobId);
    const args: (string | number)[] = [this.name, GROUP, known ? '0' : '1', free, CLAIM_BYTES];
    for (const e of entries) {
      args.push(e.id, e.items.length, e.items.every((it) => it.a === 1 && it.r === 0) ? '1' : '0');
      for (const item of e.items) args.push(item.i);
    }
    this.claiming++;
    let reply: [string | null, string | null, number, ...(string | (string | null)[])[]];
    try {
      reply = (await this.cmd.claim(this.keys.items, jk.hash, jk.run, jk.fin, jk.input, ...args)) as typeof reply;
    } finally {
      this.claiming--;
    }
    const [status, specJson, , ...accepted] = reply;
    if (status !== 'running' || accepted.length === 0) return;
    let job = known;
    if (!job) {
      job = this.makeJob(jobId, specJson);
      this.jobs.set(jobId, job);
    }
    // Per claimed entry: its id, a flag per item ('1' taken), the taken items' payloads in order.
    const flags = new Map<string, { taken: string; payloads: (string | null)[] }>();
    for (let k = 0; k + 2 < accepted.length; k += 3) flags.set(accepted[k] as string, { taken: accepted[k + 1] as string, payloads: accepted[k + 2] as (string | null)[] });
    const started: [number, Lease][] = [];
    for (const e of entries) {
      const claimed = flags.get(e.id);
      if (claimed === undefined) continue;
      const held: Held = { jobId, entryId: e.id, open: new Set() };
      this.held.set(e.id, held);
      let p = 0;
      e.items.forEach((item, k) => {
        if (claimed.taken[k] !== '1') return;
        const lease: Lease = {
          held, i: item.i, id: item.k, a: item.a, c: item.c, r: item.r, payload: claimed.payloads[p++] ?? 'null', q: e.q,
          startedAt: 0, started: null, lost: false, release: false,
        };
        const local = ++this.nextLocal;
        this.leases.set(local, lease);
        held.open.add(local);
        job.leases++;
        started.push([local, lease]);
      });
    }
    this.stats.busy(this.leases.size);
    this.startLocal(job, jobId, started);
  }

  private makeJob(jobId: string, specJson: string | null): JobLocal {
    try {
      const spec = parseWireSpec(specJson ?? '');
      try {
        return { spec, pipeline: resolveOnWorker(spec, this.opts.processors), error: null, run: null, leases: 0, idleSince: 0 };
      } catch (err) {
        return { spec, pipeline: null, error: describeError(err), run: null, leases: 0, idleSince: 0 };
      }
    } catch (err) {
      const spec: WireJobSpec = { processors: [{ name: '?', url: '' }], params: {}, timeoutMs: 0, retries: 0, batchSize: 1 };
      return { spec, pipeline: null, error: `job ${jobId} has an unreadable spec (${describeError(err)})`, run: null, leases: 0, idleSince: 0 };
    }
  }

  private startLocal(job: JobLocal, jobId: string, started: readonly [number, Lease][]): void {
    if (started.length === 0) return;
    if (!job.pipeline) {
      // This worker cannot run the job: a charged failure, so it retries (maybe elsewhere).
      for (const [local, lease] of started) {
        this.onFailed(lease, job, job.error ?? 'cannot run this job', null, { queuedMs: 0, firstChunkMs: null, totalMs: 0 });
        this.release(local, lease);
      }
      return;
    }
    if (!job.run) {
      job.run = this.pool.startLocalRun(
        {
          jobId,
          pipeline: job.pipeline,
          params: job.spec.params,
          concurrency: this.opts.slots,
          batchSize: job.spec.batchSize,
          batchWindowMs: 0,
          retries: 0,
          timeoutMs: job.spec.timeoutMs,
          maxOutputChars: job.spec.maxOutputChars,
        },
        (events) => this.onLocalEvents(events),
        {
          onLog: (line) => this.opts.log(`[${jobId}] ${line}`),
          onItemUnfinished: (index) => this.onUnfinished(index),
        },
      );
      job.run.finished.catch((err: unknown) => this.opts.log(`worker ${this.name}: job ${jobId}: ${describeError(err)}`));
    }
    // Attempts neither charged nor reclaimed were free reruns (thread deaths, hand-backs): they
    // count against the item's bound on those (thread-faults.ts), on whatever worker it lands.
    void job.run.add(
      started.map(([local, lease]) => ({ id: lease.id, index: local, input: parsePayload(lease.payload), attempt: lease.a, reruns: Math.max(0, lease.a - 1 - lease.c - lease.r) })),
    );
  }

  // ---- what the items do -------------------------------------------------------------------

  private onLocalEvents(events: readonly JobEvent[]): void {
    for (const e of events) {
      // By type, not `'index' in e`: events come in many shapes, and a megamorphic `in` is slow.
      const type = e.type;
      if (type !== 'item-start' && type !== 'chunk' && type !== 'item-done' && type !== 'item-failed' && type !== 'item-retry') continue;
      const lease = this.leases.get(e.index);
      if (!lease) continue;
      if (lease.lost) {
        // Given up or handed on, but it ended before the abort reached it: nothing to report,
        // yet its slot and its place in its entry are free now (else the entry never finishes).
        if (type === 'item-done' || type === 'item-failed') this.release(e.index, lease);
        continue;
      }
      switch (e.type) {
        case 'item-start': {
          const stage = e.stage ?? 0;
          if (stage === 0) lease.startedAt = Date.now();
          const rec = this.buffer.start(lease.held.jobId, lease.held.entryId, lease.i, lease.id, e.attempt, this.name, stage);
          lease.started = stage === 0 ? rec : null;
          break;
        }
        case 'chunk':
          this.stats.chunks(e.n);
          this.buffer.chunk(lease.held.jobId, lease.held.entryId, lease.i, e.attempt, e.text, e.n, e.stage ?? 0, lease.started);
          break;
        case 'item-retry':
          // A local rerun through no fault of the item (its thread died of another): tell watchers.
          lease.started = null;
          this.buffer.add(lease.held.jobId, new ReportRecord('S', lease.held.entryId, lease.i, wireRetry(lease.i, lease.id, e.attempt, e.error, 0, false)));
          break;
        case 'item-done': {
          const durations = { queuedMs: this.queuedMs(lease), firstChunkMs: e.durations.firstChunkMs, totalMs: e.durations.totalMs };
          this.buffer.done(lease.held.jobId, lease.held.entryId, lease.i, lease.id, e.attempt, e.output, this.name, durations, lease.started);
          lease.started = null;
          this.stats.finished(true, e.durations.totalMs);
          this.release(e.index, lease);
          break;
        }
        case 'item-failed': {
          const job = this.jobs.get(lease.held.jobId);
          const durations = { ...e.durations, queuedMs: this.queuedMs(lease) };
          if (job) this.onFailed(lease, job, e.error, e.attempts, durations, e.cause, e.final);
          this.release(e.index, lease);
          break;
        }
      }
    }
    this.scheduleFlush();
  }

  /** A charged failure: another attempt later (any worker), or the dead-letter stream. */
  private onFailed(
    lease: Lease,
    job: JobLocal,
    error: string,
    attempts: number | null,
    durations: { queuedMs: number; firstChunkMs: number | null; totalMs: number },
    /** The processor's systemic cause, passed on to the submitter (its fail-fast). */
    cause?: string,
    /** No retries: its output passed the bound. */
    final?: true,
  ): void {
    const a = attempts ?? lease.a;
    const charged = lease.c + 1;
    const policy = defaultRetryPolicy(job.spec.retries);
    this.stats.finished(false, durations.totalMs);
    if (!final && charged <= policy.retries) {
      const delay = backoffMs(policy, charged);
      // The payload waits in the job's input hash.
      const next = JSON.stringify({ j: lease.held.jobId, i: String(lease.i), k: lease.id, a: String(a + 1), c: String(charged), r: String(lease.r), q: String(lease.q) });
      this.buffer.add(lease.held.jobId, new ReportRecord('R', lease.held.entryId, lease.i, wireRetry(lease.i, lease.id, a, error, delay, true, cause), String(delay), next));
    } else {
      this.buffer.add(lease.held.jobId, new ReportRecord('F', lease.held.entryId, lease.i, wireFailed(lease.i, lease.id, a, error, this.name, durations, lease.payload, cause), lease.payload, error));
    }
    this.scheduleFlush();
  }

  /** A local item aborted or dropped (job stopped, item given up, entry lost): let it go. */
  private onUnfinished(local: number): void {
    const lease = this.leases.get(local);
    if (!lease) return;
    this.release(local, lease);
    this.scheduleFlush();
  }

  private queuedMs(lease: Lease): number {
    return Math.max(0, (lease.startedAt || Date.now()) - lease.q);
  }

  /** The item is settled here; its entry is finished (acknowledged in the next report) with its last item. */
  private release(local: number, lease: Lease): void {
    if (!this.leases.delete(local)) return;
    const held = lease.held;
    held.open.delete(local);
    if (held.open.size === 0 && this.held.get(held.entryId) === held) {
      this.held.delete(held.entryId);
      this.finishing.add(held.entryId);
      this.buffer.add(lease.held.jobId, new ReportRecord('E', held.entryId, -1));
    }
    const job = this.jobs.get(lease.held.jobId);
    if (job && --job.leases === 0) job.idleSince = Date.now();
    this.stats.busy(this.leases.size);
    const wake = this.slotWaiter;
    this.slotWaiter = null;
    wake?.();
  }

  // ---- reports -----------------------------------------------------------------------------

  private scheduleFlush(): void {
    if (this.flushing || this.buffer.size === 0) return;
    if (this.buffer.hasUrgent) {
      if (this.flushTimer) clearTimeout(this.flushTimer);
      this.flushTimer = null;
      this.flushing = this.flush();
      return;
    }
    if (!this.flushTimer) {
      this.flushTimer = setTimeout(() => {
        this.flushTimer = null;
        if (!this.flushing) this.flushing = this.flush();
      }, this.chunkFlushMs);
    }
  }

  /** Sends everything gathered, one script call per job; then again if more came meanwhile. */
  private async flush(): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve)); // gather what this tick produced
    const jobs = this.buffer.take();
    await Promise.all([...jobs].map(([jobId, records]) => this.report(jobId, records)));
    this.flushing = null;
    this.scheduleFlush();
  }

  /** Sends a job's records, in parts of REPORT_BYTES at most, one after the other. */
  private async report(jobId: string, records: ReportRecord[]): Promise<void> {
    const parts = reportParts(records, REPORT_BYTES);
    for (let k = 0; k < parts.length; k++) {
      if (await this.reportPart(jobId, parts[k]!)) continue;
      // Not sent: this part and the rest go back, in order, for the next try.
      this.buffer.restore(jobId, parts.slice(k).flat());
      return;
    }
  }

  /** One report script call; false (after a pause) if it failed. */
  private async reportPart(jobId: string, records: ReportRecord[]): Promise<boolean> {
    const jk = this.keys.job(jobId);
    let reply: (string | null)[];
    try {
      reply = (await this.cmd.report(
        this.keys.items, jk.hash, jk.events, jk.run, jk.fin, this.keys.delayed, this.keys.dlq, jk.seq, jk.input,
        this.name, GROUP, Date.now(), jobId, ++this.reportSeq, ...reportArgs(records),
      )) as (string | null)[];
    } catch (err) {
      // Not a lost connection (commands wait for it): a script error. Keep the records, try again.
      this.opts.log(`worker ${this.name}: reporting job ${jobId} failed, retrying: ${describeError(err)}`);
      await sleep(500);
      return false;
    }
    for (const r of records) if (r.kind === 'E') this.finishing.delete(r.entryId);
    const [status, ...stale] = reply;
    for (const entryId of stale) this.dropEntry(entryId ?? '', jobId);
    if (status === null || status === 'aborting' || status === 'cancelled') this.abortJob(jobId, 'the job was cancelled');
    return true;
  }

  // ---- control -----------------------------------------------------------------------------

  private onControl(message: string): void {
    const [status, id, index] = message.split(' ');
    if (status === 'aborting' && id) this.abortJob(id, 'the job was cancelled');
    // One item given up (its HTTP client went away): it gets no result; stop running it.
    if (status === 'item' && id && index) {
      for (const [local, lease] of this.leases) {
        if (lease.held.jobId === id && String(lease.i) === index) this.dropLease(local, lease, 'its client went away');
      }
    }
  }

  /** The entry is no longer this worker's (reaped while it stalled): its items run elsewhere now. */
  private dropEntry(entryId: string, jobId: string): void {
    const held = this.held.get(entryId);
    if (!held) return;
    let dropped = 0;
    for (const local of [...held.open]) {
      const lease = this.leases.get(local);
      if (lease && !lease.lost) {
        this.dropLease(local, lease, 'handed to another worker');
        dropped++;
      }
    }
    if (dropped > 0) this.opts.log(`worker ${this.name}: entry ${entryId} of job ${jobId} (${dropped} item${dropped === 1 ? '' : 's'}) was handed to another worker; dropping this attempt`);
  }

  /** Stops running an item whose reports would be refused now. */
  private dropLease(local: number, lease: Lease, reason: string): void {
    if (lease.lost) return;
    lease.lost = true;
    if (!this.jobs.get(lease.held.jobId)?.run?.abortItem(local, reason)) this.release(local, lease);
  }

  private abortJob(jobId: string, reason: string): void {
    const job = this.jobs.get(jobId);
    for (const [local, lease] of this.leases) {
      if (lease.held.jobId !== jobId || lease.release) continue;
      lease.release = true;
      if (!job?.run?.abortItem(local, reason)) this.onUnfinished(local);
    }
  }

  // ---- timers ------------------------------------------------------------------------------

  private async heartbeat(): Promise<void> {
    const fields = this.stats.fields({ name: this.name, queue: this.opts.queue, heartbeatMs: this.heartbeatMs });
    const alive = await this.cmd.heartbeat(this.keys.workers, this.keys.worker(this.name), this.name, Date.now(), this.heartbeatTtlMs, ...fields);
    if (alive === 0 && this.stats.beats > 0) {
      this.opts.log(`worker ${this.name}: its heartbeat had expired (Redis away, or this process stalled); its items may run elsewhere now`);
    }
    this.stats.beats++;
  }

  private async promote(): Promise<void> {
    await this.cmd.promote(this.keys.delayed, this.keys.items, Date.now(), 100);
  }

  private closeIdleRuns(): void {
    if (this.claiming > 0) return; // a claim may be about to add to a run that looks idle
    const now = Date.now();
    for (const [jobId, job] of this.jobs) {
      if (job.leases === 0 && now - job.idleSince > 30_000) {
        job.run?.end();
        this.jobs.delete(jobId);
      }
    }
  }

  // ---- stopping ----------------------------------------------------------------------------

  /**
   * First signal: take nothing new, let running items finish for up to `graceMs`, then hand back
   * what is left. Resolves when the worker has left.
   */
  async drain(graceMs: number): Promise<void> {
    if (this.stopping !== 'no') return this.stop();
    this.stopping = 'drain';
    this.unblockRead();
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
    this.unblockRead();
    for (const t of this.timers) clearInterval(t);
    // Finished items are reported first: their results must not run again. Redis may be away:
    // then leave anyway, and the reaper hands the items on once the heartbeat expires.
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    const handedBack = (async () => {
      await this.flushing;
      if (this.buffer.size > 0) await this.flush();
      // Then the read loop ends (a little while at most): a claim in flight then holds its
      // entries here, handed back with the rest.
      await Promise.race([this.loop.catch(() => undefined), sleep(STOP_WAIT_MS / 2)]);
      await this.flushing;
      if (this.buffer.size > 0) await this.flush();
      for (const lease of this.leases.values()) lease.lost = true;
      const entries = [...this.held.keys()];
      this.held.clear();
      await this.handBack(entries, null);
    })();
    const gaveUp = await Promise.race([handedBack.then(() => false), sleep(STOP_WAIT_MS).then(() => true)]).catch((err: unknown) => {
      this.opts.log(`worker ${this.name}: could not hand items back (${describeError(err)}); they return when its heartbeat expires`);
      return false;
    });
    if (gaveUp) this.opts.log(`worker ${this.name}: Redis did not answer in ${STOP_WAIT_MS / 1000} s; its items return when its heartbeat expires`);
    for (const lease of this.leases.values()) lease.lost = true;
    for (const [local, lease] of [...this.leases]) {
      if (!this.jobs.get(lease.held.jobId)?.run?.abortItem(local, 'the worker is stopping')) this.release(local, lease);
    }
    // A clean stop leaves the workers list too: a worker gone from it left on purpose, while one
    // still listed without a heartbeat is dead (the dashboard says so). Its consumer in the group
    // is forgotten by the reaper as before (no hash, no pending entries).
    if (!gaveUp) await this.cmd.multi().del(this.keys.worker(this.name)).zrem(this.keys.workers, this.name).exec().catch(() => undefined);
    await this.pool.close();
    this.sub.disconnect();
    this.blocking.disconnect();
    this.cmd.disconnect();
  }

  /** Requeues entries this worker holds, free of charge. */
  private async handBack(ids: string[], entries: ReadEntry[] | null): Promise<void> {
    if (ids.length === 0) return;
    const jobOf = new Map<string, string>();
    for (const e of entries ?? []) if (e.entry) jobOf.set(e.id, e.entry.jobId);
    for (const lease of this.leases.values()) jobOf.set(lease.held.entryId, lease.held.jobId);
    await this.reaper.requeue(this.name, ids, jobOf, 'handback', `worker ${this.name} stopped and handed it back`);
  }

  private unblockRead(): void {
    const wake = this.slotWaiter;
    this.slotWaiter = null;
    wake?.();
    if (this.blockingId !== null) void this.cmd.client('UNBLOCK', this.blockingId).catch(() => undefined);
  }
}

// ---- helpers -----------------------------------------------------------------------------

export async function ensureGroup(redis: Redis, keys: QueueKeys): Promise<void> {
  try {
    // From 0, so entries added before any worker existed are served too.
    await redis.xgroup('CREATE', keys.items, GROUP, '0', 'MKSTREAM');
  } catch (err) {
    if (!/BUSYGROUP/.test(describeError(err))) throw err;
  }
}

function parsePayload(payload: string): ItemInput {
  try {
    return JSON.parse(payload) as ItemInput;
  } catch {
    return payload;
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
