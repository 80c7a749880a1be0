/**
 * `slowwork watch dashboard` on the built binary: snapshots (`--once`, `--json`, text without a
 * TTY) of a real redis-server with two worker processes and a running job, fast refusal of a
 * Redis it cannot reach, the reconnecting state while Redis restarts, and `--url` of a real
 * `slowwork serve`.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { freshQueue, paramArgs, processes, writePrompts } from '../fixtures/redis-workers.js';
import { freePort, redisPerFile, startRedisServer } from '../redis/server.js';
import { processorFixture, run, start, tempDirsPerFile, waitFor } from './run.js';

const redis = redisPerFile();
const newDir = tempDirsPerFile();

const SLOW = { first_token_ms: '100', tokens_per_s: '30', length: '20-30' };
const WORKER_ARGS = ['-n', '3', '--threads', '1', '--heartbeat', '200'];

interface Snapshot {
  connection: string;
  source: string;
  cost: number;
  workers: { name: string; slots: number; busy: number; alive: boolean; health: string; processed: number }[];
  queues: { name: string; waiting: number; inFlight: number; delayed: number; dead: number }[];
  jobs: { id: string; status: string; total: number | null; done: number; running: number; submitter: string; processors: string[] }[];
  totals: { alive: number; slots: number };
}

describe('slowwork watch dashboard', () => {
  test('--once --json and --once: two workers and a running job, in one cheap sample', async ({ onTestFinished }) => {
    const procs = processes(onTestFinished);
    const cwd = await newDir();
    const queue = freshQueue('dash');
    // Every item waits for a gate the test opens once it has looked: both workers are surely
    // busy while the samples are taken, however slow the machine (and however slow each sample).
    writePrompts(cwd, 'prompts.txt', Array.from({ length: 30 }, (_, k) => `dashboard prompt ${k + 1} [gated]`));
    const gate = path.join(cwd, 'gate-open');
    const gated = ['--processor', processorFixture('gated-demo.mjs')];
    const [w1, w2] = await Promise.all([procs.worker(redis().url, queue, cwd, [...WORKER_ARGS, ...gated]), procs.worker(redis().url, queue, cwd, [...WORKER_ARGS, ...gated])]);
    const sub = procs.submit(['submit', 'prompts.txt', '--redis', redis().url, '--queue', queue, ...gated, ...paramArgs({ ...SLOW, gate }), '--no-tui', '--out', 'out.jsonl'], cwd, 60_000);
    await waitFor(() => /^start {2}job (\w+)/m.test(sub.stdout()), 'the job to start', 20_000);
    const jobId = /^start {2}job (\w+)/m.exec(sub.stdout())![1]!;
    // Both workers busy: 6 slots, 30 items.
    let snap: Snapshot | null = null;
    for (let tries = 0; tries < 50; tries++) {
      const res = await run(['watch', 'dashboard', '--once', '--json', '--redis', redis().url, '--queue', queue], { cwd });
      expect(res.code, res.stderr).toBe(0);
      snap = JSON.parse(res.stdout) as Snapshot;
      if (snap.workers.every((w) => w.busy === 3) && snap.jobs[0]?.total === 30) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(snap!.connection).toBe('ok');
    expect(snap!.workers.map((w) => w.name).sort()).toEqual([w1!.name, w2!.name].sort());
    for (const w of snap!.workers) expect(w).toMatchObject({ slots: 3, busy: 3, alive: true, health: 'ok' });
    expect(snap!.totals).toMatchObject({ alive: 2, slots: 6 });
    const [q] = snap!.queues;
    expect(q).toMatchObject({ name: queue, inFlight: 6, delayed: 0, dead: 0 });
    const job = snap!.jobs.find((j) => j.id === jobId)!;
    expect(job).toMatchObject({ status: 'running', total: 30, done: 0, processors: ['gated-demo'] });
    expect(job.submitter).toMatch(/^\S+:\d+$/);
    // Nothing can end before the gate opens: the job's items are all queued or in flight.
    expect(q!.waiting + q!.inFlight).toBeLessThanOrEqual(30);
    expect(q!.waiting + q!.inFlight).toBeGreaterThanOrEqual(24);
    // Cheap: 6 index reads per queue, one hash per worker, two per job, one lag read.
    expect(snap!.cost).toBeLessThanOrEqual(6 + 2 + 2 * 1 + 1);

    const text = await run(['watch', 'dashboard', '--once', '--redis', redis().url, '--queue', queue], { cwd });
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).not.toContain('\u001B[');
    const lines = text.stdout.split('\n');
    expect(lines[0]).toMatch(new RegExp(`^slowwork dashboard · redis 127\\.0\\.0\\.1:\\d+ queue ${queue}`));
    expect(text.stdout).toMatch(/^WORKERS 2 alive · \d+\/6 slots busy$/m);
    expect(text.stdout).toContain(w1!.name);
    expect(text.stdout).toMatch(new RegExp(`^\\s+${jobId}\\s+\\S*\\s*\\d+%\\s+\\d+/0/30\\s`, 'm'));
    writeFileSync(gate, '');
    const res = await sub.exited;
    expect(res.code).toBe(0);
  });

  test('a worker stopped cleanly (SIGTERM, exit 0) is not listed as dead; one killed (SIGKILL) is', async ({ onTestFinished }) => {
    const procs = processes(onTestFinished);
    const cwd = await newDir();
    const queue = freshQueue('dash-stop');
    const [clean, killed] = await Promise.all([procs.worker(redis().url, queue, cwd, WORKER_ARGS), procs.worker(redis().url, queue, cwd, WORKER_ARGS)]);
    clean.proc.child.kill('SIGTERM');
    killed.proc.child.kill('SIGKILL');
    expect((await clean.exited).code).toBe(0);
    await killed.exited;
    // The killed one's heartbeat (TTL: a few beats of 200 ms) has to expire before it is dead.
    let snap: Snapshot | null = null;
    for (let tries = 0; tries < 50; tries++) {
      const res = await run(['watch', 'dashboard', '--once', '--json', '--redis', redis().url, '--queue', queue], { cwd });
      expect(res.code, res.stderr).toBe(0);
      snap = JSON.parse(res.stdout) as Snapshot;
      if (snap.workers.some((w) => w.name === killed.name && w.health === 'dead')) break;
    }
    const byName = new Map(snap!.workers.map((w) => [w.name, w]));
    expect(byName.get(killed.name)?.health).toBe('dead');
    expect(byName.get(clean.name)?.health ?? 'not listed').not.toBe('dead');
    expect(byName.get(clean.name)?.health ?? 'not listed').not.toBe('ok');
  });

  test('--once measures the speeds (not 0 items/s) while items finish', async ({ onTestFinished }) => {
    const procs = processes(onTestFinished);
    const cwd = await newDir();
    const queue = freshQueue('dash-rate');
    writePrompts(cwd, 'prompts.txt', Array.from({ length: 60 }, (_, k) => `rate prompt ${k + 1}`));
    await procs.worker(redis().url, queue, cwd, WORKER_ARGS);
    // About 0.3 s an item on 3 slots: some finish in any second of the run.
    const sub = procs.submit(['submit', 'prompts.txt', '--redis', redis().url, '--queue', queue, ...paramArgs({ first_token_ms: '100', tokens_per_s: '40', length: '4-12' }), '--no-tui', '--out', 'out.jsonl'], cwd, 60_000);
    await waitFor(() => (sub.stdout().match(/^done {3}\[/gm) ?? []).length >= 6, 'six items done', 20_000);
    const res = await run(['watch', 'dashboard', '--once', '--json', '--redis', redis().url, '--queue', queue], { cwd });
    expect(res.code, res.stderr).toBe(0);
    const snap = JSON.parse(res.stdout) as Snapshot & { totals: { itemsPerSec: number; chunksPerSec: number } };
    expect(snap.jobs[0]?.status, 'the job still ran during the snapshot').toBe('running');
    expect(snap.totals.itemsPerSec).toBeGreaterThan(0);
    expect(snap.totals.chunksPerSec).toBeGreaterThan(0);
  });

  test('without a TTY: a text snapshot every interval, no escape codes, until SIGTERM (exit 0)', async () => {
    const cwd = await newDir();
    const queue = freshQueue('snap');
    const p = start(['watch', 'dashboard', '--redis', redis().url, '--queue', queue, '--interval', '200'], { cwd, timeoutMs: 20_000 });
    await waitFor(() => (p.stdout().match(/^slowwork dashboard/gm) ?? []).length >= 3, 'three snapshots', 10_000);
    p.child.kill('SIGTERM');
    const res = await p.exited;
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).not.toContain('\u001B[');
    expect(res.stdout).toMatch(/^WORKERS 0 alive · 0 busy$/m);
    expect(res.stdout).toMatch(/^JOBS 0 running · no jobs$/m);
  });

  test('a Redis it cannot reach: one line and exit 2, no retrying forever', async () => {
    const cwd = await newDir();
    const port = await freePort();
    // A dashboard that kept retrying would be killed by run()'s time limit and fail here.
    const res = await run(['watch', 'dashboard', '--redis', `redis://127.0.0.1:${port}`], { cwd });
    expect(res.code).toBe(2);
    expect(res.stderr).toBe(`slowwork: cannot reach Redis at 127.0.0.1:${port}: connection refused (is redis-server running there?)\n`);
    expect(res.stdout).toBe('');
  });

  test('usage: --redis and --url together, or neither, is one line and exit 2', async () => {
    const cwd = await newDir();
    const both = await run(['watch', 'dashboard', '--redis', redis().url, '--url', 'http://127.0.0.1:1'], { cwd });
    expect(both.code).toBe(2);
    expect(both.stderr).toBe('slowwork: watch dashboard takes --redis or --url, not both\n');
    const neither = await run(['watch', 'dashboard'], { cwd, env: { PATH: process.env.PATH ?? '' } });
    expect(neither.code).toBe(2);
    expect(neither.stderr).toMatch(/^slowwork: watch dashboard needs --redis URL/);
  });

  test('Redis lost mid-way: the snapshots say reconnecting, and it recovers by itself when Redis is back', async () => {
    const cwd = await newDir();
    const own = await startRedisServer();
    try {
      const p = start(['watch', 'dashboard', '--json', '--redis', own.url, '--interval', '200'], { cwd, timeoutMs: 30_000 });
      const snapshots = (): Snapshot[] =>
        p
          .stdout()
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l) as Snapshot);
      await waitFor(() => snapshots().length >= 2, 'two snapshots', 10_000);
      await own.stop();
      await waitFor(() => snapshots().some((s) => s.connection === 'reconnecting'), 'a reconnecting snapshot', 10_000);
      await own.start();
      const lost = snapshots().findIndex((s) => s.connection === 'reconnecting');
      await waitFor(() => snapshots().slice(lost).some((s) => s.connection === 'ok'), 'an ok snapshot after it', 15_000);
      p.child.kill('SIGTERM');
      const res = await p.exited;
      expect(res.code, res.stderr).toBe(0);
    } finally {
      await own.cleanup();
    }
  });

  test('--url of a running slowwork serve: its jobs and threads; a bad URL or a server that is not slowwork is one line and exit 2', async () => {
    const cwd = await newDir();
    const server = start(['serve', '--port', '0', '--threads', '2'], { cwd, timeoutMs: 60_000 });
    let cancel = (): Promise<void> => Promise.resolve();
    try {
      await waitFor(() => /listening on (http:\S+)/.test(server.stdout()), 'the server', 15_000);
      const base = /listening on (http:\S+)/.exec(server.stdout())![1]!;
      const created = await fetch(`${base}/actions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        // Items that never end by themselves (10 min to a first token): the job is surely running
        // while the samples are taken, however slow each one is; the test cancels it at the end.
        body: JSON.stringify({ pipeline: ['demo'], items: ['one', 'two', 'three', 'four'], params: { tokens_per_s: '10', first_token_ms: '600000', length: '30' } }),
      });
      const action = (await created.json()) as { id: string };
      cancel = () => fetch(`${base}/actions/${action.id}`, { method: 'DELETE' }).then(() => undefined);
      let snap: Snapshot | null = null;
      for (let tries = 0; tries < 50; tries++) {
        const res = await run(['watch', 'dashboard', '--once', '--json', '--url', base], { cwd });
        expect(res.code, res.stderr).toBe(0);
        snap = JSON.parse(res.stdout) as Snapshot;
        if (snap.workers.length > 0 && snap.jobs.some((j) => j.id === action.id && j.running > 0)) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(snap!.source).toMatch(/^serve http:\/\/127\.0\.0\.1:\d+ · embedded: 2 threads/);
      expect(snap!.jobs.find((j) => j.id === action.id)).toMatchObject({ status: 'running', total: 4, submitter: 'action', processors: ['demo'] });
      expect(snap!.workers.map((w) => w.name).every((n) => /^thread-\d$/.test(n))).toBe(true);

      const refused = await run(['watch', 'dashboard', '--once', '--url', `http://127.0.0.1:${await freePort()}`], { cwd });
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(/^slowwork: cannot reach slowwork serve at http:\/\/127\.0\.0\.1:\d+: connection refused \(is it running\?\)\n$/);
    } finally {
      await cancel().catch(() => undefined);
      server.child.kill('SIGTERM');
      await server.exited.catch(() => undefined);
    }
  });
});
