/**
 * Faults on the real pool: a failing, hanging, blocking or thread-killing item must fail alone
 * (charged to it), while its batch-mates (same batch, same thread) finish unharmed.
 */
import { describe, expect, it } from 'vitest';
import { EmbeddedBroker } from '../../src/brokers/embedded/broker.js';
import { FREE_RERUNS } from '../../src/brokers/embedded/thread-faults.js';
import { Recorder, fixtureUrl, itemsOf, outcomes, runAll, spec, type EventOf, type Ran, poolPerTest } from './helpers.js';

const openPool = poolPerTest();
const open = (): EmbeddedBroker => openPool([fixtureUrl('faulty')], 16);
/** A pool that tracks item scopes from the start: its first death names the culprit. */
const openTracked = (): EmbeddedBroker => openPool([fixtureUrl('faulty')], 16, { trackItemScopes: true });

/** Normal prompts around the culprit; with concurrency 8 and batches of 4 on 2 threads, they share. */
const around = (culprit: string, normals = 11, at = 1): string[] => {
  const inputs = Array.from({ length: normals }, (_, k) => `n${k}`);
  inputs.splice(at, 0, culprit);
  return inputs;
};

/** Every item but `culprit` ended done with the faulty fixture's normal answer. */
function expectMatesDone(r: Ran, culprit: number, inputs: readonly string[]): void {
  const ends = outcomes(r.rec);
  expect(ends.size).toBe(inputs.length);
  for (let k = 0; k < inputs.length; k++) {
    if (k === culprit) continue;
    const e = ends.get(k)!;
    expect(e, `item ${k}`).toMatchObject({ type: 'item-done', output: `ok:${inputs[k]}.` });
  }
  // Batch-mates never fail, and any retry they saw was not charged to them.
  for (const retry of r.rec.of('item-retry')) if (retry.index !== culprit) expect(retry).toMatchObject({ charged: false, delayMs: 0 });
}

const failedOf = (r: Ran, index: number): EventOf<'item-failed'> => {
  const e = outcomes(r.rec).get(index)!;
  expect(e.type).toBe('item-failed');
  return e as EventOf<'item-failed'>;
};

