/**
 * The dispatcher against a scripted pool (no threads): slicing, retries, culprits, lost
 * threads, the watchdog's probe, listener failures. Deterministic: the test plays the thread.
 */
import * as perfHooks from 'node:perf_hooks';
import { describe, expect, it, vi } from 'vitest';
import { EmbeddedJobRun, type PoolPort } from '../../src/brokers/embedded/job-run.js';
import { PROBE_BUSY, PROBE_CALLS, PROBE_THREAD, type BatchTask, type ControlMessage, type ThreadMessage } from '../../src/runtime/protocol.js';
import { Recorder, itemsOf, spec } from './helpers.js';
import type { JobSpec } from '../../src/core/types.js';

interface FakeBatch {
  readonly task: BatchTask;
  /** Sent to run alone on a thread of its own. */
  readonly alone: boolean;
  resolve(): void;
  reject(err: Error): void;
}

class FakePool implements PoolPort {
  readonly threads = 2;
  readonly batches: FakeBatch[] = [];
  readonly controls: ControlMessage[] = [];
  readonly terminated: number[] = [];
  /** Which thread each batch was handed to (the broker's balancer knows this). */
  readonly assigned = new Map<number, number>();
  private readonly handlers = new Map<number, (messages: ThreadMessage[]) => void>();
  private ids = 0;

  /** Threads free for batches run alone (the test sets it). */
  freeAlone = 2;

  run(task: BatchTask, alone = false): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.batches.push({ task, alone, resolve: () => resolve(task.items.length), reject });
    });
  }
  runAlone(task: BatchTask): Promise<unknown> {
    return this.run(task, true);
  }
  aloneSlots(): number {
    // A batch holds its thread until the run retires it (stops listening).
    return this.freeAlone - this.batches.filter((b) => b.alone && this.handlers.has(b.task.batchId)).length;
  }
  nextBatchId(): number {
    return ++this.ids;
  }
  settled(): void {}
  listen(batchId: number, handler: (messages: ThreadMessage[]) => void): void {
    this.handlers.set(batchId, handler);
  }
  unlisten(batchId: number): void {
    this.handlers.delete(batchId);
  }
  control(message: ControlMessage): void {
    this.controls.push(message);
  }
  terminateThread(threadId: number): void {
    this.terminated.push(threadId);
  }
  assignedThread(batchId: number): number {
    return this.assigned.get(batchId) ?? -1;
  }

  /** Plays the thread: posts messages of a batch. */
  send(batch: FakeBatch, messages: ThreadMessage[]): void {
    this.handlers.get(batch.task.batchId)?.(messages);
  }
  /** Begins a batch on `thread`, starting every item (as the thread's first post does). */
  begin(batch: FakeBatch, thread: number): void {
    Atomics.store(batch.task.probe!, PROBE_THREAD, thread);
    this.send(batch, [{ t: 'begin', thread }, ...batch.task.items.map((it) => ({ t: 'start' as const, i: it.i, a: it.a, s: 0 }))]);
  }
  /** Finishes items of a batch with output `ok:<input>`. */
  finish(batch: FakeBatch, indexes = batch.task.items.map((it) => it.i)): void {
    const items = batch.task.items.filter((it) => indexes.includes(it.i));
    this.send(
      batch,
      items.map((it) => ({ t: 'done' as const, i: it.i, a: it.a, out: `ok:${String(it.input)}` })),
    );
  }
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

function start(over: Partial<JobSpec> = {}) {
  const pool = new FakePool();
  const rec = new Recorder();
  const run = new EmbeddedJobRun(spec({ concurrency: 4, batchSize: 8, ...over }), pool, rec.listener);
  return { pool, rec, run };
}

