/**
 * One job on Redis, seen from its submitter: creates the job, streams its items into the work
 * stream (a few hundred per script call, never far ahead of the workers), follows its events
 * stream, and turns Ctrl+C into a drain or an abort of the job everywhere. The job lives in
 * Redis, not here: if this process dies, the workers finish it anyway.
 */
import type { EventListener, JobCounts, JobEvent } from '../../core/events.js';
import { JobLostError, describeError } from '../../core/errors.js';
import type { LinkDown } from '../../core/link.js';
import { IndexSet } from '../../core/index-set.js';
import type { ItemInput, ItemSpec, JobSpec } from '../../core/types.js';
import type { JobRun } from '../broker.js';
import { carriedResults, type FinalEvent } from './carried.js';
import { EventsReader } from './events-reader.js';
import { toWireSpec } from './job-spec.js';
import type { JobKeys, QueueKeys } from './keys.js';
import type { LinkWatch } from './link-watch.js';
import { LookAhead } from './look-ahead.js';
import * as scripts from './script-calls.js';
import type { ScriptedRedis } from './scripts.js';
import { MAX_ENTRY_ITEMS, itemHeader } from './work-entry.js';

/**
 * Most items, and payload bytes, per enqueue call: enough to amortise the round trip, little
 * enough that Redis, which serves nobody else while a script runs, is never held for long (a
 * call of 500 prompts of 1 MB took seconds, and heartbeats expired meanwhile). One item bigger
 * than the bytes goes alone.
 */
const ENQUEUE_CHUNK = 500;
const ENQUEUE_BYTES = 4 * 1024 * 1024;
/**
 * Most payload bytes held in Redis ahead of the workers (sent, not final yet): 16 enqueue calls'
 * worth. The item bound alone let 1000 prompts of 1 MB, 1 GB, wait there.
 */
export const LOOK_AHEAD_BYTES = 64 * 1024 * 1024;
/**
 * How long an abort waits for Redis to take its cancel before the submit stops following the
 * job (it goes on in Redis; resume attaches to it again). An unreachable Redis is not waited on.
 */
export const ABORT_ANSWER_MS = 3000;

export interface RedisJobRunDeps {
  readonly cmd: ScriptedRedis;
  /** A connection of its own for the blocking event reads. */
  readonly reader: ScriptedRedis;
  readonly keys: QueueKeys;
  /** How long a finished job's keys are kept. */
  readonly ttlMs: number;
  readonly submitter: string;
  readonly outPath: string;
  /** Items the submitter has recorded already (a resumed submit attaching to its job). */
  readonly recorded?: (id: string) => boolean;
  /** `--retry-failed`: a failure of an earlier job is run again, not carried over. */
  readonly retryFailed?: boolean;
  /** The command connection's link, to say when Redis is unreachable and not wait on it then. */
  readonly link?: LinkWatch;
  readonly onLink?: (down: LinkDown | null) => void;
}

export class RedisJobRun implements JobRun {
  readonly jobId: string;
  readonly finished: Promise<JobCounts>;
  private readonly jk: JobKeys;
  private readonly created: Promise<void>;
  private readonly reader: EventsReader;
  /** Items handed to Redis but not final yet, which bounds how far ahead the submitter runs. */
  private readonly ahead: LookAhead;
  /** Items per work stream entry: the job's batch size (a batch is what a worker claims at once). */
  private readonly entryItems: number;
  private added = 0;
  private inputOpen = true;
  private stopping = false;
  private sending: Promise<void> = Promise.resolve();
  /** Items whose final result came: one bit each, as a job may hold millions. */
  private readonly finalItems = new IndexSet();
  /** Replayed results waiting for their input (and a job end behind them), in order. */
  private held: JobEvent[] = [];
  private heldItems = 0;
  /** Inputs of the items added and not finished: results come back without them. */
  private readonly inputs = new Map<number, ItemInput>();
  /** Items whose events are skipped (recorded already), by index, and how many of them ended. */
  private readonly skipped = new IndexSet();
  private skippedFinal = { done: 0, failed: 0 };
  /** Results delivered to the listener. */
  private delivered = { done: 0, failed: 0 };
  /**
   * A resumed submit's results of earlier jobs of its results file that ended without it: by
   * index, taken when add() brings the item (with its input) instead of running it again.
   */
  private carried = new Map<number, FinalEvent>();
  private carriedFinal = { done: 0, failed: 0 };
  /** Resolves when the run stops (drain, abort, failure, detach): nothing then waits on Redis. */
  private readonly stopped: Promise<void>;
  private markStopped!: () => void;
  private aborting = false;
  private readonly unwatch: () => void;
  private resolveFinished!: (counts: JobCounts) => void;
  private rejectFinished!: (err: unknown) => void;

