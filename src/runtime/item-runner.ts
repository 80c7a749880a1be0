/**
 * Runs one batch inside a worker thread: every item of the batch at once, each through the
 * processor pipeline, with its own abort signal and time limit. In a scoped batch, items run
 * inside an AsyncLocalStorage scope, so that a processor whose asynchronous code kills its thread
 * can be named as the culprit and its batch-mates spared. Scopes are not free: on Node 20 they
 * turn on async hooks, a call into JS for every promise, some 15% of a worker's CPU at no-op item
 * rates, so the dispatcher asks for them only once a thread has died without a named culprit.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { ItemTimeoutError, OutputTooLongError, describeError } from '../core/errors.js';
import { TextBuilder } from '../core/text-builder.js';
import type { ItemInput, Params } from '../core/types.js';
import { checkedMeta, foldStages, overlay, type ItemMeta } from '../core/item-meta.js';
import { systemicCause, type Chunks, type Permit, type ProcessContext, type Processor } from '../processors/contract.js';
import { loadProcessor } from '../processors/registry.js';
import { chunkText } from './chunk-text.js';
import type { Outbox } from './outbox.js';
import { PROBE_BUSY, PROBE_CALLS, type BatchItem } from './protocol.js';
import type { QuotaClient } from './quota/client.js';
import { processQuota } from './quota/local.js';

export interface ItemScope {
  readonly batchId: number;
  readonly i: number;
}

/** The item whose code is running right now, as far as async context can tell. */
export const itemScope = new AsyncLocalStorage<ItemScope>();

/** Abort reasons that are not the item's fault. */
export class AbortedByUser extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'AbortedByUser';
  }
}

/** Loads and `init`s each processor once per thread and params. */
export class PipelineCache {
  private readonly cache = new Map<string, Promise<Processor[]>>();

  get(urls: readonly string[], params: Params): Promise<Processor[]> {
    const key = JSON.stringify([urls, params]);
    let entry = this.cache.get(key);
    if (!entry) {
      entry = Promise.all(
        urls.map(async (url) => {
          const p = await loadProcessor(url);
          await p.init?.(params);
          return p;
        }),
      );
      entry.catch(() => this.cache.delete(key)); // a failed load may succeed on a later batch
      this.cache.set(key, entry);
    }
    return entry;
  }

  async closeAll(): Promise<void> {
    for (const entry of this.cache.values()) {
      const processors = await entry.catch(() => [] as Processor[]);
      for (const p of processors) await Promise.resolve(p.close?.()).catch(() => undefined);
    }
    this.cache.clear();
  }
}

export interface BatchRun {
  readonly batchId: number;
  readonly params: Params;
  readonly timeoutMs: number;
  /** Bound on each stage's output, in characters; 0 for none. */
  readonly maxOutputChars: number;
  readonly items: readonly BatchItem[];
  readonly outbox: Outbox;
  /** Watchdog cells: marked while the runner calls into an item's processor code. */
  readonly probe?: Int32Array;
  /** Run each item in its `itemScope` (see above). */
  readonly scoped?: boolean;
  /** The quota `ctx.limit` asks (a pool thread's link to the main thread); this process's own when absent. */
  readonly quota?: () => QuotaClient;
}

/** Runs an item, in its scope when the batch is scoped. */
const inScope = (run: BatchRun, i: number, go: () => Promise<void>): Promise<void> => (run.scoped ? itemScope.run({ batchId: run.batchId, i }, go) : go());

/** Runs the batch; resolves when every item has reported done or error. Never rejects. */
export async function runBatch(run: BatchRun, pipeline: Processor[], controllers: Map<number, ItemControl>): Promise<void> {
  for (const item of run.items) controllers.set(item.i, new ItemControl());
  const single = pipeline.length === 1 ? pipeline[0] : undefined;
  if (single?.processBatch && run.items.length > 1) {
    await runNativeBatch(run, single, controllers);
  } else {
    await Promise.all(run.items.map((item) => inScope(run, item.i, () => runItem(run, item, pipeline, controllers.get(item.i)!, []))));
  }
}

/** What each stage of an attempt reported (`ctx.report`), by stage; empty for most processors. */
type Reports = (ItemMeta | undefined)[];

