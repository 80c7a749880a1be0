/**
 * The embedded broker: a piscina pool of worker threads in this process. Each task is one
 * batch; several batches share a thread (items are mostly waiting on I/O or timers), so the
 * pool is sized by threads and the run by `concurrency`.
 */
import { randomBytes } from 'node:crypto';
import { BroadcastChannel } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { SlowworkError, UsageError, describeError } from '../../core/errors.js';
import type { EventListener } from '../../core/events.js';
import type { JobSpec } from '../../core/types.js';
import type { Broker, JobRun, JobRunOptions } from '../broker.js';
import {
  isBatchEnvelope,
  isClosedMessage,
  isLoadedMessage,
  isQuotaEnvelope,
  isQuotaPortMessage,
  type BatchTask,
  type ControlMessage,
  type ThreadData,
  type ThreadMessage,
} from '../../runtime/protocol.js';
import { EmbeddedJobRun } from './job-run.js';
import type { ItemScopes, LocalRunOptions, ThreadDeath } from './pool-port.js';
import { defaultThreads } from './default-threads.js';
import { QuotaHost } from './quota-host.js';
import { compiledUrl } from '../../install-dir.js';

export { defaultThreads };

export interface EmbeddedBrokerOptions {
  /** Worker threads; default: the number of cores. */
  readonly threads?: number;
  /** Upper bound of items in flight across all jobs of this broker (sizes the per-thread task cap). */
  readonly maxConcurrency: number;
  /** The thread entry module; only tests change it (to one that cannot load). */
  readonly threadFile?: string;
  /**
   * Run every batch scoped from the start (see item-runner.ts), so that even the pool's first
   * thread killed from an item's asynchronous code names its culprit, at the cost of async
   * hooks. By default the first such death turns scopes on (and charges no one).
   */
  readonly trackItemScopes?: boolean;
  /**
   * Heap limit of each thread in MB (V8's old generation): a thread past it dies, as a runaway
   * item's would, instead of the process. Default: SLOWWORK_THREAD_HEAP_MB, else Node's default.
   */
  readonly threadHeapMb?: number;
  /**
   * Processor modules each thread imports as it starts, so the first batch finds them loaded (a
   * hint for a start-up: jobs name their own pipeline; a module that fails here fails later, in
   * its batch, as it would have).
   */
  readonly preload?: readonly string[];
}

/** SLOWWORK_THREAD_HEAP_MB, checked: a whole number of MB, 16 at least. */
export function threadHeapFromEnv(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const raw = env.SLOWWORK_THREAD_HEAP_MB;
  if (raw === undefined || raw === '') return undefined;
  const mb = Number(raw);
  if (!Number.isInteger(mb) || mb < 16) throw new UsageError(`SLOWWORK_THREAD_HEAP_MB=${raw} is not a heap size: give a whole number of MB, 16 or more`);
  return mb;
}

/** The thread module, bundled (scripts/bundle.mjs); from dist/ under vitest too: `make test` builds first. */
const threadFile = (): string => compiledUrl('slowwork-thread.js').href;

type LoadBalancer = NonNullable<NonNullable<ConstructorParameters<typeof Piscina>[0]>['loadBalancer']>;

interface BatchLoad {
  readonly batchId: number;
  readonly items: number;
}

/** How long processors get to `close` when the pool shuts down. */
const CLOSE_WAIT_MS = 2000;
/** How long a shutdown waits for threads still loading modules (see LoadedMessage). */
const LOAD_WAIT_MS = 3000;

export class EmbeddedBroker implements Broker {
  readonly kind = 'embedded';
  readonly threads: number;
  private readonly pool: Piscina;
  /**
   * Threads that run one batch of one item each: suspects of a death that named no one, and items
   * out of free reruns (thread-faults.ts). Nothing else shares such a thread, so its death is its item's.
   */
  private readonly alonePool: Piscina;
  private aloneRunning = 0;
  private readonly routes = new Map<number, (messages: ThreadMessage[]) => void>();
  private readonly controlName = `slowwork-control-${process.pid}-${randomBytes(4).toString('hex')}`;
  private readonly control = new BroadcastChannel(this.controlName);
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
  /** Threads done loading their modules: only they may be terminated safely. */
  private readonly loadedThreads = new Set<number>();
  private onLoaded: (() => void) | null = null;
  private readonly runs = new Set<EmbeddedJobRun>();
  /** Items in flight per thread, and which thread runs each batch: the balancer's view. */
  private readonly load = new Map<number, number>();
  private readonly batchLoad = new Map<number, { thread: number; items: number }>();
  /** The rate limiters every thread's `ctx.limit` shares (quota-host.ts). */
  readonly quota: QuotaHost;

