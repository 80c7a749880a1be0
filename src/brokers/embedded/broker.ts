/**
 * The embedded broker: a piscina pool of worker threads in this process. Each task is one
 * batch; several batches share a thread (items are mostly waiting on I/O or timers), so the
 * pool is sized by threads and the run by `concurrency`.
 */
import { BroadcastChannel } from 'node:worker_threads';
import { SlowworkError, describeError } from '../../core/errors.js';
import type { EventListener } from '../../core/events.js';
import type { KeyActivity } from '../../core/quota/ledger.js';
import type { JobSpec } from '../../core/types.js';
import type { Broker, JobRun, JobRunOptions } from '../broker.js';
import {
  isBatchEnvelope,
  isClosedMessage,
  isQuotaEnvelope,
  isQuotaPortMessage,
  type BatchTask,
  type ControlMessage,
  type ThreadMessage,
} from '../../runtime/protocol.js';
import { EmbeddedJobRun } from './job-run.js';
import type { ItemScopes, LocalRunOptions, ThreadDeath } from './pool-port.js';
import { QuotaHost, type PoolQuota } from './quota-host.js';
import { LOAD_WAIT_MS, Piscina, ThreadPools, type LoadBalancer, type ThreadPoolOptions } from './thread-pools.js';

export { defaultThreads } from './default-threads.js';
export { threadHeapFromEnv } from './thread-pools.js';

export interface EmbeddedBrokerOptions extends ThreadPoolOptions {
  /**
   * Run every batch scoped from the start (see item-runner.ts), so that even the pool's first
   * thread killed from an item's asynchronous code names its culprit, at the cost of async
   * hooks. By default the first such death turns scopes on (and charges no one).
   */
  readonly trackItemScopes?: boolean;
  /** The limiters of `ctx.limit`; by default one QuotaHost on this thread (a Redis worker brings the queue's). */
  readonly quota?: PoolQuota;
}

interface BatchLoad {
  readonly batchId: number;
  readonly items: number;
}

/** How long processors get to `close` when the pool shuts down. */
const CLOSE_WAIT_MS = 2000;

export class EmbeddedBroker implements Broker {
  readonly kind = 'embedded';
  readonly threads: number;
  /** The threads it runs on. */
  readonly pools: ThreadPools;
  private aloneRunning = 0;
  private readonly routes = new Map<number, (messages: ThreadMessage[]) => void>();
  private readonly control: BroadcastChannel;
  private batchIds = 0;
  private readonly closedThreads = new Set<number>();
  /** Threads a job ended on purpose (blocked or ignoring an abort), shared so no other job is charged. */
  private readonly deaths = new Map<number, ThreadDeath>();
  private readonly scopes: ItemScopes;
  /**
   * Threads that began a batch. Only they have loaded the thread module (piscina imports it on a
   * thread's first task) and listen for `close`; waiting on the others would always time out.
   */
  private readonly startedThreads = new Set<number>();
  private readonly runs = new Set<EmbeddedJobRun>();
  /** Items in flight per thread, and which thread runs each batch: the balancer's view. */
  private readonly load = new Map<number, number>();
  private readonly batchLoad = new Map<number, { thread: number; items: number }>();
  /** The rate limiters every thread's `ctx.limit` shares (quota-host.ts). */
  readonly quota: PoolQuota;

  /** `pools`: threads started before the broker (app/early-pool.ts), with the same options. */
  constructor(options: EmbeddedBrokerOptions, pools: ThreadPools = new ThreadPools(options)) {
    this.pools = pools;
    this.threads = pools.threads;
    this.scopes = { tracked: options.trackItemScopes === true };
    this.quota = options.quota ?? new QuotaHost(Math.max(1, options.maxConcurrency));
    this.control = new BroadcastChannel(pools.controlName);
    this.control.unref();
    pools.own({
      // A thread that dies with no task (an error in a stray timer) must not take the process down;
      // but if no thread ever started, the pool is unusable: fail the runs instead of hanging.
      error: (err) => this.onPoolError(err),
      // Every batch's events arrive on its thread's port, tagged with the batch id.
      message: (message) => {
        if (isBatchEnvelope(message)) {
          const first = message.m[0];
          if (first?.t === 'begin') this.startedThreads.add(first.thread);
          this.routes.get(message.sw)?.(message.m);
        } else if (isQuotaEnvelope(message)) this.quota.handle(message.swq, message.r);
        else if (isClosedMessage(message)) this.closedThreads.add(message.swClosed);
        else if (isQuotaPortMessage(message)) this.quota.attach(message.thread, message.swQuota);
      },
      balance: this.balanceByItems,
    });
  }

