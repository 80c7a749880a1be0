/**
 * Distributed mode when things go wrong on the worker side: a worker killed with SIGKILL
 * mid-stream (its items are reclaimed through the heartbeat), a worker told to stop (SIGTERM
 * drains; a second signal hands back at once), and items that fail every attempt (retried, then
 * recorded as failed with their error). Every job ends, with each item recorded exactly once.
 */
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { demoFailurePoint, demoSettings, demoTokens } from '../../src/processors/demo.js';
import {
  expectAllDoneOnce,
  freshQueue,
  itemViews,
  jsonEvents,
  paramArgs,
  processes,
  writePrompts,
  type JsonEvent,
} from '../fixtures/redis-workers.js';
import { redisPerFile } from '../redis/server.js';
import { cleanEnv, demoOutput, processorFixture, readResults, tempDirsPerFile, waitFor } from './run.js';
import { FREE_RERUNS } from '../../src/brokers/embedded/thread-faults.js';

const redis = redisPerFile();
const newDir = tempDirsPerFile();

/** About one second per item: 20 tokens at 20 per second, streaming from the start. */
const SLOW = { first_token_ms: '0', tokens_per_s: '20', length: '20' };

/** Every attempt's streamed text is a prefix of the answer (no doubled or foreign text), per attempt. */
function expectStreamsClean(events: readonly JsonEvent[], prompts: readonly string[], params: Record<string, string>): void {
  const texts = new Map<string, string>();
  for (const e of events) {
    if (e.type !== 'chunk') continue;
    const key = `${e.index}#${e.attempt}`;
    texts.set(key, (texts.get(key) ?? '') + e.text);
  }
  const bad: string[] = [];
  for (const [key, text] of texts) {
    const index = Number(key.split('#')[0]);
    if (!demoOutput(prompts[index]!, params).startsWith(text)) bad.push(`${key}: ${JSON.stringify(text)}`);
  }
  expect(bad.slice(0, 5), `${bad.length} streams that are not a prefix of their answer`).toEqual([]);
}

describe('slowwork workers: a worker killed with SIGKILL', () => {
  test('its items mid-stream are reclaimed by a live worker (--heartbeat 200): each item once, exact text, attempts >= 2', async ({ onTestFinished }) => {
    const procs = processes(onTestFinished);
    const cwd = await newDir();
    const queue = freshQueue('kill');
    const prompts = Array.from({ length: 30 }, (_, k) => `killed worker prompt ${k + 1}`);
    writePrompts(cwd, 'prompts.txt', prompts);
    const a = await procs.worker(redis().url, queue, cwd, ['-n', '10', '--threads', '1', '--heartbeat', '200']);
    const sub = procs.submit(['submit', 'prompts.txt', '--redis', redis().url, '--queue', queue, ...paramArgs(SLOW), '--json', '--out', 'out.jsonl'], cwd, 45_000);

    // Kill A when at least 5 of its items are mid-stream, with half their text still to come.
    const midStream = (): number[] =>
      [...itemViews(jsonEvents(sub.stdout()))].filter(([, v]) => v.worker === a.name && !v.done && v.chunks >= 1 && v.chunks <= 10).map(([i]) => i);
    await waitFor(() => midStream().length >= 5, '5 items streaming on worker A', 20_000);
    const held = midStream();
    a.proc.child.kill('SIGKILL');
    expect((await a.exited).signal).toBe('SIGKILL');

    const b = await procs.worker(redis().url, queue, cwd, ['-n', '30', '--threads', '1', '--heartbeat', '200']);
    const res = await sub.exited;
    // The job ends (the submit's own time limit catches items never reclaimed) and the items A
    // held were finished by another worker, on a later attempt (below).
    expect(res.code, `stdout tail:\n${res.stdout.slice(-2000)}\nstderr:\n${res.stderr}`).toBe(0);

    const out = path.join(cwd, 'out.jsonl');
    const got = expectAllDoneOnce(out, prompts, SLOW);
    for (const index of held) {
      const r = got.get(String(index + 1))!;
      expect(r.attempts, `item ${index + 1}, held by the killed worker`).toBeGreaterThanOrEqual(2);
      expect(r.worker).toBe(b.name);
    }
    // Only B ran after the kill, and A's results were all first attempts.
    for (const r of got.values()) {
      expect([a.name, b.name]).toContain(r.worker);
      if (r.worker === a.name) expect(r.attempts).toBe(1);
    }
    expect(b.proc.stderr()).toMatch(new RegExp(`handed \\d+ batch(?:es)? of items of dead worker ${a.name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} to the others`));

    // The live stream, too: no attempt streamed text twice or text that is not its answer, and the
    // final attempt of each item streamed exactly its output.
    const events = jsonEvents(res.stdout);
    expectStreamsClean(events, prompts, SLOW);
    for (const [index, v] of itemViews(events)) {
      expect(v.done).toBe(true);
      expect(v.text, `item ${index + 1}'s final attempt`).toBe(demoOutput(prompts[index]!, SLOW));
      expect(v.attempt).toBe(got.get(String(index + 1))!.attempts);
    }
    expect(events.at(-1)).toMatchObject({ type: 'summary', counts: { total: 30, done: 30, failed: 0, unfinished: 0 } });
  });
});

