/**
 * One job on the embedded pool: the dispatcher. It keeps the waiting queue and the delayed
 * retries, asks the slicer when to cut a batch, sends each batch to the pool as one task with
 * its own MessagePort, turns the thread's messages into job events, and decides retries per
 * item. Everything here runs on the main thread.
 */
import { performance } from 'node:perf_hooks';
import type { EventListener, JobCounts, JobEvent } from '../../core/events.js';
import { describeError } from '../../core/errors.js';
import { outputLimitOf } from '../../core/output-limit.js';
import { Deque, MinHeap } from '../../core/queues.js';
import { backoffMs, defaultRetryPolicy, shouldRetry, type RetryPolicy } from '../../core/retry.js';
import { decideSlice } from '../../core/slicer.js';
import type { ItemSpec, JobSpec } from '../../core/types.js';
import type { JobRun, JobRunOptions } from '../broker.js';
import { PROBE_BUSY, PROBE_CALLS, PROBE_THREAD, newProbe, type BatchItem, type BatchTask, type ControlMessage, type ThreadMessage } from '../../runtime/protocol.js';
import { isolateAfter, judgeLoss, lossReason, startsAlone, type Culprit } from './thread-faults.js';

/** What the run needs from the pool; the broker provides it. */
export interface PoolPort {
  /** Runs a batch task; resolves when the thread returned, rejects if the thread died. */
  run(task: BatchTask): Promise<unknown>;
  /** Runs a batch of one item alone on a thread of its own (a suspect; see thread-faults.ts). */
  runAlone(task: BatchTask): Promise<unknown>;
  /** Threads free now for a batch run alone, shared by all jobs of the pool. */
  aloneSlots(): number;
  nextBatchId(): number;
  /** Threads in the pool: a batch is at most one thread's share of the concurrency. */
  readonly threads: number;
  /** `items` of a batch are finished (for balancing). */
  settled(batchId: number, items: number): void;
  /** Routes the thread messages of one batch to `handler` until `unlisten`. */
  listen(batchId: number, handler: (messages: ThreadMessage[]) => void): void;
  unlisten(batchId: number): void;
  /** Sends a control message to every thread. */
  control(message: ControlMessage): void;
  /** Ends a thread that no longer answers (a processor blocked it). */
  terminateThread(threadId: number): void;
  /**
   * Threads ended on purpose and why, shared by all jobs of the pool: another job's batches on
   * such a thread were not at fault. A job keeps its own map when absent.
   */
  readonly deaths?: Map<number, ThreadDeath>;
  /** The thread a batch was handed to, if known (-1 if not). */
  assignedThread?(batchId: number): number;
  /**
   * Whether batches run scoped (see BatchTask.scoped), shared by all jobs of the pool: once any
   * thread of it died without a named culprit. A job keeps its own when absent.
   */
  readonly scopes?: ItemScopes;
}

/** Whether item scopes are tracked; turned on for good by the first death with no named culprit. */
export interface ItemScopes {
  tracked: boolean;
}

/** What a Redis worker needs beyond JobRunOptions to run items on its local pool. */
export interface LocalRunOptions extends JobRunOptions {
  /** An item ended without a result: aborted (`abortItem`, abort) or never started (drain). */
  readonly onItemUnfinished?: (index: number) => void;
}

type ItemState = 'waiting' | 'delayed' | 'running' | 'done' | 'failed' | 'unfinished';

interface ItemRecord {
  readonly spec: ItemSpec;
  state: ItemState;
  /** Executions started (the attempt number of the current or last one). */
  attempt: number;
  /** Failures that count against `--retries`. */
  charged: number;
  /** Uncharged reruns after losing its thread (bounded: see thread-faults.ts). */
  reruns: number;
  /** Runs alone on a thread of its own from now on. */
  alone: boolean;
  readonly enqueuedAt: number;
  startedAt: number;
  firstChunkAt: number;
  dueAt: number;
  worker: string | null;
  batch: Batch | null;
  lastError: string | null;
}

interface Batch {
  readonly id: number;
  readonly items: Map<number, ItemRecord>;
  thread: number;
  fatal: { culprit: Culprit | null; err: string } | null;
  /** One item, run alone on a thread of its own. */
  readonly alone: boolean;
  killing: boolean;
  /** The task returned; its last messages may still be on their way (they use another port). */
  returned: boolean;
  lateTimer: NodeJS.Timeout | null;
  /** Shared watchdog cells (which thread, which item is inside a processor call). */
  readonly probe: Int32Array;
  /** The probe's call count when the watchdog first saw the current call, and when. */
  probeCalls: number;
  probeSeenAt: number;
}

