/**
 * The item lifecycle every job run shares, whatever runs its items (the embedded pool, remote
 * endpoints): what `add` takes in (with backpressure), the waiting and delayed queues, retry or
 * fail per item by the retry policy, settling (done, failed, unfinished) with its events and
 * durations, drain and abort, and the final `job-done`/`job-cancelled` that resolves `finished`.
 * The run on top decides when and where an item goes, and reports how its attempts end.
 *
 *   add ─► waiting lane ─► (run) start ─► settleDone | retryOrFail ─► delayed ─► waiting (front)
 *                                                                 └─► failed
 *   drain: nothing more starts; what waits ends unfinished once nothing runs.
 *   abort: drain, and the run stops what runs (`abortInFlight`); those items end unfinished.
 */
import { performance } from 'node:perf_hooks';
import type { EventListener, JobCounts, JobEvent } from '../core/events.js';
import { describeError } from '../core/errors.js';
import { Deque, MinHeap } from '../core/queues.js';
import { backoffMs, defaultRetryPolicy, shouldRetry, type RetryPolicy } from '../core/retry.js';
import type { ItemDurations, ItemSpec } from '../core/types.js';
import type { ItemMeta } from '../core/item-meta.js';
import { TickEvents } from './tick-events.js';

export type ItemState = 'waiting' | 'delayed' | 'running' | 'done' | 'failed' | 'unfinished';

/** One item of a run: what the book keeps of it. Runs extend it with their own fields. */
export class BookItem {
  state: ItemState = 'waiting';
  /** Executions started (the attempt number of the current or last one). */
  attempt: number;
  /** Failures that count against `--retries`. */
  charged = 0;
  /** When it last became ready to go (added, or its retry came due). */
  readyAt: number;
  startedAt = 0;
  firstChunkAt = 0;
  dueAt = 0;
  worker: string | null = null;

  constructor(
    readonly spec: ItemSpec,
    readonly enqueuedAt: number,
  ) {
    this.attempt = (spec.attempt ?? 1) - 1;
    this.readyAt = enqueuedAt;
  }
}

/** What the book needs from the run on top of it. */
export interface BookHooks<R extends BookItem> {
  /** The run's record of an item `add` takes in. */
  newItem(spec: ItemSpec, now: number): R;
  /** Items whose attempt runs now: the run does not end while any does. */
  inFlight(): number;
  /** Items became ready (added, due, input ended): the run looks for work to start. */
  wake(): void;
  /** Abort: stop every running attempt (their items then settle unfinished, or end as they do). */
  abortInFlight(reason: string): void;
  /** The run ends: release its timers and subscriptions. */
  release(): void;
  /** An item ended without a result (dropped, aborted, never started). */
  onUnfinished?(rec: R): void;
  /** Which waiting lane an item goes to (default 0, the one `add`'s backpressure watches). */
  laneOf?(rec: R): number;
}

export interface BookOptions {
  readonly retries: number;
  /** `add` holds its caller while lane 0 has this many items waiting. */
  readonly highWater: number;
  /** Waiting lanes (default 1): a run with items that wait apart (embedded: items run alone). */
  readonly lanes?: number;
}

/** How an attempt failed, beyond its message. */
export interface AttemptEnd {
  /** Counts against `--retries` (false: a free rerun, e.g. a neighbour lost its thread). */
  readonly charged: boolean;
  /** The processor's systemic cause, passed on in the events (fail-fast). */
  readonly cause?: string;
  /** Fail it now, whatever retries it has left (its output passed the bound). */
  readonly final?: true;
  /** The wait before an uncharged rerun (default 0). */
  readonly freeDelayMs?: number;
  /** What the attempt reported (`ctx.report`): its tokens were billed even though it failed. */
  readonly meta?: ItemMeta;
}

export class ItemBook<R extends BookItem> {
  readonly finished: Promise<JobCounts>;
  readonly events: TickEvents;
  /** Items waiting to start, per lane; a retry that comes due goes to the front of its lane. */
  readonly lanes: readonly Deque<R>[];
  /** Retries waiting out their backoff. */
  readonly delayed = new MinHeap<R>((r) => r.dueAt);

  private readonly records = new Map<number, R>();
  private readonly policy: RetryPolicy;
  private readonly main: Deque<R>;
  private readonly laneOf: (rec: R) => number;
  private added = 0;
  private done = 0;
  private failed = 0;
  private open = true;
  private draining_ = false;
  private aborting_ = false;
  private closed_ = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private retryAt = 0;
  private roomWaiters: Array<() => void> = [];
  private resolveFinished!: (counts: JobCounts) => void;
  private rejectFinished!: (err: unknown) => void;

