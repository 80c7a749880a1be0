/**
 * Metering through Redis workers (`submit --redis` served by `slowwork workers`): what processors
 * report (ctx.report) rides the job's events stream to the results lines, the --json events and
 * the summary's token totals (failed attempts too, retried on the worker side or dead-lettered);
 * --budget-tokens stops a Redis run and a resume goes on; the job hash counts completion tokens
 * for the dashboard's TOKENS/S.
 */
import path from 'node:path';
import { writeFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { freshQueue, jsonEvents, processes, writePrompts } from '../fixtures/redis-workers.js';
import { redisPerFile } from '../redis/server.js';
import { printedResumeArgs, processorFixture, readResults, run, tempDirsPerFile, waitFor } from './run.js';

const redis = redisPerFile();
const newDir = tempDirsPerFile();
const METERED = ['--processor', processorFixture('metered.mjs')];
const WORKER_ARGS = ['--threads', '1', '--heartbeat', '200'];

interface DashJobJson {
  id: string;
  status: string;
  tokensOut?: number;
  tokensPerSec: number | null;
}

describe.concurrent('token usage through Redis workers', () => {
  test("results carry each answer's usage; the summary counts every attempt, retried on the worker or failed; the job hash counts completion tokens", async ({ onTestFinished }) => {
    const procs = processes(onTestFinished);
    const cwd = await newDir();
    const queue = freshQueue('usage');
    await procs.worker(redis().url, queue, cwd, ['-n', '4', ...WORKER_ARGS, ...METERED]);
    const args = ['submit', '-p', 'one two three', '-p', 'flaky a b c', '-p', 'broken x y', ...METERED, '--retries', '1', '--redis', redis().url, '--queue', queue];
    const res = await procs.submit([...args, '--no-tui', '--out', 'out.jsonl'], cwd).exited;
    expect(res.code, res.stdout + res.stderr).toBe(1); // one item failed
    const byInput = Object.fromEntries(readResults(path.join(cwd, 'out.jsonl')).map((r) => [String(r.input), r]));
    expect(byInput['one two three']).toMatchObject({ status: 'done', usage: { prompt_tokens: 3, completion_tokens: 3 }, model: 'metered-1', finish_reason: 'stop', request_id: 'req-1-1' });
    // The line is the answer's: the final attempt's usage (attempt 2 ran after a retry through Redis).
    expect(byInput['flaky a b c']).toMatchObject({ status: 'done', attempts: 2, usage: { prompt_tokens: 4, completion_tokens: 4 }, request_id: 'req-2-2' });
    expect(byInput['broken x y']).toMatchObject({ status: 'failed', usage: { prompt_tokens: 3, completion_tokens: 1 }, request_id: 'req-3-2' });
    // Every attempt: 3+3; flaky 4+2 then 4+4; broken 3+1 twice: 17 prompt, 11 completion.
    expect(res.stdout).toContain('tokens:  17 prompt + 11 completion = 28\n');

    // The job hash counted the same completion tokens, for the dashboard.
    const dash = await run(['watch', 'dashboard', '--once', '--json', '--redis', redis().url, '--queue', queue], { cwd });
    expect(dash.code, dash.stderr).toBe(0);
    const jobs = (JSON.parse(dash.stdout) as { jobs: DashJobJson[] }).jobs;
    expect(jobs).toHaveLength(1);
    expect(jobs[0]).toMatchObject({ status: 'done', tokensOut: 11 });

    // --json: the retried attempt's event carries what it reported.
    const json = await procs.submit([...args, '--json', '--out', 'json.jsonl'], cwd).exited;
    expect(json.code, json.stderr).toBe(1);
    const events = jsonEvents(json.stdout);
    const retry = events.find((e) => e.type === 'item-retry' && e.index === 1);
    expect(retry).toMatchObject({ attempt: 1, meta: { usage: { prompt_tokens: 4, completion_tokens: 2 }, request_id: 'req-2-1' } });
    expect(events.find((e) => e.type === 'item-failed')).toMatchObject({ meta: { usage: { prompt_tokens: 3, completion_tokens: 1 } } });
    expect(events.at(-1)).toMatchObject({ type: 'summary', tokens: { prompt: 17, completion: 11 } });
  });

  test('--budget-tokens stops a Redis run (exit 5, the resume command); a resume goes on and one without the budget finishes, each item once', async ({ onTestFinished }) => {
    const procs = processes(onTestFinished);
    const cwd = await newDir();
    const queue = freshQueue('budget');
    // One slot: items run one after the other, each a claim and a report apart, so the budget
    // stops the run with most of its 30 items left.
    await procs.worker(redis().url, queue, cwd, ['-n', '1', ...WORKER_ARGS, ...METERED]);
    const prompts = Array.from({ length: 30 }, (_, k) => `item ${k + 1} c d`);
    writePrompts(cwd, 'prompts.txt', prompts);
    const args = ['submit', 'prompts.txt', ...METERED, '--budget-tokens', '10', '--redis', redis().url, '--queue', queue, '--no-tui', '--out', 'out.jsonl'];
    const res = await procs.submit(args, cwd).exited;
    expect(res.code, res.stdout + res.stderr).toBe(5);
    expect(res.stdout).toMatch(/^cause: {3}budget reached: \d+ tokens of --budget-tokens 10$/m);
    const first = readResults(path.join(cwd, 'out.jsonl'));
    // 8 tokens per item: the second reaches the budget; what the worker had started finishes too.
    expect(first.length).toBeGreaterThanOrEqual(2);
    expect(first.length).toBeLessThan(prompts.length);
    expect(first.every((r) => r.status === 'done' && r.usage?.completion_tokens === 4)).toBe(true);

    // The printed resume command: a fresh budget, so it does more, not none.
    const resumeArgs = printedResumeArgs(res.stdout);
    expect(resumeArgs).toContain('--resume');
    const again = await procs.submit(resumeArgs, cwd).exited;
    expect([0, 5], again.stdout + again.stderr).toContain(again.code);
    const second = readResults(path.join(cwd, 'out.jsonl'));
    expect(second.length).toBeGreaterThan(first.length);

    // Without the budget, the rest: every item done once.
    const last = await procs.submit([...resumeArgs.filter((a, k) => a !== '--budget-tokens' && resumeArgs[k - 1] !== '--budget-tokens')], cwd).exited;
    expect(last.code, last.stdout + last.stderr).toBe(0);
    const all = readResults(path.join(cwd, 'out.jsonl'));
    expect(all.map((r) => r.input).sort()).toEqual([...prompts].sort());
    expect(all.every((r) => r.status === 'done')).toBe(true);
  });

  test("the dashboard's job row shows tokens/s while the job runs", async ({ onTestFinished }) => {
    const procs = processes(onTestFinished);
    const cwd = await newDir();
    const queue = freshQueue('dash-tokens');
    const gated = ['--processor', processorFixture('metered-gate.mjs')];
    await procs.worker(redis().url, queue, cwd, ['-n', '2', ...WORKER_ARGS, ...gated]);
    const gate = path.join(cwd, 'gate-open');
    // Ten items of five tokens each, and one that holds the job open until the test has looked.
    writePrompts(cwd, 'prompts.txt', [`wait ${gate}`, ...Array.from({ length: 10 }, (_, k) => `metered words of item ${k + 1}`)]);
    const sub = procs.submit(['submit', 'prompts.txt', ...gated, '--redis', redis().url, '--queue', queue, '--no-tui', '--out', 'out.jsonl'], cwd);
    await waitFor(() => (sub.stdout().match(/^done {3}\[/gm) ?? []).length >= 10, 'ten items done', 30_000);

    // A first sample guesses a job's speed from its age, once it is a second old: poll until then.
    let job: DashJobJson | undefined;
    for (let tries = 0; tries < 100 && !(job?.tokensPerSec && job.tokensPerSec > 0); tries++) {
      const res = await run(['watch', 'dashboard', '--once', '--json', '--redis', redis().url, '--queue', queue], { cwd });
      expect(res.code, res.stderr).toBe(0);
      job = (JSON.parse(res.stdout) as { jobs: DashJobJson[] }).jobs[0];
      if (!(job?.tokensPerSec && job.tokensPerSec > 0)) await new Promise((r) => setTimeout(r, 50));
    }
    expect(job).toMatchObject({ status: 'running', tokensOut: 50 });
    expect(job!.tokensPerSec).toBeGreaterThan(0);

    const text = await run(['watch', 'dashboard', '--once', '--redis', redis().url, '--queue', queue], { cwd });
    expect(text.code, text.stderr).toBe(0);
    const header = text.stdout.split('\n').find((l) => l.includes('TOKENS/S'));
    expect(header, text.stdout).toBeDefined();
    const row = text.stdout.split('\n').find((l) => l.includes(job!.id))!;
    // The row's TOKENS/S cell, under its header: a figure, not '-'.
    const end = header!.indexOf('TOKENS/S') + 'TOKENS/S'.length;
    expect(row.slice(0, end).trim().split(/\s+/).at(-1)).toMatch(/^\d+(\.\d+)?[kM]?$/);
    writeFileSync(gate, '');
    expect((await sub.exited).code).toBe(0);
  });
});
