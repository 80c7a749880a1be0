/**
 * The same live view on Redis workers, in a real terminal: a real redis-server, a worker process
 * and `submit --redis` in tmux. Streams from the other process advance at once, and the job ends
 * with a results file whose items all ran on that worker.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { redisPerFile, startRedisServer } from '../redis/server.js';
import { TmuxSession } from './tmux.js';

const BIN = resolve(import.meta.dirname, '../../bin/slowwork.js');
const server = redisPerFile();
const cleanups: Array<() => void | Promise<void>> = [];
const dirs: string[] = [];
afterEach(async () => {
  // In order, each awaited: a redis-server of a test's own is stopped before its folder goes.
  for (const c of cleanups.splice(0)) await c();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true, maxRetries: 5 });
});

function startWorker(url: string): ChildProcess {
  const child = spawn(process.execPath, [BIN, 'workers', '--redis', url, '-n', '8', '--threads', '1'], { stdio: ['ignore', 'ignore', 'pipe'] });
  cleanups.push(() => void child.kill('SIGKILL'));
  return child;
}

describe('live view on Redis workers', () => {
  it('shows several streams from a worker process at once and finishes the job', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sw-e2e-redis-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'prompts.txt'), Array.from({ length: 24 }, (_, i) => `prompt ${i + 1}`).join('\n') + '\n');
    const worker = startWorker(server().url);
    let workerLog = '';
    worker.stderr!.on('data', (d: Buffer) => (workerLog += d.toString()));
    const tmux = new TmuxSession(110, 30);
    cleanups.push(() => tmux.kill());
    tmux.start(`node ${BIN} submit prompts.txt --redis ${server().url} --param first_token_ms=50 --param tokens_per_s=15 --param length=20-30 --out results.jsonl`, dir);

    const rows = (lines: string[]) => lines.filter((l) => /^\d+\s+\S*:\S*\s+\d+\s/.test(l.trimEnd()));
    const first = rows(await tmux.waitFor((l) => rows(l).length >= 4, 20_000, 'four live rows from the worker'));
    expect(first.length).toBeGreaterThanOrEqual(4);
    expect(tmux.screen().some((l) => l.includes('redis 127.0.0.1:'))).toBe(true);
    const end = await tmux.waitFor((l) => l.some((x) => x.startsWith('EXIT=')), 30_000, 'the exit');
    expect(end.find((x) => x.startsWith('EXIT='))).toBe('EXIT=0');
    expect(tmux.history().join('\n')).toMatch(/24 done, 0 failed of 24/);

    const name = /slowwork workers: (\S+):/.exec(workerLog)?.[1];
    expect(name).toBeDefined();
    const records = readFileSync(join(dir, 'results.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { id: string; worker: string });
    expect(records).toHaveLength(24);
    expect(new Set(records.map((r) => r.worker))).toEqual(new Set([name]));
  });

  it('says Redis is unreachable, since when, while it is away, and the job completes once it is back', async () => {
    // A server of its own, with AOF: it is stopped and started again on the same port.
    const redis = await startRedisServer({ aof: true });
    cleanups.push(() => redis.cleanup());
    const dir = mkdtempSync(join(tmpdir(), 'sw-e2e-redis-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'prompts.txt'), Array.from({ length: 40 }, (_, i) => `outage ${i + 1}`).join('\n') + '\n');
    startWorker(redis.url);
    const tmux = new TmuxSession(120, 30);
    cleanups.push(() => tmux.kill());
    tmux.start(`node ${BIN} submit prompts.txt --redis ${redis.url} --param first_token_ms=50 --param tokens_per_s=15 --param length=20-30 --out results.jsonl`, dir);
    await tmux.waitFor((l) => l.some((x) => /\b[1-9]\d*\/40 done/.test(x)), 20_000, 'a first item done');

    await redis.stop();
    const down = await tmux.waitFor((l) => l.some((x) => /redis unreachable since \d\d:\d\d:\d\d, retrying/.test(x)), 15_000, 'the unreachable notice');
    expect(down.some((x) => x.startsWith('EXIT='))).toBe(false);
    await redis.start();
    await tmux.waitFor((l) => !l.some((x) => x.includes('unreachable')), 15_000, 'the notice to go once Redis is back');
    const end = await tmux.waitFor((l) => l.some((x) => x.startsWith('EXIT=')), 40_000, 'the exit');
    expect(end.find((x) => x.startsWith('EXIT='))).toBe('EXIT=0');
    const ids = readFileSync(join(dir, 'results.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { id: string }).id);
    expect(ids).toHaveLength(40);
    expect(new Set(ids).size).toBe(40);
  });
});
