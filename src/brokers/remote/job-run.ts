/**
 * One job on remote processor endpoints: keeps the waiting queue and the delayed retries, sends
 * each item to an endpoint (POST /process), turns the answers into job events, and decides
 * retries per item. The same events, drain and abort semantics as the embedded run
 * (src/brokers/embedded/job-run.ts), with one item per dispatch instead of batches.
 *
 * Whose fault: a failure of the endpoint (connection lost, idle, 5xx, broken stream, an
 * endpoint out of rotation while its 202 item waits) re-sends the item elsewhere without
 * charging it, up to MAX_FREE_RESENDS times; an {"error"} line, a /complete error, a 4xx or the
 * item's time limit is charged against --retries.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { JobRun, JobRunOptions } from '../broker.js';
import { ItemTimeoutError, OutputTooLongError, describeError } from '../../core/errors.js';
import { outputLimitOf } from '../../core/output-limit.js';
import type { EventListener, JobCounts, JobEvent } from '../../core/events.js';
import { Deque, MinHeap } from '../../core/queues.js';
import { backoffMs, defaultRetryPolicy, shouldRetry, type RetryPolicy } from '../../core/retry.js';
import type { ItemDurations, ItemSpec, JobSpec } from '../../core/types.js';
import type { Completion, CompletionRouter } from './completions.js';
import { AttemptFailure, RemoteJobError } from './errors.js';
import { EventBatcher } from './event-batcher.js';
import { callProcess } from './process-call.js';
import type { EndpointChange, EndpointState, RemoteProcessorRegistry } from './registry.js';

/** What the run needs from its broker. */
export interface RemoteRunPorts {
  readonly registry: RemoteProcessorRegistry;
  readonly completions: CompletionRouter;
  /** Where processors that answer 202 post their result. */
  readonly callbackUrl: () => string;
  readonly token?: string;
  /** Silence allowed on a stream when the job has no time limit. */
  readonly idleTimeoutMs: number;
  /**
   * How long items wait while no endpoint of their processor is healthy (one killed, none other
   * registered) before they fail; the job's time limit caps it. 0: up to the time limit alone.
   */
  readonly unhealthyWaitMs: number;
  /** The run has ended (the broker forgets it). */
  readonly onClosed: (run: RemoteJobRun) => void;
}

/** Endpoint failures an item may go through without being charged; past this, they count. */
export const MAX_FREE_RESENDS = 10;
/** Re-sends after the first free one back off from this, so a bad endpoint is not hammered. */
const FREE_RESEND_POLICY: RetryPolicy = { retries: 0, baseMs: 100, maxMs: 2000 };

type ItemState = 'waiting' | 'delayed' | 'running' | 'done' | 'failed' | 'unfinished';

interface Attempt {
  readonly dispatchId: string;
  readonly endpoint: EndpointState;
  readonly controller: AbortController;
  /** The endpoint answered 202: the result comes by POST /complete. */
  accepted: boolean;
  limitTimer: NodeJS.Timeout | null;
}

interface ItemRecord {
  readonly spec: ItemSpec;
  state: ItemState;
  /** Executions started (the attempt number of the current or last one). */
  attempt: number;
  /** Failures that count against --retries. */
  charged: number;
  /** Endpoint failures so far (not charged up to MAX_FREE_RESENDS). */
  freeResends: number;
  readonly enqueuedAt: number;
  /** When it last became ready to go (for the wait on a healthy endpoint). */
  readyAt: number;
  startedAt: number;
  firstChunkAt: number;
  dueAt: number;
  worker: string | null;
  /** The endpoint it just failed on, not to be picked again if another can take it. */
  avoid: string | undefined;
  call: Attempt | null;
}

export class RemoteJobRun implements JobRun {
  readonly jobId: string;
  readonly finished: Promise<JobCounts>;
  /** The remote processor name all items go to. */
  readonly processorName: string;

  private readonly records = new Map<number, ItemRecord>();
  private readonly waiting = new Deque<ItemRecord>();
  private readonly delayed = new MinHeap<ItemRecord>((r) => r.dueAt);
  private readonly inflight = new Set<ItemRecord>();
  private readonly events: EventBatcher;
  private readonly policy: RetryPolicy;
  private readonly highWater: number;
  private readonly unsubscribe: () => void;

  private added = 0;
  private done = 0;
  private failed = 0;
  private inputOpen = true;
  private draining = false;
  private aborting = false;
  private closed = false;
  /** Since when no endpoint of the processor is in rotation (null: one is). */
  private unhealthySince: number | null = null;