async function runItem(run: BatchRun, item: BatchItem, pipeline: Processor[], control: ItemControl, reports: Reports, firstChunks?: Chunks): Promise<void> {
  const { outbox } = run;
  const timer = armTimeout(run.timeoutMs, control);
  const clock: ItemClock = { startedAt: performance.now(), firstChunkAt: 0 };
  try {
    // One race per item, not one per chunk: an abort (time limit, Ctrl+C) settles the item at
    // once even if the processor ignores its signal, while each chunk costs a plain await.
    const text = await control.race(runStages(run, item, pipeline, control, clock, reports, firstChunks));
    const ms = performance.now() - clock.startedAt;
    const fc = clock.firstChunkAt === 0 ? -1 : clock.firstChunkAt - clock.startedAt;
    const meta = foldStages(reports);
    outbox.push(meta ? { t: 'done', i: item.i, a: item.a, out: text, ms, fc, meta } : { t: 'done', i: item.i, a: item.a, out: text, ms, fc });
  } catch (err) {
    const reason: unknown = control.aborted ? control.reason : err;
    const sys = systemicCause(reason);
    // A failed attempt's tokens were billed too: its report goes with its error.
    const meta = foldStages(reports);
    const failure = { t: 'error', i: item.i, a: item.a, err: describeError(reason), ...(meta ? { meta } : {}) } as const;
    if (reason instanceof OutputTooLongError) outbox.push({ ...failure, aborted: false, final: true });
    else if (sys === undefined) outbox.push({ ...failure, aborted: reason instanceof AbortedByUser });
    else outbox.push({ ...failure, aborted: false, sys });
  } finally {
    if (timer) clearTimeout(timer);
    control.endPermits();
  }
}

/** The item through every stage; stops at its next step once aborted (the race has settled it). */
/** When an item started on this thread, and when its first chunk came (0: not yet). */
interface ItemClock {
  readonly startedAt: number;
  firstChunkAt: number;
}

async function runStages(
  run: BatchRun,
  item: BatchItem,
  pipeline: Processor[],
  control: ItemControl,
  clock: ItemClock,
  reports: Reports,
  firstChunks?: Chunks,
): Promise<string> {
  const { outbox } = run;
  let input: ItemInput = item.input;
  let text = '';
  for (let s = 0; s < pipeline.length; s++) {
    outbox.push({ t: 'start', i: item.i, a: item.a, s });
    const stageInput = input;
    let chunks: Chunks | Promise<Chunks> =
      s === 0 && firstChunks ? firstChunks : inItem(run.probe, item.i, () => pipeline[s]!.process(stageInput, makeContext(run, item, s, control, reports)));
    if (isPromise(chunks)) chunks = await chunks;
    control.throwIfAborted();
    text = await drain(
      chunks,
      control,
      run.maxOutputChars,
      (piece) => {
        if (clock.firstChunkAt === 0) clock.firstChunkAt = performance.now();
        outbox.chunk(item.i, item.a, s, piece);
      },
      run.probe,
      item.i,
    );
    input = text;
  }
  return text;
}

async function runNativeBatch(run: BatchRun, processor: Processor, controllers: Map<number, ItemControl>): Promise<void> {
  const reports = run.items.map((): Reports => []);
  const ctxs = run.items.map((item, k) => makeContext(run, item, 0, controllers.get(item.i)!, reports[k]!));
  let streams: readonly Chunks[];
  try {
    streams = await processor.processBatch!(run.items.map((item) => item.input), ctxs);
    if (streams.length !== run.items.length) throw new Error(`processBatch returned ${streams.length} streams for ${run.items.length} inputs`);
  } catch (err) {
    const sys = systemicCause(err);
    for (const item of run.items) run.outbox.push({ t: 'error', i: item.i, a: item.a, err: describeError(err), aborted: false, ...(sys === undefined ? {} : { sys }) });
    return;
  }
  await Promise.all(
    run.items.map((item, k) => inScope(run, item.i, () => runItem(run, item, [processor], controllers.get(item.i)!, reports[k]!, streams[k]))),
  );
}

function makeContext(run: BatchRun, item: BatchItem, stage: number, control: ItemControl, reports: Reports): ProcessContext {
  return {
    get signal() {
      return control.signal;
    },
    attempt: item.a,
    itemId: item.id,
    params: run.params,
    stage,
    log: (message: string) => run.outbox.push({ t: 'log', i: item.i, line: String(message) }),
    report: (meta: ItemMeta) => {
      reports[stage] = overlay(reports[stage], checkedMeta(meta));
    },
    limit: async (key, cost, limits) => control.hold(await (run.quota ?? processQuota)().limit(key, cost, limits, control.signal)),
  };
}