  constructor(
    listener: EventListener,
    private readonly options: BookOptions,
    private readonly hooks: BookHooks<R>,
  ) {
    this.policy = defaultRetryPolicy(options.retries);
    this.lanes = Array.from({ length: options.lanes ?? 1 }, () => new Deque<R>());
    this.main = this.lanes[0]!;
    this.laneOf = hooks.laneOf ?? (() => 0);
    this.events = new TickEvents(listener, (err) => this.fail(err));
    this.finished = new Promise<JobCounts>((resolve, reject) => {
      this.resolveFinished = resolve;
      this.rejectFinished = reject;
    });
    this.finished.catch(() => undefined); // the caller may only look at events
  }

  /** The input is still open (`end` not called). */
  get inputOpen(): boolean {
    return this.open;
  }
  /** Nothing more starts (drain, abort, or the run ended). */
  get draining(): boolean {
    return this.draining_;
  }
  get aborting(): boolean {
    return this.aborting_;
  }
  /** The final event is out (or the run failed): nothing more happens. */
  get closed(): boolean {
    return this.closed_;
  }

  /** The item `index` while it is in the run (not yet settled for good). */
  get(index: number): R | undefined {
    return this.records.get(index);
  }

  // ---- taking items in ---------------------------------------------------------------------

  /** Resolves when the run can take more: lane 0 below its high-water mark, or the run draining. */
  add(items: readonly ItemSpec[]): Promise<void> {
    if (this.draining_ || this.closed_) return Promise.resolve();
    if (!this.open) return Promise.reject(new Error('add() after end()'));
    const now = performance.now();
    for (const spec of items) {
      const rec = this.hooks.newItem(spec, now);
      this.records.set(spec.index, rec);
      this.lanes[this.laneOf(rec)]!.push(rec);
    }
    this.added += items.length;
    this.hooks.wake();
    if (this.main.length < this.options.highWater) return Promise.resolve();
    return new Promise<void>((resolve) => this.roomWaiters.push(resolve));
  }

  end(): void {
    this.open = false;
    this.hooks.wake();
  }

  /** Lets `add`'s callers go on once lane 0 has drained to half its high-water mark. */
  releaseIfRoom(): void {
    if (this.main.length < this.options.highWater / 2) this.releaseRoomWaiters();
  }