  constructor(options: EmbeddedBrokerOptions) {
    this.threads = options.threads ?? defaultThreads();
    this.scopes = { tracked: options.trackItemScopes === true };
    this.quota = new QuotaHost(Math.max(1, options.maxConcurrency));
    const heapMb = options.threadHeapMb ?? threadHeapFromEnv();
    const common = {
      filename: options.threadFile ?? threadFile(),
      // Tasks stay open on timers and sockets: no Atomics parking between tasks.
      atomics: 'disabled',
      recordTiming: false,
      closeTimeout: 2000,
      workerData: { control: this.controlName, preload: options.preload } satisfies ThreadData,
      ...(heapMb ? { resourceLimits: { maxOldGenerationSizeMb: heapMb } } : {}),
    } as const;
    this.pool = new Piscina({
      ...common,
      minThreads: this.threads,
      maxThreads: this.threads,
      // Our dispatcher decides what runs; piscina must never queue a batch behind another.
      concurrentTasksPerWorker: Math.max(1, options.maxConcurrency),
      idleTimeout: 60_000,
      loadBalancer: this.balanceByItems,
    });
    // Started only when needed; the job runs send it no more batches than it has threads.
    this.alonePool = new Piscina({ ...common, minThreads: 0, maxThreads: this.threads, concurrentTasksPerWorker: 1, idleTimeout: 10_000 });
    for (const pool of [this.pool, this.alonePool]) {
      // A thread that dies with no task (an error in a stray timer) must not take the process down;
      // but if no thread ever started, the pool is unusable: fail the runs instead of hanging.
      pool.on('error', (err: unknown) => this.onPoolError(err));
      // Every batch's events arrive on its thread's port, tagged with the batch id.
      pool.on('message', (message: unknown) => {
        if (isBatchEnvelope(message)) {
          const first = message.m[0];
          if (first?.t === 'begin') this.startedThreads.add(first.thread);
          this.routes.get(message.sw)?.(message.m);
        } else if (isQuotaEnvelope(message)) this.quota.handle(message.swq, message.r);
        else if (isClosedMessage(message)) this.closedThreads.add(message.swClosed);
        else if (isQuotaPortMessage(message)) this.quota.attach(message.thread, message.swQuota);
        else if (isLoadedMessage(message)) {
          this.loadedThreads.add(message.swLoaded);
          this.onLoaded?.();
        }
      });
    }
    this.control.unref();
  }

  /** Runs a batch of one on a thread of its own; when it ends, any job waiting for room tries again. */
  private runAlone(task: BatchTask): Promise<unknown> {
    this.aloneRunning++;
    return this.alonePool.run(task).finally(() => {
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

  /**
   * Resolves once every thread of the pool has loaded its modules, or after `ms`: a run that ends
   * at once (a bad input, a wrong flag) would otherwise terminate threads mid-load, which can
   * abort Node 20 itself. (A module that never finishes loading is waiting, and may be terminated.)
   */
  private threadsLoaded(ms: number): Promise<void> {
    const loading = (): boolean => [...this.pool.threads, ...this.alonePool.threads].some((w) => !this.loadedThreads.has(w.threadId));
    if (!loading()) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.onLoaded = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.onLoaded = () => {
        if (!loading()) done();
      };
    });
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
          this.pool
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
          const worker = [...this.pool.threads, ...this.alonePool.threads].find((w) => w.threadId === threadId);
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
    await this.threadsLoaded(LOAD_WAIT_MS);
    const threads = [...this.pool.threads, ...this.alonePool.threads].map((w) => w.threadId).filter((id) => this.startedThreads.has(id));
    if (threads.length > 0) {
      this.control.postMessage({ t: 'close' } satisfies ControlMessage);
      const deadline = Date.now() + CLOSE_WAIT_MS;
      while (Date.now() < deadline && threads.some((id) => !this.closedThreads.has(id))) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    }
    this.control.close();
    this.quota.close();
    await Promise.all([this.pool.destroy(), this.alonePool.destroy()]);
  }
}
