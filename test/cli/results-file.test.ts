/**
 * The results file on the built CLI: one run at a time (a lock beside it, a stale one taken
 * over), one line per item when a run ends, and summaries that count what the file holds even
 * when the disk fills up (exit 74). Runs its tests one at a time: several start long runs.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import type { ResultRecord } from '../../src/core/types.js';
import { FAST, fileLines, processorFixture, readResults, run, start, tempDirsPerFile, waitFor, type Running } from './run.js';

const GATE = processorFixture('gate.mjs');
const FAULTY = processorFixture('faulty.mjs');
const newDir = tempDirsPerFile();

async function setup(prompts: readonly string[]): Promise<string> {
  const cwd = await newDir();
  writeFileSync(path.join(cwd, 'p.txt'), prompts.join('\n') + '\n');
  return cwd;
}

/** Every line parses, each id once; the records. */
function oneLinePerId(out: string): ResultRecord[] {
  const records = readResults(out);
  const ids = records.map((r) => r.id);
  expect(new Set(ids).size, `ids recorded twice: ${ids.filter((id, k) => ids.indexOf(id) !== k).join(', ')}`).toBe(ids.length);
  return records;
}

const countBy = (records: readonly ResultRecord[], status: string): number => records.filter((r) => r.status === status).length;

/** 299 quick items, then one that waits for `gate` to exist: the run holds its file until then. */
async function heldRun(): Promise<{ cwd: string; out: string; gate: string; args: string[]; owner: Running }> {
  const cwd = await newDir();
  const gate = path.join(cwd, 'go');
  const prompts = Array.from({ length: 299 }, (_, k) => `item ${k + 1}`);
  writeFileSync(path.join(cwd, 'p.txt'), [...prompts, `wait ${gate}`].join('\n') + '\n');
  const out = path.join(cwd, 'out.jsonl');
  const args = ['submit', 'p.txt', '--processor', GATE, '--out', 'out.jsonl'];
  const owner = start(args, { cwd, timeoutMs: 60_000 });
  await waitFor(() => fileLines(out).lines.length === 299, 'the first run to write 299 lines', 30_000);
  return { cwd, out, gate, args, owner };
}

/** Lets a held run end, and makes sure it has (a failed test must not leave it running). */
async function release(h: { gate: string; owner: Running }): Promise<void> {
  writeFileSync(h.gate, '');
  if (h.owner.child.exitCode === null && h.owner.child.signalCode === null) {
    await Promise.race([h.owner.exited.catch(() => undefined), new Promise((r) => setTimeout(r, 15_000))]);
    h.owner.child.kill('SIGKILL');
  }
}