  /** Moves retries whose backoff is over to the front of their lane; wakes the run at the next. */
  promoteDueRetries(): void {
    const now = performance.now();
    let top = this.delayed.peek();
    while (top && top.dueAt <= now) {
      this.delayed.pop();
      top.state = 'waiting';
      top.readyAt = now;
      this.lanes[this.laneOf(top)]!.unshift(top); // it has waited its turn already
      top = this.delayed.peek();
    }
    if (top && (!this.retryTimer || top.dueAt < this.retryAt)) {
      if (this.retryTimer) clearTimeout(this.retryTimer);
      this.retryAt = top.dueAt;
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null;
        this.hooks.wake();
      }, Math.max(0, top.dueAt - now));
    }
  }

  /** An attempt of `rec` starts (`startedAt` 0: the run learns it when the item really starts). */
  markRunning(rec: R, startedAt: number): void {
    rec.state = 'running';
    rec.attempt++;
    rec.startedAt = startedAt;
    rec.firstChunkAt = 0;
  }

  /** Takes a waiting or delayed item out and settles it unfinished; false if it is not queued. */
  dropQueued(rec: R): boolean {
    if (rec.state === 'waiting') this.lanes[this.laneOf(rec)]!.removeWhere((r) => r === rec);
    else if (rec.state === 'delayed') this.delayed.removeWhere((r) => r === rec);
    else return false;
    this.settleUnfinished(rec);
    return true;
  }

  // ---- settling ----------------------------------------------------------------------------

  settleDone(rec: R, output: string, now: number, meta?: ItemMeta): void {
    rec.state = 'done';
    this.records.delete(rec.spec.index);
    this.done++;
    const done = {
      type: 'item-done',
      index: rec.spec.index,
      id: rec.spec.id,
      attempt: rec.attempt,
      output,
      worker: rec.worker ?? '?',
      durations: this.durations(rec, now),
      input: rec.spec.input,
    } as const;
    this.events.emit(meta === undefined ? done : { ...done, meta });
  }

  /**
   * An attempt failed: another one after its backoff (an uncharged one after `freeDelayMs`), or,
   * with no retries left or `final`, the item fails. Draining, a retry ends it unfinished.
   */
  retryOrFail(rec: R, error: string, now: number, end: AttemptEnd): void {
    const { charged, cause, final, meta } = end;
    if (charged) rec.charged++;
    if (final || (charged && !shouldRetry(this.policy, rec.charged))) {
      this.settleFailed(rec, error, now, end);
      return;
    }
    const delayMs = charged ? backoffMs(this.policy, rec.charged) : (end.freeDelayMs ?? 0);
    const retry = { type: 'item-retry', index: rec.spec.index, id: rec.spec.id, attempt: rec.attempt, error, delayMs, charged } as const;
    this.events.emit(cause === undefined && meta === undefined ? retry : { ...retry, ...(cause === undefined ? {} : { cause }), ...(meta === undefined ? {} : { meta }) });
    if (this.draining_) {
      this.settleUnfinished(rec);
      return;
    }
    rec.state = 'delayed';
    rec.dueAt = now + delayMs;
    this.delayed.push(rec);
    this.hooks.wake();
  }

  /** The item fails now, without (more) retries. */
  settleFailed(rec: R, error: string, now: number, how: Pick<AttemptEnd, 'cause' | 'final' | 'meta'> = {}): void {
    const { cause, final, meta } = how;
    rec.state = 'failed';
    this.records.delete(rec.spec.index);
    this.failed++;
    this.events.emit({
      type: 'item-failed',
      index: rec.spec.index,
      id: rec.spec.id,
      attempts: rec.attempt,
      error,
      worker: rec.worker,
      durations: this.durations(rec, now),
      input: rec.spec.input,
      ...(cause === undefined ? {} : { cause }),
      ...(final ? { final } : {}),
      ...(meta === undefined ? {} : { meta }),
    });
  }

  /** The item ends without a result and without an event (counted unfinished at the end). */
  settleUnfinished(rec: R): void {
    rec.state = 'unfinished';
    this.records.delete(rec.spec.index);
    this.hooks.onUnfinished?.(rec);
  }

  private durations(rec: R, now: number): ItemDurations {
    const started = rec.startedAt || now;
    return {
      queuedMs: round(started - rec.enqueuedAt),
      firstChunkMs: rec.firstChunkAt ? round(rec.firstChunkAt - started) : null,
      totalMs: round(now - started),
    };
  }

  // ---- drain, abort and the end ------------------------------------------------------------

  drain(): void {
    if (this.draining_) return;
    this.draining_ = true;
    this.releaseRoomWaiters();
    this.maybeFinish();
  }

  abort(reason: string): void {
    this.drain();
    if (this.aborting_) return;
    this.aborting_ = true;
    this.hooks.abortInFlight(reason);
    this.maybeFinish();
  }

  /**
   * Ends the run once nothing runs and either it drains or all input is in and settled: what
   * still waits ends unfinished, and the final event (`job-cancelled` if a drain left items
   * unfinished) resolves `finished` once delivered.
   */
  maybeFinish(): void {
    if (this.closed_ || this.hooks.inFlight() > 0) return;
    const drained = this.draining_;
    if (!drained && (this.open || this.lanes.some((lane) => lane.length > 0) || this.delayed.size > 0)) return;
    this.closed_ = true;
    for (const lane of this.lanes) for (const rec of lane.clear()) this.settleUnfinished(rec);
    for (const rec of this.delayed.drain()) this.settleUnfinished(rec);
    this.release();
    const counts = this.counts();
    const last: JobEvent =
      drained && counts.unfinished > 0 ? { type: 'job-cancelled', reason: this.aborting_ ? 'aborted' : 'interrupted', counts } : { type: 'job-done', counts };
    this.events.emit(last);
    setImmediate(() => {
      this.events.flush();
      this.resolveFinished(counts);
    });
  }

  /** Stops the run with `err` (a listener that throws, a pool that cannot start): `finished` rejects. */
  fail(err: unknown): void {
    if (!this.closed_) {
      this.abort(describeError(err));
      if (!this.closed_) {
        this.closed_ = true;
        this.release();
      }
    }
    this.rejectFinished(err);
  }

  private counts(): JobCounts {
    return { total: this.added, done: this.done, failed: this.failed, unfinished: this.added - this.done - this.failed };
  }

  private release(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.hooks.release();
    this.releaseRoomWaiters();
  }

  private releaseRoomWaiters(): void {
    const waiters = this.roomWaiters;
    this.roomWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

const round = (ms: number) => Math.round(ms * 10) / 10;