describe('embedded broker: item faults', () => {
  it('throw, retries 2: fails after 3 attempts with its error; charged retries with backoff', async () => {
    const inputs = around('throw');
    const r = await runAll(open(), inputs, { retries: 2 });
    const f = failedOf(r, 1);
    expect(f.attempts).toBe(3);
    expect(f.error).toBe('boom: processor failed on purpose');
    expect(f.input).toBe('throw');
    expect(f.worker).toMatch(/^thread-\d+$/);
    const retries = r.rec.of('item-retry').filter((e) => e.index === 1);
    expect(retries.map((e) => e.attempt)).toEqual([1, 2]);
    for (const e of retries) {
      expect(e.charged).toBe(true);
      expect(e.error).toBe('boom: processor failed on purpose');
      expect(e.id).toBe('item-2');
    }
    // Backoff: base 200 ms, half jitter: [100, 200] then [200, 400].
    expect(retries[0]!.delayMs).toBeGreaterThanOrEqual(100);
    expect(retries[0]!.delayMs).toBeLessThanOrEqual(200);
    expect(retries[1]!.delayMs).toBeGreaterThanOrEqual(200);
    expect(retries[1]!.delayMs).toBeLessThanOrEqual(400);
    // Each attempt started anew, after its retry event.
    const starts = r.rec.of('item-start').filter((e) => e.index === 1);
    expect(starts.map((s) => s.attempt)).toEqual([1, 2, 3]);
    expect(r.counts).toEqual({ total: 12, done: 11, failed: 1, unfinished: 0 });
    expectMatesDone(r, 1, inputs);
    expect(r.rec.of('item-retry').filter((e) => e.index !== 1)).toEqual([]);
  });

  it('the retry waits its backoff: the next attempt does not start before delayMs', async () => {
    const broker = open();
    // A warm pool: from the job's start to the failure is then a dispatch and a throw, not a
    // thread start-up, so the bound below stays close to the backoff itself.
    await runAll(broker, ['warm-up']);
    const t0 = performance.now();
    const r = await runAll(broker, ['flaky 1'], { retries: 1 });
    const retryIndex = r.rec.events.findIndex((e) => e.type === 'item-retry');
    const retry = r.rec.of('item-retry')[0]!;
    const second = r.rec.events.findIndex((e) => e.type === 'item-start' && e.attempt === 2);
    // A lower bound from points measured before the failure was known, so a late delivery (a busy
    // machine) can only widen the gap: the last delivery before the one carrying the retry (its
    // events were all emitted earlier), or the job's start if the retry came in the first one.
    const before = r.rec.times.filter((t) => t < r.rec.times[retryIndex]!);
    const failedBy = before.length > 0 ? before[before.length - 1]! : t0;
    expect(r.rec.times[second]! - failedBy).toBeGreaterThanOrEqual(retry.delayMs);
  });

  it('flaky 1, retries 2: done on attempt 2', async () => {
    const inputs = around('flaky 1');
    const r = await runAll(open(), inputs, { retries: 2 });
    const done = outcomes(r.rec).get(1)!;
    expect(done).toMatchObject({ type: 'item-done', attempt: 2, output: 'recovered on attempt 2' });
    expect(r.rec.of('item-retry')).toMatchObject([{ index: 1, attempt: 1, charged: true, error: 'flaky failure on attempt 1' }]);
    expectMatesDone(r, 1, inputs);
    expect(r.counts).toEqual({ total: 12, done: 12, failed: 0, unfinished: 0 });
  });

  it('flaky 2, retries 1: fails after 2 attempts with the last error', async () => {
    const r = await runAll(open(), ['flaky 2'], { retries: 1 });
    expect(failedOf(r, 0)).toMatchObject({ attempts: 2, error: 'flaky failure on attempt 2' });
  });

  it('hang (honours its signal), timeout 300 ms, retries 0: fails by its timeout, not before it', async () => {
    const inputs = around('hang');
    const r = await runAll(open(), inputs, { timeoutMs: 300, retries: 0 });
    const f = failedOf(r, 1);
    // The runner's own timeout (the watchdog's would say its thread was restarted); the hang
    // lasts an hour, so a timeout that never fires is caught by the test's time limit.
    expect(f.error).toBe('timed out after 300 ms');
    expect(f.attempts).toBe(1);
    // Not cut early: the whole job (measured on this thread, around the item) outlasts the limit.
    expect(r.ms).toBeGreaterThanOrEqual(295);
    expectMatesDone(r, 1, inputs);
  });

  it('hang-deaf (ignores its signal): still fails by its timeout, and no thread is restarted', async () => {
    const inputs = around('hang-deaf');
    const r = await runAll(open(), inputs, { timeoutMs: 300, retries: 0 });
    const f = failedOf(r, 1);
    // The runner's race settled it (the watchdog's message would say its thread was restarted).
    expect(f.error).toBe('timed out after 300 ms');
    expect(f.attempts).toBe(1);
    expectMatesDone(r, 1, inputs);
    // A restarted thread would have cost its batch-mates an attempt.
    expect(r.rec.count('item-retry')).toBe(0);
  });

  it('a timeout is charged and retried like any failure', async () => {
    const r = await runAll(open(), ['hang'], { timeoutMs: 150, retries: 1 });
    expect(failedOf(r, 0)).toMatchObject({ attempts: 2, error: 'timed out after 150 ms' });
    expect(r.rec.of('item-retry')).toMatchObject([{ charged: true, error: 'timed out after 150 ms' }]);
  });
});

