/**
 * One rate limiter per endpoint for every `slowwork workers` process of a queue: the built binary,
 * real worker processes on a real redis-server, `--processor openai` against the project's local
 * OpenAI-compatible server, which enforces RPM and TPM as OpenAI does and counts what it refuses.
 * Each worker alone would keep to the limit; only a limiter shared through Redis keeps all of
 * them to it together, and only a pause shared through Redis holds the other workers back after
 * one of them is refused. Times are read on the server's side of the socket, as lower bounds.
 */
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, describe, expect, test } from 'vitest';
import { startOpenAIServer, type OpenAIServer, type OpenAIServerOptions } from '../../src/testing/openai-server/server.js';
import { freshQueue, processes, writePrompts } from '../fixtures/redis-workers.js';
import { redisPerFile } from '../redis/server.js';
import { readResults, tempDirsPerFile } from './run.js';

const redis = redisPerFile();
const newDir = tempDirsPerFile();
const servers: OpenAIServer[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

interface Admission {
  readonly status: number;
  /** performance.now() when the server decided (the same clock as its buckets). */
  readonly at: number;
  readonly retryAfterMs?: number;
}

async function openaiServer(options: OpenAIServerOptions): Promise<{ server: OpenAIServer; admissions: Admission[] }> {
  const admissions: Admission[] = [];
  const server = await startOpenAIServer({
    ...options,
    onResponse: (e) => {
      if (e.path.endsWith('/chat/completions')) admissions.push({ status: e.status, at: performance.now(), ...(e.retryAfterMs !== undefined && { retryAfterMs: e.retryAfterMs }) });
    },
  });
  servers.push(server);
  return { server, admissions };
}

/** Prompts of 40 characters: 10 prompt tokens + 8 max_tokens each, as the server counts them. */
const promptsOf = (n: number): string[] => Array.from({ length: n }, (_, k) => `prompt ${String(k).padStart(2, '0')} ${'x'.repeat(30)}`);

const openaiArgs = (server: OpenAIServer, extra: readonly string[]): string[] => [
  '--processor',
  'openai',
  '--param',
  `base_url=${server.baseUrl}`,
  '--param',
  'model=slowwork-test',
  '--param',
  'max_tokens=8',
  ...extra,
];

describe('slowwork workers share one limiter per endpoint through Redis', () => {
  test('three workers of 8 slots under the server\'s own limits: every item done, not one refused', async ({ onTestFinished }) => {
    const procs = processes(onTestFinished);
    const cwd = await newDir();
    const queue = freshQueue('quota');
    // 300 requests and 4,500 tokens a minute over 2 s: 10 requests, 150 tokens (8 of these requests) at once.
    const { server, admissions } = await openaiServer({ rpm: 300, tpm: 4500, windowSeconds: 2 });
    const prompts = promptsOf(30);
    writePrompts(cwd, 'prompts.txt', prompts);
    const args = ['-n', '8', '--threads', '1', '--heartbeat', '200'];
    await Promise.all([1, 2, 3].map(() => procs.worker(redis().url, queue, cwd, args)));
    const limits = ['--param', 'rpm=300', '--param', 'tpm=4500', '--param', 'rate_window_s=2'];
    const sub = procs.submit(['submit', 'prompts.txt', '--redis', redis().url, '--queue', queue, ...openaiArgs(server, limits), '--retries', '0', '--no-tui', '--out', 'out.jsonl'], cwd, 90_000);
    const res = await sub.exited;
    expect(res.code, `stdout:\n${res.stdout}\nstderr:\n${res.stderr}`).toBe(0);
    const records = readResults(path.join(cwd, 'out.jsonl'));
    expect(records.filter((r) => r.status !== 'done')).toEqual([]);
    expect(records).toHaveLength(30);
    // The workers shared the job: a limiter per process would have let each send its own burst.
    expect(new Set(records.map((r) => r.worker)).size).toBeGreaterThanOrEqual(2);
    expect(server.stats().limited).toEqual({ requests: 0, tokens: 0 });
    expect(admissions.filter((a) => a.status !== 200)).toEqual([]);
  }, 120_000);

  test('a 429 one worker hears pauses the endpoint for the other: no request reaches the server before its retry-after', async ({ onTestFinished }) => {
    const procs = processes(onTestFinished);
    const cwd = await newDir();
    const queue = freshQueue('quota-pause');
    // One request every 2 s, one at a time: of two sent at once, one is refused with a retry-after
    // of about 2 s. Answers take 1 s (8 tokens at 8 a second): the worker whose request went
    // through is free again before the pause ends, and would send its next at once on its own.
    const { server, admissions } = await openaiServer({ rpm: 30, windowSeconds: 2, tokensPerSecond: 8 });
    writePrompts(cwd, 'prompts.txt', promptsOf(3));
    const args = ['-n', '1', '--threads', '1', '--heartbeat', '200'];
    await Promise.all([1, 2].map(() => procs.worker(redis().url, queue, cwd, args)));
    // Limits far above the server's: only the server's 429s (the shared pause) hold anyone back.
    const limits = ['--param', 'rpm=6000', '--param', 'rate_window_s=2'];
    const sub = procs.submit(['submit', 'prompts.txt', '--redis', redis().url, '--queue', queue, ...openaiArgs(server, limits), '--retries', '5', '--no-tui', '--out', 'out.jsonl'], cwd, 90_000);
    const res = await sub.exited;
    expect(res.code, `stdout:\n${res.stdout}\nstderr:\n${res.stderr}`).toBe(0);
    expect(readResults(path.join(cwd, 'out.jsonl')).filter((r) => r.status !== 'done')).toEqual([]);
    expect(new Set(readResults(path.join(cwd, 'out.jsonl')).map((r) => r.worker)).size).toBe(2);

    const first = admissions.findIndex((a) => a.status === 429);
    expect(first, JSON.stringify(admissions)).toBeGreaterThanOrEqual(0);
    const refused = admissions[first]!;
    expect(refused.retryAfterMs).toBeGreaterThan(1000);
    // Every request after it, from either worker, came once the pause had ended.
    const later = admissions.slice(first + 1);
    expect(later.length).toBeGreaterThanOrEqual(1);
    const early = later.filter((a) => a.at < refused.at + refused.retryAfterMs!);
    expect(early, JSON.stringify(admissions.map((a) => ({ ...a, at: Math.round(a.at - admissions[0]!.at) })))).toEqual([]);
  }, 120_000);
});