async function until(check: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('EmbeddedJobRun: slicing', () => {
  it('cuts batches of at most one thread\'s share, keeps `concurrency` in flight, refills as items end', async () => {
    const { pool, run } = start({ concurrency: 4, batchSize: 8 });
    await run.add(itemsOf(Array.from({ length: 10 }, (_, k) => `p${k}`)));
    run.end();
    await tick();
    // concurrency 4 over 2 threads: batches of 2.
    expect(pool.batches.map((b) => b.task.items.map((it) => it.i))).toEqual([
      [0, 1],
      [2, 3],
    ]);
    pool.begin(pool.batches[0]!, 1);
    pool.finish(pool.batches[0]!, [0]);
    await tick();
    expect(pool.batches).toHaveLength(3);
    expect(pool.batches[2]!.task.items.map((it) => it.i)).toEqual([4]);
    expect(pool.batches[2]!.task.items[0]!.a).toBe(1);
    expect(pool.batches[2]!.task.timeoutMs).toBe(0);
    expect(pool.batches[2]!.task.processors).toEqual(['file:///fake.mjs']);
  });

  it('sends a lone item at once, then holds short batches for the window while others run', async () => {
    // The run's own clock and timers, faked: the 60 ms window is the run's time, not that of a
    // busy machine (where a stall between two adds could outlast it). Immediates stay real. The
    // run reads perf_hooks' performance, which the fake global does not replace: point it there.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const fakeNow = globalThis.performance;
    const clock = vi.spyOn(perfHooks.performance, 'now').mockImplementation(() => fakeNow.now());
    try {
      const { pool, run } = start({ concurrency: 8, batchSize: 4, batchWindowMs: 60 });
      await run.add(itemsOf(['a']));
      await tick();
      // Nothing of the job was running: nothing to batch behind, so no waiting.
      expect(pool.batches.map((b) => b.task.items.map((it) => it.i))).toEqual([[0]]);
      await run.add(itemsOf(['b'], 1));
      await tick();
      expect(pool.batches).toHaveLength(1);
      await run.add(itemsOf(['c'], 2));
      vi.advanceTimersByTime(59);
      await tick();
      expect(pool.batches).toHaveLength(1);
      vi.advanceTimersByTime(1);
      await tick();
      expect(pool.batches).toHaveLength(2);
      expect(pool.batches[1]!.task.items.map((it) => it.i)).toEqual([1, 2]);
    } finally {
      clock.mockRestore();
      vi.useRealTimers();
    }
  });

  it('a full batch goes at once even while input is open', async () => {
    const { pool, run } = start({ concurrency: 8, batchSize: 4, batchWindowMs: 10_000 });
    await run.add(itemsOf(['a', 'b', 'c', 'd', 'e']));
    await tick();
    expect(pool.batches.map((b) => b.task.items.length)).toEqual([4]);
    run.end(); // the rest goes now, window or not
    await tick();
    expect(pool.batches.map((b) => b.task.items.length)).toEqual([4, 1]);
  });
});

describe('EmbeddedJobRun: settling', () => {
  it('emits start, chunks and done; ignores messages of an attempt already settled', async () => {
    const { pool, rec, run } = start({ retries: 1 });
    await run.add(itemsOf(['x']));
    run.end();
    await tick();
    const b1 = pool.batches[0]!;
    pool.begin(b1, 7);
    pool.send(b1, [{ t: 'error', i: 0, a: 1, err: 'nope', aborted: false }]);
    // A straggler of attempt 1 after it failed.
    pool.send(b1, [{ t: 'chunk', i: 0, a: 1, s: 0, text: 'late', n: 1 }]);
    b1.resolve();
    await until(() => pool.batches.length === 2, 'the retry');
    const b2 = pool.batches[1]!;
    expect(b2.task.items[0]!.a).toBe(2);
    pool.begin(b2, 7);
    pool.send(b2, [{ t: 'chunk', i: 0, a: 2, s: 0, text: 'he', n: 2 }]);
    pool.send(b2, [{ t: 'done', i: 0, a: 2, out: 'he' }]);
    b2.resolve();
    const counts = await run.finished;
    expect(counts).toEqual({ total: 1, done: 1, failed: 0, unfinished: 0 });
    expect(rec.events.map((e) => e.type)).toEqual(['item-start', 'item-retry', 'item-start', 'chunk', 'item-done', 'job-done']);
    expect(rec.of('chunk')).toEqual([{ type: 'chunk', index: 0, attempt: 2, text: 'he', n: 2 }]);
    expect(rec.of('item-done')[0]).toMatchObject({ attempt: 2, worker: 'thread-7', output: 'he' });
  });

  it('an outcome message stands for start, chunk and done; one of an attempt already settled is ignored', async () => {
    const { pool, rec, run } = start();
    await run.add(itemsOf(['x', 'y']));
    run.end();
    await tick();
    const b = pool.batches[0]!;
    pool.send(b, [{ t: 'begin', thread: 3 }]);
    pool.send(b, [
      { t: 'outcome', i: 0, a: 1, text: 'hel', n: 2, out: 'hello' },
      { t: 'outcome', i: 1, a: 1, text: '', n: 0, out: '' },
      { t: 'outcome', i: 0, a: 1, text: 'again', n: 1, out: 'again' },
    ]);
    b.resolve();
    expect(await run.finished).toEqual({ total: 2, done: 2, failed: 0, unfinished: 0 });
    expect(rec.events.map((e) => e.type)).toEqual(['item-start', 'chunk', 'item-done', 'item-start', 'item-done', 'job-done']);
    expect(rec.of('item-start')[0]).toEqual({ type: 'item-start', index: 0, id: expect.any(String), attempt: 1, worker: 'thread-3' });
    expect(rec.of('chunk')).toEqual([{ type: 'chunk', index: 0, attempt: 1, text: 'hel', n: 2 }]);
    expect(rec.of('item-done').map((e) => e.output)).toEqual(['hello', '']);
    expect(rec.of('item-done')[0]).toMatchObject({ worker: 'thread-3', durations: { firstChunkMs: 0, totalMs: 0 } });
  });

  it('a process.exit in the thread charges only the culprit; its batch-mates retry at once, uncharged', async () => {
    const { pool, rec, run } = start({ retries: 0 });
    await run.add(itemsOf(['a', 'b', 'c']));
    run.end();
    await tick();
    const b = pool.batches[0]!; // [0, 1]
    pool.begin(b, 3);
    pool.send(b, [{ t: 'fatal', culprit: { batchId: b.task.batchId, i: 1 }, err: 'processor called process.exit(3)' }]);
    b.reject(new Error('worker exited with code: 3'));
    await until(() => rec.count('item-failed') === 1 && rec.count('item-retry') === 1, 'settling');
    expect(rec.of('item-failed')[0]).toMatchObject({ index: 1, attempts: 1, error: 'processor called process.exit(3)', worker: 'thread-3' });
    expect(rec.of('item-retry')[0]).toMatchObject({ index: 0, charged: false, delayMs: 0 });
    expect(rec.of('item-retry')[0]!.error).toMatch(/its thread was lost to another item \(processor called process\.exit\(3\)\)/);
    await until(() => pool.batches.some((x) => x.task.items.some((it) => it.i === 0 && it.a === 2)), 'the uncharged rerun');
  });

  it('a thread that dies naming no one (out of memory) charges no one: its items rerun alone, where a death is charged', async () => {
    const { pool, rec, run } = start({ retries: 0 });
    await run.add(itemsOf(['good', 'hog']));
    run.end();
    await tick();
    const b = pool.batches[0]!;
    expect([b.alone, b.task.scoped]).toEqual([false, false]);
    pool.begin(b, 3);
    b.reject(new Error('Worker terminated due to reaching memory limit: JS heap out of memory'));
    // Events leave once a tick, maybe after the reruns were handed out: wait for both.
    await until(() => pool.batches.length === 3 && rec.count('item-retry') === 2, 'the suspects, each alone');
    for (const r of rec.of('item-retry')) {
      expect(r).toMatchObject({ charged: false, delayMs: 0 });
      expect(r.error).toMatch(/^its thread died and named no item at fault; it runs again alone to find out \(worker thread died \(Worker terminated .*JS heap out of memory\)\)$/);
    }
    const alone = (i: number) => pool.batches.slice(1).find((x) => x.task.items[0]!.i === i)!;
    const [good, hog] = [alone(0), alone(1)];
    expect([good.alone, hog.alone]).toEqual([true, true]);
    expect([good.task.items, hog.task.items].map((items) => items.map((it) => [it.i, it.a]))).toEqual([[[0, 2]], [[1, 2]]]);
    // The death turned scopes on: later deaths from async code name their items.
    expect(good.task.scoped).toBe(true);
    pool.begin(hog, 4);
    hog.reject(new Error('Worker terminated due to reaching memory limit: JS heap out of memory'));
    pool.begin(good, 5);
    pool.finish(good);
    good.resolve();
    expect(await run.finished).toMatchObject({ done: 1, failed: 1 });
    expect(rec.of('item-failed')).toMatchObject([{ index: 1, attempts: 2, error: 'worker thread died (Worker terminated due to reaching memory limit: JS heap out of memory)' }]);
    expect(rec.of('item-done')).toMatchObject([{ index: 0, attempt: 2 }]);
  });

  it('a death naming no one makes suspects only of batches that began on the thread; one handed to it but not begun reruns in the pool', async () => {
    const { pool, rec, run } = start({ retries: 0, concurrency: 4, batchSize: 2 });
    await run.add(itemsOf(['a', 'b', 'c', 'd']));
    run.end();
    await tick();
    const [b1, b2] = pool.batches as [FakeBatch, FakeBatch]; // [0, 1] and [2, 3]
    // b1 begins on thread 6; b2 was handed to thread 6 too and never began.
    pool.assigned.set(b2.task.batchId, 6);
    pool.begin(b1, 6);
    pool.send(b1, [{ t: 'fatal', culprit: null, err: 'uncaught error: boom' }]);
    b1.reject(new Error('worker exited with code: 1'));
    b2.reject(new Error('worker exited with code: 1'));
    await until(() => rec.count('item-retry') === 4 && pool.batches.length === 5, 'four uncharged reruns');
    for (const r of rec.of('item-retry')) expect(r).toMatchObject({ charged: false, delayMs: 0 });
    const reruns = pool.batches.slice(2).map((x) => [x.alone, x.task.items.map((it) => it.i).sort()]);
    expect(reruns.sort((x, y) => String(x[1]).localeCompare(String(y[1])))).toEqual([
      [true, [0]],
      [true, [1]],
      [false, [2, 3]],
    ]);
    expect(rec.count('item-failed')).toBe(0);
    run.abort('done');
  });

  it('runs no more batches alone than the pool has room for; the rest wait for a wake-up', async () => {
    const { pool, rec, run } = start({ retries: 0, concurrency: 4, batchSize: 4 });
    pool.freeAlone = 1;
    await run.add(itemsOf(['a', 'b']));
    run.end();
    await tick();
    const b = pool.batches[0]!;
    pool.begin(b, 3);
    b.reject(new Error('worker exited with code: 1'));
    await until(() => rec.count('item-retry') === 2 && pool.batches.length === 2, 'the first suspect alone');
    await tick();
    expect(pool.batches).toHaveLength(2);
    const first = pool.batches[1]!;
    pool.begin(first, 4);
    pool.finish(first);
    first.resolve();
    run.wake();
    await until(() => pool.batches.length === 3, 'the second suspect, once the first ended');
    expect(pool.batches[2]!.alone).toBe(true);
    run.abort('done');
  });

  it('free reruns are bounded: an item that lost its thread twice to other items runs alone, so --retries bounds it again', async () => {
    const { pool, rec, run } = start({ retries: 1 });
    await run.add(itemsOf(['hangs']));
    run.end();
    await tick();
    // Twice, an item of another job kills the thread under the hanging item (named: not charged).
    for (let n = 0; n < 2; n++) {
      const b = pool.batches[n]!;
      expect(b.alone).toBe(false);
      pool.begin(b, 10 + n);
      pool.send(b, [{ t: 'fatal', culprit: { batchId: 999, i: 7 }, err: 'processor called process.exit(3)' }]);
      b.reject(new Error('worker exited with code: 3'));
      await until(() => pool.batches.length === n + 2, 'the free rerun');
    }
    expect(rec.of('item-retry').filter((r) => r.index === 0).map((r) => r.charged)).toEqual([false, false]);
    expect(rec.of('item-retry').at(-1)!.error).toMatch(/its thread was lost to another item; it runs again alone/);
    // Alone now: its own timeouts are charged, and --retries ends it.
    for (let n = 0; n < 2; n++) {
      await until(() => pool.batches.filter((x) => x.alone).length === n + 1, 'the item alone', 15_000);
      const b = pool.batches.at(-1)!;
      expect([b.alone, b.task.items.map((it) => it.i)]).toEqual([true, [0]]);
      pool.begin(b, 20 + n);
      pool.send(b, [{ t: 'error', i: 0, a: b.task.items[0]!.a, err: 'timed out after 50 ms', aborted: false }]);
      b.resolve();
    }
    await until(() => rec.of('item-failed').some((f) => f.index === 0), 'the hanging item to fail');
    const failed = rec.of('item-failed').find((f) => f.index === 0)!;
    // retries + 1 charged attempts, plus the two free reruns: the documented bound.
    expect(failed.attempts).toBe(1 + 1 + 2);
    run.abort('done');
  });

  it('an item that comes with two free reruns behind it (a Redis worker says so) runs alone from the start', async () => {
    const { pool, run } = start();
    await run.add([{ id: 'x', index: 0, input: 'x', attempt: 3, reruns: 2 }, { id: 'y', index: 1, input: 'y', attempt: 2, reruns: 1 }]);
    run.end();
    await tick();
    expect(pool.batches.map((b) => [b.alone, b.task.items.map((it) => [it.i, it.a])])).toEqual([
      [true, [[0, 3]]],
      [false, [[1, 2]]],
    ]);
    run.abort('done');
  });

  it('a task that returns with an item unreported charges it, and does not turn scopes on (no thread died)', async () => {
    const { pool, rec, run } = start({ retries: 1 });
    await run.add(itemsOf(['a']));
    run.end();
    await tick();
    const b = pool.batches[0]!;
    pool.begin(b, 3);
    b.resolve();
    await until(() => pool.batches.length === 2, 'the charged retry', 6000);
    expect(rec.of('item-retry')).toMatchObject([{ charged: true, error: 'worker thread died (the batch ended without reporting this item)' }]);
    expect(pool.batches[1]!.task.scoped).toBe(false);
    pool.begin(pool.batches[1]!, 3);
    pool.finish(pool.batches[1]!);
    pool.batches[1]!.resolve();
    expect((await run.finished).done).toBe(1);
  });

  it('a batch handed to a thread that another item killed, before it began, is not charged', async () => {
    const { pool, rec, run } = start({ retries: 0, concurrency: 4 });
    await run.add(itemsOf(['a', 'killer', 'c', 'd']));
    run.end();
    await tick();
    const [b1, b2] = pool.batches as [FakeBatch, FakeBatch]; // [0, 1] and [2, 3]
    pool.assigned.set(b1.task.batchId, 6);
    pool.assigned.set(b2.task.batchId, 6); // queued on the same thread, never began
    pool.begin(b1, 6);
    pool.send(b1, [{ t: 'fatal', culprit: { batchId: b1.task.batchId, i: 1 }, err: 'processor called process.exit(3)' }]);
    b1.reject(new Error('worker exited with code: 3'));
    b2.reject(new Error('worker exited with code: 3'));
    await until(() => rec.count('item-failed') === 1 && rec.count('item-retry') === 3, 'settling');
    expect(rec.of('item-failed')[0]).toMatchObject({ index: 1 });
    for (const r of rec.of('item-retry')) expect(r).toMatchObject({ charged: false, delayMs: 0 });
    expect(rec.of('item-retry').map((r) => r.index).sort()).toEqual([0, 2, 3]);
  });

  it('a batch rejected before it began with no known cause (the thread module failed) reruns free twice, then alone, where it is charged: no endless reruns', async () => {
    const { pool, rec, run } = start({ retries: 1 });
    await run.add(itemsOf(['a']));
    run.end();
    await tick();
    for (let n = 0; n < 4; n++) {
      await until(() => pool.batches.length === n + 1, `run ${n + 1}`, 15_000);
      const b = pool.batches[n]!;
      expect(b.alone).toBe(n >= 2);
      pool.assigned.set(b.task.batchId, 2);
      b.reject(new Error('Cannot find module thread.js'));
    }
    const counts = await run.finished;
    expect(counts.failed).toBe(1);
    expect(rec.of('item-failed')[0]).toMatchObject({ attempts: 4, error: 'worker thread died (Cannot find module thread.js)' });
    expect(rec.of('item-retry').map((r) => r.charged)).toEqual([false, false, true]);
  });

  it('a consumer that throws stops the job: finished rejects with its error', async () => {
    const pool = new FakePool();
    const run = new EmbeddedJobRun(spec(), pool, () => {
      throw new Error('disk full');
    });
    await run.add(itemsOf(['a']));
    run.end();
    await tick();
    pool.begin(pool.batches[0]!, 1);
    await expect(run.finished).rejects.toThrow('disk full');
    expect(pool.controls.some((c) => c.t === 'abort')).toBe(true);
  });

  it('abort re-sends itself to a batch that begins after it (its thread was not listening yet)', async () => {
    const { pool, run } = start();
    await run.add(itemsOf(['a', 'b']));
    run.end();
    await tick();
    const b = pool.batches[0]!;
    run.abort('stop now');
    expect(pool.controls).toEqual([{ t: 'abort', batchIds: [b.task.batchId], reason: 'stop now' }]);
    pool.begin(b, 2);
    expect(pool.controls).toHaveLength(2);
    expect(pool.controls[1]).toEqual({ t: 'abort', batchIds: [b.task.batchId], reason: 'stop now' });
    pool.send(b, b.task.items.map((it) => ({ t: 'error' as const, i: it.i, a: it.a, err: 'stop now', aborted: true })));
    b.resolve();
    expect(await run.finished).toEqual({ total: 2, done: 0, failed: 0, unfinished: 2 });
  });
});

describe('EmbeddedJobRun: watchdog', () => {
  it('a thread stuck inside one processor call is ended, naming that item even before its start arrived', async () => {
    const { pool, rec, run } = start({ timeoutMs: 50, retries: 0 });
    await run.add(itemsOf(['a', 'blocker', 'c', 'd']));
    run.end();
    await tick();
    const b = pool.batches[0]!; // items 0, 1: nothing posted, the thread blocked at once
    const queued = pool.batches[1]!; // items 2, 3: handed to the same thread, never began
    pool.assigned.set(queued.task.batchId, 9);
    const probe = b.task.probe!;
    Atomics.store(probe, PROBE_THREAD, 9);
    Atomics.store(probe, PROBE_BUSY, 1 + 1);
    Atomics.store(probe, PROBE_CALLS, 1);
    await until(() => pool.terminated.length > 0, 'the watchdog', 4000);
    expect(pool.terminated).toEqual([9]);
    b.reject(new Error('worker exited with code: 1'));
    queued.reject(new Error('worker exited with code: 1'));
    await until(() => rec.count('item-failed') === 1 && rec.count('item-retry') === 3, 'the culprit to fail');
    expect(rec.of('item-failed')[0]).toMatchObject({ index: 1, attempts: 1 });
    expect(rec.of('item-failed')[0]!.error).toMatch(/timed out after 50 ms while blocking its thread/);
    expect(rec.of('item-retry').map((r) => r.index).sort()).toEqual([0, 2, 3]);
    for (const r of rec.of('item-retry')) expect(r).toMatchObject({ charged: false, delayMs: 0 });
  });

  it('a thread making progress (calls keep changing) is left alone', async () => {
    const { pool, run } = start({ timeoutMs: 50 });
    await run.add(itemsOf(['streamer']));
    run.end();
    await tick();
    const probe = pool.batches[0]!.task.probe!;
    Atomics.store(probe, PROBE_THREAD, 9);
    Atomics.store(probe, PROBE_BUSY, 1);
    const t0 = performance.now();
    while (performance.now() - t0 < 1400) {
      Atomics.add(probe, PROBE_CALLS, 1);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(pool.terminated).toEqual([]);
    run.abort('done');
  });

  it('without a busy probe, the first started item past its limit is blamed (blocked after an await)', async () => {
    const { pool, rec, run } = start({ timeoutMs: 50, retries: 0, concurrency: 2 });
    await run.add(itemsOf(['a']));
    run.end();
    await tick();
    const b = pool.batches[0]!;
    pool.begin(b, 5);
    await until(() => pool.terminated.length > 0, 'the watchdog', 4000);
    expect(pool.terminated).toEqual([5]);
    b.reject(new Error('worker exited with code: 1'));
    await run.finished;
    expect(rec.of('item-failed')[0]!.error).toMatch(/timed out after 50 ms and ignored its abort signal/);
  });
});