describe('embedded broker: items that kill or block their thread', () => {
  it('block for 10 min, timeout 300: the watchdog ends the thread; mates re-run uncharged; the pool recovers', async () => {
    const b = open();
    // The block outlasts the test's time limit: only the watchdog can end it in time.
    const inputs = around('block 600000');
    const r = await runAll(b, inputs, { timeoutMs: 300, retries: 0 });
    const f = failedOf(r, 1);
    expect(f.error).toBe('timed out after 300 ms while blocking its thread (the thread was restarted)');
    expect(f.attempts).toBe(1);
    expectMatesDone(r, 1, inputs);
    // Its batch-mates on that thread lost an attempt through no fault of theirs.
    const lost = r.rec.of('item-retry');
    expect(lost.length).toBeGreaterThan(0);
    for (const e of lost) expect(e).toMatchObject({ charged: false, delayMs: 0 });
    // The pool keeps working.
    const again = await runAll(b, around('x', 15), { timeoutMs: 300 });
    expect(again.counts).toEqual({ total: 16, done: 16, failed: 0, unfinished: 0 });
  });

  it('blocking after an await of its own (outside the runner\'s calls): the watchdog still ends the thread', async () => {
    const broker = openPool([fixtureUrl('block-later')]);
    // The block outlasts the test's time limit: only the watchdog can end it in time.
    const inputs = ['block-later 600000', 'n1', 'n2', 'n3', 'n4', 'n5'];
    // Batches of one (concurrency 2 over 2 threads): the blocker is alone in its batch.
    const r = await runAll(broker, inputs, { timeoutMs: 300, retries: 0, concurrency: 2 });
    const f = failedOf(r, 0);
    expect(f.error).toBe('timed out after 300 ms and ignored its abort signal (its thread was restarted)');
    for (let k = 1; k < inputs.length; k++) expect(outcomes(r.rec).get(k)).toMatchObject({ type: 'item-done', output: `ok:${inputs[k]}` });
  });

  it('exit, retries 1, scopes tracked: the culprit fails after 2 attempts naming process.exit; mates all succeed', async () => {
    const b = openTracked();
    const inputs = around('exit');
    const r = await runAll(b, inputs, { retries: 1 });
    const f = failedOf(r, 1);
    expect(f.attempts).toBe(2);
    expect(f.error).toMatch(/process\.exit\(3\)/);
    const own = r.rec.of('item-retry').filter((e) => e.index === 1);
    expect(own).toMatchObject([{ charged: true, attempt: 1 }]);
    expect(own[0]!.error).toMatch(/process\.exit/);
    expectMatesDone(r, 1, inputs);
    // Mates were actually hit (the culprit shared a batch with some).
    expect(r.rec.of('item-retry').filter((e) => e.index !== 1).length).toBeGreaterThan(0);
    expect(r.counts).toEqual({ total: 12, done: 11, failed: 1, unfinished: 0 });
    const again = await runAll(b, around('y', 15));
    expect(again.counts.done).toBe(16);
  });

  it('exit, retries 1, default pool: the first death names no one and charges no one, and turns scopes on; the next ones name the culprit', async () => {
    const b = open();
    const inputs = around('exit');
    const r = await runAll(b, inputs, { retries: 1 });
    const f = failedOf(r, 1);
    expect(f.attempts).toBe(3);
    expect(f.error).toMatch(/process\.exit\(3\)/);
    const own = r.rec.of('item-retry').filter((e) => e.index === 1);
    expect(own).toMatchObject([{ charged: false, attempt: 1, delayMs: 0 }, { charged: true, attempt: 2 }]);
    expect(own[0]!.error).toMatch(/named no item at fault; it runs again alone to find out \(processor called process\.exit\(3\)\)/);
    expectMatesDone(r, 1, inputs);
    expect(r.counts).toEqual({ total: 12, done: 11, failed: 1, unfinished: 0 });
    // Scopes stay on for the pool: a later job's first death is named at once.
    const later = await runAll(b, around('exit'), { retries: 0 });
    expect(failedOf(later, 1).attempts).toBe(1);
    expect(later.rec.of('item-retry').filter((e) => e.index === 1)).toEqual([]);
  });

  it('exit-now (inside the runner\'s call into it), retries 0, default pool: named at its first death, by the batch probe', async () => {
    const inputs = around('exit-now');
    const r = await runAll(open(), inputs, { retries: 0 });
    const f = failedOf(r, 1);
    expect(f.attempts).toBe(1);
    expect(f.error).toMatch(/process\.exit\(5\)/);
    expectMatesDone(r, 1, inputs);
  });

  it('timer-throw, scopes tracked: an uncaught error kills the thread; the culprit is named, mates succeed', async () => {
    const b = openTracked();
    const inputs = around('timer-throw');
    const r = await runAll(b, inputs, { retries: 0 });
    const f = failedOf(r, 1);
    expect(f.error).toMatch(/uncaught error: thrown inside a timer/);
    expect(f.attempts).toBe(1);
    expectMatesDone(r, 1, inputs);
    const again = await runAll(b, around('z', 7));
    expect(again.counts.done).toBe(8);
  });

  it('timer-throw, retries 0, default pool: the unnamed first death is re-run uncharged, the named second one is final', async () => {
    const inputs = around('timer-throw');
    const r = await runAll(open(), inputs, { retries: 0 });
    const f = failedOf(r, 1);
    expect(f.error).toMatch(/uncaught error: thrown inside a timer/);
    expect(f.attempts).toBe(2);
    expect(r.rec.of('item-retry').filter((e) => e.index === 1)).toMatchObject([{ charged: false, attempt: 1 }]);
    expectMatesDone(r, 1, inputs);
  });

  it('exit-once, scopes tracked: survives on attempt 2', async () => {
    const inputs = around('exit-once');
    const r = await runAll(openTracked(), inputs, { retries: 1 });
    expect(outcomes(r.rec).get(1)).toMatchObject({ type: 'item-done', attempt: 2, output: 'survived' });
    expect(r.rec.of('item-retry').filter((e) => e.index === 1)).toMatchObject([{ charged: true, attempt: 1 }]);
    expectMatesDone(r, 1, inputs);
    expect(r.counts).toEqual({ total: 12, done: 12, failed: 0, unfinished: 0 });
  });

  it('exit-once with zero retries, scopes tracked, is final: one charged death is the limit', async () => {
    const r = await runAll(openTracked(), around('exit-once', 3), { retries: 0 });
    expect(failedOf(r, 1)).toMatchObject({ attempts: 1 });
    expect(r.counts).toEqual({ total: 4, done: 3, failed: 1, unfinished: 0 });
  });
});