  private pumpScheduled = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private retryAt = 0;
  private waitTimer: NodeJS.Timeout | null = null;
  private roomWaiters: Array<() => void> = [];
  private resolveFinished!: (counts: JobCounts) => void;
  private rejectFinished!: (err: unknown) => void;

  constructor(
    private readonly spec: JobSpec,
    private readonly ports: RemoteRunPorts,
    listener: EventListener,
    _options: JobRunOptions = {},
  ) {
    if (spec.pipeline.length !== 1) {
      throw new RemoteJobError(`a remote job runs one processor, not a pipeline of ${spec.pipeline.length}`);
    }
    this.jobId = spec.jobId;
    this.processorName = spec.pipeline[0]!.name;
    this.policy = defaultRetryPolicy(spec.retries);
    this.highWater = Math.max(4 * spec.concurrency, 512);
    this.events = new EventBatcher(listener, (err) => this.fail(err));
    this.finished = new Promise<JobCounts>((resolve, reject) => {
      this.resolveFinished = resolve;
      this.rejectFinished = reject;
    });
    this.finished.catch(() => undefined); // the caller may only look at events
    this.unsubscribe = ports.registry.onChange((change) => this.onEndpointChange(change));
  }

  // ---- JobRun ------------------------------------------------------------------------------

  add(items: readonly ItemSpec[]): Promise<void> {
    if (this.draining || this.closed) return Promise.resolve();
    if (!this.inputOpen) return Promise.reject(new Error('add() after end()'));
    const now = performance.now();
    for (const spec of items) {
      const rec: ItemRecord = {
        spec,
        state: 'waiting',
        attempt: (spec.attempt ?? 1) - 1,
        charged: 0,
        freeResends: 0,
        enqueuedAt: now,
        readyAt: now,
        startedAt: 0,
        firstChunkAt: 0,
        dueAt: 0,
        worker: null,
        avoid: undefined,
        call: null,
      };
      this.records.set(spec.index, rec);
      this.waiting.push(rec);
    }
    this.added += items.length;
    this.schedulePump();
    if (this.waiting.length < this.highWater) return Promise.resolve();
    return new Promise<void>((resolve) => this.roomWaiters.push(resolve));
  }

  end(): void {
    this.inputOpen = false;
    this.schedulePump();
  }

  drain(_reason: string): void {
    if (this.draining) return;
    this.draining = true;
    this.releaseRoomWaiters();
    this.maybeFinish();
  }

  abort(reason: string): void {
    this.drain(reason);
    if (this.aborting) return;
    this.aborting = true;
    for (const rec of [...this.inflight]) this.stopAttempt(rec, reason);
    this.maybeFinish();
  }

  /**
   * Stops one item wherever it is: dropped if waiting, its request aborted if running. It ends
   * without a result and without another event, counted unfinished. False if the item is not
   * in this run (unknown, or finished already).
   */
  cancelItem(index: number, reason: string): boolean {
    const rec = this.records.get(index);
    if (!rec) return false;
    if (rec.state === 'running') this.stopAttempt(rec, reason);
    else if (rec.state === 'waiting') {
      this.waiting.removeWhere((r) => r === rec);
      this.settleUnfinished(rec);
    } else if (rec.state === 'delayed') {
      this.delayed.removeWhere((r) => r === rec);
      this.settleUnfinished(rec);
    } else return false;
    this.schedulePump();
    return true;
  }

  // ---- dispatch ----------------------------------------------------------------------------

