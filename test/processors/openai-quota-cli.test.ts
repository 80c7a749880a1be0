/**
 * `slowwork submit --processor openai` against the project's local OpenAI-compatible server, which
 * enforces RPM and TPM as OpenAI does (continuous buckets, 429 with retry-after and x-ratelimit-*
 * headers). Its buckets hold two seconds' share of the limits (`windowSeconds: 2`: 10 requests and
 * 150 tokens at once), so 20 items sent 16 at a time overflow them unless the processor keeps to
 * the endpoint's limit: the built binary, the embedded pool's threads sharing one limiter.
 */
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { startOpenAIServer, type OpenAIServer, type OpenAIServerOptions } from '../../src/testing/openai-server/server.js';
import { readResults, run, tempDirsPerFile } from '../cli/run.js';

const dir = tempDirsPerFile();
const servers: OpenAIServer[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

/** 300 requests and 4,500 tokens a minute, over two seconds; each 429 is counted as it is decided. */
async function strictServer(options: OpenAIServerOptions = {}): Promise<{ server: OpenAIServer; statuses: number[] }> {
  const statuses: number[] = [];
  const server = await startOpenAIServer({
    rpm: 300,
    tpm: 4500,
    windowSeconds: 2,
    onResponse: (e) => e.path.endsWith('/chat/completions') && statuses.push(e.status),
    ...options,
  });
  servers.push(server);
  return { server, statuses };
}

/** 20 prompts of 40 characters: 10 prompt tokens + 8 max_tokens each, as the server counts them. */
const prompts = Array.from({ length: 20 }, (_, k) => `prompt ${String(k).padStart(2, '0')} ${'x'.repeat(30)}`);

async function submit(server: OpenAIServer, extra: string[]): Promise<{ code: number | null; output: string; out: string }> {
  const cwd = await dir();
  const out = path.join(cwd, 'r.jsonl');
  const args = ['submit', ...prompts.flatMap((p) => ['-p', p]), '--processor', 'openai', '--param', `base_url=${server.baseUrl}`, '--param', 'model=slowwork-test'];
  const res = await run([...args, '--param', 'max_tokens=8', ...extra, '--concurrency', '16', '--retries', '0', '--no-tui', '--out', out], { cwd, timeoutMs: 60_000 });
  return { code: res.code, output: res.stderr + res.stdout, out };
}

function expectAllDone(res: { code: number | null; output: string; out: string }): void {
  expect(res.code, res.output).toBe(0);
  const records = readResults(res.out);
  expect(records).toHaveLength(20);
  expect(records.filter((r) => r.status !== 'done'), res.output).toEqual([]);
}

describe('openai keeps to the endpoint limit, shared by every thread', () => {
  test('limits given (rpm, tpm, rate_window_s): all 20 done, not one 429', async () => {
    const { server, statuses } = await strictServer();
    const res = await submit(server, ['--param', 'rpm=300', '--param', 'tpm=4500', '--param', 'rate_window_s=2']);
    expectAllDone(res);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    expect(server.stats().completed).toBe(20);
  });

  test('limits learned from the headers: only requests sent before the first answers can be refused', async () => {
    const { server, statuses } = await strictServer();
    // Not even the window is given: the limiter assumes a minute's bucket until the server's
    // remaining-* headers and retry-after say otherwise.
    const res = await submit(server, []);
    expectAllDone(res);
    expect(statuses.filter((s) => s !== 200 && s !== 429)).toEqual([]);
    // A 429 storm would refuse far more than the first 16 (each retried item colliding again).
    expect(statuses.filter((s) => s === 429).length).toBeLessThanOrEqual(16);
  });

  test('a server that says nothing of its limits (no headers, no retry-after): fewer at once after its 429s, all done', async () => {
    const { server, statuses } = await strictServer({ headers: false });
    const res = await submit(server, ['--param', 'max_retries=8']);
    expectAllDone(res);
    expect(statuses.filter((s) => s !== 200 && s !== 429)).toEqual([]);
    expect(statuses.filter((s) => s === 200)).toHaveLength(20);
  });

  test('a typo in rpm is one line and exit 2, before any request', async () => {
    const { server, statuses } = await strictServer();
    const res = await submit(server, ['--param', 'rpm=lots']);
    expect(res.code).toBe(2);
    expect(res.output.trim().split('\n')).toHaveLength(1);
    expect(res.output).toMatch(/rpm/);
    expect(statuses).toEqual([]);
  });
});