describe('embedded broker: thread deaths that name no one, and the bound on free reruns', () => {
  it('oom among good items, retries 1: the death names no one and charges no one; the suspects rerun alone, the culprit dies alone and fails, the rest are done by attempt 2', async () => {
    // The good items outlast the hog's first two runs (it takes about a second to fill 64 MB), so
    // they are on its thread when it dies; later runs of theirs are quick.
    const inputs = around('oom', 6, 1).map((p) => (p === 'oom' ? p : `wait 4000 2 ${p}`));
    const r = await runAll(openPool([fixtureUrl('faulty')], 16, { threadHeapMb: 64 }), inputs, { retries: 1, concurrency: 4, batchSize: 2 });
    const f = failedOf(r, 1);
    expect(f.error).toMatch(/JS heap out of memory/);
    // One free rerun as a suspect, then its own two deaths alone (retries 1): charged.
    expect(f.attempts).toBe(3);
    expect(r.rec.of('item-retry').filter((e) => e.index === 1).map((e) => e.charged)).toEqual([false, true]);
    expectMatesDone(r, 1, inputs);
    for (const [k, e] of outcomes(r.rec)) if (k !== 1) expect(e.type === 'item-done' && e.attempt, `item ${k}`).toBeLessThanOrEqual(2);
    // Its thread's neighbours were suspects, not bystanders: they reran alone.
    const suspects = r.rec.of('item-retry').filter((e) => e.index !== 1);
    expect(suspects.length).toBeGreaterThan(0);
    for (const e of suspects) expect(e.error).toMatch(/^its thread died and named no item at fault; it runs again alone/);
  });

  it('a hanging item on one thread with items that keep killing it, retries 1: at most retries + 1 + FREE_RERUNS attempts', async () => {
    const broker = openPool([fixtureUrl('faulty')], 16, { threads: 1 });
    const inputs = ['hang', 'exit-now', 'exit-now', 'exit-now', 'exit-now', 'exit-now', 'exit-now'];
    const r = await runAll(broker, inputs, { retries: 1, timeoutMs: 800, concurrency: 16, batchSize: 16 });
    const hang = failedOf(r, 0);
    expect(hang.error).toMatch(/timed out after 800 ms/);
    expect(hang.attempts).toBe(1 + 1 + FREE_RERUNS);
    expect(r.rec.of('item-retry').filter((e) => e.index === 0).map((e) => e.charged)).toEqual([false, false, true]);
    for (let k = 1; k < inputs.length; k++) {
      const f = failedOf(r, k);
      expect(f.error).toMatch(/process\.exit\(5\)/);
      expect(f.attempts, `item ${k}`).toBeLessThanOrEqual(1 + 1 + FREE_RERUNS);
    }
  });
});

describe('embedded broker: several jobs on one pool', () => {
  it('a thread ended for one job\'s blocked item does not charge another job\'s items on it', async () => {
    const broker = openPool([fixtureUrl('sleep')]);
    const rec = new Recorder();
    // Job B: four slow items, two per thread, no retries and no timeout of its own.
    const b = broker.startJob(spec({ jobId: 'B', concurrency: 4, retries: 0, timeoutMs: 0 }), rec.listener);
    await b.add(itemsOf(['1500', '1500', '1500', '1500']));
    b.end();
    await rec.until(() => rec.count('item-start') === 4, 'job B in flight on both threads');
    // Job A blocks one of those threads past its timeout: A's watchdog ends that thread.
    const a = await runAll(broker, ['block 4000'], { jobId: 'A', timeoutMs: 200, retries: 0 });
    expect(failedOf(a, 0).error).toMatch(/timed out after 200 ms/);
    const counts = await b.finished;
    expect(rec.of('item-failed')).toEqual([]);
    expect(counts).toEqual({ total: 4, done: 4, failed: 0, unfinished: 0 });
    const lost = rec.of('item-retry');
    expect(lost.length).toBe(2);
    for (const e of lost) expect(e).toMatchObject({ charged: false, delayMs: 0 });
  });
});
