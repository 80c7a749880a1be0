/**
 * One job on remote processor endpoints. On the item book (../item-book.ts: queues, retries,
 * settling, drain and abort, as the embedded run) it sends each item to an endpoint (POST
 * /process), one item per dispatch, turns the answers into job events, and re-sends what an
 * endpoint lost.
 *
 * Whose fault: a failure of the endpoint (connection lost, idle, 5xx, broken stream, an
 * endpoint out of rotation while its 202 item waits) re-sends the item elsewhere without
 * charging it, up to MAX_FREE_RESENDS times; an {"error"} line, a /complete error, a 4xx or the
 * item's time limit is charged against --retries.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { JobRunOptions } from '../broker.js';
import { BookedRun } from '../booked-run.js';
import { ItemTimeoutError, OutputTooLongError, describeError } from '../../core/errors.js';
import { outputLimitOf } from '../../core/output-limit.js';
import type { EventListener } from '../../core/events.js';
import { overlay, type ItemMeta } from '../../core/item-meta.js';
import type { Deque } from '../../core/queues.js';
import { backoffMs, type RetryPolicy } from '../../core/retry.js';
import type { ItemSpec, JobSpec } from '../../core/types.js';
import { BookItem } from '../item-book.js';
import type { Completion, CompletionRouter } from './completions.js';
import { AttemptFailure, RemoteJobError } from './errors.js';
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

interface Attempt {
  readonly dispatchId: string;
  readonly endpoint: EndpointState;
  readonly controller: AbortController;
  /** The endpoint answered 202: the result comes by POST /complete. */
  accepted: boolean;
  limitTimer: NodeJS.Timeout | null;
  /** What the attempt reported it cost ({"meta"} lines, /complete's meta): billed whatever its outcome. */
  meta: ItemMeta | undefined;
}

/** An item of a remote run: the book's record, plus its endpoint failures and its call. */
class RemoteItem extends BookItem {
  /** Endpoint failures so far (not charged up to MAX_FREE_RESENDS). */
  freeResends = 0;
  /** The endpoint it just failed on, not to be picked again if another can take it. */
  avoid: string | undefined = undefined;
  call: Attempt | null = null;
}

export class RemoteJobRun extends BookedRun<RemoteItem> {
  /** The remote processor name all items go to. */
  readonly processorName: string;

  private readonly waiting: Deque<RemoteItem>;
  private readonly inflight = new Set<RemoteItem>();
  private readonly unsubscribe: () => void;