  constructor(
    private readonly spec: JobSpec,
    private readonly deps: RedisJobRunDeps,
    private readonly listener: EventListener,
  ) {
    this.jobId = spec.jobId;
    this.jk = deps.keys.job(spec.jobId);
    // Whatever the bytes, twice the concurrency may be held: every slot busy, its next item waiting.
    this.ahead = new LookAhead(Math.max(1000, 4 * spec.concurrency), LOOK_AHEAD_BYTES, 2 * spec.concurrency);
    this.entryItems = Math.min(MAX_ENTRY_ITEMS, Math.max(1, spec.batchSize));
    this.finished = new Promise<JobCounts>((resolve, reject) => {
      this.resolveFinished = resolve;
      this.rejectFinished = reject;
    });
    this.finished.catch(() => undefined);
    this.stopped = new Promise<void>((resolve) => (this.markStopped = resolve));
    this.created = this.create();
    this.created.catch((err: unknown) => this.fail(err));
    this.unwatch = deps.link?.subscribe((down) => this.onLink(down)) ?? (() => undefined);
    if (deps.link?.down) deps.onLink?.(deps.link.down);
    this.reader = new EventsReader(deps.reader, this.jk.events, {
      jobId: spec.jobId,
      onEvents: (events) => this.onEvents(events),
      isGone: async () => (await deps.cmd.exists(this.jk.hash)) === 0,
    });
    this.reader.done.then(
      () => undefined,
      (err: unknown) => this.fail(err),
    );
  }

  /**
   * Creates the job, idempotently (a resumed submit may be attaching to it). A resumed submit
   * first gathers what ended jobs of its results file finished: those items are not enqueued, so
   * the job's size is known only when sealed.
   */
  private async create(): Promise<void> {
    const { cmd, keys, recorded, outPath } = this.deps;
    if (recorded) this.carried = await carriedResults(cmd, keys, { outPath, recorded, retryFailed: this.deps.retryFailed ?? false });
    const status = await scripts.createJob(cmd, keys, {
      id: this.jobId,
      now: Date.now(),
      total: this.carried.size > 0 ? null : (this.spec.total ?? null),
      ttlMs: this.deps.ttlMs,
      retries: this.spec.retries,
      spec: JSON.stringify(toWireSpec(this.spec)),
      submitter: this.deps.submitter,
      out: outPath,
    });
    // Attached to a job that runs still: it holds its items itself.
    if (status !== 'created') this.carried.clear();
  }

  add(items: readonly ItemSpec[]): Promise<void> {
    if (this.stopping) return Promise.resolve();
    if (!this.inputOpen) return Promise.reject(new Error('add() after end()'));
    this.added += items.length;
    this.ahead.added(items.length);
    for (const item of items) this.inputs.set(item.index, item.input);
    this.releaseHeld(false);
    for (let k = 0; k < items.length; k += ENQUEUE_CHUNK) {
      const chunk = items.slice(k, k + ENQUEUE_CHUNK);
      this.sending = this.sending.then(() => this.enqueue(chunk));
    }
    // After a stop nothing waits on Redis (it may be unreachable): the feeder moves on.
    if (this.ahead.hasItemRoom) return Promise.race([this.sending, this.stopped]);
    return this.ahead.roomForItems();
  }

  private async enqueue(all: readonly ItemSpec[]): Promise<void> {
    if (this.stopping) return;
    await this.created;
    const items = this.carried.size > 0 ? this.takeCarried(all) : all;
    if (items.length === 0) return;
    // Calls of ENQUEUE_BYTES of payload at most, one after the other, each once it fits the look-ahead.
    let call: scripts.NewItem[] = [];
    let bytes = 0;
    const send = async () => {
      await this.ahead.roomForBytes(bytes);
      if (this.stopping) return;
      for (const item of call) this.ahead.sent(item.index, item.payload.length);
      const reply = await scripts.enqueue(this.deps.cmd, this.deps.keys, this.jobId, { now: Date.now(), entryItems: this.entryItems, items: call });
      if (reply === null) throw this.lost();
      call = [];
      bytes = 0;
    };
    for (const item of items) {
      const payload = JSON.stringify(item.input ?? null);
      if (call.length > 0 && bytes + payload.length > ENQUEUE_BYTES) await send();
      call.push({ index: item.index, header: itemHeader(item.index, 1, 0, 0, item.id), payload });
      bytes += payload.length;
    }
    if (call.length > 0) await send();
  }

