/**
 * Chaos, bounded: three worker processes serve a job of 1200 items with about a hundred in
 * flight; each time another sixth of the items is done, one of them is killed with SIGKILL and a
 * new one started. The job must still end with every item done exactly once, with the demo's
 * exact answer, and streams that never repeat or mix text. The kills follow the job's progress,
 * not a clock: on a busy machine they still land while it runs, and as many of them.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { expectAllDoneOnce, freshQueue, itemViews, jsonEvents, paramArgs, processes, writePrompts, type WorkerProc } from '../fixtures/redis-workers.js';
import { redisPerFile } from '../redis/server.js';
import { demoOutput, fileLines, processorFixture, readResults, tempDirsPerFile } from './run.js';

const redis = redisPerFile();
const newDir = tempDirsPerFile();

const N = 1200;
/** 0.22 to 0.43 s per item: 150 ms to the first token, then 3 to 11 more at 40/s. */
const PARAMS = { first_token_ms: '150', tokens_per_s: '40', length: '4-12' };
const WORKER_ARGS = ['-n', '30', '--threads', '1', '--heartbeat', '200'];
/** A kill each time another N / KILL_STEPS results are written (5 kills, the last with N/6 to go). */
const KILL_STEPS = 6;

describe('slowwork workers: chaos', () => {
  test(`${N} items, 3 workers, one killed (SIGKILL) and replaced at every sixth of the job: all done once, exact answers`, { timeout: 90_000 }, async ({ onTestFinished }) => {
    const procs = processes(onTestFinished);
    const cwd = await newDir();
    const queue = freshQueue('chaos');
    const prompts = Array.from({ length: N }, (_, k) => `chaos prompt ${k + 1}: ${'x'.repeat(k % 7)}`);
    writePrompts(cwd, 'prompts.txt', prompts);
    const url = redis().url;
    const workers: (WorkerProc | null)[] = await Promise.all([0, 1, 2].map(() => procs.worker(url, queue, cwd, WORKER_ARGS)));
    const everyName = new Set(workers.map((w) => w!.name));
    const killed: WorkerProc[] = [];

    // The submit's own time limit (60 s) catches a job that never ends.
    const sub = procs.submit(['submit', 'prompts.txt', '--redis', url, '--queue', queue, ...paramArgs(PARAMS), '--json', '--out', 'out.jsonl'], cwd, 60_000);
    // The killer: each time the results file has another N / KILL_STEPS lines, kill the next
    // worker in turn that is serving (one always is: the job progressed) and start its
    // replacement, without waiting for it to serve before the next kill.
    let over = false;
    const replacing: Promise<void>[] = [];
    const out = path.join(cwd, 'out.jsonl');
    const chaos = (async () => {
      let next = 0;
      let step = 1;
      while (!over && step < KILL_STEPS) {
        await new Promise((r) => setTimeout(r, 50));
        if (over || fileLines(out).lines.length < (step * N) / KILL_STEPS) continue;
        const slot = [0, 1, 2].map((k) => (next + k) % workers.length).find((k) => workers[k] !== null);
        if (slot === undefined) continue; // every replacement still starting: look again
        step++;
        next = (slot + 1) % workers.length;
        const victim = workers[slot]!;
        workers[slot] = null;
        victim.proc.child.kill('SIGKILL');
        killed.push(victim);
        replacing.push(
          (async () => {
            await victim.exited;
            const fresh = await procs.worker(url, queue, cwd, WORKER_ARGS);
            everyName.add(fresh.name);
            workers[slot] = fresh;
          })(),
        );
      }
    })();
    const res = await sub.exited.finally(() => (over = true));
    await chaos;
    await Promise.all(replacing);

    expect(res.code, `stdout tail:\n${res.stdout.slice(-3000)}\nstderr:\n${res.stderr}`).toBe(0);
    expect(res.stderr).toBe('');
    // The chaos did happen, while the job ran: a kill at each step, the last with N/6 items to go.
    expect(killed.length).toBe(KILL_STEPS - 1);

    const got = expectAllDoneOnce(path.join(cwd, 'out.jsonl'), prompts, PARAMS);
    const reclaimed = [...got.values()].filter((r) => r.attempts >= 2);
    expect(reclaimed.length, 'items that a killed worker held and another finished').toBeGreaterThan(0);
    for (const r of got.values()) expect(everyName.has(r.worker ?? ''), `unknown worker ${r.worker}`).toBe(true);
    // A killed worker finished nothing after its death: its results are all first attempts it ran.
    const killedNames = new Set(killed.map((w) => w.name));
    expect([...got.values()].some((r) => killedNames.has(r.worker ?? ''))).toBe(true);

    const events = jsonEvents(res.stdout);
    expect(events.at(-1)).toMatchObject({ type: 'summary', counts: { total: N, done: N, failed: 0, unfinished: 0 } });
    // Per attempt, the streamed text is a prefix of the answer; the final attempt streamed it all.
    const texts = new Map<string, string>();
    for (const e of events) if (e.type === 'chunk') texts.set(`${e.index}#${e.attempt}`, (texts.get(`${e.index}#${e.attempt}`) ?? '') + e.text);
    const bad: string[] = [];
    for (const [key, text] of texts) {
      const index = Number(key.split('#')[0]);
      if (!demoOutput(prompts[index]!, PARAMS).startsWith(text)) bad.push(`${key}: ${JSON.stringify(text)}`);
    }
    expect(bad.slice(0, 5), `${bad.length} streams that are not a prefix of their answer`).toEqual([]);
    const views = itemViews(events);
    expect(views.size).toBe(N);
    const incomplete = [...views].filter(([i, v]) => v.text !== demoOutput(prompts[i]!, PARAMS)).map(([i, v]) => `${i + 1}#${v.attempt}`);
    expect(incomplete.slice(0, 5), `${incomplete.length} items whose final attempt did not stream their answer`).toEqual([]);
  });
});

