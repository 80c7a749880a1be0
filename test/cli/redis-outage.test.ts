/**
 * Redis taken away under a running `submit --redis` (issue 15, point 7), at CI size:
 * - down for a few seconds and started again on the same port (AOF on): every view says
 *   `redis unreachable since HH:MM:SS, retrying` during the outage, and the job completes with
 *   each item recorded once;
 * - gone for good: SIGTERM, and a second Ctrl+C, each end the submit within seconds with the
 *   resume command and exit 130, whatever Redis does;
 * - back without its data: one clear line, exit 4 (README's exit codes), the resume command.
 */
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { formatClock } from '../../src/core/link.js';
import { expectAllDoneOnce, freshQueue, jsonEvents, paramArgs, processes, writePrompts } from '../fixtures/redis-workers.js';
import { startRedisServer, type RedisServer, type RedisServerOptions } from '../redis/server.js';
import { fileLines, printedResumeArgs, readResults, tempDirsPerFile, waitFor } from './run.js';

const newDir = tempDirsPerFile();

/** About 0.3 s per item. */
const PARAMS = { first_token_ms: '100', tokens_per_s: '40', length: '4-12' };
const WORKER_ARGS = ['-n', '4', '--threads', '1', '--heartbeat', '200'];
const UNREACHABLE = /unreachable since (\d\d:\d\d:\d\d), retrying/;

/** A redis-server of the test's own (it is killed), stopped and its directory removed after it. */
async function ownRedis(onTestFinished: (fn: () => Promise<void>) => void, options: RedisServerOptions = {}): Promise<RedisServer> {
  const server = await startRedisServer(options);
  onTestFinished(async () => {
    await server.cleanup();
  });
  return server;
}

/** The wall-clock times of day ("HH:MM:SS") from `from` to `to`, each second. */
function clocksBetween(from: number, to: number): string[] {
  const out: string[] = [];
  for (let t = Math.floor(from / 1000) * 1000; t <= to; t += 1000) out.push(formatClock(t));
  return out;
}

/**
 * A submit of 200 items on one worker and a Redis of its own, with 5 results written; then that
 * Redis stopped, and the submit saying so.
 */
async function submitThenRedisDown(onTestFinished: (fn: () => Promise<void>) => void, label: string) {
  const procs = processes(onTestFinished);
  const redis = await ownRedis(onTestFinished);
  const cwd = await newDir();
  writePrompts(cwd, 'prompts.txt', Array.from({ length: 200 }, (_, k) => `${label} prompt ${k + 1}`));
  const queue = freshQueue(label);
  await procs.worker(redis.url, queue, cwd, WORKER_ARGS);
  const out = path.join(cwd, 'out.jsonl');
  const sub = procs.submit(['submit', 'prompts.txt', '--redis', redis.url, '--queue', queue, ...paramArgs(PARAMS), '--no-tui', '--out', 'out.jsonl'], cwd, 50_000);
  await waitFor(() => fileLines(out).lines.length >= 5, '5 results', 30_000);
  await redis.stop();
  await waitFor(() => UNREACHABLE.test(sub.stdout()), 'the submit to say Redis is unreachable', 15_000);
  return { redis, cwd, out, sub };
}