describe.sequential('slowwork submit: one run at a time per results file', () => {
  test('a second run on the same file is refused in one line (exit 2) naming the owner; the file stays whole', async () => {
    const held = await heldRun();
    try {
      const owner = `pid ${held.owner.child.pid} on host ${os.hostname()}`;
      for (const extra of [['--resume'], []]) {
        const second = await run([...held.args, ...extra], { cwd: held.cwd });
        expect(second.code, second.stdout + second.stderr).toBe(2);
        expect(second.stdout).toBe('');
        expect(second.stderr.trim().split('\n')).toHaveLength(1);
        expect(second.stderr).toMatch(/^slowwork: out\.jsonl is in use by another run \(/);
        expect(second.stderr).toContain(owner);
      }
      expect(fileLines(held.out).lines).toHaveLength(299);
      writeFileSync(held.gate, '');
      const first = await held.owner.exited;
      expect(first.code, first.stdout + first.stderr).toBe(0);
      expect(oneLinePerId(held.out)).toHaveLength(300);
      expect(existsSync(`${held.out}.lock`)).toBe(false);
    } finally {
      await release(held);
    }
  });

  test('the lock of a run killed with kill -9 is stale: the resume takes it over and finishes', async () => {
    const held = await held_killed();
    const lock = JSON.parse(readFileSync(`${held.out}.lock`, 'utf8')) as { pid: number; host: string };
    expect(lock).toMatchObject({ pid: held.owner.child.pid, host: os.hostname() });
    writeFileSync(held.gate, '');
    const res = await run([...held.args, '--resume'], { cwd: held.cwd });
    expect(res.code, res.stdout + res.stderr).toBe(0);
    expect(res.stdout).toMatch(/^finished: 300 done, 0 failed of 300 in .*\(299 skipped, done before\)/m);
    expect(oneLinePerId(held.out)).toHaveLength(300);
    expect(existsSync(`${held.out}.lock`)).toBe(false);
  });

  async function held_killed() {
    const held = await heldRun();
    held.owner.child.kill('SIGKILL');
    const res = await held.owner.exited;
    expect(res.signal).toBe('SIGKILL');
    return held;
  }

  test('the lock is released on the exits that are not the normal end: an error, a third Ctrl+C', async () => {
    // An error after the lock was taken: the file records other inputs.
    const cwd = await setup(['one', 'two']);
    expect((await run(['submit', 'p.txt', '--processor', FAULTY, '--out', 'out.jsonl'], { cwd })).code).toBe(0);
    writeFileSync(path.join(cwd, 'other.txt'), 'different\n');
    const refused = await run(['submit', 'other.txt', '--processor', FAULTY, '--out', 'out.jsonl', '--resume'], { cwd });
    expect(refused.code, refused.stderr).toBe(2);
    expect(refused.stderr).toMatch(/different input/);
    expect(existsSync(path.join(cwd, 'out.jsonl.lock'))).toBe(false);

    // A third Ctrl+C leaves at once (process.exit) while an item ignores its abort.
    const cwd2 = await setup(['fine', 'hang-deaf']);
    const out = path.join(cwd2, 'out.jsonl');
    const proc = start(['submit', 'p.txt', '--processor', FAULTY, '--out', 'out.jsonl'], { cwd: cwd2 });
    await waitFor(() => fileLines(out).lines.length === 1, 'the fine item recorded');
    expect(existsSync(`${out}.lock`)).toBe(true);
    proc.child.kill('SIGINT');
    await waitFor(() => /^phase {2}draining/m.test(proc.stdout()), 'the draining phase line');
    proc.child.kill('SIGINT');
    await waitFor(() => /^phase {2}aborting/m.test(proc.stdout()), 'the aborting phase line');
    proc.child.kill('SIGINT');
    const res = await proc.exited;
    expect(res.code, res.stdout + res.stderr).toBe(130);
    expect(existsSync(`${out}.lock`)).toBe(false);
    expect(oneLinePerId(out)).toHaveLength(1);
  });
});

describe.sequential('slowwork submit: one line per item when a run ends', () => {
  test('--retry-failed leaves one line per item, and the summary and the file agree', async () => {
    // 20 fine, 21 that fail once, 4 that always fail: 20 done and 25 failed, then 41 and 4.
    const prompts = [
      ...Array.from({ length: 20 }, (_, k) => `fine ${k}`),
      ...Array.from({ length: 21 }, (_, k) => `flaky 1 ${k}`),
      ...Array.from({ length: 4 }, (_, k) => `throw ${k}`),
    ];
    const cwd = await setup(prompts);
    const out = path.join(cwd, 'out.jsonl');
    const base = ['submit', 'p.txt', '--processor', FAULTY, '--out', 'out.jsonl'];
    const first = await run([...base, '--retries', '0'], { cwd });
    expect(first.code, first.stdout + first.stderr).toBe(1);
    expect(first.stdout).toMatch(/^finished: 20 done, 25 failed of 45 in /m);

    const again = await run([...base, '--retries', '1', '--resume', '--retry-failed'], { cwd });
    expect(again.code, again.stdout + again.stderr).toBe(1);
    expect(again.stdout).toMatch(/^finished: 41 done, 4 failed of 45 in /m);
    const records = oneLinePerId(out);
    expect(records).toHaveLength(45);
    expect([countBy(records, 'done'), countBy(records, 'failed')]).toEqual([41, 4]);
    expect(records.filter((r) => r.status === 'failed').map((r) => r.input).sort()).toEqual(prompts.slice(41).sort());
  });

  test('a torn last line (kill -9 mid-write) is not skipped: its item runs again, the torn bytes go', async () => {
    const cwd = await setup(['a', 'b', 'c', 'd', 'e']);
    const out = path.join(cwd, 'out.jsonl');
    const args = ['submit', 'p.txt', '--processor', GATE, '--out', 'out.jsonl'];
    expect((await run(args, { cwd })).code).toBe(0);
    const { lines } = fileLines(out);
    const torn = JSON.parse(lines[4]!) as ResultRecord;
    writeFileSync(out, `${lines.slice(0, 4).join('\n')}\n${lines[4]!.slice(0, 40)}`);

    const res = await run([...args, '--resume'], { cwd });
    expect(res.code, res.stdout + res.stderr).toBe(0);
    expect(res.stderr).toBe('note: 1 line is not a whole record in out.jsonl (cut by a crash?): ignored, an item recorded only there runs again; the file is cleaned up when this run ends\n');
    expect(res.stdout).toMatch(/^finished: 5 done, 0 failed of 5 in .*\(4 skipped, done before\)/m);
    const records = oneLinePerId(out);
    expect(records).toHaveLength(5);
    expect(records.slice(0, 4).map((r) => JSON.stringify(r))).toEqual(lines.slice(0, 4).map((l) => JSON.stringify(JSON.parse(l))));
    expect(records[4]).toMatchObject({ id: torn.id, input: torn.input, status: 'done', output: torn.output });
  });
});

describe.sequential('slowwork submit: a full disk', () => {
  test('/dev/full: nothing lands, the summary says 0 done, one line, exit 74 (not a usage error)', async () => {
    const cwd = await setup(Array.from({ length: 300 }, (_, k) => `prompt ${k}`));
    const res = await run(['submit', 'p.txt', ...FAST, '--out', '/dev/full'], { cwd });
    expect(res.code, res.stdout + res.stderr).toBe(74);
    // Stopped by the error, not "finished"; the cause is on the summary too.
    expect(res.stdout).toMatch(/^stopped: 0 done, 0 failed, 300 unfinished of 300 in /m);
    expect(res.stdout).toMatch(/^cause: {3}cannot write results to \/dev\/full: no space left on device$/m);
    expect(res.stderr).toBe('slowwork: cannot write results to /dev/full: no space left on device\n');
  });

  test('a disk that fills mid-run: the summary counts the lines in the file, which parses; a resume finishes it', async () => {
    const cwd = await setup(Array.from({ length: 300 }, (_, k) => `prompt ${k}`));
    const out = path.join(cwd, 'out.jsonl');
    const args = ['submit', 'p.txt', ...FAST, '--out', 'out.jsonl'];
    const res = await run(args, { cwd, fileSizeLimitKiB: 48 });
    expect(res.code, res.stdout + res.stderr).toBe(74);
    expect(res.stderr).toBe('slowwork: cannot write results to out.jsonl: file too large\n');
    const landed = oneLinePerId(out).length; // throws on a cut last line
    expect(landed).toBeGreaterThan(0);
    expect(landed).toBeLessThan(300);
    expect(res.stdout).toMatch(new RegExp(`^stopped: ${landed} done, 0 failed, ${300 - landed} unfinished of 300 in `, 'm'));

    const resumed = await run([...args, '--resume'], { cwd });
    expect(resumed.code, resumed.stdout + resumed.stderr).toBe(0);
    expect(resumed.stdout).toMatch(new RegExp(`^finished: 300 done, 0 failed of 300 in .*\\(${landed} skipped, done before\\)`, 'm'));
    expect(oneLinePerId(out)).toHaveLength(300);
  });
});