function armTimeout(ms: number, control: ItemControl): NodeJS.Timeout | undefined {
  if (ms <= 0) return undefined;
  return setTimeout(() => control.abort(new ItemTimeoutError(ms)), ms);
}

/**
 * Calls into item `i`'s processor code with the item marked busy in the batch's probe, so a
 * watchdog outside the thread can name the item if the call never returns (a processor that
 * blocks its thread synchronously cannot post anything).
 */
function inItem<T>(probe: Int32Array | undefined, i: number, call: () => T): T {
  if (!probe) return call();
  Atomics.store(probe, PROBE_BUSY, i + 1);
  Atomics.add(probe, PROBE_CALLS, 1);
  try {
    return call();
  } finally {
    Atomics.store(probe, PROBE_BUSY, 0);
  }
}

/**
 * Pieces a stream may give before the runner lets the thread's event loop turn. A synchronous
 * stream, or an async one that only awaits promises (no I/O), never lets it turn by itself: the
 * outbox could not post what it gathered (a long stream would be held whole, twice) and an abort
 * could not land.
 */
const PIECES_PER_TURN = 1024;
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Consumes a chunk stream until it ends, the signal aborts or the text passes `maxChars` (0:
 * no bound); returns the whole text.
 */
async function drain(
  chunks: Chunks,
  aborted: ItemControl,
  maxChars: number,
  onChunk: (piece: string) => void,
  probe: Int32Array | undefined,
  i: number,
): Promise<string> {
  const asyncIt = (chunks as AsyncIterable<string>)[Symbol.asyncIterator];
  const it: AsyncIterator<unknown> | Iterator<unknown> = asyncIt ? asyncIt.call(chunks) : (chunks as Iterable<string>)[Symbol.iterator]();
  const text = new TextBuilder();
  let sinceTurn = 0;
  try {
    for (;;) {
      const next = inItem(probe, i, () => it.next());
      const r = isPromise(next) ? await next : next;
      if (++sinceTurn === PIECES_PER_TURN) {
        sinceTurn = 0;
        await nextTurn();
      }
      aborted.throwIfAborted();
      if (r.done) return text.toString();
      const piece = chunkText(r.value);
      if (piece.length === 0) continue;
      text.append(piece);
      if (maxChars > 0 && text.length > maxChars) throw new OutputTooLongError(maxChars);
      onChunk(piece);
    }
  } catch (err) {
    // Let the processor clean up (close sockets, timers); never wait on it.
    Promise.resolve(it.return?.()).catch(() => undefined);
    throw err;
  }
}

function isPromise<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

/**
 * One item's abort state. The AbortSignal a processor sees is made only if it asks for it
 * (EventTarget is costly at 100k items/s), and racing a processor's promises against an abort
 * needs no listener at all, so a processor that ignores its signal still cannot hold its item.
 */
export class ItemControl {
  private controller: AbortController | null = null;
  private abortedFlag = false;
  private abortReason: unknown = undefined;
  private racer: Promise<never> | null = null;
  private rejectRacer: ((reason: unknown) => void) | null = null;
  private permits: Permit[] | null = null;
  private ended = false;

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.abortedFlag) this.controller.abort(this.abortReason);
    }
    return this.controller.signal;
  }

  get aborted(): boolean {
    return this.abortedFlag;
  }

  get reason(): unknown {
    return this.abortReason;
  }

  abort(reason: unknown): void {
    if (this.abortedFlag) return;
    this.abortedFlag = true;
    this.abortReason = reason;
    this.controller?.abort(reason);
    this.rejectRacer?.(reason);
  }

  /** A permit the item took (`ctx.limit`): if its processor does not say it is done, the item's end does. */
  hold(permit: Permit): Permit {
    if (this.ended) permit.done(); // granted after its item ended: nobody will call it
    else (this.permits ??= []).push(permit);
    return permit;
  }

  /** The item ended: its permits give their slots back (a permit already done is left as it is). */
  endPermits(): void {
    this.ended = true;
    for (const p of this.permits ?? []) p.done();
    this.permits = null;
  }

  throwIfAborted(): void {
    if (this.abortedFlag) throw this.abortReason;
  }

  race<T>(step: PromiseLike<T>): Promise<T> {
    if (this.abortedFlag) return Promise.reject(this.abortReason);
    if (!this.racer) {
      this.racer = new Promise<never>((_, reject) => (this.rejectRacer = reject));
      this.racer.catch(() => undefined);
    }
    return Promise.race([step, this.racer]);
  }
}