describe('slowwork workers: a worker stalled past its heartbeat (SIGSTOP), then back (SIGCONT)', () => {
  test('its items go to a live worker; when it wakes its reports are refused and it drops them: each item once, exact text', async ({ onTestFinished }) => {
    const procs = processes(onTestFinished);
    const cwd = await newDir();
    const queue = freshQueue('zombie');
    // Two seconds per item: still streaming on the stalled worker when it is reaped (after 1 s).
    const params = { ...SLOW, length: '40' };
    const prompts = Array.from({ length: 10 }, (_, k) => `stalled worker prompt ${k + 1}`);
    writePrompts(cwd, 'prompts.txt', prompts);
    const a = await procs.worker(redis().url, queue, cwd, ['-n', '5', '--threads', '1', '--heartbeat', '200']);
    const sub = procs.submit(['submit', 'prompts.txt', '--redis', redis().url, '--queue', queue, ...paramArgs(params), '--json', '--out', 'out.jsonl'], cwd, 45_000);
    const streamingOnA = (): number[] =>
      [...itemViews(jsonEvents(sub.stdout()))].filter(([, v]) => v.worker === a.name && !v.done && v.chunks >= 1).map(([i]) => i);
    await waitFor(() => streamingOnA().length >= 3, '3 items streaming on worker A', 20_000);
    const held = streamingOnA();
    a.proc.child.kill('SIGSTOP');
    try {
      const b = await procs.worker(redis().url, queue, cwd, ['-n', '10', '--threads', '1', '--heartbeat', '200']);
      const reaped = new RegExp(`handed \\d+ batch(?:es)? of items of dead worker ${a.name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} to the others`);
      await waitFor(() => reaped.test(b.proc.stderr()), "B's reaper taking A's items", 15_000);
      a.proc.child.kill('SIGCONT');
      await waitFor(() => /was handed to another worker; dropping this attempt/.test(a.proc.stderr()), 'A dropping what it lost', 10_000);

      const res = await sub.exited;
      expect(res.code, `stdout tail:\n${res.stdout.slice(-2000)}\nstderr:\n${res.stderr}`).toBe(0);
      const got = expectAllDoneOnce(path.join(cwd, 'out.jsonl'), prompts, params);
      for (const index of held) {
        const r = got.get(String(index + 1))!;
        expect(r.worker, `item ${index + 1}, held by the stalled worker`).toBe(b.name);
        expect(r.attempts).toBe(2);
      }
      expect(a.proc.stderr()).toMatch(/its heartbeat had expired/);
      const events = jsonEvents(res.stdout);
      expectStreamsClean(events, prompts, params);
      // The stalled worker's late text was refused: nothing of attempt 1 came after attempt 2 began.
      for (const index of held) {
        const firstOfAttempt2 = events.findIndex((e) => e.index === index && e.type === 'item-start' && e.attempt === 2);
        expect(firstOfAttempt2).toBeGreaterThan(-1);
        const late = events.slice(firstOfAttempt2).filter((e) => e.index === index && e.attempt === 1);
        expect(late, `item ${index + 1}`).toEqual([]);
      }
      // And it still serves once awake: it exits 0 on SIGTERM like any worker.
      a.proc.child.kill('SIGTERM');
      expect((await a.exited).code, a.proc.stderr()).toBe(0);
    } finally {
      a.proc.child.kill('SIGCONT');
    }
  });
});