  /** Delivers the results earlier jobs finished for these items; returns the items left to run. */
  private takeCarried(items: readonly ItemSpec[]): ItemSpec[] {
    const rest: ItemSpec[] = [];
    const events: JobEvent[] = [];
    for (const item of items) {
      const e = this.carried.get(item.index);
      if (!e || e.id !== item.id) {
        rest.push(item);
        continue;
      }
      this.carried.delete(item.index);
      if (!this.finalItems.add(item.index)) continue;
      this.ahead.settled(item.index);
      const kind = e.type === 'item-done' ? 'done' : 'failed';
      this.delivered[kind]++;
      this.carriedFinal[kind]++;
      events.push({ ...e, input: item.input });
      this.inputs.delete(item.index);
    }
    this.deliver(events);
    return rest;
  }

  /** The job's hash is gone from Redis under us. */
  private lost(): JobLostError {
    return new JobLostError(`job ${this.jobId} is gone from Redis (Redis restarted without its data, or the job expired or was deleted)`);
  }

  end(): void {
    if (!this.inputOpen) return;
    this.inputOpen = false;
    // No more inputs will come: what is still held goes out as it is.
    this.releaseHeld(true);
    this.sending = this.sending.then(async () => {
      if (this.stopping) return;
      await this.created;
      if ((await scripts.seal(this.deps.cmd, this.deps.keys, this.jobId, Date.now())) === null) throw this.lost();
    });
    this.sending.catch((err: unknown) => this.fail(err));
  }

  /**
   * Gives up one item (its HTTP client went away): no result will be recorded for it (its fin
   * bit is set), a waiting one is dropped when a worker claims it, a running one is aborted by its
   * worker (woken on the control channel), and the job ends without waiting for it.
   */
  cancelItem(index: number, _reason: string): boolean {
    if (this.stopping || this.finalItems.has(index)) return false;
    // After whatever is being sent (the item's own enqueue included), so the item is known to
    // Redis by then. Best effort: an error leaves the item to run its course, the job unharmed.
    this.sending = this.sending.then(async () => {
      try {
        const given = await scripts.cancelItem(this.deps.cmd, this.deps.keys, this.jobId, index, Date.now());
        if (!given || this.finalItems.has(index)) return;
        this.finalItems.add(index);
        this.inputs.delete(index);
        this.ahead.settled(index);
      } catch {
        // the item runs to its end unheard
      }
    });
    return true;
  }

  drain(reason: string): void {
    this.stop('drain', reason);
  }

  abort(reason: string): void {
    this.stop('abort', reason);
  }

  private stop(mode: 'drain' | 'abort', reason: string): void {
    this.stopping = true;
    this.inputOpen = false;
    this.markStopped();
    this.releaseHeld(true);
    this.ahead.release();
    let answered = false;
    void this.created
      .then(() => scripts.cancel(this.deps.cmd, this.deps.keys, this.jobId, { now: Date.now(), mode, reason }))
      .then((status) => {
        answered = true;
        if (status === null) this.fail(this.lost());
      })
      .catch((err: unknown) => this.fail(err));
    if (mode !== 'abort' || this.aborting) return;
    this.aborting = true;
    // An abort ends within seconds whatever Redis does: the cancel and the job's end would wait in
    // ioredis's offline queue for as long as Redis is away, so an unreachable Redis is not waited
    // on, nor one that does not take the cancel in time. The job stays in Redis as it is.
    if (this.deps.link?.down) {
      this.detach();
      return;
    }
    const timer = setTimeout(() => {
      if (!answered) this.detach();
    }, ABORT_ANSWER_MS);
    timer.unref();
    void this.finished.finally(() => clearTimeout(timer)).catch(() => undefined);
  }

  private onLink(down: LinkDown | null): void {
    this.deps.onLink?.(down);
    if (down !== null) {
      if (this.aborting) this.detach();
      return;
    }
    // Back: if Redis lost its data meanwhile, the job is gone; say so now rather than wait on it.
    void this.created
      .then(async () => {
        if ((await this.deps.cmd.exists(this.jk.hash)) === 0) this.fail(this.lost());
      })
      .catch(() => undefined);
  }