  private schedulePump(): void {
    if (this.pumpScheduled || this.closed) return;
    this.pumpScheduled = true;
    queueMicrotask(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    if (this.closed) return;
    this.promoteDueRetries();
    const { registry } = this.ports;
    while (!this.draining && this.waiting.length > 0 && this.inflight.size < this.spec.concurrency) {
      if (!registry.has(this.processorName)) {
        this.failFinal(this.waiting.shift()!, this.notRegistered());
        continue;
      }
      const rec = this.waiting.peek()!;
      const endpoint = registry.acquire(this.processorName, rec.avoid);
      if (!endpoint) break;
      this.waiting.shift();
      this.launch(rec, endpoint);
    }
    this.watchHealthyWait();
    if (this.waiting.length < this.highWater / 2) this.releaseRoomWaiters();
    this.maybeFinish();
  }

  private notRegistered(): string {
    const names = this.ports.registry.names();
    return `no remote processor named "${this.processorName}" is registered (${names.length > 0 ? `registered: ${names.join(', ')}` : 'none is'})`;
  }

  private launch(rec: ItemRecord, endpoint: EndpointState): void {
    const now = performance.now();
    const attempt: Attempt = { dispatchId: randomUUID(), endpoint, controller: new AbortController(), accepted: false, limitTimer: null };
    rec.state = 'running';
    rec.attempt++;
    rec.worker = endpoint.id;
    rec.startedAt = now;
    rec.firstChunkAt = 0;
    rec.avoid = undefined;
    rec.call = attempt;
    this.inflight.add(rec);
    // Expected before the request goes: a quick processor may post /complete before its 202 arrives.
    this.ports.completions.expect(attempt.dispatchId, (c) => this.onComplete(rec, attempt, c));
    if (this.spec.timeoutMs > 0) {
      attempt.limitTimer = setTimeout(() => this.onTimeLimit(rec, attempt), this.spec.timeoutMs);
    }
    this.events.emit({ type: 'item-start', index: rec.spec.index, id: rec.spec.id, attempt: rec.attempt, worker: endpoint.id });
    callProcess({
      url: endpoint.url,
      request: {
        id: attempt.dispatchId,
        item: rec.spec.id,
        input: rec.spec.input,
        params: this.spec.params,
        attempt: rec.attempt,
        callback: this.ports.callbackUrl(),
      },
      token: this.ports.token,
      signal: attempt.controller.signal,
      idleTimeoutMs: this.spec.timeoutMs > 0 ? this.spec.timeoutMs : this.ports.idleTimeoutMs,
      maxOutputChars: outputLimitOf(this.spec),
      onChunk: (text) => this.onChunk(rec, attempt, text),
    }).then(
      (outcome) => (outcome.kind === 'done' ? this.succeed(rec, attempt, outcome.output) : this.onAccepted(rec, attempt)),
      (err: unknown) => this.onAttemptError(rec, attempt, err),
    );
  }

  /** How long an item waits for a healthy endpoint (0: for ever). */
  private healthyWaitLimit(): number {
    const limits = [this.spec.timeoutMs, this.ports.unhealthyWaitMs].filter((ms) => ms > 0);
    return limits.length > 0 ? Math.min(...limits) : 0;
  }

  /** No endpoint in rotation: items wait, up to healthyWaitLimit(), then fail rather than hang. */
  private watchHealthyWait(): void {
    const stuck = !this.draining && this.waiting.length > 0 && !this.ports.registry.hasHealthy(this.processorName);
    if (!stuck) {
      this.unhealthySince = null;
      if (this.waitTimer) clearTimeout(this.waitTimer);
      this.waitTimer = null;
      return;
    }
    this.unhealthySince ??= performance.now();
    const limit = this.healthyWaitLimit();
    if (limit <= 0 || this.waitTimer) return;
    this.waitTimer = setTimeout(() => {
      this.waitTimer = null;
      this.expireWaiting();
      this.schedulePump();
    }, Math.min(1000, Math.max(20, limit / 4)));
  }

  private expireWaiting(): void {
    if (this.unhealthySince === null) return;
    const now = performance.now();
    const since = this.unhealthySince;
    const limit = this.healthyWaitLimit();
    const expired = this.waiting.removeWhere((rec) => now - Math.max(rec.readyAt, since) >= limit);
    const why = this.ports.registry.list().find((ep) => ep.name === this.processorName && ep.lastError)?.lastError;
    for (const rec of expired) {
      this.failFinal(rec, `no healthy endpoint of remote processor "${this.processorName}" within ${limit} ms${why ? ` (${why})` : ''}`);
    }
  }

  private promoteDueRetries(): void {
    const now = performance.now();
    let top = this.delayed.peek();
    while (top && top.dueAt <= now) {
      this.delayed.pop();
      top.state = 'waiting';
      top.readyAt = now;
      this.waiting.unshift(top); // it has waited its turn already
      top = this.delayed.peek();
    }
    if (top && (!this.retryTimer || top.dueAt < this.retryAt)) {
      if (this.retryTimer) clearTimeout(this.retryTimer);
      this.retryAt = top.dueAt;
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null;
        this.schedulePump();
      }, Math.max(0, top.dueAt - now));
    }
  }

  // ---- answers -----------------------------------------------------------------------------

  private isCurrent(rec: ItemRecord, attempt: Attempt): boolean {
    return rec.call === attempt;
  }

  private onChunk(rec: ItemRecord, attempt: Attempt, text: string): void {
    if (!this.isCurrent(rec, attempt)) return;
    if (rec.firstChunkAt === 0) rec.firstChunkAt = performance.now();
    this.events.chunk(rec.spec.index, rec.attempt, text);
  }

  private onAccepted(rec: ItemRecord, attempt: Attempt): void {
    if (!this.isCurrent(rec, attempt)) return;
    attempt.accepted = true;
    // It may have left the rotation while the request was on its way: its change is past.
    if (!this.ports.registry.isUsable(attempt.endpoint)) {
      this.endpointFailed(rec, attempt, new AttemptFailure(`went out of rotation before completing (${attempt.endpoint.lastError ?? 'replaced'})`, { charged: false }));
    }
  }

  private onComplete(rec: ItemRecord, attempt: Attempt, completion: Completion): void {
    if (!this.isCurrent(rec, attempt)) return;
    if (completion.error !== undefined) {
      this.endpointFailed(rec, attempt, new AttemptFailure(completion.error, { charged: true, fromProcessor: true }));
      return;
    }
    const output = completion.output ?? '';
    const limit = outputLimitOf(this.spec);
    if (limit > 0 && output.length > limit) {
      this.onAttemptError(rec, attempt, new OutputTooLongError(limit));
      return;
    }
    // A 202 item streams nothing: its whole output is its one chunk, as a live view expects.
    if (rec.firstChunkAt === 0 && output.length > 0) this.onChunk(rec, attempt, output);
    this.succeed(rec, attempt, output);
  }

  private onAttemptError(rec: ItemRecord, attempt: Attempt, err: unknown): void {
    if (!this.isCurrent(rec, attempt)) return; // settled already (cancelled, timed out, aborted)
    if (err instanceof OutputTooLongError) {
      this.endAttempt(rec, attempt, { kind: 'failed' });
      rec.charged++;
      this.failFinal(rec, err.message, true);
      return;
    }
    const failure = err instanceof AttemptFailure ? err : new AttemptFailure(describeError(err), { charged: false });
    this.endpointFailed(rec, attempt, failure);
  }

  private onTimeLimit(rec: ItemRecord, attempt: Attempt): void {
    if (!this.isCurrent(rec, attempt)) return;
    this.endAttempt(rec, attempt, { kind: 'failed' });
    this.retryOrFail(rec, new ItemTimeoutError(this.spec.timeoutMs).message, true);
  }

  private onEndpointChange(change: EndpointChange): void {
    if (this.closed) return;
    if (change.kind === 'unhealthy' || change.kind === 'dropped' || change.kind === 'replaced') {
      // Its 202 items will not be completed (its process is gone or restarted): send them again.
      for (const rec of [...this.inflight]) {
        const call = rec.call;
        if (call && call.accepted && call.endpoint === change.endpoint) {
          const why = change.kind === 'replaced' ? 'registered again (restarted)' : `went out of rotation (${change.endpoint.lastError ?? change.kind})`;
          this.endpointFailed(rec, call, new AttemptFailure(`${why} before completing`, { charged: false }));
        }
      }
    }
    this.schedulePump();
  }

  // ---- settling ----------------------------------------------------------------------------

  /** Frees the attempt's slot and stops its request; it reports nothing more. */
  private endAttempt(rec: ItemRecord, attempt: Attempt, outcome: { kind: 'done'; ms: number } | { kind: 'failed' | 'cancelled' }): void {
    rec.call = null;
    this.inflight.delete(rec);
    if (attempt.limitTimer) clearTimeout(attempt.limitTimer);
    this.ports.completions.forget(attempt.dispatchId);
    this.ports.registry.release(attempt.endpoint, outcome);
    attempt.controller.abort();
    this.schedulePump();
  }

  private succeed(rec: ItemRecord, attempt: Attempt, output: string): void {
    if (!this.isCurrent(rec, attempt)) return;
    const now = performance.now();
    this.endAttempt(rec, attempt, { kind: 'done', ms: now - rec.startedAt });
    rec.state = 'done';
    this.records.delete(rec.spec.index);
    this.done++;
    this.events.emit({
      type: 'item-done',
      index: rec.spec.index,
      id: rec.spec.id,
      attempt: rec.attempt,
      output,
      worker: rec.worker ?? '?',
      durations: this.durations(rec, now),
      input: rec.spec.input,
    });
  }

  private endpointFailed(rec: ItemRecord, attempt: Attempt, failure: AttemptFailure): void {
    const endpoint = attempt.endpoint;
    if (failure.endpointDown) this.ports.registry.reportDown(endpoint, failure.message);
    this.endAttempt(rec, attempt, { kind: 'failed' });
    let charged = failure.charged;
    if (!charged) {
      rec.freeResends++;
      rec.avoid = endpoint.id;
      charged = rec.freeResends > MAX_FREE_RESENDS;
    }
    this.retryOrFail(rec, failure.fromProcessor ? failure.message : `endpoint ${endpoint.id}: ${failure.message}`, charged);
  }

  /** The attempt failed: another one (now or after a backoff), or the item fails. */
  private retryOrFail(rec: ItemRecord, error: string, charged: boolean): void {
    if (charged) rec.charged++;
    if (charged && !shouldRetry(this.policy, rec.charged)) {
      this.failFinal(rec, error);
      return;
    }
    const delayMs = charged ? backoffMs(this.policy, rec.charged) : rec.freeResends > 1 ? backoffMs(FREE_RESEND_POLICY, rec.freeResends - 1) : 0;
    this.events.emit({ type: 'item-retry', index: rec.spec.index, id: rec.spec.id, attempt: rec.attempt, error, delayMs, charged });
    if (this.draining) {
      this.settleUnfinished(rec);
      return;
    }
    const now = performance.now();
    if (delayMs === 0) {
      rec.state = 'waiting';
      rec.readyAt = now;
      this.waiting.unshift(rec);
    } else {
      rec.state = 'delayed';
      rec.dueAt = now + delayMs;
      this.delayed.push(rec);
    }
    this.schedulePump();
  }

  /** `final`: failed without its retries (its output passed the bound). */
  private failFinal(rec: ItemRecord, error: string, final?: true): void {
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
      durations: this.durations(rec, performance.now()),
      input: rec.spec.input,
      ...(final ? { final } : {}),
    });
  }

  /** Cancelled or aborted while running: the request is stopped, the item ends without a result. */
  private stopAttempt(rec: ItemRecord, reason: string): void {
    const attempt = rec.call;
    if (attempt) {
      attempt.controller.abort(new Error(reason));
      this.endAttempt(rec, attempt, { kind: 'cancelled' });
    }
    this.settleUnfinished(rec);
  }

  private settleUnfinished(rec: ItemRecord): void {
    rec.state = 'unfinished';
    this.records.delete(rec.spec.index);
  }

  private durations(rec: ItemRecord, now: number): ItemDurations {
    const started = rec.startedAt || now;
    return {
      queuedMs: round(started - rec.enqueuedAt),
      firstChunkMs: rec.firstChunkAt ? round(rec.firstChunkAt - started) : null,
      totalMs: round(now - started),
    };
  }

  // ---- the end -----------------------------------------------------------------------------

  private counts(): JobCounts {
    return { total: this.added, done: this.done, failed: this.failed, unfinished: this.added - this.done - this.failed };
  }

  private maybeFinish(): void {
    if (this.closed || this.inflight.size > 0) return;
    const drained = this.draining;
    const complete = !this.inputOpen && this.waiting.length === 0 && this.delayed.size === 0;
    if (!drained && !complete) return;
    this.closed = true;
    for (const rec of this.waiting.clear()) this.settleUnfinished(rec);
    for (const rec of this.delayed.drain()) this.settleUnfinished(rec);
    this.release();
    const counts = this.counts();
    const last: JobEvent =
      drained && counts.unfinished > 0 ? { type: 'job-cancelled', reason: this.aborting ? 'aborted' : 'interrupted', counts } : { type: 'job-done', counts };
    this.events.emit(last);
    setImmediate(() => {
      this.events.flush();
      this.resolveFinished(counts);
    });
  }

  /** A listener that throws (a results file that cannot be written) stops the job. */
  private fail(err: unknown): void {
    if (!this.closed) {
      this.closed = true;
      this.draining = true;
      this.aborting = true;
      for (const rec of [...this.inflight]) this.stopAttempt(rec, describeError(err));
      this.release();
    }
    this.rejectFinished(err);
  }

  private release(): void {
    for (const t of [this.retryTimer, this.waitTimer]) if (t) clearTimeout(t);
    this.retryTimer = this.waitTimer = null;
    this.unsubscribe();
    this.releaseRoomWaiters();
    this.ports.onClosed(this);
  }

  private releaseRoomWaiters(): void {
    const waiters = this.roomWaiters;
    this.roomWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

const round = (ms: number) => Math.round(ms * 10) / 10;
