/**
 * Every token metered, end to end: `slowwork submit --processor openai` (the built binary, items
 * in worker threads of another process) against the local OpenAI-compatible server
 * (src/testing/openai-server) in this test process. The results lines' usage must add up to what
 * the server counted, failed attempts included.
 */
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import type { TokenUsage } from '../../src/core/item-meta.js';
import type { ResultRecord } from '../../src/core/types.js';
import { startOpenAIServer, type OpenAIServer, type OpenAIServerOptions } from '../../src/testing/openai-server/server.js';
import { cleanEnv, readResults, run, tempDirsPerFile } from '../cli/run.js';

const dir = tempDirsPerFile();
const servers: OpenAIServer[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

/** A server, and the request ids of the answers it began (status 200). */
async function server(options: OpenAIServerOptions = {}): Promise<{ server: OpenAIServer; answeredIds: string[] }> {
  const answeredIds: string[] = [];
  const s = await startOpenAIServer({ ...options, onResponse: (e) => e.status === 200 && answeredIds.push(e.requestId) });
  servers.push(s);
  return { server: s, answeredIds };
}

const MODEL = 'slowwork-test';

async function submit(s: OpenAIServer, args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string; records: ResultRecord[] }> {
  const cwd = await dir();
  const out = path.join(cwd, 'r.jsonl');
  const res = await run(['submit', ...args, '--processor', 'openai', '--param', `base_url=${s.baseUrl}`, '--param', `model=${MODEL}`, '--no-tui', '--out', out], {
    cwd,
    env: cleanEnv({ OPENAI_API_KEY: '' }),
  });
  return { ...res, records: readResults(out).sort((a, b) => a.index - b.index) };
}

const sum = (usages: readonly (TokenUsage | undefined)[]): { promptTokens: number; completionTokens: number } => ({
  promptTokens: usages.reduce((n, u) => n + (u?.prompt_tokens ?? 0), 0),
  completionTokens: usages.reduce((n, u) => n + (u?.completion_tokens ?? 0), 0),
});

/** The server's estimate of a chat prompt of one user message (see docs/testing-server.md). */
const promptTokens = (text: string): number => Math.ceil(text.length / 4);

describe.concurrent('slowwork submit --processor openai meters every item', () => {
  test("results lines carry the server's usage, finish_reason 'length' when max_tokens cuts, the model and the request id", async () => {
    const { server: s, answeredIds } = await server();
    const prompts = ['alpha beta', 'gamma delta epsilon', 'one', 'no usage here [[fault:no-usage]]'];
    const res = await submit(s, [...prompts.flatMap((p) => ['-p', p]), '--param', 'max_tokens=5']);
    expect(res.code, res.stderr + res.stdout).toBe(0);
    expect(res.records.map((r) => [r.input, r.usage, r.finish_reason, r.model])).toEqual([
      ['alpha beta', { prompt_tokens: 3, completion_tokens: 5 }, 'length', MODEL],
      ['gamma delta epsilon', { prompt_tokens: 5, completion_tokens: 5 }, 'length', MODEL],
      ['one', { prompt_tokens: 1, completion_tokens: 5 }, 'length', MODEL],
      // no usage chunk: the 5 streamed pieces, and the prompt at the server's own chars/4
      [prompts[3], { prompt_tokens: promptTokens(prompts[3]!), completion_tokens: 5, estimated: true }, 'length', MODEL],
    ]);
    expect(res.records.map((r) => r.request_id).sort()).toEqual([...answeredIds].sort());
    const stats = s.stats();
    expect(stats.requests).toBe(4);
    expect(sum(res.records.map((r) => r.usage))).toEqual({ promptTokens: stats.promptTokens, completionTokens: stats.completionTokens });
  });

  test("completions endpoint, no max_tokens: the server's default length, finish_reason 'stop'", async () => {
    const { server: s } = await server({ completionTokens: 7 });
    const res = await submit(s, ['-p', 'write a haiku', '-p', 'a limerick', '--param', 'endpoint=completions']);
    expect(res.code, res.stderr + res.stdout).toBe(0);
    expect(res.records.map((r) => [r.usage, r.finish_reason])).toEqual([
      [{ prompt_tokens: 4, completion_tokens: 7 }, 'stop'],
      [{ prompt_tokens: 3, completion_tokens: 7 }, 'stop'],
    ]);
    const stats = s.stats();
    expect(sum(res.records.map((r) => r.usage))).toEqual({ promptTokens: stats.promptTokens, completionTokens: stats.completionTokens });
  });

  test("a reset mid-stream, then a successful retry: the failed attempt's tokens (estimated) and the retry's add up to the server's", async () => {
    // Seed 8's first draw (0.16) resets the first answer halfway; its second (0.63) does not.
    const { server: s, answeredIds } = await server({ resetFraction: 0.5, seed: 8 });
    const prompt = 'count these words';
    const res = await submit(s, ['-p', prompt, '--param', 'max_tokens=6', '--retries', '1', '--json']);
    expect(res.code, res.stderr + res.stdout).toBe(0);
    expect(s.stats().faults.reset).toBe(1);
    const events = res.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { type: string; meta?: { usage?: TokenUsage; request_id?: string } });
    const retries = events.filter((e) => e.type === 'item-retry');
    expect(retries).toHaveLength(1);
    expect(retries[0]!.meta).toEqual({ usage: { prompt_tokens: promptTokens(prompt), completion_tokens: 3, estimated: true }, model: MODEL, request_id: answeredIds[0] });
    const [record] = res.records;
    expect(record).toMatchObject({ status: 'done', attempts: 2, usage: { prompt_tokens: promptTokens(prompt), completion_tokens: 6 }, finish_reason: 'length', request_id: answeredIds[1] });
    expect(record!.usage).not.toHaveProperty('estimated');
    const stats = s.stats();
    expect(sum([retries[0]!.meta!.usage, record!.usage])).toEqual({ promptTokens: stats.promptTokens, completionTokens: stats.completionTokens });
  });
});