describe('slowwork workers: SIGTERM', () => {
  /** Starts worker A and a --json submit of `n` slow items on a fresh queue; waits for `busy` items streaming on A. */
  async function busyWorker(procs: ReturnType<typeof processes>, n: number, params: Record<string, string>, workerArgs: string[], busy: number) {
    const cwd = await newDir();
    const queue = freshQueue('term');
    const prompts = Array.from({ length: n }, (_, k) => `drained worker prompt ${k + 1}`);
    writePrompts(cwd, 'prompts.txt', prompts);
    const a = await procs.worker(redis().url, queue, cwd, ['--threads', '1', '--heartbeat', '200', ...workerArgs]);
    const sub = procs.submit(['submit', 'prompts.txt', '--redis', redis().url, '--queue', queue, ...paramArgs(params), '--json', '--out', 'out.jsonl'], cwd, 45_000);
    const streaming = (): number[] =>
      [...itemViews(jsonEvents(sub.stdout()))].filter(([, v]) => v.worker === a.name && !v.done && v.chunks >= 1).map(([i]) => i);
    await waitFor(() => streaming().length >= busy, `${busy} items streaming on worker A`, 20_000);
    return { cwd, queue, prompts, a, sub, out: path.join(cwd, 'out.jsonl'), streaming: streaming() };
  }

  test('once: the worker finishes its running items, takes nothing new, exits 0; another worker does the rest', async ({ onTestFinished }) => {
    const procs = processes(onTestFinished);
    const { cwd, queue, prompts, a, sub, out, streaming } = await busyWorker(procs, 16, SLOW, ['-n', '4'], 4);
    a.proc.child.kill('SIGTERM');
    const resA = await a.exited;
    expect(resA.code, resA.stderr).toBe(0);
    expect(resA.stderr).toMatch(/^slowwork workers: draining/m);
    expect(resA.stderr).toMatch(/^slowwork workers: stopped$/m);
    // What it was running when told to stop, it finished itself.
    const doneByA = readResults(out).filter((r) => r.worker === a.name);
    for (const index of streaming) expect(doneByA.map((r) => r.index)).toContain(index);
    // And it took nothing new: at most one item per slot finished after the signal's moment.
    expect(doneByA.length).toBeLessThanOrEqual(8);
    expect(sub.child.exitCode).toBeNull();

    const b = await procs.worker(redis().url, queue, cwd, ['-n', '16', '--threads', '1', '--heartbeat', '200']);
    const res = await sub.exited;
    expect(res.code, res.stdout.slice(-2000) + res.stderr).toBe(0);
    const got = expectAllDoneOnce(out, prompts, SLOW);
    // Nothing was handed back or run twice: every item done on its first attempt.
    for (const r of got.values()) {
      expect(r.attempts).toBe(1);
      expect([a.name, b.name]).toContain(r.worker);
    }
    expect([...got.values()].filter((r) => r.worker === b.name).length).toBe(16 - doneByA.length);
    expectStreamsClean(jsonEvents(res.stdout), prompts, SLOW);
  });

  test('once, with --drain-timeout 300: items still running then are handed back and finish on another worker', async ({ onTestFinished }) => {
    const procs = processes(onTestFinished);
    // 40 tokens at 20/s: two seconds per item, far longer than the 300 ms of grace.
    const params = { ...SLOW, length: '40' };
    const { cwd, queue, prompts, a, sub, out, streaming } = await busyWorker(procs, 12, params, ['-n', '6', '--drain-timeout', '300'], 3);
    // A does not wait its items out (2 s each): the ones running are handed back (below), and it
    // exits while the job still runs.
    a.proc.child.kill('SIGTERM');
    const resA = await a.exited;
    expect(resA.code, resA.stderr).toBe(0);
    expect(sub.child.exitCode).toBeNull();

    const b = await procs.worker(redis().url, queue, cwd, ['-n', '12', '--threads', '1', '--heartbeat', '200']);
    const res = await sub.exited;
    expect(res.code, res.stdout.slice(-2000) + res.stderr).toBe(0);
    const got = expectAllDoneOnce(out, prompts, params);
    for (const index of streaming) {
      const r = got.get(String(index + 1))!;
      expect(r.worker, `item ${index + 1}, running on A when it stopped`).toBe(b.name);
      expect(r.attempts).toBe(2);
    }
    // The hand-back is said as such (not counted as a failure of the item).
    const retries = jsonEvents(res.stdout).filter((e) => e.type === 'item-retry');
    expect(retries.length).toBeGreaterThanOrEqual(streaming.length);
    for (const e of retries) expect(e).toMatchObject({ charged: false, error: expect.stringMatching(/handed it back/) });
    expectStreamsClean(jsonEvents(res.stdout), prompts, params);
  });

  test('twice: the worker hands everything back at once and exits 0; the job completes elsewhere', async ({ onTestFinished }) => {
    const procs = processes(onTestFinished);
    // 60 tokens at 20/s: three seconds per item; the default drain timeout is 30 s.
    const params = { ...SLOW, length: '60' };
    const { cwd, queue, prompts, a, sub, out, streaming } = await busyWorker(procs, 10, params, ['-n', '5'], 3);
    a.proc.child.kill('SIGTERM');
    await waitFor(() => /^slowwork workers: draining/m.test(a.proc.stderr()), 'the draining line', 5_000);
    a.proc.child.kill('SIGTERM');
    const resA = await a.exited;
    expect(resA.code, resA.stderr).toBe(0);
    expect(resA.stderr).toMatch(/^slowwork workers: stopping now; running items go back to the queue$/m);
    // It did not let its items (3 s each, just started) finish: none is recorded as A's.
    expect(readResults(out).filter((r) => r.worker === a.name)).toEqual([]);

    const b = await procs.worker(redis().url, queue, cwd, ['-n', '10', '--threads', '1', '--heartbeat', '200']);
    const res = await sub.exited;
    expect(res.code, res.stdout.slice(-2000) + res.stderr).toBe(0);
    const got = expectAllDoneOnce(out, prompts, params);
    for (const r of got.values()) expect(r.worker).toBe(b.name);
    for (const index of streaming) expect(got.get(String(index + 1))!.attempts).toBe(2);
    expectStreamsClean(jsonEvents(res.stdout), prompts, params);
  });
});