/** Why a thread was ended: the culprit item (`i` is -1 when no item was at fault). */
export interface ThreadDeath {
  readonly batchId: number;
  readonly i: number;
  readonly err: string;
}
type Death = ThreadDeath;

/** Extra time a processor gets past `--timeout` to honour its signal before its thread is ended. */
const STUCK_GRACE_MS = 1000;
/** After a second Ctrl+C, threads still busy this long (a processor ignoring its signal) are ended. */
const ABORT_DEADLINE_MS = 3000;
/** How long a returned task's last messages may take to arrive before its items count as lost. */
const LATE_MESSAGES_MS = 2000;

export class EmbeddedJobRun implements JobRun {
  readonly jobId: string;
  readonly finished: Promise<JobCounts>;

  private readonly records = new Map<number, ItemRecord>();
  private readonly waiting = new Deque<ItemRecord>();
  /** Items waiting to run alone (suspects, or out of free reruns): batches of one, not sliced. */
  private readonly waitingAlone = new Deque<ItemRecord>();
  private readonly delayed = new MinHeap<ItemRecord>((r) => r.dueAt);
  private readonly batches = new Map<number, Batch>();
  private readonly deaths: Map<number, Death>;
  private readonly scopes: ItemScopes;
  private readonly policy: RetryPolicy;
  private readonly highWater: number;
  /** Batches no larger than one thread's share, so the items in flight spread over the threads. */
  private readonly maxBatch: number;

  private running = 0;
  private added = 0;
  private done = 0;
  private failed = 0;
  private nextBatchId = 1;
  private inputOpen = true;
  private draining = false;
  private aborting = false;
  private abortReason = '';
  private closed = false;

  private pending: JobEvent[] = [];
  private flushScheduled = false;
  private pumpScheduled = false;
  private windowTimer: NodeJS.Timeout | null = null;
  private windowAt = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private retryAt = 0;
  private watchdog: NodeJS.Timeout | null = null;
  private abortTimer: NodeJS.Timeout | null = null;
  private roomWaiters: Array<() => void> = [];
  private resolveFinished!: (counts: JobCounts) => void;
  private rejectFinished!: (err: unknown) => void;

