/**
 * `submit --resume` after its Redis job ended without it: a submit killed with SIGKILL leaves the
 * job to the workers, which may finish it (or someone may cancel it) before the resume comes.
 * The resume must take that job's results from Redis and run only what nobody finished: every
 * run of an item is counted from outside the workers (the `runs` fixture processor).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { freshQueue, processes, writePrompts } from '../fixtures/redis-workers.js';
import { redisPerFile } from '../redis/server.js';
import { processorFixture, readResults, run, tempDirsPerFile, waitFor } from './run.js';

const redis = redisPerFile();
const newDir = tempDirsPerFile();

const RUNS = processorFixture('runs.mjs');
const N = 40;

/** The job id a `--no-tui` submit prints in its first line. */
const jobIdOf = (stdout: string): string | null => /^start {2}job (\w+):/m.exec(stdout)?.[1] ?? null;

/** How many times each item id ran, from the runs file. */
function runsById(file: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line) continue;
    const id = line.split(' ')[0]!;
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

/** A submit of N items of `ms` each on one worker of 4 slots, killed (SIGKILL) once five are recorded. */
async function killedSubmit(procs: ReturnType<typeof processes>, cwd: string, queue: string, ms: number, extra: readonly string[] = []) {
  writePrompts(cwd, 'prompts.txt', Array.from({ length: N }, (_, k) => `resume prompt ${k + 1}`));
  await procs.worker(redis().url, queue, cwd, ['-n', '4', '--threads', '1', '--heartbeat', '200', '--processor', RUNS]);
  const args = ['submit', 'prompts.txt', '--processor', RUNS, '--param', `runs_file=${path.join(cwd, 'runs.txt')}`, '--param', `ms=${ms}`, ...extra,
    '--redis', redis().url, '--queue', queue, '--no-tui', '--out', 'out.jsonl'];
  const first = procs.submit(args, cwd, 60_000);
  await waitFor(() => (first.stdout().match(/^done {3}\[/gm) ?? []).length >= 5, 'five items done', 30_000);
  const jobId = jobIdOf(first.stdout())!;
  first.child.kill('SIGKILL');
  await first.exited;
  return { args, jobId };
}

describe('submit --resume after its Redis job ended without it', () => {
  test('the workers finished the job: the resume records its results from Redis, runs nothing again, and exits 0', { timeout: 90_000 }, async ({ onTestFinished }) => {
    const procs = processes(onTestFinished);
    const cwd = await newDir();
    const queue = freshQueue('resume-done');
    const { args, jobId } = await killedSubmit(procs, cwd, queue, 150);
    // Killed mid-run: some results recorded (the last few may not have reached the file).
    expect(readResults(path.join(cwd, 'out.jsonl')).length).toBeLessThan(N);

    // The job ends on the workers (watch job exits with it).
    const watched = await run(['watch', 'job', jobId, '--no-tui', '--redis', redis().url, '--queue', queue], { cwd, timeoutMs: 60_000 });
    expect(watched.stdout).toMatch(new RegExp(`^finished: ${N} done, 0 failed of ${N} in `, 'm'));

    const again = await run([...args, '--resume'], { cwd, timeoutMs: 60_000 });
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(again.stdout).toMatch(new RegExp(`^finished: ${N} done, 0 failed of ${N} in `, 'm'));

    const records = readResults(path.join(cwd, 'out.jsonl'));
    expect(records.map((r) => r.id).sort((a, b) => Number(a) - Number(b))).toEqual(Array.from({ length: N }, (_, k) => String(k + 1)));
    for (const r of records) expect(r).toMatchObject({ status: 'done', input: `resume prompt ${r.index + 1}`, output: `ran ${`resume prompt ${r.index + 1}`.length}`, attempts: 1 });
    const runs = runsById(path.join(cwd, 'runs.txt'));
    expect([...runs].filter(([, n]) => n !== 1), 'items that ran more than once').toEqual([]);
    expect(runs.size).toBe(N);
  });

  test('the job was cancelled (--drain): the resume records what it finished and runs only the rest, each once', { timeout: 90_000 }, async ({ onTestFinished }) => {
    const procs = processes(onTestFinished);
    const cwd = await newDir();
    const queue = freshQueue('resume-cancelled');
    // Items from the ninth on wait for a gate: the job is surely still running when cancelled,
    // however slow the machine. Running items finish (--drain) once the gate opens, so every
    // item runs at most once, here or in the resume.
    const gate = path.join(cwd, 'gate');
    const { args, jobId } = await killedSubmit(procs, cwd, queue, 100, ['--param', `gate=${gate}`, '--param', 'gate_from=9']);
    const cancel = await run(['cancel', jobId, '--drain', '--redis', redis().url, '--queue', queue], { cwd });
    expect(cancel.code, cancel.stderr).toBe(0);
    writeFileSync(gate, '');
    const watched = await run(['watch', 'job', jobId, '--json', '--redis', redis().url, '--queue', queue], { cwd, timeoutMs: 60_000 });
    const doneInJob = watched.stdout.split('\n').filter((l) => l.includes('"type":"item-done"')).length;
    expect(doneInJob).toBeLessThan(N);

    const again = await run([...args, '--resume'], { cwd, timeoutMs: 60_000 });
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(again.stdout).not.toContain(`job ${jobId}:`);
    expect(again.stdout).toMatch(new RegExp(`^finished: ${N} done, 0 failed of ${N} in `, 'm'));

    const records = readResults(path.join(cwd, 'out.jsonl'));
    expect(new Set(records.map((r) => r.id)).size).toBe(N);
    expect(records).toHaveLength(N);
    const runs = runsById(path.join(cwd, 'runs.txt'));
    expect([...runs].filter(([, n]) => n !== 1), 'items that ran more than once').toEqual([]);
    expect(runs.size).toBe(N);
  });
});
