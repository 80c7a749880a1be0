/**
 * Distributed mode, the normal path: `slowwork workers` processes serve `submit --redis` jobs.
 * Every item is done once with the demo's answer, the results name the worker processes, the
 * file matches an embedded run of the same inputs; several submitters share a queue, and a
 * queue is served only by its own workers.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import type { ResultRecord } from '../../src/core/types.js';
import { expectAllDoneOnce, freshQueue, paramArgs, processes, writePrompts } from '../fixtures/redis-workers.js';
import { redisPerFile } from '../redis/server.js';
import { fileLines, processorFixture, readResults, run, tempDirsPerFile, waitFor } from './run.js';

const redis = redisPerFile();
const newDir = tempDirsPerFile();

/** Quick, but not instant: 50 ms to the first token, so no worker can take a whole job alone. */
const QUICK = { first_token_ms: '50', tokens_per_s: '0', length: '3-12' };
const WORKER_ARGS = ['-n', '8', '--threads', '1', '--heartbeat', '200'];

/** A record without what depends on where and when it ran. */
const content = (r: ResultRecord) => ({ id: r.id, index: r.index, input: r.input, output: r.output, status: r.status, error: r.error, attempts: r.attempts });
const byIndex = (records: readonly ResultRecord[]) => [...records].sort((a, b) => a.index - b.index);