  constructor(
    private readonly spec: JobSpec,
    private readonly pool: PoolPort,
    private readonly listener: EventListener,
    private readonly options: LocalRunOptions = {},
  ) {
    this.jobId = spec.jobId;
    this.deaths = pool.deaths ?? new Map();
    this.scopes = pool.scopes ?? { tracked: false };
    this.policy = defaultRetryPolicy(spec.retries);
    this.highWater = Math.max(4 * spec.concurrency, 2 * spec.batchSize, 512);
    this.maxBatch = Math.max(1, Math.min(spec.batchSize, Math.ceil(spec.concurrency / pool.threads)));
    this.finished = new Promise<JobCounts>((resolve, reject) => {
      this.resolveFinished = resolve;
      this.rejectFinished = reject;
    });
    if (spec.timeoutMs > 0) {
      this.watchdog = setInterval(() => this.checkStuck(), Math.min(1000, Math.max(50, spec.timeoutMs / 4)));
      this.watchdog.unref();
    }
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
        reruns: spec.reruns ?? 0,
        alone: startsAlone(spec.reruns ?? 0),
        enqueuedAt: now,
        startedAt: 0,
        firstChunkAt: 0,
        dueAt: 0,
        worker: null,
        batch: null,
        lastError: null,
      };
      this.records.set(spec.index, rec);
      this.enqueue(rec);
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
    this.abortReason = reason;
    if (this.batches.size > 0) this.pool.control({ t: 'abort', batchIds: [...this.batches.keys()], reason });
    this.abortTimer = setTimeout(() => {
      for (const batch of this.batches.values()) this.killThread(batch, null);
    }, ABORT_DEADLINE_MS);
    this.abortTimer.unref();
    this.maybeFinish();
  }

  /**
   * Aborts one item wherever it is: dropped if waiting, aborted on its thread if running. It ends
   * without an event; `onItemUnfinished` says when. False if the item is not in this run.
   */
  abortItem(index: number, reason: string): boolean {
    const rec = this.records.get(index);
    if (!rec) return false;
    if (rec.state === 'running' && rec.batch) {
      this.pool.control({ t: 'abort', batchIds: [rec.batch.id], i: index, reason });
      return true;
    }
    if (rec.state === 'waiting') (rec.alone ? this.waitingAlone : this.waiting).removeWhere((r) => r === rec);
    else if (rec.state === 'delayed') this.delayed.removeWhere((r) => r === rec);
    else return false;
    this.settleUnfinished(rec);
    this.schedulePump();
    return true;
  }

  cancelItem(index: number, reason: string): boolean {
    return this.abortItem(index, reason);
  }

  // ---- dispatch ----------------------------------------------------------------------------

  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    queueMicrotask(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  /** When the last batch was cut: the window holds short batches only right after one. */
  private lastCutAt: number | undefined;

  private pump(): void {
    if (this.closed) return;
    this.promoteDueRetries();
    while (!this.draining && this.waitingAlone.length > 0 && this.running < this.spec.concurrency && this.pool.aloneSlots() > 0) {
      this.lastCutAt = performance.now();
      this.dispatch([this.waitingAlone.shift()!], true);
    }
    while (!this.draining) {
      const oldest = this.waiting.peek();
      const decision = decideSlice({
        waiting: this.waiting.length,
        freeSlots: this.spec.concurrency - this.running,
        batchSize: this.maxBatch,
        windowMs: this.spec.batchWindowMs,
        inputOpen: this.inputOpen,
        oldestWaitingAt: oldest ? oldest.enqueuedAt : 0,
        now: performance.now(),
        idle: this.running === 0,
        lastCutAt: this.lastCutAt,
      });
      if (decision.kind === 'cut') this.dispatch(Array.from({ length: decision.size }, () => this.waiting.shift()!), false);
      else {
        if (decision.kind === 'wait') this.armWindow(decision.until);
        break;
      }
    }
    if (this.waiting.length < this.highWater / 2) this.releaseRoomWaiters();
    this.maybeFinish();
  }

  /** The pool has room for a batch run alone again (another job's ended): try the queue. */
  wake(): void {
    if (this.waitingAlone.length > 0) this.schedulePump();
  }

  private enqueue(rec: ItemRecord): void {
    if (rec.alone) this.waitingAlone.push(rec);
    else this.waiting.push(rec);
  }

  private dispatch(recs: readonly ItemRecord[], alone: boolean): void {
    this.lastCutAt = performance.now();
    const batch: Batch = {
      id: this.pool.nextBatchId(),
      items: new Map(),
      thread: -1,
      fatal: null,
      alone,
      killing: false,
      returned: false,
      lateTimer: null,
      probe: newProbe(),
      probeCalls: -1,
      probeSeenAt: 0,
    };
    const items: BatchItem[] = [];
    for (const rec of recs) {
      rec.state = 'running';
      rec.attempt++;
      rec.batch = batch;
      rec.startedAt = 0;
      rec.firstChunkAt = 0;
      batch.items.set(rec.spec.index, rec);
      items.push({ i: rec.spec.index, id: rec.spec.id, a: rec.attempt, input: rec.spec.input });
    }
    this.running += recs.length;
    this.batches.set(batch.id, batch);
    this.pool.listen(batch.id, (messages) => this.onMessages(batch, messages));
    const task = {
      batchId: batch.id,
      processors: this.spec.pipeline.map((stage) => stage.url),
      params: this.spec.params,
      timeoutMs: this.spec.timeoutMs,
      maxOutputChars: outputLimitOf(this.spec),
      items,
      probe: batch.probe,
      scoped: this.scopes.tracked,
    };
    (alone ? this.pool.runAlone(task) : this.pool.run(task)).then(
      () => this.onBatchEnd(batch, null),
      (err: unknown) => this.onBatchEnd(batch, err),
    );
  }

  private armWindow(until: number): void {
    if (this.windowTimer && this.windowAt <= until) return;
    if (this.windowTimer) clearTimeout(this.windowTimer);
    this.windowAt = until;
    this.windowTimer = setTimeout(() => {
      this.windowTimer = null;
      this.schedulePump();
    }, Math.max(0, until - performance.now()));
  }

  private promoteDueRetries(): void {
    const now = performance.now();
    let top = this.delayed.peek();
    while (top && top.dueAt <= now) {
      this.delayed.pop();
      top.state = 'waiting';
      // It has waited its turn already.
      if (top.alone) this.waitingAlone.unshift(top);
      else this.waiting.unshift(top);
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

  // ---- thread messages ---------------------------------------------------------------------

  private onMessages(batch: Batch, messages: ThreadMessage[]): void {
    const now = performance.now();
    for (const m of messages) this.onMessage(batch, m, now);
    this.schedulePump();
  }

  private onMessage(batch: Batch, m: ThreadMessage, now: number): void {
    if (m.t === 'begin') {
      batch.thread = m.thread;
      // An abort sent before the thread began this batch may have found no one listening.
      if (this.aborting) this.pool.control({ t: 'abort', batchIds: [batch.id], reason: this.abortReason });
      return;
    }
    if (m.t === 'fatal') {
      batch.fatal = { culprit: m.culprit, err: m.err };
      // Batches handed to that thread but not begun yet die with it, and were not at fault.
      const thread = this.threadOf(batch);
      if (thread > 0 && !this.deaths.has(thread) && m.culprit) this.deaths.set(thread, { ...m.culprit, err: m.err });
      return;
    }
    if (m.t === 'log') {
      const rec = batch.items.get(m.i);
      this.options.onLog?.(`[${rec?.spec.id ?? m.i}] ${m.line}`);
      return;
    }
    const rec = batch.items.get(m.i);
    if (!rec || rec.attempt !== m.a) return; // a late message from an attempt already settled
    switch (m.t) {
      case 'start':
        this.onStart(batch, rec, m.s, now);
        return;
      case 'chunk':
        this.onChunk(rec, m.text, m.n, m.s, now);
        return;
      case 'outcome':
        // Start, chunks and result of one tick: the three events they stand for.
        this.onStart(batch, rec, 0, now);
        if (m.n > 0) this.onChunk(rec, m.text, m.n, 0, now);
        this.leaveBatch(batch, m.i);
        this.clockFromThread(rec, now, m.ms, m.fc);
        this.settleDone(rec, m.out, now);
        break;
      case 'done':
        this.leaveBatch(batch, m.i);
        this.clockFromThread(rec, now, m.ms, m.fc);
        this.settleDone(rec, m.out, now);
        break;
      case 'error':
        this.leaveBatch(batch, m.i);
        if (m.aborted || this.aborting) this.settleUnfinished(rec);
        else this.settleFailedAttempt(rec, m.err, true, now, m.sys, m.final);
        break;
    }
    if (batch.returned && batch.items.size === 0) this.retire(batch);
  }

  private onStart(batch: Batch, rec: ItemRecord, stage: number, now: number): void {
    if (stage === 0) {
      rec.startedAt = now;
      rec.worker = `thread-${batch.thread}`;
    }
    // Two literals rather than a spread of an optional field: cheaper, and two stable shapes.
    if (stage > 0) this.emit({ type: 'item-start', index: rec.spec.index, id: rec.spec.id, attempt: rec.attempt, worker: rec.worker ?? '?', stage });
    else this.emit({ type: 'item-start', index: rec.spec.index, id: rec.spec.id, attempt: rec.attempt, worker: rec.worker ?? '?' });
  }

  private onChunk(rec: ItemRecord, text: string, n: number, stage: number, now: number): void {
    if (rec.firstChunkAt === 0) rec.firstChunkAt = now;
    if (stage > 0) this.emit({ type: 'chunk', index: rec.spec.index, attempt: rec.attempt, text, n, stage });
    else this.emit({ type: 'chunk', index: rec.spec.index, attempt: rec.attempt, text, n });
  }

  /** An item's attempt is over in its batch: its slot in the pool is free. */
  private leaveBatch(batch: Batch, i: number): void {
    batch.items.delete(i);
    this.pool.settled(batch.id, 1);
    this.running--;
  }

  /**
   * The task ended. If it returned, its items' last messages may still be in flight on the
   * thread's port (task results use another one): give them a moment. If its thread died, every
   * message it sent has arrived already (Node drains a thread's port before 'exit').
   */
  private onBatchEnd(batch: Batch, err: unknown): void {
    batch.returned = true;
    if (batch.items.size === 0) return this.retire(batch);
    if (err === null) {
      batch.lateTimer = setTimeout(() => this.loseItems(batch, 'the batch ended without reporting this item', false), LATE_MESSAGES_MS);
      return;
    }
    this.loseItems(batch, describeError(err), true);
  }

  private retire(batch: Batch): void {
    if (batch.lateTimer) clearTimeout(batch.lateTimer);
    this.pool.unlisten(batch.id);
    this.batches.delete(batch.id);
    this.schedulePump();
  }

  /**
   * Settles the items a dead thread (or a returned task that left them unreported) took with it,
   * by thread-faults.ts: the culprit is charged, its neighbours rerun free; a death that names no
   * one charges no one, and its items rerun alone to find the culprit. A death that names no one
   * also turns item scopes on for good, so later deaths from an item's async code name it.
   */
  private loseItems(batch: Batch, reason: string, died: boolean): void {
    if (batch.items.size > 0) {
      const death = this.deaths.get(this.threadOf(batch));
      const culprit = batch.fatal?.culprit ?? death ?? null;
      const why = batch.fatal?.err ?? death?.err ?? `worker thread died (${reason})`;
      // The thread marks the probe as it begins a batch, before anything can kill it.
      const loss = { batchId: batch.id, died, alone: batch.alone, begun: Atomics.load(batch.probe, PROBE_THREAD) > 0, culprit };
      if (died && culprit === null && !batch.alone && loss.begun) this.scopes.tracked = true;
      const now = performance.now();
      for (const rec of batch.items.values()) {
        this.running--;
        const verdict = judgeLoss(loss, rec.spec.index);
        if (this.aborting) this.settleUnfinished(rec);
        else if (verdict === 'charged') this.settleFailedAttempt(rec, why, true, now);
        else {
          rec.reruns++;
          rec.alone ||= isolateAfter(verdict, rec.reruns);
          this.settleFailedAttempt(rec, lossReason(verdict, why, rec.alone), false, now);
        }
      }
      batch.items.clear();
    }
    this.retire(batch);
  }

  // ---- settling items ----------------------------------------------------------------------

  private settleDone(rec: ItemRecord, output: string, now: number): void {
    rec.state = 'done';
    rec.batch = null;
    this.records.delete(rec.spec.index);
    this.done++;
    this.emit({
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

  /** `cause`: the processor's systemic cause of the error, passed on in the event. */
  /** `final`: fail it now, whatever retries it has left (its output passed the bound). */
  private settleFailedAttempt(rec: ItemRecord, error: string, charged: boolean, now: number, cause?: string, final?: true): void {
    rec.batch = null;
    rec.lastError = error;
    if (charged) rec.charged++;
    if (!final && (!charged || shouldRetry(this.policy, rec.charged))) {
      const delayMs = charged ? backoffMs(this.policy, rec.charged) : 0;
      const retry = { type: 'item-retry', index: rec.spec.index, id: rec.spec.id, attempt: rec.attempt, error, delayMs, charged } as const;
      this.emit(cause === undefined ? retry : { ...retry, cause });
      if (this.draining) {
        this.settleUnfinished(rec);
        return;
      }
      rec.state = 'delayed';
      rec.dueAt = now + delayMs;
      this.delayed.push(rec);
      return;
    }
    rec.state = 'failed';
    this.records.delete(rec.spec.index);
    this.failed++;
    this.emit({
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
    });
  }

  private settleUnfinished(rec: ItemRecord): void {
    rec.state = 'unfinished';
    rec.batch = null;
    this.records.delete(rec.spec.index);
    this.options.onItemUnfinished?.(rec.spec.index);
  }

  /**
   * The thread's own times of an item that ended (see the protocol's `done`): what the
   * durations say, even when a busy thread posted start, chunks and result all at once.
   */
  private clockFromThread(rec: ItemRecord, now: number, ms: number | undefined, fc: number | undefined): void {
    if (ms === undefined) return;
    rec.startedAt = now - ms;
    rec.firstChunkAt = fc === undefined || fc < 0 ? 0 : rec.startedAt + fc;
  }

  private durations(rec: ItemRecord, now: number) {
    const started = rec.startedAt || now;
    return {
      queuedMs: round(started - rec.enqueuedAt),
      firstChunkMs: rec.firstChunkAt ? round(rec.firstChunkAt - started) : null,
      totalMs: round(now - started),
    };
  }

  // ---- stuck threads -----------------------------------------------------------------------

  /** An item past its time limit plus grace means its thread is blocked: end the thread. */
  private checkStuck(): void {
    const limit = this.spec.timeoutMs + STUCK_GRACE_MS;
    const now = performance.now();
    // A thread stuck inside one call into an item's processor code names that item exactly
    // (its start may not even have been posted: the thread blocked before its next tick).
    const busyThreads = new Set<number>();
    for (const batch of this.batches.values()) {
      const busy = Atomics.load(batch.probe, PROBE_BUSY);
      if (busy === 0) {
        batch.probeCalls = -1;
        continue;
      }
      const calls = Atomics.load(batch.probe, PROBE_CALLS);
      if (calls !== batch.probeCalls) {
        batch.probeCalls = calls;
        batch.probeSeenAt = now;
      }
      busyThreads.add(this.threadOf(batch));
      if (!batch.killing && now - batch.probeSeenAt > limit) {
        this.killThread(batch, {
          batchId: batch.id,
          i: busy - 1,
          err: `timed out after ${this.spec.timeoutMs} ms while blocking its thread (the thread was restarted)`,
        });
      }
    }
    // Otherwise (blocked after an await of its own, out of the runner's sight): the first item
    // past its limit.
    for (const batch of this.batches.values()) {
      if (batch.killing || busyThreads.has(this.threadOf(batch))) continue;
      for (const rec of batch.items.values()) {
        if (rec.startedAt && now - rec.startedAt > limit) {
          this.killThread(batch, {
            batchId: batch.id,
            i: rec.spec.index,
            err: `timed out after ${this.spec.timeoutMs} ms and ignored its abort signal (its thread was restarted)`,
          });
          break;
        }
      }
    }
  }

  private killThread(batch: Batch, death: Death | null): void {
    const thread = this.threadOf(batch);
    if (batch.killing || thread <= 0) return;
    batch.killing = true;
    this.deaths.set(thread, death ?? { batchId: -1, i: -1, err: `its thread was ended to abort job ${this.jobId}` });
    for (const other of this.batches.values()) if (this.threadOf(other) === thread) other.killing = true;
    this.pool.terminateThread(thread);
  }

  /**
   * The thread running a batch: from its `begin` message, or from its probe if that is still on
   * its way, or the thread the pool handed it to if it has not begun.
   */
  private threadOf(batch: Batch): number {
    if (batch.thread <= 0) {
      const thread = Atomics.load(batch.probe, PROBE_THREAD) || (this.pool.assignedThread?.(batch.id) ?? -1);
      if (thread > 0) batch.thread = thread;
    }
    return batch.thread;
  }

  // ---- events and the end ------------------------------------------------------------------

  private emit(event: JobEvent): void {
    this.pending.push(event);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flushEvents());
  }

  private flushEvents(): void {
    this.flushScheduled = false;
    if (this.pending.length === 0) return;
    const events = this.pending;
    this.pending = [];
    try {
      this.listener(events);
    } catch (err) {
      // A consumer that cannot keep up (a results file that cannot be written) stops the job.
      this.fail(err);
    }
  }

  private counts(): JobCounts {
    return { total: this.added, done: this.done, failed: this.failed, unfinished: this.added - this.done - this.failed };
  }

  private maybeFinish(): void {
    if (this.closed || this.running > 0) return;
    const drained = this.draining;
    const complete = !this.inputOpen && this.waiting.length === 0 && this.waitingAlone.length === 0 && this.delayed.size === 0;
    if (!drained && !complete) return;
    this.closed = true;
    for (const rec of this.waiting.clear()) this.settleUnfinished(rec);
    for (const rec of this.waitingAlone.clear()) this.settleUnfinished(rec);
    for (const rec of this.delayed.drain()) this.settleUnfinished(rec);
    this.stopTimers();
    this.releaseRoomWaiters();
    const counts = this.counts();
    this.emit(drained && counts.unfinished > 0 ? { type: 'job-cancelled', reason: this.aborting ? 'aborted' : 'interrupted', counts } : { type: 'job-done', counts });
    setImmediate(() => {
      this.flushEvents();
      this.resolveFinished(counts);
    });
  }

  /** The pool cannot run anything (its threads cannot start): end the run with `err`. */
  failFromPool(err: unknown): void {
    this.fail(err);
  }

  private fail(err: unknown): void {
    if (!this.closed) {
      this.abort(describeError(err));
      this.closed = true;
      this.stopTimers();
    }
    this.rejectFinished(err);
  }

  private stopTimers(): void {
    for (const t of [this.windowTimer, this.retryTimer, this.watchdog, this.abortTimer]) if (t) clearTimeout(t);
    this.windowTimer = this.retryTimer = this.watchdog = this.abortTimer = null;
  }

  private releaseRoomWaiters(): void {
    const waiters = this.roomWaiters;
    this.roomWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

const round = (ms: number) => Math.round(ms * 10) / 10;
