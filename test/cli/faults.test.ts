/**
 * Processor faults through the CLI (test/fixtures/processors/faulty.mjs picks its behaviour from
 * the prompt): failures are recorded per item, the others still finish, the exit code says so.
 * And `--resume` with and without `--retry-failed` over a run that had failures.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import type { ResultRecord } from '../../src/core/types.js';
import { WORKER, cleanEnv, fileLines, printedResumeArgs, processorFixture, readResults, run, start, tempDirsPerFile, waitFor } from './run.js';

const FAULTY = processorFixture('faulty.mjs');

const dir = tempDirsPerFile();

const prompts = (...ps: string[]): string[] => ps.flatMap((p) => ['-p', p]);

function byInput(records: readonly ResultRecord[]): Map<string, ResultRecord> {
  const map = new Map<string, ResultRecord>();
  for (const r of records) {
    expect(map.has(String(r.input)), `input ${String(r.input)} recorded twice`).toBe(false);
    map.set(String(r.input), r);
  }
  return map;
}

function expectOk(r: ResultRecord | undefined, input: string, attempts = 1): void {
  expect(r, input).toBeDefined();
  expect(r!.status).toBe('done');
  expect(r!.output).toBe(`ok:${input}.`);
  expect(r!.error).toBeNull();
  expect(r!.attempts).toBeGreaterThanOrEqual(attempts);
  expect(r!.worker).toMatch(WORKER);
}

describe.concurrent('slowwork submit: processor faults', () => {
  test('an item that always throws fails after its retries; the others are done; exit 1', async () => {
    const cwd = await dir();
    const res = await run(
      ['submit', ...prompts('alpha', 'throw', 'beta', 'gamma'), '--processor', FAULTY, '--retries', '1', '--out', 'out.jsonl'],
      { cwd },
    );
    expect(res.code, res.stdout + res.stderr).toBe(1);
    expect(res.stderr).toBe('');
    const records = readResults(path.join(cwd, 'out.jsonl'));
    expect(records).toHaveLength(4);
    const got = byInput(records);
    const failed = got.get('throw')!;
    expect(failed).toMatchObject({ id: '2', index: 1, status: 'failed', output: null, attempts: 2 });
    expect(failed.error).toBe('boom: processor failed on purpose');
    expect(typeof failed.durations.totalMs).toBe('number');
    for (const p of ['alpha', 'beta', 'gamma']) expectOk(got.get(p), p, 1);
    expect(got.get('alpha')!.attempts).toBe(1);
    // Plain output: the retry, the failure and a summary, then how to run the failed ones again.
    expect(res.stdout).toMatch(/^retry {2}\[2\] attempt 1 failed: boom: processor failed on purpose/m);
    expect(res.stdout).toMatch(/^failed \[2\] after 2 attempts: boom: processor failed on purpose$/m);
    expect(res.stdout).toMatch(/^finished: 3 done, 1 failed of 4 in /m);
    const resume = printedResumeArgs(res.stdout);
    expect(resume).toContain('--resume');
    expect(resume).toContain('--retry-failed');
    expect(resume.slice(resume.indexOf('--out'), resume.indexOf('--out') + 2)).toEqual(['--out', 'out.jsonl']);
    expect(res.stdout).not.toContain('\x1b[');
  });

  test('an item that hangs is failed by --timeout ("timed out"); exit 1', async () => {
    const cwd = await dir();
    const res = await run(
      ['submit', ...prompts('one', 'hang', 'two'), '--processor', FAULTY, '--timeout', '300', '--retries', '0', '--out', 'out.jsonl'],
      { cwd },
    );
    expect(res.code, res.stdout + res.stderr).toBe(1);
    const got = byInput(readResults(path.join(cwd, 'out.jsonl')));
    expect(got.size).toBe(3);
    const hung = got.get('hang')!;
    expect(hung).toMatchObject({ id: '2', status: 'failed', output: null, attempts: 1 });
    expect(hung.error).toMatch(/timed out/);
    expect(typeof hung.durations.totalMs).toBe('number');
    expectOk(got.get('one'), 'one', 1);
    expectOk(got.get('two'), 'two', 1);
  });

  test('an item that hangs and ignores its abort signal is still failed by --timeout, and the CLI exits', async () => {
    const cwd = await dir();
    const res = await run(
      ['submit', ...prompts('one', 'hang-deaf', 'two'), '--processor', FAULTY, '--timeout', '300', '--retries', '0', '--out', 'out.jsonl'],
      { cwd, timeoutMs: 15_000 },
    );
    expect(res.code, res.stdout + res.stderr).toBe(1);
    const got = byInput(readResults(path.join(cwd, 'out.jsonl')));
    expect(got.size).toBe(3);
    expect(got.get('hang-deaf')).toMatchObject({ status: 'failed', attempts: 1 });
    expect(got.get('hang-deaf')!.error).toMatch(/timed out/);
    expectOk(got.get('one'), 'one');
    expectOk(got.get('two'), 'two');
  });

  test('an item that kills its thread (process.exit) fails; every other item is done; exit 1', async () => {
    const cwd = await dir();
    const others = ['a', 'b', 'c', 'd', 'e', 'f'];
    const res = await run(
      ['submit', ...prompts('a', 'b', 'exit', 'c', 'd', 'e', 'f'), '--processor', FAULTY, '--retries', '1', '--out', 'out.jsonl'],
      { cwd },
    );
    expect(res.code, res.stdout + res.stderr).toBe(1);
    expect(res.stderr).toBe('');
    const records = readResults(path.join(cwd, 'out.jsonl'));
    expect(records).toHaveLength(7);
    const got = byInput(records);
    const dead = got.get('exit')!;
    // Attempt 1's death names no one (the pool tracks item scopes only from then on) and is
    // charged to no one; attempts 2 and 3 are named and charged: --retries 1 allows one retry.
    expect(dead).toMatchObject({ id: '3', status: 'failed', output: null, attempts: 3 });
    expect(dead.error).toMatch(/exit/);
    for (const p of others) expectOk(got.get(p), p);
    expect(res.stdout).toMatch(/^finished: 6 done, 1 failed of 7 in /m);
  });

  test('an item that kills its thread only on attempt 1 is done on attempt 2', async () => {
    const cwd = await dir();
    const res = await run(['submit', ...prompts('x', 'exit-once', 'y'), '--processor', FAULTY, '--retries', '1', '--out', 'out.jsonl'], { cwd });
    expect(res.code, res.stdout + res.stderr).toBe(0);
    const got = byInput(readResults(path.join(cwd, 'out.jsonl')));
    expect(got.get('exit-once')).toMatchObject({ status: 'done', output: 'survived', attempts: 2 });
    expectOk(got.get('x'), 'x');
    expectOk(got.get('y'), 'y');
  });

  test('an error thrown inside a timer fails that item only', async () => {
    const cwd = await dir();
    const res = await run(['submit', ...prompts('x', 'timer-throw', 'y'), '--processor', FAULTY, '--retries', '0', '--out', 'out.jsonl'], { cwd });
    expect(res.code, res.stdout + res.stderr).toBe(1);
    const got = byInput(readResults(path.join(cwd, 'out.jsonl')));
    expect(got.size).toBe(3);
    // The first, unnamed death is re-run uncharged; the second is named and final.
    expect(got.get('timer-throw')).toMatchObject({ status: 'failed', attempts: 2 });
    expect(got.get('timer-throw')!.error).toMatch(/thrown inside a timer/);
    expectOk(got.get('x'), 'x');
    expectOk(got.get('y'), 'y');
  });

  test("'flaky 1' with --retries 1 is done on attempt 2; exit 0", async () => {
    const cwd = await dir();
    const res = await run(['submit', ...prompts('flaky 1', 'fine'), '--processor', FAULTY, '--retries', '1', '--out', 'out.jsonl'], { cwd });
    expect(res.code, res.stdout + res.stderr).toBe(0);
    const got = byInput(readResults(path.join(cwd, 'out.jsonl')));
    expect(got.get('flaky 1')).toMatchObject({ id: '1', status: 'done', error: null, attempts: 2, output: 'recovered on attempt 2' });
    expectOk(got.get('fine'), 'fine', 1);
    expect(res.stdout).toMatch(/^retry {2}\[1\] attempt 1 failed: flaky failure on attempt 1/m);
    expect(res.stdout).toMatch(/^finished: 2 done, 0 failed of 2 in /m);
    expect(res.stdout).not.toMatch(/^resume:/m);
  });

  test('a processor whose init throws: every item fails with its error, exit 1 (not a crash)', async () => {
    const cwd = await dir();
    const res = await run(['submit', ...prompts('x', 'y'), '--processor', processorFixture('init-throws.mjs'), '--retries', '0', '--out', 'out.jsonl'], {
      cwd,
    });
    expect(res.stderr).not.toContain('    at ');
    expect(res.code, res.stdout + res.stderr).toBe(1);
    const records = readResults(path.join(cwd, 'out.jsonl'));
    expect(records).toHaveLength(2);
    for (const r of records) {
      expect(r.status).toBe('failed');
      expect(r.error).toMatch(/init failed: no model here/);
    }
  });

  test('an item that runs its thread out of memory (a 64 MB heap): the others are done by attempt 2, uncharged; it fails, charged only alone', async () => {
    const cwd = await dir();
    const good = ['a', 'b', 'c'].map((p) => `wait 4000 2 ${p}`);
    const res = await run(
      ['submit', ...prompts(good[0]!, 'oom', good[1]!, good[2]!), '--processor', FAULTY, '--retries', '1', '--threads', '2', '-c', '4', '--batch-size', '2', '--out', 'out.jsonl'],
      { cwd, env: cleanEnv({ SLOWWORK_THREAD_HEAP_MB: '64' }), timeoutMs: 60_000 },
    );
    expect(res.code, res.stdout + res.stderr).toBe(1);
    const got = byInput(readResults(path.join(cwd, 'out.jsonl')));
    expect(got.get('oom')).toMatchObject({ status: 'failed', attempts: 3 });
    expect(got.get('oom')!.error).toMatch(/JS heap out of memory/);
    for (const p of good) {
      expect(got.get(p)).toMatchObject({ status: 'done', output: `ok:${p}.` });
      expect(got.get(p)!.attempts, p).toBeLessThanOrEqual(2);
    }
    // No good item's attempt was charged: every retry line of theirs says it was free.
    expect(res.stdout).not.toMatch(/^retry .*\[[134]\] attempt \d failed: (?!its thread)/m);
  });

  test('a bad SLOWWORK_THREAD_HEAP_MB: one line, exit 2', async () => {
    const cwd = await dir();
    const res = await run(['submit', '-p', 'x', '--processor', FAULTY, '--out', 'out.jsonl'], { cwd, env: cleanEnv({ SLOWWORK_THREAD_HEAP_MB: 'lots' }) });
    expect(res.code).toBe(2);
    expect(res.stderr.trim().split('\n')).toHaveLength(1);
    expect(res.stderr).toMatch(/SLOWWORK_THREAD_HEAP_MB=lots is not a heap size/);
  });
});

describe('slowwork submit --resume over failures', () => {
  test('failed items stay failed without --retry-failed, run again with it; one line per item at the end', async () => {
    const cwd = await dir();
    // 'flaky 2 …' fails attempts 1 and 2 of a run: failed with --retries 0, done with --retries 9.
    writeFileSync(path.join(cwd, 'prompts.txt'), 'first fine\nflaky 2 one\nsecond fine\nflaky 2 two\nthird fine\n');
    const out = path.join(cwd, 'out.jsonl');
    const base = ['submit', 'prompts.txt', '--processor', FAULTY, '--out', 'out.jsonl'];

    const first = await run([...base, '--retries', '0'], { cwd });
    expect(first.code, first.stdout + first.stderr).toBe(1);
    const r1 = byInput(readResults(out));
    expect(r1.size).toBe(5);
    for (const p of ['flaky 2 one', 'flaky 2 two']) {
      expect(r1.get(p)).toMatchObject({ status: 'failed', attempts: 1, error: 'flaky failure on attempt 1' });
    }
    const printed = printedResumeArgs(first.stdout);
    expect(printed).toContain('--retry-failed');
    const linesAfterFirst = fileLines(out).lines;

    // Resume without --retry-failed: nothing to run, failures kept, the file unchanged.
    const second = await run([...base, '--retries', '0', '--resume'], { cwd });
    expect(second.code, second.stdout + second.stderr).toBe(1);
    expect(second.stderr).toBe('');
    expect(fileLines(out).lines).toEqual(linesAfterFirst);
    expect(second.stdout).toMatch(/^finished: 3 done, 2 failed of 5 in /m);

    // With --retry-failed (and retries enough): only the failed ones run again, and end done.
    const third = await run([...base, '--resume', '--retry-failed', '--retries', '9'], { cwd });
    expect(third.code, third.stdout + third.stderr).toBe(0);
    expect(third.stdout).toMatch(/^finished: 5 done, 0 failed of 5 in /m);
    // Compacted when the run ended: the first run's done lines, in order, then the new lines of
    // the two retried items; their failed lines are gone.
    const { lines, tail } = fileLines(out);
    expect(tail).toBe('');
    const keptFromFirst = linesAfterFirst.filter((l) => (JSON.parse(l) as ResultRecord).status === 'done');
    expect(lines.slice(0, 3)).toEqual(keptFromFirst);
    const added = lines.slice(3).map((l) => JSON.parse(l) as ResultRecord);
    expect(added.map((r) => r.input).sort()).toEqual(['flaky 2 one', 'flaky 2 two']);
    for (const r of added) expect(r).toMatchObject({ status: 'done', attempts: 3, output: 'recovered on attempt 3', error: null });
    expect(new Set(readResults(out).map((r) => r.id)).size).toBe(5);

    // And a fourth resume finds nothing left to do.
    const fourth = await run([...base, '--resume', '--retry-failed'], { cwd });
    expect(fourth.code, fourth.stdout + fourth.stderr).toBe(0);
    expect(fileLines(out).lines).toHaveLength(lines.length);
  });

  test('the printed --retry-failed command works as printed, with quoting (spaces, quotes)', async () => {
    const cwd = await dir();
    const out = path.join(cwd, 'my results', "it's here.jsonl");
    const res = await run(['submit', ...prompts("it's fine", 'throw'), '--processor', FAULTY, '--retries', '0', '--out', out], { cwd });
    expect(res.code, res.stdout + res.stderr).toBe(1);
    const printed = printedResumeArgs(res.stdout);
    // The same arguments (quotes and spaces survive the round trip), plus --resume, --out FILE
    // and --retry-failed, once each, in any order at the end.
    const at = printed.indexOf('--out');
    expect(printed[at + 1]).toBe(out);
    const rest = printed.filter((_, k) => k !== at && k !== at + 1);
    expect(rest.slice(0, 9)).toEqual(['submit', '-p', "it's fine", '-p', 'throw', '--processor', FAULTY, '--retries', '0']);
    expect(rest.slice(9).sort()).toEqual(['--resume', '--retry-failed']);
    const again = await run(printed, { cwd });
    expect(again.code, again.stdout + again.stderr).toBe(1);
    expect(again.stdout).toMatch(/\(1 skipped, done before\)/);
    // One line per item: the first run's done line, then the failed item's new line (its old one is gone).
    const records = readResults(out);
    expect(records.map((r) => [r.input, r.status])).toEqual([
      ["it's fine", 'done'],
      ['throw', 'failed'],
    ]);
    expect(records[1]).toMatchObject({ attempts: 1 });
  });

  test('a --retry-failed resume whose items fail again prints a usable resume command (not "null ...")', async () => {
    const cwd = await dir();
    const base = ['submit', ...prompts('fine', 'throw'), '--processor', FAULTY, '--retries', '0', '--out', 'out.jsonl'];
    const first = await run(base, { cwd });
    expect(first.code, first.stdout + first.stderr).toBe(1);
    const again = await run([...base, '--resume', '--retry-failed'], { cwd });
    expect(again.code, again.stdout + again.stderr).toBe(1);
    expect(again.stdout).toMatch(/^finished: 1 done, 1 failed of 2 in /m);
    const line = again.stdout.split('\n').find((l) => l.startsWith('resume:'));
    expect(line, again.stdout).toBeDefined();
    expect(line).not.toContain('null');
    const printed = printedResumeArgs(again.stdout);
    expect(printed[0]).toBe('submit');
    expect(printed).toContain('--resume');
    expect(printed).toContain('--retry-failed');
    expect(printed.slice(printed.indexOf('--out'), printed.indexOf('--out') + 2)).toEqual(['--out', 'out.jsonl']);
  });

  test('an interrupted --retry-failed resume counts the failures it did not reach as failed, and its resume retries them', async () => {
    const cwd = await dir();
    // First run: 'throw' fails, the two 'hang's fail at the time limit.
    const base = ['submit', ...prompts('fine', 'throw', 'hang', 'hang'), '--processor', FAULTY, '--retries', '0', '--out', 'out.jsonl'];
    const first = await run([...base, '--timeout', '300'], { cwd });
    expect(first.code, first.stdout + first.stderr).toBe(1);
    expect(first.stdout).toMatch(/^finished: 1 done, 3 failed of 4 in /m);
    // The retry: 'throw' fails again, the 'hang's hang (no time limit now) until SIGTERM stops it.
    const again = start([...base, '--resume', '--retry-failed', '--timeout', '0', '--no-tui'], { cwd, timeoutMs: 30_000 });
    await waitFor(() => /^failed \[2\] /m.test(again.stdout()), 'the retried throw to fail again', 15_000);
    again.child.kill('SIGTERM');
    const res = await again.exited;
    expect(res.code, res.stdout + res.stderr).toBe(130);
    // The file still says the hangs failed: the summary says so too, not "unfinished".
    expect(res.stdout).toMatch(/^interrupted: 1 done, 3 failed of 4 in /m);
    expect(readResults(path.join(cwd, 'out.jsonl')).map((r) => r.status)).toEqual(['done', 'failed', 'failed', 'failed']);
    const printed = printedResumeArgs(res.stdout);
    expect(printed).toContain('--resume');
    expect(printed).toContain('--retry-failed');
  });

  test('--resume with an --out file recorded for other inputs is refused (exit 2)', async () => {
    const cwd = await dir();
    writeFileSync(path.join(cwd, 'prompts.txt'), 'one\ntwo\n');
    const first = await run(['submit', 'prompts.txt', '--processor', FAULTY, '--out', 'out.jsonl'], { cwd });
    expect(first.code).toBe(0);
    writeFileSync(path.join(cwd, 'other.txt'), 'different one\ndifferent two\n');
    const res = await run(['submit', 'other.txt', '--processor', FAULTY, '--out', 'out.jsonl', '--resume'], { cwd });
    expect(res.code, res.stdout + res.stderr).toBe(2);
    expect(res.stderr).toMatch(/^slowwork: .*out\.jsonl.*different input/);
    expect(res.stderr.trim().split('\n')).toHaveLength(1);
    expect(fileLines(path.join(cwd, 'out.jsonl')).lines).toHaveLength(2);
  });
});
