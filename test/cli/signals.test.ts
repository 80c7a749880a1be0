/**
 * Stopping and resuming with real signals on the built CLI: Ctrl+C once drains, twice aborts,
 * SIGTERM aborts, kill -9 loses nothing already written; `--resume` then finishes exactly the
 * rest, with no id recorded twice. Runs its tests one at a time: they are about timing.
 */
import { appendFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import type { ResultRecord } from '../../src/core/types.js';
import { demoSettings, demoTokens } from '../../src/processors/demo.js';
import {
  demoOutput,
  fileLines,
  paramsOf,
  printedResumeArgs,
  readResults,
  run,
  start,
  type Running,
  tempDirsPerFile,
  waitFor,
} from './run.js';

const N = 30;
const PROMPTS = Array.from({ length: N }, (_, k) => `signal prompt number ${k + 1}`);
/** About 750 ms per item: 300 ms to the first token, then 9 more at 20/s. */
const SLOW = ['--param', 'first_token_ms=300', '--param', 'tokens_per_s=20', '--param', 'length=10'];

const newDir = tempDirsPerFile();

async function setup(prompts: readonly string[] = PROMPTS): Promise<string> {
  const cwd = await newDir();
  writeFileSync(path.join(cwd, 'prompts.txt'), prompts.join('\n') + '\n');
  return cwd;
}

/** After the resume: every prompt recorded exactly once, done, with the demo's text. */
function expectCompleteOnce(out: string, params: Record<string, string>): void {
  const records = readResults(out);
  const ids = records.map((r) => r.id);
  expect(new Set(ids).size, `duplicated ids: ${ids.filter((id, k) => ids.indexOf(id) !== k).join(', ')}`).toBe(ids.length);
  expect(records).toHaveLength(N);
  const byIndex = [...records].sort((a, b) => a.index - b.index);
  byIndex.forEach((r, k) => {
    expect(r).toMatchObject({ id: String(k + 1), index: k, input: PROMPTS[k], status: 'done', error: null, attempts: 1 });
    expect(r.output).toBe(demoOutput(PROMPTS[k]!, params));
  });
}

describe('slowwork submit: signals and resume', () => {
  test('Ctrl+C once drains: in-flight items finish, exit 130, the printed resume command finishes the rest', async () => {
    const cwd = await setup();
    const out = path.join(cwd, 'out.jsonl');
    const args = ['submit', 'prompts.txt', ...SLOW, '--concurrency', '4', '--out', 'out.jsonl'];
    const proc = start(args, { cwd, timeoutMs: 30_000 });
    await waitFor(() => fileLines(out).lines.length >= 4, '4 results before Ctrl+C', 20_000);
    const before = fileLines(out).lines.length;
    proc.child.kill('SIGINT');
    const res = await proc.exited;

    expect(res.code, `stdout:\n${res.stdout}\nstderr:\n${res.stderr}`).toBe(130);
    expect(res.stderr).toBe('');
    expect(res.stdout).not.toContain('\x1b[');
    expect(res.stdout).toMatch(/^phase {2}draining: /m);
    expect(res.stdout).toMatch(/^interrupted: \d+ done, 0 failed, \d+ unfinished of 30 in /m);
    // The in-flight items were let finish (about 750 ms each), not cut.
    const records = readResults(out);
    expect(records.length).toBeGreaterThanOrEqual(before);
    // It stopped on its own, without running the rest.
    expect(records.length).toBeLessThan(N);
    for (const r of records) expect(r.status).toBe('done');
    expect(new Set(records.map((r) => r.id)).size).toBe(records.length);

    const resumeArgs = printedResumeArgs(res.stdout);
    expect(resumeArgs).toContain('--resume');
    expect(resumeArgs.slice(resumeArgs.indexOf('--out'), resumeArgs.indexOf('--out') + 2)).toEqual(['--out', 'out.jsonl']);
    expect(resumeArgs[0]).toBe('submit');

    const resumed = await run(resumeArgs, { cwd, timeoutMs: 30_000 });
    expect(resumed.code, resumed.stdout + resumed.stderr).toBe(0);
    expect(resumed.stdout).toMatch(new RegExp(`\\(${records.length} skipped, done before\\)`));
    expect(resumed.stdout).toMatch(/^finished: 30 done, 0 failed of 30 in /m);
    expectCompleteOnce(out, paramsOf(args));
    // The first run's lines are kept as they were.
    expect(fileLines(out).lines.slice(0, records.length).map((l) => JSON.parse(l) as ResultRecord)).toEqual(records);
  });

  /**
   * One item that finishes at once, then three that stream for 110 s, on one thread: once the
   * quick one is reported done, the slow ones are in flight. Chosen with demoTokens' lengths.
   * The slow ones outlast the process's time limit (30 s): a run that waited for them instead of
   * aborting them is killed by it and fails the test, however busy the machine.
   */
  const QUICK_THEN_SLOW = ['--param', 'first_token_ms=0', '--param', 'tokens_per_s=0.1', '--param', 'length=1-12'];
  function quickThenSlow(): string[] {
    const settings = demoSettings(paramsOf(QUICK_THEN_SLOW));
    const candidates = Array.from({ length: 500 }, (_, k) => `abort candidate ${k}`);
    const quick = candidates.find((p) => demoTokens(p, settings).length === 1)!;
    const slow = candidates.filter((p) => demoTokens(p, settings).length === 12).slice(0, 3);
    expect(quick).toBeDefined();
    expect(slow).toHaveLength(3);
    return [quick, ...slow];
  }

  async function startQuickThenSlow(): Promise<{ cwd: string; out: string; prompts: string[]; proc: Running }> {
    const prompts = quickThenSlow();
    const cwd = await setup(prompts);
    const out = path.join(cwd, 'out.jsonl');
    const proc = start(['submit', 'prompts.txt', ...QUICK_THEN_SLOW, '--threads', '1', '--concurrency', '4', '--out', 'out.jsonl'], {
      cwd,
      timeoutMs: 30_000,
    });
    await waitFor(() => /^done {3}\[1\] /m.test(proc.stdout()), 'the quick item done', 15_000);
    return { cwd, out, prompts, proc };
  }

  function expectOnlyQuickRecorded(out: string, prompts: readonly string[]): void {
    const records = readResults(out);
    expect(records.map((r) => [r.id, r.status, r.input])).toEqual([['1', 'done', prompts[0]]]);
  }

  test('Ctrl+C twice aborts the in-flight items at once: exit 130, nothing recorded for them', async () => {
    const { out, prompts, proc } = await startQuickThenSlow();
    proc.child.kill('SIGINT');
    await waitFor(() => /^phase {2}draining/m.test(proc.stdout()), 'the draining phase line', 5_000);
    expect(proc.stdout()).toMatch(/^phase {2}draining: finishing 3 in-flight items/m);
    proc.child.kill('SIGINT');
    const res = await proc.exited;

    expect(res.code, `stdout:\n${res.stdout}\nstderr:\n${res.stderr}`).toBe(130);
    expect(res.stderr).toBe('');
    expect(res.stdout).toMatch(/^phase {2}aborting: /m);
    expect(res.stdout).toMatch(/^interrupted: 1 done, 0 failed, 3 unfinished of 4 in /m);
    expect(printedResumeArgs(res.stdout)).toContain('--resume');
    // Aborted items are not recorded at all (neither done nor failed): they will run on resume.
    expectOnlyQuickRecorded(out, prompts);
  });

  test('SIGTERM aborts at once: exit 130, nothing recorded for the aborted items', async () => {
    const { out, prompts, proc } = await startQuickThenSlow();
    proc.child.kill('SIGTERM');
    const res = await proc.exited;
    expect(res.code, `stdout:\n${res.stdout}\nstderr:\n${res.stderr}`).toBe(130);
    expect(res.stdout).toMatch(/^interrupted: 1 done, 0 failed, 3 unfinished of 4 in /m);
    expectOnlyQuickRecorded(out, prompts);
  });

  test('kill -9 mid-run loses nothing written; resume repairs a partial last line and finishes the rest once', async () => {
    const cwd = await setup();
    const out = path.join(cwd, 'out.jsonl');
    const args = ['submit', 'prompts.txt', ...SLOW, '--concurrency', '4', '--out', 'out.jsonl'];
    const proc = start(args, { cwd, timeoutMs: 30_000 });
    await waitFor(() => fileLines(out).lines.length >= 4, '4 results before kill -9', 20_000);
    proc.child.kill('SIGKILL');
    const res = await proc.exited;
    expect(res.signal).toBe('SIGKILL');

    const { lines, tail } = fileLines(out);
    expect(lines.length).toBeGreaterThanOrEqual(4);
    expect(lines.length).toBeLessThan(N);
    const written = lines.map((l) => JSON.parse(l) as ResultRecord);
    for (const r of written) expect(r.status).toBe('done');
    // A crash in the middle of a write leaves a partial line; make sure there is one, for an
    // item that is not recorded yet (so it must be run again, and recorded once).
    const doneIds = new Set(written.map((r) => r.id));
    const missing = PROMPTS.findIndex((_, k) => !doneIds.has(String(k + 1)));
    const partial = JSON.stringify({ id: String(missing + 1), index: missing, input: PROMPTS[missing], output: 'half an ans' }).slice(0, 60);
    appendFileSync(out, tail === '' ? partial : '');

    const resumed = await run([...args, '--resume'], { cwd, timeoutMs: 30_000 });
    expect(resumed.code, resumed.stdout + resumed.stderr).toBe(0);
    // The cut line is not skipped silently: one note says so.
    expect(resumed.stderr).toMatch(/^note: 1 line is not a whole record in out\.jsonl \(cut by a crash\?\): ignored, an item recorded only there runs again; [^\n]*\n$/);
    expect(resumed.stdout).toMatch(/^finished: 30 done, 0 failed of 30 in /m);
    expectCompleteOnce(out, paramsOf(args));
    // What the killed run wrote is kept, line for line, before the resumed run's lines.
    expect(fileLines(out).lines.slice(0, lines.length)).toEqual(lines);
  });
});
