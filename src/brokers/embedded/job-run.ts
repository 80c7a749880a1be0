/**
 * One job on the embedded pool: the dispatcher. On the item book (../item-book.ts: queues,
 * retries, settling, drain and abort) it asks the slicer when to cut a batch, sends each batch
 * to the pool as one task, turns the thread's messages (posted on its parentPort, tagged with the
 * batch id) into job events, and settles the items a dead or blocked thread takes with it
 * (thread-faults.ts). Everything here runs on the main thread.
 */
import { performance } from 'node:perf_hooks';
import type { EventListener } from '../../core/events.js';
import { describeError } from '../../core/errors.js';
import { outputLimitOf } from '../../core/output-limit.js';
import type { Deque } from '../../core/queues.js';
import { decideSlice } from '../../core/slicer.js';
import type { ItemSpec, JobSpec } from '../../core/types.js';
import type { BatchItem, ThreadMessage } from '../../runtime/protocol.js';
import { BookedRun } from '../booked-run.js';
import { PoolItem, begun, findStuck, newBatch, threadOf, type Batch } from './batch.js';
import type { ItemScopes, LocalRunOptions, PoolPort, ThreadDeath } from './pool-port.js';
import { isolateAfter, judgeLoss, lossReason } from './thread-faults.js';

export type { ItemScopes, LocalRunOptions, PoolPort, ThreadDeath } from './pool-port.js';

/** Extra time a processor gets past `--timeout` to honour its signal before its thread is ended. */
const STUCK_GRACE_MS = 1000;
/** After a second Ctrl+C, threads still busy this long (a processor ignoring its signal) are ended. */
const ABORT_DEADLINE_MS = 3000;
/** How long a returned task's last messages may take to arrive before its items count as lost. */
const LATE_MESSAGES_MS = 2000;
/** The book's waiting lanes: items sliced into batches, and items that run alone (batches of one). */
const SLICED = 0;
const ALONE = 1;

export class EmbeddedJobRun extends BookedRun<PoolItem> {
  /** Items waiting to be sliced into batches (the book's lane 0, which `add`'s backpressure watches). */
  private readonly waiting: Deque<PoolItem>;
  /** Items waiting to run alone (suspects, or out of free reruns): batches of one, not sliced. */
  private readonly waitingAlone: Deque<PoolItem>;
  private readonly batches = new Map<number, Batch>();
  private readonly deaths: Map<number, ThreadDeath>;
  private readonly scopes: ItemScopes;
  /** Batches no larger than one thread's share, so the items in flight spread over the threads. */
  private readonly maxBatch: number;

  private running = 0;
  private abortReason = '';
  private windowTimer: NodeJS.Timeout | null = null;
  private windowAt = 0;
  private watchdog: NodeJS.Timeout | null = null;
  private abortTimer: NodeJS.Timeout | null = null;
  /** When the last batch was cut: the window holds short batches only right after one. */
  private lastCutAt: number | undefined;

  constructor(
    private readonly spec: JobSpec,
    private readonly pool: PoolPort,
    listener: EventListener,
    private readonly options: LocalRunOptions = {},
  ) {
    super(spec.jobId, listener, { retries: spec.retries, highWater: Math.max(4 * spec.concurrency, 2 * spec.batchSize, 512), lanes: 2 });
    this.deaths = pool.deaths ?? new Map();
    this.scopes = pool.scopes ?? { tracked: false };
    this.maxBatch = Math.max(1, Math.min(spec.batchSize, Math.ceil(spec.concurrency / pool.threads)));
    this.waiting = this.book.lanes[SLICED]!;
    this.waitingAlone = this.book.lanes[ALONE]!;
    if (spec.timeoutMs > 0) {
      this.watchdog = setInterval(() => this.checkStuck(), Math.min(1000, Math.max(50, spec.timeoutMs / 4)));
      this.watchdog.unref();
    }
  }

  // ---- JobRun, and what the pool asks of it -------------------------------------------------

