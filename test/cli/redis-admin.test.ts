/**
 * Looking at and steering a Redis queue from anywhere, on the built binary against a real
 * redis-server: `slowwork jobs`, `watch job` (live and after the end), `cancel`, and a job that
 * outlives its submitter (kill -9, SIGHUP) picked up again by `submit --resume`.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { expectAllDoneOnce, freshQueue, paramArgs, processes, writePrompts } from '../fixtures/redis-workers.js';
import { redisPerFile } from '../redis/server.js';
import { processorFixture, readResults, run, tempDirsPerFile, waitFor } from './run.js';

const redis = redisPerFile();
const newDir = tempDirsPerFile();

/** About 0.5 s an item: long enough to act while a job runs. */
const SLOW = { first_token_ms: '100', tokens_per_s: '40', length: '10-20' };
const WORKER_ARGS = ['-n', '4', '--threads', '1', '--heartbeat', '200'];

/** The job id a `--no-tui` submit prints in its first line. */
const jobIdOf = (stdout: string): string | null => /^start {2}job (\w+):/m.exec(stdout)?.[1] ?? null;

describe('slowwork jobs, watch job and cancel', () => {
  test('jobs lists a running job with its progress (text and --json); watch job follows it live and replays it after the end', async ({ onTestFinished }) => {
    const procs = processes(onTestFinished);
    const cwd = await newDir();
    const queue = freshQueue('admin');
    // The last prompt waits for a gate the test opens once it has looked: the job is surely
    // running while `jobs` and the live `watch job` look at it, however slow the machine.
    const prompts = Array.from({ length: 12 }, (_, k) => `admin prompt ${k + 1}${k === 11 ? ' [gated]' : ''}`);
    writePrompts(cwd, 'prompts.txt', prompts);
    const gate = path.join(cwd, 'gate-open');
    const gated = ['--processor', processorFixture('gated-demo.mjs')];
    await procs.worker(redis().url, queue, cwd, [...WORKER_ARGS, ...gated]);
    const sub = procs.submit(['submit', 'prompts.txt', '--redis', redis().url, '--queue', queue, ...gated, ...paramArgs({ ...SLOW, gate }), '--no-tui', '--out', 'out.jsonl'], cwd, 60_000);
    await waitFor(() => jobIdOf(sub.stdout()) !== null && sub.stdout().includes('done   ['), 'the first item done', 20_000);
    const jobId = jobIdOf(sub.stdout())!;

    const listed = await run(['jobs', '--redis', redis().url, '--queue', queue], { cwd });
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toMatch(/^JOB\s+STATUS\s+DONE\s+FAILED\s+TOTAL\s+RUNNING\s+AGE\s+PROCESSORS\s+SUBMITTER/m);
    const row = listed.stdout.split('\n').find((l) => l.startsWith(jobId));
    expect(row, listed.stdout).toMatch(new RegExp(`^${jobId}\\s+running\\s+\\d+\\s+0\\s+12\\s+\\d+\\s+\\S+\\s+gated-demo\\s+\\S+:\\d+`));

    const json = await run(['jobs', '--json', '--redis', redis().url, '--queue', queue], { cwd });
    const rows = json.stdout.trim().split('\n').map((l) => JSON.parse(l) as { id: string; status: string; total: number; done: number; processors: string[] });
    const mine = rows.find((r) => r.id === jobId)!;
    expect(mine).toMatchObject({ status: 'running', total: 12, processors: ['gated-demo'] });
    expect(mine.done).toBeGreaterThanOrEqual(1);

    // Attached while it runs: it sees every item to the end, and exits as the job does.
    const watching = procs.submit(['watch', 'job', jobId, '--no-tui', '--redis', redis().url, '--queue', queue], cwd, 60_000);
    await waitFor(() => watching.stdout().includes('done   ['), 'watch job attached (an item replayed)', 20_000);
    writeFileSync(gate, '');
    const live = await watching.exited;
    expect(live.code, live.stdout + live.stderr).toBe(0);
    expect(live.stdout.match(/^done {3}\[\d+\]/gm)).toHaveLength(12);
    expect(live.stdout).toMatch(/^finished: 12 done, 0 failed of 12 in /m);

    const res = await sub.exited;
    expect(res.code, res.stdout + res.stderr).toBe(0);
    expectAllDoneOnce(path.join(cwd, 'out.jsonl'), prompts, SLOW);

    // After the end: replayed from the start, the same twelve results.
    const replay = await run(['watch', 'job', jobId, '--json', '--redis', redis().url, '--queue', queue], { cwd, timeoutMs: 30_000 });
    expect(replay.code, replay.stderr).toBe(0);
    const events = replay.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; index?: number; output?: string });
    const done = events.filter((e) => e.type === 'item-done');
    expect(done.map((e) => e.index).sort((a, b) => a! - b!)).toEqual(prompts.map((_, k) => k));
    const byIndex = new Map(readResults(path.join(cwd, 'out.jsonl')).map((r) => [r.index, r.output]));
    for (const e of done) expect(e.output).toBe(byIndex.get(e.index!));

    const after = await run(['jobs', '--redis', redis().url, '--queue', queue], { cwd });
    expect(after.stdout.split('\n').find((l) => l.startsWith(jobId))).toMatch(new RegExp(`^${jobId}\\s+done\\s+12\\s+0\\s+12\\s+0\\s`));
  });

  test('watch job counts from the job\'s start, not the attach: a replay of a finished job says its run time', async ({ onTestFinished }) => {
    const procs = processes(onTestFinished);
    const cwd = await newDir();
    const queue = freshQueue('replay-time');
    writePrompts(cwd, 'prompts.txt', Array.from({ length: 12 }, (_, k) => `replay prompt ${k + 1}`));
    await procs.worker(redis().url, queue, cwd, WORKER_ARGS);
    const sub = procs.submit(['submit', 'prompts.txt', '--redis', redis().url, '--queue', queue, ...paramArgs(SLOW), '--no-tui', '--out', 'out.jsonl'], cwd, 60_000);
    const res = await sub.exited;
    expect(res.code, res.stdout + res.stderr).toBe(0);
    const jobId = jobIdOf(res.stdout)!;
    // 12 items of >= 0.35 s on 4 slots: the job ran >= 1 s, whatever the machine.
    const replay = await run(['watch', 'job', jobId, '--no-tui', '--redis', redis().url, '--queue', queue], { cwd, timeoutMs: 30_000 });
    expect(replay.code, replay.stderr).toBe(0);
    const m = /^finished: 12 done, 0 failed of 12 in (\d+(?:\.\d)?)(ms|s)$/m.exec(replay.stdout);
    expect(m, replay.stdout).not.toBeNull();
    const ms = Number(m![1]) * (m![2] === 's' ? 1000 : 1);
    expect(ms, 'the replay states the job\'s run time').toBeGreaterThanOrEqual(1000);
    const submitted = /^finished: 12 done, 0 failed of 12 in (\d+(?:\.\d)?)s$/m.exec(res.stdout);
    expect(submitted, res.stdout).not.toBeNull();
    // No longer than the submit that ran it (which also read inputs and connected first).
    expect(ms).toBeLessThanOrEqual(Number(submitted![1]) * 1000 + 100);
  });

  test('cancel stops a running job everywhere: the submit exits 130 with the rest unfinished, jobs says cancelled; an unknown id is one line and exit 2', async ({ onTestFinished }) => {
    const procs = processes(onTestFinished);
    const cwd = await newDir();
    const queue = freshQueue('cancel');
    writePrompts(cwd, 'prompts.txt', Array.from({ length: 40 }, (_, k) => `cancel prompt ${k + 1}`));
    await procs.worker(redis().url, queue, cwd, WORKER_ARGS);
    const sub = procs.submit(['submit', 'prompts.txt', '--redis', redis().url, '--queue', queue, ...paramArgs(SLOW), '--no-tui', '--out', 'out.jsonl'], cwd, 60_000);
    await waitFor(() => jobIdOf(sub.stdout()) !== null && sub.stdout().includes('done   ['), 'the first item done', 20_000);
    const jobId = jobIdOf(sub.stdout())!;

    const cancel = await run(['cancel', jobId, '--redis', redis().url, '--queue', queue], { cwd });
    expect(cancel.code, cancel.stderr).toBe(0);
    expect(cancel.stdout).toMatch(new RegExp(`^job ${jobId}: (cancelling|cancelled)`, 'm'));

    const res = await sub.exited;
    expect(res.code, res.stdout + res.stderr).toBe(130);
    const m = /^cancelled: (\d+) done, (\d+) failed, (\d+) unfinished of 40 in \S+ \(cancelled by slowwork cancel\)$/m.exec(res.stdout);
    expect(m, res.stdout).not.toBeNull();
    expect(Number(m![3])).toBeGreaterThan(0);
    // What finished is in the results file, once each.
    const records = readResults(path.join(cwd, 'out.jsonl'));
    expect(new Set(records.map((r) => r.id)).size).toBe(records.length);
    expect(records.length).toBe(Number(m![1]) + Number(m![2]));

    const listed = await run(['jobs', '--redis', redis().url, '--queue', queue], { cwd });
    expect(listed.stdout.split('\n').find((l) => l.startsWith(jobId))).toMatch(new RegExp(`^${jobId}\\s+cancelled\\s`));

    const unknown = await run(['cancel', 'nosuchjob', '--redis', redis().url, '--queue', queue], { cwd });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toBe(`slowwork: no job nosuchjob on queue ${queue} (it may have expired; see slowwork jobs)\n`);
  });

  test('a submit killed with SIGKILL leaves its job running on the workers; submit --resume attaches again and records each item once', async ({ onTestFinished }) => {
    const procs = processes(onTestFinished);
    const cwd = await newDir();
    const queue = freshQueue('reattach');
    const prompts = Array.from({ length: 16 }, (_, k) => `reattach prompt ${k + 1}`);
    writePrompts(cwd, 'prompts.txt', prompts);
    const worker = await procs.worker(redis().url, queue, cwd, WORKER_ARGS);
    const args = ['submit', 'prompts.txt', '--redis', redis().url, '--queue', queue, ...paramArgs(SLOW), '--no-tui', '--out', 'out.jsonl'];
    const first = procs.submit(args, cwd, 60_000);
    await waitFor(() => (first.stdout().match(/^done {3}\[/gm) ?? []).length >= 2, 'two items done', 20_000);
    const jobId = jobIdOf(first.stdout())!;
    first.child.kill('SIGKILL');
    await first.exited;
    // The only worker leaves (drained: what it runs finishes, the rest goes back to the queue),
    // so the job is surely still running when the resume comes. (A job that ended first is
    // test/cli/redis-resume.test.ts.)
    worker.proc.child.kill('SIGINT');
    await worker.exited;

    // The job goes on without its submitter.
    const running = await run(['jobs', '--redis', redis().url, '--queue', queue], { cwd });
    expect(running.stdout.split('\n').find((l) => l.startsWith(jobId))).toMatch(/\srunning\s/);

    const resumed = procs.submit([...args, '--resume'], cwd, 60_000);
    await waitFor(() => resumed.stdout().includes(`job ${jobId}:`), 'the resume attached to the job', 20_000);
    await procs.worker(redis().url, queue, cwd, WORKER_ARGS);
    const again = await resumed.exited;
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expectAllDoneOnce(path.join(cwd, 'out.jsonl'), prompts, SLOW);
  });

  test('SIGHUP detaches a submit (the terminal closed): it exits 130 with how to resume, and the job finishes on the workers', async ({ onTestFinished }) => {
    const procs = processes(onTestFinished);
    const cwd = await newDir();
    const queue = freshQueue('hangup');
    const prompts = Array.from({ length: 10 }, (_, k) => `hangup prompt ${k + 1}`);
    writePrompts(cwd, 'prompts.txt', prompts);
    await procs.worker(redis().url, queue, cwd, WORKER_ARGS);
    const sub = procs.submit(['submit', 'prompts.txt', '--redis', redis().url, '--queue', queue, ...paramArgs(SLOW), '--no-tui', '--out', 'out.jsonl'], cwd, 60_000);
    await waitFor(() => sub.stdout().includes('done   ['), 'the first item done', 20_000);
    const jobId = jobIdOf(sub.stdout())!;
    sub.child.kill('SIGHUP');
    const res = await sub.exited;
    expect(res.code, res.stdout + res.stderr).toBe(130);
    expect(res.stdout).toMatch(/--resume/);

    const watched = await run(['watch', 'job', jobId, '--no-tui', '--redis', redis().url, '--queue', queue], { cwd, timeoutMs: 60_000 });
    expect(watched.code, watched.stdout + watched.stderr).toBe(0);
    expect(watched.stdout).toMatch(/^finished: 10 done, 0 failed of 10 in /m);
  });
});