  private onEvents(decoded: readonly (JobEvent | { type: 'stopping' })[]): void {
    const events: JobEvent[] = [];
    let end: JobEvent | null = null;
    const recorded = this.deps.recorded;
    for (const e of decoded) {
      if (e.type === 'stopping') continue;
      if (recorded && 'index' in e) {
        if ((e.type === 'item-start' || e.type === 'item-retry' || e.type === 'item-done' || e.type === 'item-failed') && recorded(e.id)) this.skipped.add(e.index);
        if (this.skipped.has(e.index)) {
          if (e.type === 'item-done' && !this.finalItems.has(e.index)) this.skippedFinal.done++;
          if (e.type === 'item-failed' && !this.finalItems.has(e.index)) this.skippedFinal.failed++;
          if (e.type === 'item-done' || e.type === 'item-failed') this.finalItems.add(e.index);
          continue;
        }
      }
      if (e.type === 'item-done' || e.type === 'item-failed') {
        if (this.finalItems.add(e.index)) {
          this.ahead.settled(e.index);
          this.delivered[e.type === 'item-done' ? 'done' : 'failed']++;
        }
        if (e.input === undefined && !this.inputs.has(e.index) && this.inputOpen) {
          // Attached to a running job again: its replayed results can come before this submit
          // has read their inputs again. Held until add() brings the input (or input ends).
          this.held.push(e);
          this.heldItems++;
          continue;
        }
        events.push(this.withInput(e));
        continue;
      }
      if (e.type === 'job-done' || e.type === 'job-cancelled') {
        // Counts of this submit's share: a job attached to again holds items recorded before.
        // Plus the results carried over from ended jobs, which this job never ran.
        const { done, failed } = this.skippedFinal;
        const carried = this.carriedFinal;
        const total = Math.max(0, e.counts.total - done - failed) + carried.done + carried.failed;
        const counts = { ...e.counts, total, done: e.counts.done - done + carried.done, failed: e.counts.failed - failed + carried.failed };
        end = e.type === 'job-done' ? { ...e, counts } : { ...e, counts };
        // The end goes out after every result held for its input.
        if (this.heldItems > 0) {
          this.held.push(end);
          end = null;
          continue;
        }
        events.push(end);
        continue;
      }
      if (e.type === 'job-total') {
        events.push({ type: 'job-total', total: Math.max(0, e.total - this.skipped.size) + this.carriedFinal.done + this.carriedFinal.failed });
        continue;
      }
      events.push(e);
    }
    this.deliver(events);
  }

  /** Hands events to the listener; the job's end resolves `finished`. */
  private deliver(events: readonly JobEvent[]): void {
    if (events.length === 0) return;
    try {
      this.listener(events);
    } catch (err) {
      this.fail(err);
      return;
    }
    const end = events[events.length - 1]!;
    if (end.type === 'job-done' || end.type === 'job-cancelled') {
      this.unwatch();
      this.ahead.release();
      this.resolveFinished(end.counts);
    }
  }

  /** A result with the input this submit read for it (results in Redis do not carry it). */
  private withInput<E extends JobEvent & { index: number; input?: unknown }>(e: E): E {
    if (e.input !== undefined) return e;
    const input = this.inputs.get(e.index) ?? null;
    this.inputs.delete(e.index);
    // Decoded events are fresh objects of ours: set the field rather than copy the event.
    (e as { input?: unknown }).input = input;
    return e;
  }

  /** Held results whose input is known now (all of them once input ended), then a held end. */
  private releaseHeld(all: boolean): void {
    if (this.held.length === 0) return;
    const out: JobEvent[] = [];
    const keep: JobEvent[] = [];
    for (const e of this.held) {
      if (e.type === 'item-done' || e.type === 'item-failed') {
        if (all || this.inputs.has(e.index)) {
          out.push(this.withInput(e));
          this.heldItems--;
        } else keep.push(e);
      } else if (this.heldItems === 0) out.push(e);
      else keep.push(e);
    }
    this.held = keep;
    this.deliver(out);
  }

  private fail(err: unknown): void {
    this.stopping = true;
    this.markStopped();
    this.unwatch();
    this.ahead.release();
    this.reader.stop();
    this.rejectFinished(err instanceof Error ? err : new Error(describeError(err)));
  }

  /** Stops following the job (the process is leaving); the job itself goes on in Redis. */
  detach(): void {
    this.stopping = true;
    this.markStopped();
    this.unwatch();
    this.reader.stop();
    this.ahead.release();
    const total = this.spec.total ?? this.added;
    const done = this.delivered.done;
    const failed = this.delivered.failed;
    this.resolveFinished({ total, done, failed, unfinished: Math.max(0, total - done - failed) });
  }
}

