/** `--max-failures N|P%` through the built binary, with the demo's failure_rate. */
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { FAST, printedResumeArgs, readResults, run, tempDirsPerFile } from './run.js';

const dir = tempDirsPerFile();
const prompts = (n: number): string[] => Array.from({ length: n }, (_, k) => ['-p', `prompt ${k + 1}`]).flat();
const ALWAYS_FAILS = ['--param', 'failure_rate=1', '--retries', '0'];

describe.concurrent('slowwork submit --max-failures', () => {
  test('N: stops once N items failed, like one Ctrl+C (in-flight items finish, the rest left for --resume); exit 3', async () => {
    const cwd = await dir();
    const out = path.join(cwd, 'r.jsonl');
    const res = await run(['submit', ...prompts(30), ...FAST, ...ALWAYS_FAILS, '--concurrency', '1', '--max-failures', '2', '--no-tui', '--out', out], { cwd });
    expect(res.code, res.stderr + res.stdout).toBe(3);
    const records = readResults(out);
    // The second failure stops it; items that started before its event arrived still run.
    expect(records.length).toBeGreaterThanOrEqual(2);
    expect(records.length).toBeLessThan(30);
    expect(records.every((r) => r.status === 'failed')).toBe(true);
    expect(res.stdout).toContain(`\nstopped: 0 done, ${records.length} failed, ${30 - records.length} unfinished of 30 in `);
    expect(res.stdout).toContain('\ncause:   --max-failures 2 reached: 2 items failed\n');
    expect(printedResumeArgs(res.stdout)).toEqual(expect.arrayContaining(['--resume', '--max-failures', '2']));
  });

  test('P%: counts against the items of the job', async () => {
    const cwd = await dir();
    const out = path.join(cwd, 'r.jsonl');
    const res = await run(['submit', ...prompts(40), ...FAST, ...ALWAYS_FAILS, '--concurrency', '1', '--max-failures', '10%', '--no-tui', '--out', out], { cwd });
    expect(res.code, res.stderr + res.stdout).toBe(3);
    expect(res.stdout).toContain('\ncause:   --max-failures 10% reached: 4 of 40 items failed\n');
    const records = readResults(out);
    expect(records.length).toBeGreaterThanOrEqual(4);
    expect(records.length).toBeLessThan(40);
    expect(res.stdout).toContain(`\nstopped: 0 done, ${records.length} failed, ${40 - records.length} unfinished of 40 in `);
  });

  test('not reached: the job runs to its end, exit 1 for the failures it had', async () => {
    const cwd = await dir();
    const res = await run(['submit', ...prompts(10), ...FAST, '--param', 'failure_rate=0.3', '--retries', '0', '--max-failures', '50%', '--no-tui', '--out', 'r.jsonl'], { cwd });
    const records = readResults(path.join(cwd, 'r.jsonl'));
    expect(records).toHaveLength(10);
    const failed = records.filter((r) => r.status === 'failed').length;
    expect(failed).toBeGreaterThan(0);
    expect(failed).toBeLessThan(5);
    expect(res.code, res.stderr + res.stdout).toBe(1);
    expect(res.stdout).not.toContain('cause:');
  });

  test.for(['0', 'many', '0%', '150%'])('--max-failures %s is a usage error', async (value) => {
    const cwd = await dir();
    const res = await run(['submit', '-p', 'x', ...FAST, '--max-failures', value, '--no-tui', '--out', 'r.jsonl'], { cwd });
    expect(res.code).toBe(2);
    expect(res.stderr).toBe(`slowwork: --max-failures must be a whole number of items (at least 1) or a percentage such as 5% (got "${value}")\n`);
  });
});
