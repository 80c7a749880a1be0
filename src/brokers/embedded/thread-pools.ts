/**
 * The worker threads of an embedded broker: its two piscina pools, apart from the broker so that
 * a submit can start them before the rest of slowwork loads (app/early-pool.ts). A thread takes
 * longer to come up than the main thread takes to load the submit flow, so what this module
 * imports delays every submit's first item: only piscina, node: built-ins and small modules.
 *
 * What the threads post before the broker takes the pools over (a quota port, an error) is kept
 * and handed over then; `swLoaded` is this module's own (see `whenLoaded`).
 */
import { createRequire } from 'node:module';
import type { Piscina as PiscinaPool } from 'piscina';
import { UsageError } from '../../core/errors.js';
import { isLoadedMessage, type ThreadData } from '../../runtime/protocol.js';
import { compiledUrl } from '../../install-dir.js';
import { defaultThreads } from './default-threads.js';

// Loaded as CommonJS: piscina's ES module wrapper makes Node 20 start its CommonJS export lexer
// first, ~15 ms more of a cold start, all of it before the threads can start.
export const { Piscina } = createRequire(import.meta.url)('piscina') as typeof import('piscina');

export type LoadBalancer = NonNullable<NonNullable<ConstructorParameters<typeof PiscinaPool>[0]>['loadBalancer']>;

export interface ThreadPoolOptions {
  /** Worker threads; default: the number of cores. */
  readonly threads?: number;
  /** Upper bound of items in flight across all jobs (sizes the per-thread task cap). */
  readonly maxConcurrency: number;
  /** The thread entry module; only tests change it (to one that cannot load). */
  readonly threadFile?: string;
  /** Heap limit of each thread in MB; default: SLOWWORK_THREAD_HEAP_MB, else Node's default. */
  readonly threadHeapMb?: number;
  /** Processor modules each thread imports as it starts (ThreadData.preload). */
  readonly preload?: readonly string[];
}

/** What the pools' owner hears from the threads. */
export interface ThreadPoolOwner {
  readonly message: (message: unknown) => void;
  readonly error: (err: unknown) => void;
  /** Picks the thread for a task (piscina's loadBalancer). */
  readonly balance: LoadBalancer;
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

/** Before an owner: the first live thread (no task is run before the broker takes over anyway). */
const firstLive: LoadBalancer = (_task, workers) => workers.find((w) => !w.terminating && !w.destroyed) ?? null;

let pools = 0;

export class ThreadPools {
  readonly threads: number;
  /** Name of the BroadcastChannel the threads listen on for control messages (ThreadData.control). */
  // Unique among this process's threads (BroadcastChannel names are per process); not node:crypto,
  // which would cost the start ~6 ms.
  readonly controlName = `slowwork-control-${process.pid}-${(++pools).toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
  /** Batches of any size, several per thread. */
  readonly pool: PiscinaPool;
  /**
   * Threads that run one batch of one item each: suspects of a death that named no one, and items
   * out of free reruns (thread-faults.ts). Nothing else shares such a thread, so its death is its item's.
   */
  readonly alonePool: PiscinaPool;
  private owner: ThreadPoolOwner | null = null;
  private readonly pending: Array<{ readonly message: unknown } | { readonly error: unknown }> = [];
  /** Threads done loading their modules: only they may be terminated safely. */
  private readonly loaded = new Set<number>();
  private readonly loadWaiters = new Set<() => void>();
  private destroyed: Promise<void> | undefined;

  constructor(options: ThreadPoolOptions) {
    this.threads = options.threads ?? defaultThreads();
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
      // The broker's dispatcher decides what runs; piscina must never queue a batch behind another.
      concurrentTasksPerWorker: Math.max(1, options.maxConcurrency),
      idleTimeout: 60_000,
      loadBalancer: (task, workers) => (this.owner?.balance ?? firstLive)(task, workers),
    });
    // Started only when needed; the job runs send it no more batches than it has threads.
    this.alonePool = new Piscina({ ...common, minThreads: 0, maxThreads: this.threads, concurrentTasksPerWorker: 1, idleTimeout: 10_000 });
    for (const pool of [this.pool, this.alonePool]) {
      pool.on('error', (error: unknown) => (this.owner ? this.owner.error(error) : this.pending.push({ error })));
      pool.on('message', (message: unknown) => {
        if (isLoadedMessage(message)) {
          this.loaded.add(message.swLoaded);
          for (const waiter of this.loadWaiters) waiter();
        } else if (this.owner) this.owner.message(message);
        else this.pending.push({ message });
      });
    }
  }

  /** Hands the threads' messages over to their owner, those that came before first. */
  own(owner: ThreadPoolOwner): void {
    this.owner = owner;
    for (const event of this.pending.splice(0)) {
      if ('error' in event) owner.error(event.error);
      else owner.message(event.message);
    }
  }

  /** Every live thread of both pools. */
  workers(): PiscinaPool['threads'] {
    return [...this.pool.threads, ...this.alonePool.threads];
  }

  /**
   * Resolves once every thread has loaded its modules, or after `ms`: a run that ends at once (a
   * bad input, a wrong flag) would otherwise terminate threads mid-load, which can abort Node 20
   * itself. (A module that never finishes loading is waiting, and may be terminated.)
   */
  whenLoaded(ms: number): Promise<void> {
    const loading = (): boolean => this.workers().some((w) => !this.loaded.has(w.threadId));
    if (!loading()) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const waiter = (): void => {
        if (!loading()) done();
      };
      const done = (): void => {
        clearTimeout(timer);
        this.loadWaiters.delete(waiter);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.loadWaiters.add(waiter);
    });
  }

  /** Ends every thread, once none is still loading modules (LOAD_WAIT_MS at most); once. */
  destroy(): Promise<void> {
    this.destroyed ??= this.whenLoaded(LOAD_WAIT_MS).then(async () => {
      await Promise.all([this.pool.destroy(), this.alonePool.destroy()]);
    });
    return this.destroyed;
  }
}

/** How long a shutdown waits for threads still loading modules (see LoadedMessage). */
export const LOAD_WAIT_MS = 3000;