  /**
   * Aborts one item wherever it is: dropped if waiting, aborted on its thread if running. It ends
   * without an event; `onItemUnfinished` says when. False if the item is not in this run.
   */
  abortItem(index: number, reason: string): boolean {
    const rec = this.book.get(index);
    if (!rec) return false;
    if (rec.state === 'running' && rec.batch) {
      this.pool.control({ t: 'abort', batchIds: [rec.batch.id], i: index, reason });
      return true;
    }
    if (!this.book.dropQueued(rec)) return false;
    this.schedulePump();
    return true;
  }

  cancelItem(index: number, reason: string): boolean {
    return this.abortItem(index, reason);
  }

  /** The pool has room for a batch run alone again (another job's ended): try the queue. */
  wake(): void {
    if (this.waitingAlone.length > 0) this.schedulePump();
  }

  /** The pool cannot run anything (its threads cannot start): end the run with `err`. */
  failFromPool(err: unknown): void {
    this.book.fail(err);
  }

  // ---- the book's hooks ----------------------------------------------------------------------

  protected newItem(spec: ItemSpec, now: number): PoolItem {
    return new PoolItem(spec, now);
  }

  protected override laneOf(rec: PoolItem): number {
    return rec.alone ? ALONE : SLICED;
  }

  protected inFlight(): number {
    return this.running;
  }

  protected override onUnfinished(rec: PoolItem): void {
    this.options.onItemUnfinished?.(rec.spec.index);
  }

  /** Abort: the threads abort the items' signals; threads that do not answer in time are ended. */
  protected abortInFlight(reason: string): void {
    this.abortReason = reason;
    if (this.batches.size > 0) this.pool.control({ t: 'abort', batchIds: [...this.batches.keys()], reason });
    this.abortTimer = setTimeout(() => {
      for (const batch of this.batches.values()) this.killThread(batch, null);
    }, ABORT_DEADLINE_MS);
    this.abortTimer.unref();
  }

  protected release(): void {
    for (const t of [this.windowTimer, this.watchdog, this.abortTimer]) if (t) clearTimeout(t);
    this.windowTimer = this.watchdog = this.abortTimer = null;
  }

  // ---- dispatch ----------------------------------------------------------------------------