describe('slowwork workers: retries and dead letters', () => {
  test('demo failure_rate=1 with --retries 1: every item failed after 2 attempts with its error, exit 1, the job ends', async ({ onTestFinished }) => {
    const procs = processes(onTestFinished);
    const cwd = await newDir();
    const queue = freshQueue('fail');
    const params = { first_token_ms: '0', tokens_per_s: '0', length: '10-20', failure_rate: '1' };
    const prompts = Array.from({ length: 8 }, (_, k) => `doomed prompt ${k + 1}`);
    writePrompts(cwd, 'prompts.txt', prompts);
    const w = await procs.worker(redis().url, queue, cwd, ['-n', '4', '--threads', '1', '--heartbeat', '200']);
    const sub = procs.submit(['submit', 'prompts.txt', '--redis', redis().url, '--queue', queue, ...paramArgs(params), '--retries', '1', '--no-tui', '--out', 'out.jsonl'], cwd, 20_000);
    const res = await sub.exited;
    // The job ends (a hang is caught by the submit's own time limit).
    expect(res.code, `stdout:\n${res.stdout}\nstderr:\n${res.stderr}`).toBe(1);
    expect(res.stdout).toMatch(/^finished: 0 done, 8 failed of 8 in /m);
    expect(res.stdout).toMatch(/^resume: .*--retry-failed/m);
    const records = readResults(path.join(cwd, 'out.jsonl'));
    expect(records).toHaveLength(8);
    expect(new Set(records.map((r) => r.id)).size).toBe(8);
    const settings = demoSettings(params);
    for (const r of records) {
      const input = prompts[r.index]!;
      // The error of the last attempt (attempt 2), which the demo decides from the input.
      const at = demoFailurePoint(input, 2, settings, demoTokens(input, settings).length);
      expect(r).toMatchObject({ id: String(r.index + 1), input, status: 'failed', output: null, attempts: 2, worker: w.name });
      expect(r.error).toBe(`demo: simulated failure after ${at} tokens (failure_rate=1)`);
    }
    expect(res.stdout.match(/^retry {2}\[\d+\] attempt 1 failed: demo: simulated failure/gm)).toHaveLength(8);
  });

  test('failure_rate=0.4 with --retries 2: the same attempts, errors and answers as the embedded pool', async ({ onTestFinished }) => {
    const procs = processes(onTestFinished);
    const cwd = await newDir();
    const queue = freshQueue('flaky');
    // The demo decides each attempt's failure from (input, attempt): both modes must agree on all.
    const params = { first_token_ms: '0', tokens_per_s: '0', length: '5-15', failure_rate: '0.4' };
    const prompts = Array.from({ length: 60 }, (_, k) => `sometimes failing prompt ${k + 1}`);
    writePrompts(cwd, 'prompts.txt', prompts);
    await procs.worker(redis().url, queue, cwd, ['-n', '8', '--threads', '1', '--heartbeat', '200']);
    const args = ['submit', 'prompts.txt', ...paramArgs(params), '--retries', '2', '--no-tui'];
    const sub = procs.submit([...args, '--redis', redis().url, '--queue', queue, '--out', 'redis.jsonl'], cwd, 30_000);
    const embedded = procs.submit([...args, '--threads', '1', '--out', 'embedded.jsonl'], cwd, 30_000);
    const [resR, resE] = await Promise.all([sub.exited, embedded.exited]);
    const content = (file: string) =>
      readResults(path.join(cwd, file))
        .sort((x, y) => x.index - y.index)
        .map((r) => ({ id: r.id, index: r.index, input: r.input, output: r.output, status: r.status, error: r.error, attempts: r.attempts }));
    const theirs = content('embedded.jsonl');
    // The mix this test is about: some done first time, some after retries, some failed.
    expect(new Set(theirs.map((r) => `${r.status}:${r.attempts}`)).size).toBeGreaterThanOrEqual(3);
    expect(content('redis.jsonl')).toEqual(theirs);
    expect(resR.code, resR.stdout + resR.stderr).toBe(resE.code);
    expect(resR.stdout.match(/^finished: .*$/m)?.[0].replace(/ in .*/, '')).toBe(resE.stdout.match(/^finished: .*$/m)?.[0].replace(/ in .*/, ''));
  });

  test('a failing processor fixture: "throw" fails after --retries 1 (2 attempts), "flaky 1" recovers, others done; exit 1', async ({ onTestFinished }) => {
    const procs = processes(onTestFinished);
    const cwd = await newDir();
    const queue = freshQueue('faulty');
    const faulty = processorFixture('faulty.mjs');
    await procs.worker(redis().url, queue, cwd, ['-n', '4', '--threads', '1', '--heartbeat', '200', '--processor', faulty]);
    const prompts = ['alpha', 'throw', 'flaky 1', 'beta'];
    const sub = procs.submit(
      ['submit', ...prompts.flatMap((p) => ['-p', p]), '--processor', faulty, '--redis', redis().url, '--queue', queue, '--retries', '1', '--no-tui', '--out', 'out.jsonl'],
      cwd,
      20_000,
    );
    const res = await sub.exited;
    expect(res.code, `stdout:\n${res.stdout}\nstderr:\n${res.stderr}`).toBe(1);
    expect(res.stdout).toMatch(/^failed \[2\] after 2 attempts: boom: processor failed on purpose$/m);
    expect(res.stdout).toMatch(/^finished: 3 done, 1 failed of 4 in /m);
    const records = readResults(path.join(cwd, 'out.jsonl')).sort((x, y) => x.index - y.index);
    expect(records.map((r) => [r.id, r.input, r.status, r.attempts, r.error, r.output])).toEqual([
      ['1', 'alpha', 'done', 1, null, 'ok:alpha.'],
      ['2', 'throw', 'failed', 2, 'boom: processor failed on purpose', null],
      ['3', 'flaky 1', 'done', 2, null, 'recovered on attempt 2'],
      ['4', 'beta', 'done', 1, null, 'ok:beta.'],
    ]);
  });

  test('an item that runs its worker thread out of memory (a 64 MB heap): the others are done by attempt 2, never charged; it fails within the bound', async ({ onTestFinished }) => {
    const procs = processes(onTestFinished);
    const cwd = await newDir();
    const queue = freshQueue('oom');
    const faulty = processorFixture('faulty.mjs');
    const args = ['-n', '4', '--threads', '2', '--heartbeat', '200', '--processor', faulty];
    await procs.worker(redis().url, queue, cwd, args, cleanEnv({ SLOWWORK_THREAD_HEAP_MB: '64' }));
    // The good items outlast the hog's first runs on the same thread (it fills 64 MB in about a second).
    const good = ['a', 'b', 'c'].map((p) => `wait 4000 2 ${p}`);
    const prompts = [good[0]!, 'oom', good[1]!, good[2]!];
    const sub = procs.submit(
      ['submit', ...prompts.flatMap((p) => ['-p', p]), '--processor', faulty, '--redis', redis().url, '--queue', queue, '--retries', '1', '--batch-size', '2', '--no-tui', '--out', 'out.jsonl'],
      cwd,
      60_000,
    );
    const res = await sub.exited;
    expect(res.code, `stdout:\n${res.stdout}\nstderr:\n${res.stderr}`).toBe(1);
    const records = readResults(path.join(cwd, 'out.jsonl')).sort((x, y) => x.index - y.index);
    expect(records.map((r) => [r.input, r.status])).toEqual([...prompts.map((p) => [p, p === 'oom' ? 'failed' : 'done'])]);
    const hog = records[1]!;
    expect(hog.error).toMatch(/JS heap out of memory/);
    expect(hog.attempts).toBeGreaterThanOrEqual(3);
    expect(hog.attempts).toBeLessThanOrEqual(1 + 1 + FREE_RERUNS);
    for (const r of [records[0]!, records[2]!, records[3]!]) {
      expect(r.output).toBe(`ok:${String(r.input)}.`);
      expect(r.attempts, String(r.input)).toBeLessThanOrEqual(2);
    }
    // Only the hog was charged: no good item's attempt failed but by losing its thread.
    expect(res.stdout).not.toMatch(/^retry .*\[[134]\] attempt \d failed: (?!its thread)/m);
  });
});
