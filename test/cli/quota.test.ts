/**
 * `ctx.limit` through the built binary: a processor paced by the shared quota against the local
 * OpenAI-compatible server (src/testing/openai-server), which enforces RPM and TPM as OpenAI does.
 * Its buckets hold two seconds' share of the limits (`windowSeconds: 2`), so a client that sends
 * its 16 requests at once is refused; one that asks the quota first never is.
 */
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { startOpenAIServer, type OpenAIServer } from '../../src/testing/openai-server/server.js';
import { processorFixture, readResults, run, tempDirsPerFile } from './run.js';

const dir = tempDirsPerFile();
const servers: OpenAIServer[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

/** 300 requests and 4,500 tokens a minute, enforced over two seconds: 10 requests, 150 tokens at once. */
async function strictServer(): Promise<OpenAIServer> {
  const server = await startOpenAIServer({ rpm: 300, tpm: 4500, windowSeconds: 2 });
  servers.push(server);
  return server;
}

/** 20 prompts of 40 characters: 10 prompt tokens + 8 max_tokens each, as the server counts them. */
const prompts = Array.from({ length: 20 }, (_, k) => `prompt ${String(k).padStart(2, '0')} ${'x'.repeat(30)}`);

async function submit(server: OpenAIServer, extra: string[], retries = ['--retries', '0']): Promise<{ code: number | null; stderr: string; out: string }> {
  const cwd = await dir();
  const out = path.join(cwd, 'r.jsonl');
  const args = ['submit', ...prompts.flatMap((p) => ['-p', p]), '--processor', processorFixture('quota-openai.mjs'), '--param', `base_url=${server.baseUrl}`];
  const res = await run([...args, ...extra, '--concurrency', '16', ...retries, '--no-tui', '--out', out], { cwd, timeoutMs: 30_000 });
  return { code: res.code, stderr: res.stderr + res.stdout, out };
}

describe('ctx.limit against the local OpenAI server', () => {
  test('20 items at --concurrency 16 under the same limits as the server: all done, no 429', async () => {
    const server = await strictServer();
    const res = await submit(server, ['--param', 'rpm=300', '--param', 'tpm=4500', '--param', 'window=2']);
    expect(res.code, res.stderr).toBe(0);
    const records = readResults(res.out);
    expect(records).toHaveLength(20);
    expect(records.every((r) => r.status === 'done')).toBe(true);
    const stats = server.stats();
    expect(stats.limited).toEqual({ requests: 0, tokens: 0 });
    expect(stats.completed).toBe(20);
  });

  test('the same run without the quota is refused by the server (what the limiter prevents)', async () => {
    const server = await strictServer();
    const res = await submit(server, ['--param', 'limit=off']);
    expect(res.code, res.stderr).toBe(1);
    const stats = server.stats();
    expect(stats.limited.requests + stats.limited.tokens).toBeGreaterThan(0);
    expect(readResults(res.out).filter((r) => r.status === 'failed').length).toBeGreaterThan(0);
  });

  test('with no limits given, they are learned from the first answers: only requests sent before any answer can be refused', async () => {
    const statuses: number[] = [];
    const server = await startOpenAIServer({ rpm: 300, tpm: 4500, windowSeconds: 2, onResponse: (e) => e.path.endsWith('/chat/completions') && statuses.push(e.status) });
    servers.push(server);
    // The limits come from the headers; the two-second window is not in them, so it is given.
    // The first 16 go at once, knowing nothing: some are refused, and retried (--retries 5).
    const res = await submit(server, ['--param', 'window=2'], ['--retries', '5']);
    expect(res.code, res.stderr).toBe(0);
    expect(readResults(res.out).every((r) => r.status === 'done')).toBe(true);
    expect(statuses.filter((s) => s !== 200 && s !== 429)).toEqual([]);
    // The first 16 may be sent before any answer: the server takes at least 8 of them (150
    // tokens, 18 each) and may refuse the rest. Every request after them waits for its permit.
    expect(statuses.filter((s) => s === 429).length).toBeLessThanOrEqual(8);
  });
});