describe('submit --redis while Redis is away', () => {
  test('down a few seconds, back on the same port: plain and --json say since when, the jobs complete, each item once', { timeout: 90_000 }, async ({ onTestFinished }) => {
    const procs = processes(onTestFinished);
    const redis = await ownRedis(onTestFinished, { aof: true });
    const cwd = await newDir();
    const N = 120;
    const prompts = Array.from({ length: N }, (_, k) => `outage prompt ${k + 1}`);
    writePrompts(cwd, 'prompts.txt', prompts);
    const [qPlain, qJson] = [freshQueue('outage-plain'), freshQueue('outage-json')];
    await Promise.all([procs.worker(redis.url, qPlain, cwd, WORKER_ARGS), procs.worker(redis.url, qJson, cwd, WORKER_ARGS)]);
    const common = ['prompts.txt', '--redis', redis.url, ...paramArgs(PARAMS)];
    const plain = procs.submit(['submit', ...common, '--queue', qPlain, '--no-tui', '--out', 'plain.jsonl'], cwd, 80_000);
    const json = procs.submit(['submit', ...common, '--queue', qJson, '--json', '--out', 'json.jsonl'], cwd, 80_000);
    await waitFor(() => fileLines(path.join(cwd, 'plain.jsonl')).lines.length >= 10 && fileLines(path.join(cwd, 'json.jsonl')).lines.length >= 10, '10 results of each job', 30_000);
    // A third view: `watch job` attached to the plain submit's job from elsewhere.
    const jobId = /^start {2}job (\w+):/m.exec(plain.stdout())![1]!;
    const watch = procs.submit(['watch', 'job', jobId, '--no-tui', '--redis', redis.url, '--queue', qPlain], cwd, 80_000);
    await waitFor(() => watch.stdout().includes('done   ['), 'watch job attached (an item replayed)', 20_000);

    const before = Date.now();
    await redis.stop();
    const plainLine = () => plain.stdout().split('\n').find((l) => l.startsWith('redis  unreachable since'));
    const jsonLink = () => jsonEvents(json.stdout()).find((e) => e.type === 'link' && e.status === 'down');
    const watchLine = () => watch.stdout().split('\n').find((l) => l.startsWith('redis  unreachable since'));
    await waitFor(() => plainLine() !== undefined && jsonLink() !== undefined && watchLine() !== undefined, 'both submits and the watch to say Redis is unreachable', 15_000);
    const after = Date.now();
    const clocks = clocksBetween(before, after);
    expect(plainLine()).toMatch(UNREACHABLE);
    expect(clocks).toContain(UNREACHABLE.exec(plainLine()!)![1]);
    expect(clocks).toContain(UNREACHABLE.exec(watchLine()!)![1]);
    expect(jsonLink()).toMatchObject({ type: 'link', service: 'redis', status: 'down' });
    expect(clocks).toContain(UNREACHABLE.exec(String(jsonLink()!.message))![1]);
    expect(String(jsonLink()!.message)).toMatch(/^redis unreachable since \d\d:\d\d:\d\d, retrying$/);
    // Nothing is lost or stopped while it is away: neither submit gives up.
    expect(plain.child.exitCode).toBeNull();
    expect(json.child.exitCode).toBeNull();

    await redis.start();
    const [p, j, w] = await Promise.all([plain.exited, json.exited, watch.exited]);
    expect(w.code, w.stderr).toBe(0);
    expect(w.stdout).toMatch(/^redis  reachable again after \S+$/m);
    expect(p.code, `stdout tail:\n${p.stdout.slice(-2000)}\nstderr:\n${p.stderr}`).toBe(0);
    expect(j.code, `stderr:\n${j.stderr}`).toBe(0);
    expect(p.stdout).toMatch(/^redis  reachable again after \S+$/m);
    expect(jsonEvents(j.stdout).filter((e) => e.type === 'link').map((e) => e.status)).toEqual(['down', 'up']);
    expect(jsonEvents(j.stdout).at(-1)).toMatchObject({ type: 'summary', counts: { total: N, done: N, failed: 0, unfinished: 0 } });
    expectAllDoneOnce(path.join(cwd, 'plain.jsonl'), prompts, PARAMS);
    expectAllDoneOnce(path.join(cwd, 'json.jsonl'), prompts, PARAMS);
  });

  for (const how of ['SIGTERM', 'a second Ctrl+C (SIGINT)'] as const) {
    test(`gone for good: ${how} ends the submit within seconds, exit 130, with the resume command`, { timeout: 60_000 }, async ({ onTestFinished }) => {
      const { redis, out, sub } = await submitThenRedisDown(onTestFinished, 'gone');

      let signalled: number;
      if (how === 'SIGTERM') {
        signalled = Date.now();
        sub.child.kill('SIGTERM');
      } else {
        sub.child.kill('SIGINT');
        await waitFor(() => sub.stdout().includes('phase  draining'), 'the drain notice', 10_000);
        signalled = Date.now();
        sub.child.kill('SIGINT');
      }
      const res = await sub.exited;
      expect(res.code, `stdout:\n${res.stdout.slice(-2000)}\nstderr:\n${res.stderr}`).toBe(130);
      expect(Date.now() - signalled, 'from the signal to the exit').toBeLessThan(5_000);
      expect(res.stdout).toMatch(/^interrupted: \d+ done, 0 failed, \d+ unfinished of 200/m);
      expect(printedResumeArgs(res.stdout)).toEqual(expect.arrayContaining(['--resume', '--out', 'out.jsonl']));
      // What landed stays whole: every line a done record.
      const records = readResults(out);
      expect(records.length).toBeGreaterThanOrEqual(5);
      expect(records.every((r) => r.status === 'done')).toBe(true);
    });
  }

  test('back without its data: one clear line, exit 4, the resume command', { timeout: 60_000 }, async ({ onTestFinished }) => {
    // (Its Redis has no AOF: a restart loses everything.)
    const { redis, out, sub } = await submitThenRedisDown(onTestFinished, 'lost');
    await redis.start();
    const res = await sub.exited;
    expect(res.code, `stdout:\n${res.stdout.slice(-2000)}\nstderr:\n${res.stderr}`).toBe(4);
    expect(res.stderr).toMatch(/^slowwork: job \S+ is gone from Redis \(Redis restarted without its data, or the job expired or was deleted\)\n$/);
    expect(res.stderr).not.toMatch(/unexpected error/);
    expect(printedResumeArgs(res.stdout)).toEqual(expect.arrayContaining(['--resume', '--out', 'out.jsonl']));
    expect(readResults(out).length).toBeGreaterThanOrEqual(5);
  });
});
