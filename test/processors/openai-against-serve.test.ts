/**
 * Both ends of slowwork's OpenAI wire format: `slowwork submit --processor openai` against a
 * `slowwork serve` running the demo processor, two built binaries talking over a real socket.
 * The answers must be exactly what the demo gives for the item the server runs: the prompt
 * string, for completions and for a chat of one user message (the demo takes a chat as text).
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { cleanEnv, demoOutput, readResults, run, start, tempDirsPerFile, waitFor, type Running } from '../cli/run.js';

const dir = tempDirsPerFile();
const DEMO_PARAMS = { tokens_per_s: '0', first_token_ms: '0' };
const PROMPTS = ['hello', 'world', 'a longer prompt, with punctuation'];

let serve: Running;
let baseUrl: string;

beforeAll(async () => {
  const cwd = await dir();
  serve = start(['serve', '--port', '0', '--threads', '1', ...Object.entries(DEMO_PARAMS).flatMap(([k, v]) => ['--param', `${k}=${v}`])], {
    cwd,
    timeoutMs: 120_000,
  });
  await waitFor(() => /listening on http:\/\/\S+/.test(serve.stdout()) || serve.child.exitCode !== null, 'slowwork serve to listen', 20_000);
  const m = /listening on (http:\/\/[^\s)]+)/.exec(serve.stdout());
  if (!m) throw new Error(`slowwork serve did not start:\n${serve.stdout()}\n${serve.stderr()}`);
  baseUrl = `${m[1]!.replace(/\/+$/, '')}/v1`;
});

afterAll(async () => {
  if (!serve || serve.child.exitCode !== null) return;
  serve.child.kill('SIGTERM');
  await serve.exited.catch(() => undefined);
});

async function submitAgainstServe(extra: readonly string[]): Promise<Map<unknown, { status: string; output: string | null; error: string | null }>> {
  const cwd = await dir();
  const out = path.join(cwd, 'r.jsonl');
  const res = await run(
    ['submit', ...PROMPTS.flatMap((p) => ['-p', p]), '--processor', 'openai', '--param', `base_url=${baseUrl}`, '--param', 'model=demo', ...extra, '--no-tui', '--out', out],
    { cwd, env: cleanEnv({ OPENAI_API_KEY: '' }) },
  );
  expect(res.code, res.stderr + res.stdout).toBe(0);
  return new Map(readResults(out).map((r) => [r.input, r]));
}

describe('openai processor against slowwork serve (model demo)', () => {
  test('completions: each output is the demo answer for the prompt', async () => {
    const results = await submitAgainstServe(['--param', 'endpoint=completions']);
    for (const p of PROMPTS) {
      expect(results.get(p)).toMatchObject({ status: 'done', error: null, output: demoOutput(p, DEMO_PARAMS) });
    }
  });

  test('chat: each output is the demo answer for the user message, as text', async () => {
    const results = await submitAgainstServe([]);
    for (const p of PROMPTS) {
      // The demo says nothing of `accepts`: serve hands it the one message's content, not {messages}.
      const expected = demoOutput(p, DEMO_PARAMS);
      expect(expected).not.toBe(demoOutput({ messages: [{ role: 'user', content: p }] }, DEMO_PARAMS));
      expect(results.get(p)).toMatchObject({ status: 'done', error: null, output: expected });
    }
  });

  test('an unknown model is a 4xx with the server message, not a retry loop', async () => {
    const cwd = await dir();
    const out = path.join(cwd, 'r.jsonl');
    const res = await run(
      ['submit', '-p', 'x', '--processor', 'openai', '--param', `base_url=${baseUrl}`, '--param', 'model=no-such-model', '--retries', '0', '--no-tui', '--out', out],
      { cwd, env: cleanEnv({ OPENAI_API_KEY: '' }) },
    );
    expect(res.code, res.stderr + res.stdout).toBe(1);
    const [record] = readResults(out);
    expect(record!.status).toBe('failed');
    expect(record!.error).toMatch(/^openai: HTTP 4\d\d from POST \S+\/v1\/chat\/completions: .*no-such-model/);
    expect(res.stderr).not.toMatch(/retry 1\//);
  });
});