  /** Runs a batch of one on a thread of its own; when it ends, any job waiting for room tries again. */
  private runAlone(task: BatchTask): Promise<unknown> {
    this.aloneRunning++;
    return this.pools.alonePool.run(task).finally(() => {
      this.aloneRunning--;
      for (const run of this.runs) run.wake();
    });
  }

  /**
   * An error before any thread began a batch means the thread module itself cannot load (a broken
   * install): piscina stops starting threads then, and queued batches would wait forever.
   */
  private onPoolError(err: unknown): void {
    if (this.startedThreads.size > 0) return;
    const failure = new SlowworkError(`worker threads cannot start: ${describeError(err)} (reinstall slowwork)`, 70);
    for (const run of this.runs) run.failFromPool(failure);
  }

  /**
   * piscina's default balancer counts tasks; ours are batches of different sizes, so send each
   * batch to the thread with the fewest items in flight.
   */
  private readonly balanceByItems: LoadBalancer = (task, workers) => {
    let best = null;
    let bestLoad = Infinity;
    for (const w of workers) {
      if (w.terminating || w.destroyed) continue;
      const l = this.load.get(w.id) ?? 0;
      if (l < bestLoad) {
        best = w;
        bestLoad = l;
      }
    }
    const batch = (task as unknown as Record<symbol, BatchLoad | null>)[Piscina.queueOptionsSymbol];
    if (best && batch) {
      this.load.set(best.id, bestLoad + batch.items);
      this.batchLoad.set(batch.batchId, { thread: best.id, items: batch.items });
    }
    return best;
  };

  private release(batchId: number, items: number): void {
    const entry = this.batchLoad.get(batchId);
    if (!entry) return;
    const n = Math.min(items, entry.items);
    entry.items -= n;
    const left = (this.load.get(entry.thread) ?? n) - n;
    if (left > 0) this.load.set(entry.thread, left);
    else this.load.delete(entry.thread);
    if (entry.items === 0) this.batchLoad.delete(batchId);
  }

  quotaActivity(): readonly KeyActivity[] {
    return this.quota.activity();
  }

  describe(): string {
    return `embedded: ${this.threads} thread${this.threads === 1 ? '' : 's'}`;
  }

  startJob(spec: JobSpec, listener: EventListener, options: JobRunOptions = {}): JobRun {
    return this.startLocalRun(spec, listener, options);
  }

  /** A run on this pool with the options only a local run has: what a Redis worker uses for each job it serves. */
  startLocalRun(spec: JobSpec, listener: EventListener, options: LocalRunOptions = {}): EmbeddedJobRun {
    const run = new EmbeddedJobRun(
      spec,
      {
        threads: this.threads,
        run: (task) =>
          this.pools.pool
            .run({
              ...task,
              [Piscina.queueOptionsSymbol]: { batchId: task.batchId, items: task.items.length } satisfies BatchLoad,
            })
            .catch((err: unknown) => {
              this.onPoolError(err);
              throw err;
            }),
        runAlone: (task) => this.runAlone(task),
        aloneSlots: () => this.threads - this.aloneRunning,
        nextBatchId: () => ++this.batchIds,
        listen: (batchId, handler) => this.routes.set(batchId, handler),
        settled: (batchId, items) => this.release(batchId, items),
        unlisten: (batchId) => {
          this.routes.delete(batchId);
          this.release(batchId, Infinity);
        },
        control: (message) => this.control.postMessage(message),
        terminateThread: (threadId) => {
          const worker = this.pools.workers().find((w) => w.threadId === threadId);
          void worker?.terminate();
        },
        deaths: this.deaths,
        scopes: this.scopes,
        assignedThread: (batchId) => this.batchLoad.get(batchId)?.thread ?? -1,
      },
      listener,
      options,
    );
    this.runs.add(run);
    run.finished.then(
      () => this.runs.delete(run),
      () => this.runs.delete(run),
    );
    return run;
  }

  /** Lets every thread `close` its processors (bounded wait), then ends the pool. */
  async close(): Promise<void> {
    await this.pools.whenLoaded(LOAD_WAIT_MS);
    const threads = this.pools.workers().map((w) => w.threadId).filter((id) => this.startedThreads.has(id));
    if (threads.length > 0) {
      this.control.postMessage({ t: 'close' } satisfies ControlMessage);
      const deadline = Date.now() + CLOSE_WAIT_MS;
      while (Date.now() < deadline && threads.some((id) => !this.closedThreads.has(id))) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    }
    this.control.close();
    this.quota.close();
    await this.pools.destroy();
  }
}