  /** Since when no endpoint of the processor is in rotation (null: one is). */
  private unhealthySince: number | null = null;
  private waitTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly spec: JobSpec,
    private readonly ports: RemoteRunPorts,
    listener: EventListener,
    _options: JobRunOptions = {},
  ) {
    super(spec.jobId, listener, { retries: spec.retries, highWater: Math.max(4 * spec.concurrency, 512) });
    if (spec.pipeline.length !== 1) {
      throw new RemoteJobError(`a remote job runs one processor, not a pipeline of ${spec.pipeline.length}`);
    }
    this.processorName = spec.pipeline[0]!.name;
    this.waiting = this.book.lanes[0]!;
    this.unsubscribe = ports.registry.onChange((change) => this.onEndpointChange(change));
  }

  /**
   * Stops one item wherever it is: dropped if waiting, its request aborted if running. It ends
   * without a result and without another event, counted unfinished. False if the item is not
   * in this run (unknown, or finished already).
   */
  cancelItem(index: number, reason: string): boolean {
    const rec = this.book.get(index);
    if (!rec) return false;
    if (rec.state === 'running') this.stopAttempt(rec, reason);
    else if (!this.book.dropQueued(rec)) return false;
    this.schedulePump();
    return true;
  }

  // ---- the book's hooks ----------------------------------------------------------------------

  protected newItem(spec: ItemSpec, now: number): RemoteItem {
    return new RemoteItem(spec, now);
  }

  protected inFlight(): number {
    return this.inflight.size;
  }

  protected abortInFlight(reason: string): void {
    for (const rec of [...this.inflight]) this.stopAttempt(rec, reason);
  }

  /** The run ended (finished, or failed): it hears no more of the registry. */
  protected release(): void {
    if (this.waitTimer) clearTimeout(this.waitTimer);
    this.waitTimer = null;
    this.unsubscribe();
    this.ports.onClosed(this);
  }

  // ---- dispatch ----------------------------------------------------------------------------

  protected pump(): void {
    const book = this.book;
    if (book.closed) return;
    book.promoteDueRetries();
    const { registry } = this.ports;
    while (!book.draining && this.waiting.length > 0 && this.inflight.size < this.spec.concurrency) {
      if (!registry.has(this.processorName)) {
        book.settleFailed(this.waiting.shift()!, this.notRegistered(), performance.now());
        continue;
      }
      const rec = this.waiting.peek()!;
      const endpoint = registry.acquire(this.processorName, rec.avoid);
      if (!endpoint) break;
      this.waiting.shift();
      this.launch(rec, endpoint);
    }
    this.watchHealthyWait();
    book.releaseIfRoom();
    book.maybeFinish();
  }

  private notRegistered(): string {
    const names = this.ports.registry.names();
    return `no remote processor named "${this.processorName}" is registered (${names.length > 0 ? `registered: ${names.join(', ')}` : 'none is'})`;
  }

  private launch(rec: RemoteItem, endpoint: EndpointState): void {
    const now = performance.now();
    const attempt: Attempt = { dispatchId: randomUUID(), endpoint, controller: new AbortController(), accepted: false, limitTimer: null, meta: undefined };
    this.book.markRunning(rec, now);
    rec.worker = endpoint.id;
    rec.avoid = undefined;
    rec.call = attempt;
    this.inflight.add(rec);
    // Expected before the request goes: a quick processor may post /complete before its 202 arrives.
    this.ports.completions.expect(attempt.dispatchId, (c) => this.onComplete(rec, attempt, c));
    if (this.spec.timeoutMs > 0) {
      attempt.limitTimer = setTimeout(() => this.onTimeLimit(rec, attempt), this.spec.timeoutMs);
    }
    this.book.events.emit({ type: 'item-start', index: rec.spec.index, id: rec.spec.id, attempt: rec.attempt, worker: endpoint.id });
    callProcess({
      url: endpoint.url,
      request: {
        id: attempt.dispatchId,
        item: rec.spec.id,
        input: rec.spec.input,
        params: this.spec.params,
        attempt: rec.attempt,
        callback: this.ports.callbackUrl(),
        report: true,
      },
      token: this.ports.token,
      signal: attempt.controller.signal,
      idleTimeoutMs: this.spec.timeoutMs > 0 ? this.spec.timeoutMs : this.ports.idleTimeoutMs,
      maxOutputChars: outputLimitOf(this.spec),
      onChunk: (text) => this.onChunk(rec, attempt, text),
      onMeta: (meta) => this.onMeta(rec, attempt, meta),
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
    const stuck = !this.book.draining && this.waiting.length > 0 && !this.ports.registry.hasHealthy(this.processorName);
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
      this.book.settleFailed(rec, `no healthy endpoint of remote processor "${this.processorName}" within ${limit} ms${why ? ` (${why})` : ''}`, now);
    }
  }

  // ---- answers -----------------------------------------------------------------------------

  private isCurrent(rec: RemoteItem, attempt: Attempt): boolean {
    return rec.call === attempt;
  }

  private onChunk(rec: RemoteItem, attempt: Attempt, text: string): void {
    if (!this.isCurrent(rec, attempt)) return;
    if (rec.firstChunkAt === 0) rec.firstChunkAt = performance.now();
    this.book.events.chunk(rec.spec.index, rec.attempt, text);
  }

  private onMeta(rec: RemoteItem, attempt: Attempt, meta: ItemMeta): void {
    if (this.isCurrent(rec, attempt)) attempt.meta = overlay(attempt.meta, meta);
  }

  private onAccepted(rec: RemoteItem, attempt: Attempt): void {
    if (!this.isCurrent(rec, attempt)) return;
    attempt.accepted = true;
    // It may have left the rotation while the request was on its way: its change is past.
    if (!this.ports.registry.isUsable(attempt.endpoint)) {
      this.endpointFailed(rec, attempt, new AttemptFailure(`went out of rotation before completing (${attempt.endpoint.lastError ?? 'replaced'})`, { charged: false }));
    }
  }

  private onComplete(rec: RemoteItem, attempt: Attempt, completion: Completion): void {
    if (!this.isCurrent(rec, attempt)) return;
    if (completion.meta) this.onMeta(rec, attempt, completion.meta);
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

  private onAttemptError(rec: RemoteItem, attempt: Attempt, err: unknown): void {
    if (!this.isCurrent(rec, attempt)) return; // settled already (cancelled, timed out, aborted)
    if (err instanceof OutputTooLongError) {
      this.endAttempt(rec, attempt, { kind: 'failed' });
      this.book.retryOrFail(rec, err.message, performance.now(), { charged: true, final: true, meta: attempt.meta });
      return;
    }
    const failure = err instanceof AttemptFailure ? err : new AttemptFailure(describeError(err), { charged: false });
    this.endpointFailed(rec, attempt, failure);
  }

  private onTimeLimit(rec: RemoteItem, attempt: Attempt): void {
    if (!this.isCurrent(rec, attempt)) return;
    this.endAttempt(rec, attempt, { kind: 'failed' });
    this.retryOrFail(rec, new ItemTimeoutError(this.spec.timeoutMs).message, true, attempt.meta);
  }

  private onEndpointChange(change: EndpointChange): void {
    if (this.book.closed) return;
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
  private endAttempt(rec: RemoteItem, attempt: Attempt, outcome: { kind: 'done'; ms: number } | { kind: 'failed' | 'cancelled' }): void {
    rec.call = null;
    this.inflight.delete(rec);
    if (attempt.limitTimer) clearTimeout(attempt.limitTimer);
    this.ports.completions.forget(attempt.dispatchId);
    this.ports.registry.release(attempt.endpoint, outcome);
    attempt.controller.abort();
    this.schedulePump();
  }

  private succeed(rec: RemoteItem, attempt: Attempt, output: string): void {
    if (!this.isCurrent(rec, attempt)) return;
    const now = performance.now();
    this.endAttempt(rec, attempt, { kind: 'done', ms: now - rec.startedAt });
    this.book.settleDone(rec, output, now, attempt.meta);
  }

  private endpointFailed(rec: RemoteItem, attempt: Attempt, failure: AttemptFailure): void {
    const endpoint = attempt.endpoint;
    if (failure.endpointDown) this.ports.registry.reportDown(endpoint, failure.message);
    this.endAttempt(rec, attempt, { kind: 'failed' });
    let charged = failure.charged;
    if (!charged) {
      rec.freeResends++;
      rec.avoid = endpoint.id;
      charged = rec.freeResends > MAX_FREE_RESENDS;
    }
    this.retryOrFail(rec, failure.fromProcessor ? failure.message : `endpoint ${endpoint.id}: ${failure.message}`, charged, attempt.meta);
  }

  /** The attempt failed: another one (free re-sends back off after the first), or the item fails. */
  private retryOrFail(rec: RemoteItem, error: string, charged: boolean, meta: ItemMeta | undefined): void {
    const freeDelayMs = rec.freeResends > 1 ? backoffMs(FREE_RESEND_POLICY, rec.freeResends - 1) : 0;
    this.book.retryOrFail(rec, error, performance.now(), { charged, freeDelayMs, meta });
  }

  /** Cancelled or aborted while running: the request is stopped, the item ends without a result. */
  private stopAttempt(rec: RemoteItem, reason: string): void {
    const attempt = rec.call;
    if (attempt) {
      attempt.controller.abort(new Error(reason));
      this.endAttempt(rec, attempt, { kind: 'cancelled' });
    }
    this.book.settleUnfinished(rec);
  }
}