describe('slowwork submit --redis with slowwork workers', () => {
  test('two workers, 200 items: exit 0, each done once, the demo answers, both workers named, same as an embedded run', async ({ onTestFinished }) => {
    const procs = processes(onTestFinished);
    const cwd = await newDir();
    const queue = freshQueue('basic');
    const prompts = Array.from({ length: 200 }, (_, k) => `distributed prompt ${k + 1}`);
    writePrompts(cwd, 'prompts.txt', prompts);
    const [w1, w2] = await Promise.all([procs.worker(redis().url, queue, cwd, WORKER_ARGS), procs.worker(redis().url, queue, cwd, WORKER_ARGS)]);
    expect(w1!.name).not.toBe(w2!.name);
    // The name carries the process id: results say which process ran each item.
    expect(w1!.name.split(':')[1]).toBe(String(w1!.pid));
    expect(w2!.name.split(':')[1]).toBe(String(w2!.pid));

    const sub = procs.submit(['submit', 'prompts.txt', '--redis', redis().url, '--queue', queue, ...paramArgs(QUICK), '--no-tui', '--out', 'out.jsonl'], cwd, 30_000);
    const res = await sub.exited;
    expect(res.code, `stdout:\n${res.stdout}\nstderr:\n${res.stderr}`).toBe(0);
    expect(res.stderr).toBe('');
    expect(res.stdout).toMatch(new RegExp(`^start {2}job \\w+: demo on redis 127\\.0\\.0\\.1:\\d+ queue ${queue}: 2 workers, 16 slots`, 'm'));
    expect(res.stdout).toMatch(/^finished: 200 done, 0 failed of 200 in /m);

    const got = expectAllDoneOnce(path.join(cwd, 'out.jsonl'), prompts, QUICK);
    const perWorker = new Map<string, number>();
    for (const r of got.values()) {
      expect(r.attempts).toBe(1);
      perWorker.set(r.worker ?? 'null', (perWorker.get(r.worker ?? 'null') ?? 0) + 1);
    }
    expect([...perWorker.keys()].sort()).toEqual([w1!.name, w2!.name].sort());
    // 200 items of >= 50 ms on 8 slots would keep one worker busy >= 1.25 s: the other takes a share.
    for (const [, n] of perWorker) expect(n).toBeGreaterThanOrEqual(10);

    // The same inputs on the embedded pool: the same records, but for timings and worker names.
    const embedded = await run(['submit', 'prompts.txt', ...paramArgs(QUICK), '--threads', '1', '--out', 'embedded.jsonl'], { cwd, timeoutMs: 30_000 });
    expect(embedded.code, embedded.stdout + embedded.stderr).toBe(0);
    const ours = byIndex(readResults(path.join(cwd, 'out.jsonl')));
    const theirs = byIndex(readResults(path.join(cwd, 'embedded.jsonl')));
    expect(ours.map(content)).toEqual(theirs.map(content));
    // And the same record shape: the same keys, in the same order.
    expect(Object.keys(ours[0]!)).toEqual(Object.keys(theirs[0]!));
    expect(Object.keys(ours[0]!.durations)).toEqual(Object.keys(theirs[0]!.durations));

    // The workers outlive the job; SIGTERM drains an idle worker and it exits 0.
    for (const w of [w1!, w2!]) w.proc.child.kill('SIGTERM');
    for (const w of [w1!, w2!]) expect((await w.exited).code).toBe(0);
  });

  test('three submitters at once on one queue: each job gets its own items, with its own params, once', async ({ onTestFinished }) => {
    const procs = processes(onTestFinished);
    const cwd = await newDir();
    const queue = freshQueue('shared');
    await Promise.all([procs.worker(redis().url, queue, cwd, WORKER_ARGS), procs.worker(redis().url, queue, cwd, WORKER_ARGS)]);
    const jobs = [1, 2, 3].map((j) => {
      // The same prompt texts in every job: only the seed tells the answers apart, so an item
      // run with another job's params would show.
      const prompts = Array.from({ length: 60 }, (_, k) => `shared prompt ${k + 1}`);
      const params = { ...QUICK, seed: String(100 + j) };
      writePrompts(cwd, `prompts-${j}.txt`, prompts);
      return { j, prompts, params, out: path.join(cwd, `out-${j}.jsonl`) };
    });
    const subs = jobs.map(({ j, params }) =>
      procs.submit(['submit', `prompts-${j}.txt`, '--redis', redis().url, '--queue', queue, ...paramArgs(params), '--no-tui', '--out', `out-${j}.jsonl`], cwd, 40_000),
    );
    const results = await Promise.all(subs.map((s) => s.exited));
    results.forEach((res, k) => expect(res.code, `submit ${k + 1}:\n${res.stdout}\n${res.stderr}`).toBe(0));
    for (const { prompts, params, out } of jobs) expectAllDoneOnce(out, prompts, params);
    // The seeds do make the answers differ (else the check above could not tell the jobs apart).
    const first = readResults(jobs[0]!.out).find((r) => r.id === '1')!;
    const second = readResults(jobs[1]!.out).find((r) => r.id === '1')!;
    expect(first.output).not.toBe(second.output);
  });

  test('--queue keeps workloads apart: a job on queue B waits while only queue A is served, then a B worker runs it', async ({ onTestFinished }) => {
    const procs = processes(onTestFinished);
    const cwd = await newDir();
    const queueA = freshQueue('qa');
    const queueB = freshQueue('qb');
    const a = await procs.worker(redis().url, queueA, cwd, WORKER_ARGS);
    const prompts = Array.from({ length: 12 }, (_, k) => `queue b prompt ${k + 1}`);
    writePrompts(cwd, 'prompts.txt', prompts);
    const out = path.join(cwd, 'out.jsonl');
    const sub = procs.submit(['submit', 'prompts.txt', '--redis', redis().url, '--queue', queueB, ...paramArgs(QUICK), '--no-tui', '--out', 'out.jsonl'], cwd, 40_000);
    await waitFor(() => /^start /m.test(sub.stdout()), 'the submit to start', 15_000);
    expect(sub.stdout()).toMatch(new RegExp(`queue ${queueB}: no workers yet`));
    // A bounded look: 1.5 s is 30 times one item's 50 ms; an A worker taking B items would show.
    await new Promise((r) => setTimeout(r, 1_500));
    expect(sub.child.exitCode).toBeNull();
    expect(fileLines(out).lines).toEqual([]);
    expect(a.proc.stderr()).not.toMatch(/queue b prompt/);

    const b = await procs.worker(redis().url, queueB, cwd, WORKER_ARGS);
    const res = await sub.exited;
    expect(res.code, res.stdout + res.stderr).toBe(0);
    const got = expectAllDoneOnce(out, prompts, QUICK);
    for (const r of got.values()) expect(r.worker).toBe(b.name);

    // And queue A is still served by its worker, not B's.
    const promptsA = ['queue a one', 'queue a two', 'queue a three'];
    writePrompts(cwd, 'prompts-a.txt', promptsA);
    const resA = await run(['submit', 'prompts-a.txt', '--redis', redis().url, '--queue', queueA, ...paramArgs(QUICK), '--no-tui', '--out', 'out-a.jsonl'], { cwd, timeoutMs: 20_000 });
    expect(resA.code, resA.stdout + resA.stderr).toBe(0);
    const gotA = expectAllDoneOnce(path.join(cwd, 'out-a.jsonl'), promptsA, QUICK);
    for (const r of gotA.values()) expect(r.worker).toBe(a.name);
  });

  test('work-conserving: a worker takes only what it can start; what it cannot start stays for a worker that comes later', async ({ onTestFinished }) => {
    const procs = processes(onTestFinished);
    const cwd = await newDir();
    const queue = freshQueue('conserve');
    // Every item waits for a gate file: no slot frees up until the test opens it, so what each
    // worker starts is decided by what it took, not by timing.
    const gate = path.join(cwd, 'open');
    const GATE = ['--processor', processorFixture('gate.mjs'), '--threads', '1', '--heartbeat', '200'];
    const narrow = await procs.worker(redis().url, queue, cwd, ['-n', '1', ...GATE]);
    const wide = await procs.worker(redis().url, queue, cwd, ['-n', '8', ...GATE]);
    const prompts = Array.from({ length: 24 }, () => `wait ${gate}`);
    writePrompts(cwd, 'prompts.txt', prompts);
    const sub = procs.submit(['submit', 'prompts.txt', '--processor', processorFixture('gate.mjs'), '--redis', redis().url, '--queue', queue, '--batch-size', '16', '--json', '--out', 'out.jsonl'], cwd, 60_000);
    const startsBy = (): Map<string, number> => {
      const by = new Map<string, number>();
      for (const line of sub.stdout().split('\n')) {
        if (!line.includes('"type":"item-start"')) continue;
        const worker = (JSON.parse(line) as { worker: string }).worker;
        by.set(worker, (by.get(worker) ?? 0) + 1);
      }
      return by;
    };
    const started = (): number => [...startsBy().values()].reduce((a, b) => a + b, 0);
    await waitFor(() => started() === 9, 'one item started on the narrow worker and eight on the wide one', 30_000);
    expect(Object.fromEntries(startsBy())).toEqual({ [narrow.name]: 1, [wide.name]: 8 });
    // Fifteen are left. Had the narrow worker taken a batch of 16, none would be: the late one starts eight.
    const late = await procs.worker(redis().url, queue, cwd, ['-n', '8', ...GATE]);
    await waitFor(() => started() === 17, 'eight items started on the late worker', 30_000);
    expect(Object.fromEntries(startsBy())).toEqual({ [narrow.name]: 1, [wide.name]: 8, [late.name]: 8 });
    writeFileSync(gate, '');
    const res = await sub.exited;
    expect(res.code, res.stdout + res.stderr).toBe(0);
    const records = readResults(path.join(cwd, 'out.jsonl'));
    expect(records).toHaveLength(24);
    expect(new Set(records.map((r) => r.id)).size).toBe(24);
    expect(records.every((r) => r.status === 'done' && r.output === `opened ${gate}`)).toBe(true);
  });
});