  protected pump(): void {
    const book = this.book;
    if (book.closed) return;
    book.promoteDueRetries();
    while (!book.draining && this.waitingAlone.length > 0 && this.running < this.spec.concurrency && this.pool.aloneSlots() > 0) {
      this.dispatch([this.waitingAlone.shift()!], true);
    }
    while (!book.draining) {
      const oldest = this.waiting.peek();
      const decision = decideSlice({
        waiting: this.waiting.length,
        freeSlots: this.spec.concurrency - this.running,
        batchSize: this.maxBatch,
        windowMs: this.spec.batchWindowMs,
        inputOpen: book.inputOpen,
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
    book.releaseIfRoom();
    book.maybeFinish();
  }

  private dispatch(recs: readonly PoolItem[], alone: boolean): void {
    this.lastCutAt = performance.now();
    const batch = newBatch(this.pool.nextBatchId(), alone);
    const items: BatchItem[] = [];
    for (const rec of recs) {
      this.book.markRunning(rec, 0); // started when its thread says so
      rec.batch = batch;
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
      if (this.book.aborting) this.pool.control({ t: 'abort', batchIds: [batch.id], reason: this.abortReason });
      return;
    }
    if (m.t === 'fatal') {
      batch.fatal = { culprit: m.culprit, err: m.err };
      // Batches handed to that thread but not begun yet die with it, and were not at fault.
      const thread = threadOf(batch, this.pool);
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
        this.leaveBatch(batch, rec);
        this.clockFromThread(rec, now, m.ms, m.fc);
        this.book.settleDone(rec, m.out, now, m.meta);
        break;
      case 'done':
        this.leaveBatch(batch, rec);
        this.clockFromThread(rec, now, m.ms, m.fc);
        this.book.settleDone(rec, m.out, now, m.meta);
        break;
      case 'error':
        this.leaveBatch(batch, rec);
        if (m.aborted || this.book.aborting) this.book.settleUnfinished(rec);
        else this.book.retryOrFail(rec, m.err, now, { charged: true, cause: m.sys, final: m.final, meta: m.meta });
        break;
    }
    if (batch.returned && batch.items.size === 0) this.retire(batch);
  }

  private onStart(batch: Batch, rec: PoolItem, stage: number, now: number): void {
    if (stage === 0) {
      rec.startedAt = now;
      rec.worker = `thread-${batch.thread}`;
    }
    // Two literals rather than a spread of an optional field: cheaper, and two stable shapes.
    if (stage > 0) this.book.events.emit({ type: 'item-start', index: rec.spec.index, id: rec.spec.id, attempt: rec.attempt, worker: rec.worker ?? '?', stage });
    else this.book.events.emit({ type: 'item-start', index: rec.spec.index, id: rec.spec.id, attempt: rec.attempt, worker: rec.worker ?? '?' });
  }

  private onChunk(rec: PoolItem, text: string, n: number, stage: number, now: number): void {
    if (rec.firstChunkAt === 0) rec.firstChunkAt = now;
    if (stage > 0) this.book.events.emit({ type: 'chunk', index: rec.spec.index, attempt: rec.attempt, text, n, stage });
    else this.book.events.emit({ type: 'chunk', index: rec.spec.index, attempt: rec.attempt, text, n });
  }

  /** An item's attempt is over in its batch: its slot in the pool is free. */
  private leaveBatch(batch: Batch, rec: PoolItem): void {
    batch.items.delete(rec.spec.index);
    rec.batch = null;
    this.pool.settled(batch.id, 1);
    this.running--;
  }

  /**
   * The thread's own times of an item that ended (see the protocol's `done`): what the
   * durations say, even when a busy thread posted start, chunks and result all at once.
   */
  private clockFromThread(rec: PoolItem, now: number, ms: number | undefined, fc: number | undefined): void {
    if (ms === undefined) return;
    rec.startedAt = now - ms;
    rec.firstChunkAt = fc === undefined || fc < 0 ? 0 : rec.startedAt + fc;
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
      const death = this.deaths.get(threadOf(batch, this.pool));
      const culprit = batch.fatal?.culprit ?? death ?? null;
      const why = batch.fatal?.err ?? death?.err ?? `worker thread died (${reason})`;
      const loss = { batchId: batch.id, died, alone: batch.alone, begun: begun(batch), culprit };
      if (died && culprit === null && !batch.alone && loss.begun) this.scopes.tracked = true;
      const now = performance.now();
      for (const rec of batch.items.values()) {
        this.running--;
        rec.batch = null;
        const verdict = judgeLoss(loss, rec.spec.index);
        if (this.book.aborting) this.book.settleUnfinished(rec);
        else if (verdict === 'charged') this.book.retryOrFail(rec, why, now, { charged: true });
        else {
          rec.reruns++;
          rec.alone ||= isolateAfter(verdict, rec.reruns);
          this.book.retryOrFail(rec, lossReason(verdict, why, rec.alone), now, { charged: false });
        }
      }
      batch.items.clear();
    }
    this.retire(batch);
  }

  // ---- blocked threads -------------------------------------------------------------

  /** An item past its time limit plus grace means its thread is blocked: end the thread. */
  private checkStuck(): void {
    const thread = (batch: Batch) => threadOf(batch, this.pool);
    findStuck(this.batches, this.spec.timeoutMs + STUCK_GRACE_MS, this.spec.timeoutMs, performance.now(), thread, (batch, death) =>
      this.killThread(batch, death),
    );
  }

  private killThread(batch: Batch, death: ThreadDeath | null): void {
    const thread = threadOf(batch, this.pool);
    if (batch.killing || thread <= 0) return;
    batch.killing = true;
    this.deaths.set(thread, death ?? { batchId: -1, i: -1, err: `its thread was ended to abort job ${this.jobId}` });
    for (const other of this.batches.values()) if (threadOf(other, this.pool) === thread) other.killing = true;
    this.pool.terminateThread(thread);
  }
}