/**
 * Big payloads: prompts of 1 MB each. Redis must never spend so long in one script (enqueueing,
 * claiming, requeueing) that heartbeats expire: with a heartbeat lifetime of a fraction of a
 * second, no live worker may be declared dead, and every item runs exactly once.
 */
describe('slowwork workers: 1 MB prompts', () => {
  const BIG = 48;
  const MB = 1024 * 1024;
  test(`${BIG} prompts of 1 MB on 3 workers with a heartbeat lifetime of 1 s: no worker declared dead, each item run once`, { timeout: 120_000 }, async ({ onTestFinished }) => {
    const procs = processes(onTestFinished);
    const cwd = await newDir();
    const queue = freshQueue('big');
    const prompts = Array.from({ length: BIG }, (_, k) => `${k + 1} `.padEnd(MB, 'abcdefghijklmnopqrstuvwxyz'.charAt(k % 26)));
    writePrompts(cwd, 'prompts.txt', prompts);
    const runsFile = path.join(cwd, 'runs.txt');
    const url = redis().url;
    const runs = processorFixture('runs.mjs');
    // --heartbeat 200: a worker silent for 1 s is presumed dead (the old scripts held Redis longer).
    const workerArgs = ['-n', '4', '--threads', '1', '--heartbeat', '200', '--processor', runs];
    const workers = await Promise.all([0, 1, 2].map(() => procs.worker(url, queue, cwd, workerArgs)));
    const res = await procs.submit(
      ['submit', 'prompts.txt', '--processor', runs, '--param', `runs_file=${runsFile}`, '--param', 'ms=20', '--redis', url, '--queue', queue, '--json', '--out', 'out.jsonl'],
      cwd,
      90_000,
    ).exited;
    expect(res.code, `stdout tail:\n${res.stdout.slice(-2000)}\nstderr:\n${res.stderr}`).toBe(0);
    for (const w of workers) {
      const log = w.proc.stderr();
      expect(log, 'a worker reaped another').not.toMatch(/of dead worker/);
      expect(log, 'a worker lost an entry to another').not.toMatch(/was handed to another worker/);
    }
    const records = readResults(path.join(cwd, 'out.jsonl'));
    expect(records).toHaveLength(BIG);
    expect(new Set(records.map((r) => r.id)).size).toBe(BIG);
    for (const r of records) expect({ status: r.status, attempts: r.attempts, output: r.output }).toEqual({ status: 'done', attempts: 1, output: `ran ${MB}` });
    expect(jsonEvents(res.stdout).filter((e) => e.type === 'item-retry'), 'items handed on from a worker presumed dead').toEqual([]);
    const ran = readFileSync(runsFile, 'utf8').trim().split('\n');
    expect(ran).toHaveLength(BIG);
    expect(new Set(ran.map((l) => l.split(' ')[0])).size).toBe(BIG);
  });
});
