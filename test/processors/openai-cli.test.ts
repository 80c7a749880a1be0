/**
 * `slowwork submit --processor openai` through the built binary, against a scripted
 * OpenAI-compatible server in this test process: items run in worker threads of another
 * process, over a real socket.
 */
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { cleanEnv, readResults, run, tempDirsPerFile } from '../cli/run.js';
import { scriptedServer, sendError, streamChat, userText, type ScriptedServer } from './openai-server.js';

const dir = tempDirsPerFile();
const servers: ScriptedServer[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

/** Answers `echo: <USER TEXT>` in two chunks; 400 for the prompt "bad". */
async function echoServer(): Promise<ScriptedServer> {
  const server = await scriptedServer((_req, res, call) => {
    const text = userText(call.body);
    if (text === 'bad') return sendError(res, 400, 'prompt rejected by policy');
    streamChat(res, ['echo: ', text.toUpperCase()]);
  });
  servers.push(server);
  return server;
}

describe.concurrent('slowwork submit --processor openai', () => {
  test('streams each item from the server into the results file, with the key from OPENAI_API_KEY', async () => {
    const server = await echoServer();
    const cwd = await dir();
    const out = path.join(cwd, 'r.jsonl');
    const res = await run(
      ['submit', '-p', 'hello', '-p', 'world', '--processor', 'openai', '--param', `base_url=${server.baseUrl}`, '--param', 'model=m', '--no-tui', '--out', out],
      { cwd, env: cleanEnv({ OPENAI_API_KEY: 'sk-cli-test' }) },
    );
    expect(res.code, res.stderr + res.stdout).toBe(0);
    const records = readResults(out).sort((a, b) => a.index - b.index);
    expect(records.map((r) => [r.id, r.status, r.output, r.error])).toEqual([
      ['1', 'done', 'echo: HELLO', null],
      ['2', 'done', 'echo: WORLD', null],
    ]);
    expect(server.received).toHaveLength(2);
    for (const got of server.received) {
      expect(got.url).toBe('/v1/chat/completions');
      expect(got.headers.authorization).toBe('Bearer sk-cli-test');
      expect(got.body).toMatchObject({ model: 'm', stream: true });
    }
    expect(server.received.map((r) => userText(r.body)).sort()).toEqual(['hello', 'world']);
  });

  test('a 400 fails its item with the server message; the others finish; exit 1', async () => {
    const server = await echoServer();
    const cwd = await dir();
    const out = path.join(cwd, 'r.jsonl');
    const res = await run(
      ['submit', '-p', 'good', '-p', 'bad', '--processor', 'openai', '--param', `base_url=${server.baseUrl}`, '--param', 'model=m', '--retries', '0', '--no-tui', '--out', out],
      { cwd, env: cleanEnv({ OPENAI_API_KEY: '' }) },
    );
    expect(res.code, res.stderr + res.stdout).toBe(1);
    const byInput = new Map(readResults(out).map((r) => [r.input, r]));
    expect(byInput.get('good')).toMatchObject({ status: 'done', output: 'echo: GOOD' });
    expect(byInput.get('bad')).toMatchObject({
      status: 'failed',
      output: null,
      error: `openai: HTTP 400 from POST ${server.baseUrl}/chat/completions: prompt rejected by policy`,
    });
    expect(server.received.map((r) => r.headers.authorization)).toEqual([undefined, undefined]);
  });

  test('a bad param is a usage error (exit 2) in one line, before any request', async () => {
    const cwd = await dir();
    const res = await run(['submit', '-p', 'x', '--processor', 'openai', '--param', 'model=m', '--no-tui', '--out', 'r.jsonl'], { cwd });
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('processor openai: --param base_url is required');
    expect(res.stderr.trim().split('\n')).toHaveLength(1);
  });

  test.for([
    ['max_token=5', 'unknown param max_token: did you mean max_tokens?'],
    ['temprature=0.5', 'unknown param temprature: did you mean temperature?'],
    ['max_tokens=lots', 'processor openai: --param max_tokens=lots must be a whole number'],
  ])('a mistyped or bad param (%s) is refused before any request: exit 2, one line', async ([param, message]) => {
    const server = await echoServer();
    const cwd = await dir();
    const res = await run(
      ['submit', '-p', 'x', '--processor', 'openai', '--param', `base_url=${server.baseUrl}`, '--param', 'model=m', '--param', param!, '--no-tui', '--out', 'r.jsonl'],
      { cwd },
    );
    expect(res.code, res.stderr + res.stdout).toBe(2);
    expect(res.stderr.trim().split('\n')).toEqual([expect.stringContaining(`slowwork: ${message}`)]);
    expect(server.received).toHaveLength(0);
  });
});
