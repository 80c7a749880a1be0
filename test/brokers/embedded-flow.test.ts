/**
 * Flow control on the real pool: drain and abort, work conservation, backpressure, chunk
 * coalescing, closing.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EmbeddedBroker } from '../../src/brokers/embedded/broker.js';
import { Recorder, TestPool, builtinUrl, fixtureUrl, itemsOf, outcomes, pipelineOf, runAll, spec, type EventOf, poolPerTest } from './helpers.js';
import { waitFor } from '../cli/run.js';

const open = poolPerTest();

/** Longer than the test's time limit: an item that is waited out instead of aborted is caught by it. */
const FOREVER_MS = 600_000;

/**
 * abort-marker items (each waits until its signal fires, then writes the file it is given) in a
 * temp dir removed after the test, and the check that every item that began waiting (sent its
 * first chunk) saw its abort: a thread killed at the abort deadline instead never writes it.
 */
function abortMarkers(n: number, onTestFinished: (fn: () => void) => void) {
  const dir = mkdtempSync(join(tmpdir(), 'slowwork-abort-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  const files = Array.from({ length: n }, (_, k) => join(dir, `abort-${k}`));
  const saw = (index: number): boolean => existsSync(files[index]!) && readFileSync(files[index]!, 'utf8') === 'aborted';
  return {
    files,
    /** Items with a chunk: inside their wait, listening to their signal. */
    waiting: (rec: Recorder): Set<number> => new Set(rec.of('chunk').map((c) => c.index)),
    /** Waits until each of `indexes` saw its abort (its processor's catch runs just after it settled). */
    sawAbort: (indexes: Iterable<number>): Promise<void> => {
      const all = [...indexes];
      return waitFor(() => all.every(saw), `items ${all.join(', ')} to see their abort`);
    },
  };
}

const slowDemo = (firstTokenMs: number) => ({ first_token_ms: String(firstTokenMs), tokens_per_s: '0', length: '3', seed: '3' });

describe('drain (first Ctrl+C)', () => {
  it('stops starting items, lets in-flight ones finish, and ends with job-cancelled', async () => {
    const b = open([builtinUrl('demo')]);
    const rec = new Recorder();
    const run = b.startJob(spec({ params: slowDemo(200), concurrency: 4, batchSize: 2 }), rec.listener);
    const inputs = Array.from({ length: 40 }, (_, k) => `drain ${k}`);
    await run.add(itemsOf(inputs));
    // Items take >= 200 ms: when the first start is seen, nothing has usually finished yet. At
    // most `concurrency` items plus one refill per item done (as seen here) were handed out.
    await rec.until(() => rec.count('item-start') > 0, 'a first item-start');
    const doneAtDrain = rec.count('item-done');
    run.drain('test drain');
    await run.add(itemsOf(['ignored'], 40)); // resolves at once and is ignored
    run.end();
    const counts = await run.finished;

    const started = new Set(rec.of('item-start').map((e) => e.index));
    expect(started.size).toBeGreaterThan(0);
    expect(started.size).toBeLessThanOrEqual(4 + doneAtDrain);
    // In-flight items finished normally; the job ended after them, not after all 40.
    const ends = outcomes(rec);
    for (const index of started) expect(ends.get(index)?.type).toBe('item-done');
    expect(ends.size).toBe(started.size);
    expect(counts).toEqual({ total: 40, done: started.size, failed: 0, unfinished: 40 - started.size });
    const last = rec.events[rec.events.length - 1]!;
    expect(last).toEqual({ type: 'job-cancelled', reason: 'interrupted', counts });
    expect(rec.count('job-done')).toBe(0);
  });

  it('drain with nothing in flight ends at once; drain twice is harmless', async () => {
    const b = open([fixtureUrl('noop')]);
    const rec = new Recorder();
    const run = b.startJob(spec(), rec.listener);
    run.drain('a');
    run.drain('b');
    const counts = await run.finished;
    expect(counts).toEqual({ total: 0, done: 0, failed: 0, unfinished: 0 });
    expect(rec.events).toEqual([{ type: 'job-done', counts }]);
  });

  it('abort after drain: a hanging in-flight item ends unfinished, not failed or retried', async () => {
    const b = open([fixtureUrl('faulty')]);
    const rec = new Recorder();
    const run = b.startJob(spec({ retries: 3, concurrency: 2 }), rec.listener);
    await run.add(itemsOf(['hang', 'n1', 'n2', 'n3']));
    run.end();
    await rec.until(() => rec.of('item-start').some((e) => e.index === 0), 'the hanging item to start');
    run.drain('stop');
    // Its in-flight neighbour finishes; the hanging one is then aborted by a second Ctrl+C.
    await rec.until(() => rec.count('item-done') >= 1, 'the in-flight neighbour to finish');
    run.abort('now');
    const counts = await run.finished;
    expect(rec.count('item-failed')).toBe(0);
    expect(counts.unfinished).toBeGreaterThan(0);
    expect(counts.done + counts.unfinished).toBe(4);
  });
});

describe('abort (second Ctrl+C)', () => {
  it('aborts in-flight items through their signals (no thread killed), with no item-failed for them', async ({ onTestFinished }) => {
    const markers = abortMarkers(20, onTestFinished);
    const b = open([fixtureUrl('abort-marker')]);
    const rec = new Recorder();
    const run = b.startJob(spec({ concurrency: 4, batchSize: 2, timeoutMs: 0 }), rec.listener);
    await run.add(itemsOf(markers.files));
    run.end();
    await rec.until(() => markers.waiting(rec).size >= 4, 'four items in flight, waiting');
    const inFlight = markers.waiting(rec);
    run.abort('test abort');
    const counts = await run.finished;
    expect(counts).toEqual({ total: 20, done: 0, failed: 0, unfinished: 20 });
    expect(rec.count('item-failed')).toBe(0);
    expect(rec.count('item-done')).toBe(0);
    expect(rec.count('item-retry')).toBe(0);
    expect(rec.events[rec.events.length - 1]).toEqual({ type: 'job-cancelled', reason: 'aborted', counts });
    await markers.sawAbort(inFlight);
  });

  it('an abort right after the first batches were handed out (threads still loading) reaches them too', async ({ onTestFinished }) => {
    const markers = abortMarkers(8, onTestFinished);
    const b = open([fixtureUrl('abort-marker')]);
    const rec = new Recorder();
    const run = b.startJob(spec({ concurrency: 4, batchSize: 2 }), rec.listener);
    await run.add(itemsOf(markers.files));
    run.end();
    // The batches are handed to the pool now; the threads have not begun them.
    run.abort('early abort');
    const counts = await run.finished;
    expect(counts).toEqual({ total: 8, done: 0, failed: 0, unfinished: 8 });
    expect(rec.count('item-failed')).toBe(0);
    expect(rec.count('item-done')).toBe(0);
    // A batch that began anyway was aborted through its items' signals, not killed at the deadline.
    await markers.sawAbort(markers.waiting(rec));
  });

  it('an abort while a thread is still loading its pipeline on a warm pool reaches it', async ({ onTestFinished }) => {
    const markers = abortMarkers(8, onTestFinished);
    const b = open([fixtureUrl('abort-marker')]);
    // Warm both threads up with other params, so the next job's pipeline load is a fresh init.
    const warm = abortMarkers(4, onTestFinished);
    const warmRec = new Recorder();
    const warmRun = b.startJob(spec({ params: { warm: '1' }, concurrency: 4, batchSize: 2 }), warmRec.listener);
    await warmRun.add(itemsOf(warm.files));
    warmRun.end();
    await warmRec.until(() => warm.waiting(warmRec).size === 4, 'the warm-up items to wait');
    warmRun.abort('warm-up over');
    await warmRun.finished;
    const rec = new Recorder();
    const run = b.startJob(spec({ concurrency: 4, batchSize: 2 }), rec.listener);
    await run.add(itemsOf(markers.files));
    run.end();
    await new Promise((resolve) => setImmediate(resolve));
    run.abort('abort');
    const counts = await run.finished;
    expect(counts).toEqual({ total: 8, done: 0, failed: 0, unfinished: 8 });
    expect(rec.count('item-failed')).toBe(0);
    await markers.sawAbort(markers.waiting(rec));
  });

  it('a processor that ignores its signal is ended by the abort deadline, not waited for forever', async ({ onTestFinished }) => {
    const dir = mkdtempSync(join(tmpdir(), 'slowwork-block-'));
    const blocking = join(dir, 'blocking');
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const b = open([fixtureUrl('block-later')]);
    const rec = new Recorder();
    const run = b.startJob(spec({ concurrency: 2, timeoutMs: 0 }), rec.listener);
    // It blocks its thread for longer than the test's time limit: only the deadline can end it.
    await run.add(itemsOf([`block-later ${FOREVER_MS} ${blocking}`, 'n1']));
    run.end();
    await rec.until(() => rec.of('item-done').some((e) => e.index === 1), 'the normal item');
    await waitFor(() => existsSync(blocking), 'the blocker to block its thread');
    const t0 = performance.now();
    run.abort('abort');
    const counts = await run.finished;
    // Not killed at once: the deadline (3 s) gives a processor time to honour its signal.
    expect(performance.now() - t0).toBeGreaterThan(2500);
    expect(counts).toEqual({ total: 2, done: 1, failed: 0, unfinished: 1 });
    expect(rec.count('item-failed')).toBe(0);
    expect(rec.count('item-retry')).toBe(0);
    // And the pool still works.
    const again = await runAll(b, ['a', 'b', 'c']);
    expect(again.counts.done).toBe(3);
  });
});

describe('work conservation', () => {
  it('64 items of mixed durations on concurrency 8: each done with its answer, never more than 8 in flight', async () => {
    const b = open([fixtureUrl('sleep')]);
    // Durations 40..250 ms in a fixed shuffle. (How close the wall time comes to the ideal is a
    // speed: bench/slow.mjs measures it, 2000 items on 64 slots.)
    const durations = Array.from({ length: 64 }, (_, k) => 40 + ((k * 37) % 8) * 30);
    const { rec, counts } = await runAll(b, durations.map(String), { concurrency: 8, batchSize: 4 });
    expect(counts.done).toBe(64);
    for (const done of rec.of('item-done')) expect(done.output).toBe(`slept ${durations[done.index]}`);
    // Replay starts and ends in delivery order: a refill's start always follows the end that freed
    // its slot, so the in-flight count the listener sees never passes the concurrency.
    let inFlight = 0;
    let maxInFlight = 0;
    for (const e of rec.events) {
      if (e.type === 'item-start') inFlight++;
      if (e.type === 'item-done') inFlight--;
      maxInFlight = Math.max(maxInFlight, inFlight);
    }
    expect(maxInFlight).toBeLessThanOrEqual(8);
  });

  it('a finished item\'s slot is refilled while its batch-mates still run, until all 8 slots are busy', async () => {
    const b = open([fixtureUrl('sleep')]);
    const rec = new Recorder();
    const run = b.startJob(spec({ concurrency: 8, batchSize: 4 }), rec.listener);
    // Two items that never end by themselves, one in each first batch (items 0-3 and 4-7), 30
    // quick ones, then 6 more that never end. Refilling only whole batches would hold the long
    // items' batch-mates' slots empty: the quick items and the last six could never all start.
    const long = String(FOREVER_MS);
    const inputs = [long, ...Array.from({ length: 3 }, () => '30'), long, ...Array.from({ length: 27 }, () => '30'), ...Array.from({ length: 6 }, () => long)];
    await run.add(itemsOf(inputs));
    run.end();
    const longs = inputs.flatMap((input, k) => (input === long ? [k] : []));
    await rec.until(() => rec.count('item-done') === 30 && longs.every((k) => rec.of('item-start').some((e) => e.index === k)), 'every quick item done and every long one started', 25_000);
    // Every quick item ran while the first two long items held their slots: 8 are in flight now.
    for (const done of rec.of('item-done')) expect(inputs[done.index]).toBe('30');
    expect(new Set(rec.of('item-start').map((e) => e.index)).size).toBe(inputs.length);
    run.abort('done');
    const counts = await run.finished;
    expect(counts).toEqual({ total: 38, done: 30, failed: 0, unfinished: 8 });
  });

  it('batches are bounded by the per-thread share and by batchSize', async () => {
    const b = open([fixtureUrl('sleep')]);
    const rec = new Recorder();
    const run = b.startJob(spec({ concurrency: 8, batchSize: 3 }), rec.listener);
    await run.add(itemsOf(Array.from({ length: 24 }, () => '30')));
    run.end();
    await run.finished;
    // Both threads take part when the concurrency exceeds one batch.
    const workers = new Set(rec.of('item-start').map((e) => e.worker));
    expect(workers.size).toBe(2);
  });
});

describe('backpressure', () => {
  it('add() stays pending while many items wait, and resolves as they drain', async () => {
    const b = open([fixtureUrl('sleep')]);
    const rec = new Recorder();
    const run = b.startJob(spec({ concurrency: 8, batchSize: 4 }), rec.listener);
    // High water is max(4 × concurrency, 2 × batchSize, 512) = 512 waiting items.
    const inputs = Array.from({ length: 700 }, () => '1');
    let resolvedAt: number | null = null;
    const pending = run.add(itemsOf(inputs)).then(() => {
      resolvedAt = rec.count('item-done');
    });
    // Not resolved at once (microtasks only: no item can have ended yet).
    for (let k = 0; k < 10; k++) await Promise.resolve();
    expect(resolvedAt).toBeNull();
    await pending;
    // It resolved once fewer than half the high water (256) waited: at least ~440 had started.
    expect(resolvedAt!).toBeGreaterThan(300);
    expect(resolvedAt!).toBeLessThan(700);
    run.end();
    const counts = await run.finished;
    expect(counts.done).toBe(700);
  });

  it('a small add() resolves at once', async () => {
    const b = open([fixtureUrl('sleep')]);
    const run = b.startJob(spec({ concurrency: 2 }), new Recorder().listener);
    let resolved = false;
    void run.add(itemsOf(['50', '50', '50'])).then(() => (resolved = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(resolved).toBe(true);
    run.end();
    await run.finished;
  });

  it('a pending add() resolves when the job is drained, and add() after drain resolves at once', async () => {
    const b = open([fixtureUrl('sleep')]);
    const rec = new Recorder();
    const run = b.startJob(spec({ concurrency: 2, batchSize: 1 }), rec.listener);
    const pending = run.add(itemsOf(Array.from({ length: 5000 }, () => '200')));
    let done = false;
    void pending.then(() => (done = true));
    await rec.until(() => rec.count('item-start') > 0, 'a start');
    expect(done).toBe(false);
    run.drain('stop');
    await pending;
    await run.add(itemsOf(['more'], 5000));
    const counts = await run.finished;
    expect(counts.total).toBe(5000);
    expect(counts.unfinished).toBeGreaterThan(4990);
  });
});

describe('chunk coalescing', () => {
  it('1000 fast chunks arrive as far fewer chunk events, with n summing to 1000 and the text intact', async () => {
    const b = open([fixtureUrl('many-chunks')]);
    const { rec, counts } = await runAll(b, ['1000', '1000', '1000'], { concurrency: 3 });
    expect(counts.done).toBe(3);
    const expected = Array.from({ length: 1000 }, (_, k) => String.fromCharCode(97 + (k % 26))).join('');
    for (let index = 0; index < 3; index++) {
      const chunks = rec.of('chunk').filter((c) => c.index === index);
      expect(chunks.length).toBeLessThan(50);
      expect(chunks.reduce((sum, c) => sum + c.n, 0)).toBe(1000);
      expect(chunks.map((c) => c.text).join('')).toBe(expected);
      expect((outcomes(rec).get(index) as EventOf<'item-done'>).output).toBe(expected);
    }
  });

  it('listener calls are coalesced too: far fewer deliveries than events', async () => {
    const b = open([fixtureUrl('noop')]);
    const { rec } = await runAll(b, Array.from({ length: 500 }, (_, k) => `n${k}`), { concurrency: 64, batchSize: 32 });
    expect(rec.count('item-done')).toBe(500);
    expect(rec.batches.length).toBeLessThan(rec.events.length / 4);
  });
});

describe('close', () => {
  it('closes an unused broker', async () => {
    const b = new EmbeddedBroker({ threads: 2, maxConcurrency: 4 });
    // Resolves (no thread started, so none to wait for; a hang is caught by the test's limit).
    await expect(b.close()).resolves.toBeUndefined();
  });

  it('calls each processor\'s close once per thread that used it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'slowwork-close-'));
    try {
      const b = new TestPool({ threads: 2, maxConcurrency: 4 }, pipelineOf([fixtureUrl('closing')]));
      const { counts, rec } = await runAll(b, Array.from({ length: 8 }, (_, k) => `c${k}`), { params: { dir }, concurrency: 4, batchSize: 2 });
      expect(counts.done).toBe(8);
      await b.close();
      const log = existsSync(join(dir, 'closed.log')) ? readFileSync(join(dir, 'closed.log'), 'utf8') : '';
      const lines = log.split('\n').filter(Boolean);
      // Once per thread, and on every thread that ran items: close waited for each of them.
      const used = new Set(rec.of('item-start').map((e) => e.worker.replace('thread-', 'closed ')));
      expect(lines.sort()).toEqual([...used].sort());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
