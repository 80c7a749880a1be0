/**
 * The `openai` processor against a scripted OpenAI-compatible server on a real loopback socket:
 * streaming, retries, errors, silence and abort. No fake timers, no mocked fetch.
 */
import { afterEach, describe, expect, test, vi } from 'vitest';
import type { Params } from '../../src/core/types.js';
import type { ProcessContext } from '../../src/processors/contract.js';
import { processQuota } from '../../src/runtime/quota/local.js';
import openai from '../../src/processors/openai.js';
import { OpenAIConnectionError, OpenAIHttpError, OpenAIStreamError, OpenAITimeoutError } from '../../src/processors/openai/errors.js';
import {
  DONE,
  chatChunk,
  scriptedServer,
  sendError,
  startStream,
  streamChat,
  textChunk,
  userText,
  type Script,
  type ScriptedServer,
} from './openai-server.js';

const servers: ScriptedServer[] = [];
afterEach(async () => {
  vi.unstubAllEnvs();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function serve(script: Script): Promise<ScriptedServer> {
  const server = await scriptedServer(script);
  servers.push(server);
  return server;
}

interface Run {
  readonly ctx: ProcessContext;
  readonly logs: string[];
  readonly abort: AbortController;
}

function context(params: Params): Run {
  const abort = new AbortController();
  const logs: string[] = [];
  const ctx: ProcessContext = { signal: abort.signal, attempt: 1, itemId: '1', params, stage: 0, log: (m) => logs.push(m), report: () => undefined, limit: (key, cost, limits) => processQuota().limit(key, cost, limits, abort.signal) };
  return { ctx, logs, abort };
}

/** Runs the processor to its end; the chunks as yielded, or the error it threw. */
async function collect(input: unknown, params: Params, run = context(params)): Promise<{ chunks: string[]; error?: unknown; logs: string[] }> {
  const chunks: string[] = [];
  try {
    const stream = (await openai.process(input as string, run.ctx)) as AsyncIterable<string>;
    for await (const c of stream) chunks.push(c);
    return { chunks, logs: run.logs };
  } catch (error) {
    return { chunks, error, logs: run.logs };
  }
}

/** Waits (bounded) until `cond` holds. */
async function until(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const params = (server: ScriptedServer, extra: Params = {}): Params => ({ base_url: server.baseUrl, model: 'm', ...extra });

describe('streamed answers', () => {
  test('chat: chunks arrive one by one, as the server sends them; the request is what the server expects', async () => {
    vi.stubEnv('SLOWWORK_TEST_KEY', 'sk-test-123');
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const server = await serve(async (_req, res) => {
      startStream(res);
      res.write(': keep-alive comment\n\n');
      res.write(chatChunk('Hel'));
      await released; // the rest only once the client has shown the first piece
      // One event cut across writes, CRLF line ends.
      res.write('data: {"choices":[{"index":0,"delta":{"con');
      await new Promise((r) => setTimeout(r, 20));
      res.write('tent":"lo"},"finish_reason":null}]}\r\n\r\n');
      res.write(chatChunk(' world'));
      res.write(chatChunk(null, 'stop'));
      res.end(DONE);
    });
    const run = context(params(server, { system: 'Be brief.', max_tokens: '16', temperature: '0.5', api_key_env: 'SLOWWORK_TEST_KEY' }));
    const stream = (await openai.process('hello', run.ctx)) as AsyncIterable<string>;
    const chunks: string[] = [];
    for await (const c of stream) {
      chunks.push(c);
      if (chunks.length === 1) release();
    }
    expect(chunks).toEqual(['Hel', 'lo', ' world']);
    expect(server.received).toHaveLength(1);
    const got = server.received[0]!;
    expect(got.method).toBe('POST');
    expect(got.url).toBe('/v1/chat/completions');
    expect(got.headers.authorization).toBe('Bearer sk-test-123');
    expect(got.headers['content-type']).toBe('application/json');
    expect(got.body).toEqual({
      model: 'm',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'hello' },
      ],
      stream: true,
      max_tokens: 16,
      temperature: 0.5,
    });
    expect(run.logs).toEqual([]);
  });

  test('completions: the prompt goes out, choices[0].text comes back; OPENAI_API_KEY by default', async () => {
    vi.stubEnv('OPENAI_API_KEY', 'sk-default');
    const server = await serve((_req, res) => {
      startStream(res);
      for (const piece of ['Once', ' upon', ' a time']) res.write(textChunk(piece));
      res.write(textChunk('', 'length'));
      res.end(DONE);
    });
    const r = await collect({ prompt: 'Tell a story', id: 'x' }, params(server, { endpoint: 'completions' }));
    expect(r.error).toBeUndefined();
    expect(r.chunks).toEqual(['Once', ' upon', ' a time']);
    expect(server.received[0]!.url).toBe('/v1/completions');
    expect(server.received[0]!.body).toEqual({ model: 'm', prompt: 'Tell a story', stream: true });
    expect(server.received[0]!.headers.authorization).toBe('Bearer sk-default');
  });

  test('no key in the environment: no Authorization header', async () => {
    vi.stubEnv('OPENAI_API_KEY', '');
    const server = await serve((_req, res) => streamChat(res, ['ok']));
    const r = await collect('x', params(server));
    expect(r.chunks).toEqual(['ok']);
    expect(server.received[0]!.headers).not.toHaveProperty('authorization');
  });

  test('a messages input is sent unchanged', async () => {
    const messages = [
      { role: 'system', content: 'S' },
      { role: 'user', content: 'first' },
      { role: 'assistant', content: 'reply' },
      { role: 'user', content: 'second' },
    ];
    const server = await serve((_req, res, call) => streamChat(res, [`echo:${userText(call.body)}`]));
    const r = await collect({ messages }, params(server, { system: 'not used' }));
    expect(r.chunks).toEqual(['echo:second']);
    expect(server.received[0]!.body.messages).toEqual(messages);
  });

  test('a stream that ends after a finish_reason without [DONE] is complete; one that just stops is not', async () => {
    const server = await serve((_req, res, call) => {
      startStream(res);
      res.write(chatChunk('part'));
      if (call.n === 0) res.write(chatChunk(null, 'stop'));
      res.end();
    });
    const ok = await collect('x', params(server));
    expect(ok.error).toBeUndefined();
    expect(ok.chunks).toEqual(['part']);
    const cut = await collect('x', params(server));
    expect(cut.chunks).toEqual(['part']);
    expect(cut.error).toBeInstanceOf(OpenAIStreamError);
    expect((cut.error as Error).message).toMatch(/^openai: the stream from POST http:\/\/127\.0\.0\.1:\d+\/v1\/chat\/completions ended before \[DONE\]$/);
    expect(server.received).toHaveLength(2); // not retried
  });

  test('a server that ignores stream:true and answers JSON still gives the text', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify({ choices: [{ index: 0, message: { role: 'assistant', content: 'whole answer' }, finish_reason: 'stop' }] }));
    });
    const r = await collect('x', params(server));
    expect(r.error).toBeUndefined();
    expect(r.chunks).toEqual(['whole answer']);
  });

  test('an error object in the stream fails the item with its message, without a retry', async () => {
    const server = await serve((_req, res) => {
      startStream(res);
      res.write(chatChunk('partial'));
      res.end('data: {"error":{"message":"the model crashed","type":"server_error"}}\n\n');
    });
    const r = await collect('x', params(server));
    expect(r.chunks).toEqual(['partial']);
    expect(r.error).toBeInstanceOf(OpenAIStreamError);
    expect((r.error as Error).message).toBe('openai: the server reported an error mid-stream: the model crashed');
    expect(server.received).toHaveLength(1);
  });
});

describe('retries before the first chunk', () => {
  test('429 with Retry-After: waits as told, then succeeds', async () => {
    const server = await serve((_req, res, call) => {
      if (call.n === 0) sendError(res, 429, 'Rate limit reached for requests', { 'retry-after': '1' });
      else streamChat(res, ['after', ' the wait']);
    });
    const r = await collect('x', params(server));
    expect(r.error).toBeUndefined();
    expect(r.chunks).toEqual(['after', ' the wait']);
    expect(server.received).toHaveLength(2);
    expect(r.logs).toHaveLength(1);
    expect(r.logs[0]).toMatch(/^openai: HTTP 429 from POST http:\/\/127\.0\.0\.1:\d+\/v1\/chat\/completions: Rate limit reached for requests; retry 1\/5 in 1000 ms$/);
  });

  test('500 twice, then success (exponential backoff without a hint)', async () => {
    const server = await serve((_req, res, call) => {
      if (call.n < 2) sendError(res, 500, `internal error ${call.n}`);
      else streamChat(res, ['third time']);
    });
    const r = await collect('x', params(server));
    expect(r.error).toBeUndefined();
    expect(r.chunks).toEqual(['third time']);
    expect(server.received).toHaveLength(3);
    expect(r.logs.map((l) => l.replace(/ in \d+ ms$/, ''))).toEqual([
      expect.stringMatching(/HTTP 500 .*: internal error 0; retry 1\/5$/),
      expect.stringMatching(/HTTP 500 .*: internal error 1; retry 2\/5$/),
    ]);
    const waits = r.logs.map((l) => Number(/ in (\d+) ms$/.exec(l)![1]));
    expect(waits[0]).toBeGreaterThanOrEqual(250);
    expect(waits[0]).toBeLessThanOrEqual(500);
    expect(waits[1]).toBeGreaterThanOrEqual(500);
    expect(waits[1]).toBeLessThanOrEqual(1000);
  });

  test('5xx every time: gives up after max_retries with the last status and message', async () => {
    const server = await serve((_req, res) => sendError(res, 503, 'overloaded', { 'retry-after-ms': '5' }));
    const r = await collect('x', params(server, { max_retries: '2' }));
    expect(r.error).toBeInstanceOf(OpenAIHttpError);
    expect((r.error as OpenAIHttpError).status).toBe(503);
    expect((r.error as Error).message).toMatch(/^openai: HTTP 503 from POST \S+: overloaded \(gave up after 2 retries\)$/);
    expect(server.received).toHaveLength(3);
  });

  test('400 fails at once with the server message', async () => {
    const server = await serve((_req, res) => sendError(res, 400, "This model's maximum context length is 8192 tokens."));
    const r = await collect('x', params(server));
    expect(r.chunks).toEqual([]);
    expect(r.error).toBeInstanceOf(OpenAIHttpError);
    expect((r.error as Error).message).toBe(`openai: HTTP 400 from POST ${server.baseUrl}/chat/completions: This model's maximum context length is 8192 tokens.`);
    expect(server.received).toHaveLength(1);
    expect(r.logs).toEqual([]);
  });

  test('a 404 that is not JSON: the status and the body text, one line', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(404, { 'content-type': 'text/html' });
      res.end('<h1>Not\nFound</h1>');
    });
    const r = await collect('x', params(server));
    expect((r.error as Error).message).toBe(`openai: HTTP 404 from POST ${server.baseUrl}/chat/completions: <h1>Not Found</h1>`);
  });

  test('connection refused by a server never reached: fails at once, naming the address (no backoff before fail-fast hears of it)', async () => {
    const gone = await scriptedServer(() => undefined);
    await gone.close();
    const r = await collect('x', { base_url: gone.baseUrl, model: 'm', max_retries: '3' });
    expect(r.error).toBeInstanceOf(OpenAIConnectionError);
    expect((r.error as Error).message).toMatch(/^openai: POST http:\/\/127\.0\.0\.1:\d+\/v1\/chat\/completions failed: .*ECONNREFUSED[^(]*$/);
    expect(r.logs).toEqual([]);
  });

  test('connection refused by a server that answered before (a restart): retried, then fails naming the address', async () => {
    const server = await scriptedServer((_req, res) => streamChat(res, ['up']));
    expect((await collect('x', params(server, { max_retries: '1' }))).chunks).toEqual(['up']);
    await server.close();
    const r = await collect('x', params(server, { max_retries: '1' }));
    expect(r.error).toBeInstanceOf(OpenAIConnectionError);
    expect((r.error as Error).message).toMatch(/^openai: POST http:\/\/127\.0\.0\.1:\d+\/v1\/chat\/completions failed: .*ECONNREFUSED.* \(gave up after 1 retry\)$/);
    expect(r.logs).toHaveLength(1);
  });

  test('a connection dropped before the first chunk is retried', async () => {
    const server = await serve((_req, res, call) => {
      if (call.n === 0) {
        startStream(res);
        setTimeout(() => res.socket?.destroy(), 20);
      } else streamChat(res, ['second try']);
    });
    const r = await collect('x', params(server));
    expect(r.error).toBeUndefined();
    expect(r.chunks).toEqual(['second try']);
    expect(server.received).toHaveLength(2);
    expect(r.logs[0]).toMatch(/^openai: connection lost while streaming from POST \S+: .*; retry 1\/5 in \d+ ms$/);
  });
});

describe('failures after the first chunk, silence, abort', () => {
  test('a connection dropped mid-stream fails the attempt at once (the item retry starts over)', async () => {
    const server = await serve((_req, res) => {
      startStream(res);
      res.write(chatChunk('first'), () => setTimeout(() => res.socket?.destroy(), 20));
    });
    const r = await collect('x', params(server));
    expect(r.chunks).toEqual(['first']);
    expect(r.error).toBeInstanceOf(OpenAIConnectionError);
    expect((r.error as Error).message).toMatch(/^openai: connection lost while streaming from POST \S+\/v1\/chat\/completions: /);
    expect((r.error as Error).message).not.toContain('\n');
    expect(server.received).toHaveLength(1);
  });

  test('no response within timeout_ms: a timeout error, no retry, the socket closed', async () => {
    const server = await serve(() => undefined); // never answers
    const r = await collect('x', params(server, { timeout_ms: '200' }));
    expect(r.error).toBeInstanceOf(OpenAITimeoutError);
    expect((r.error as Error).message).toBe(`openai: no response from POST ${server.baseUrl}/chat/completions within 200 ms (--param timeout_ms)`);
    expect(server.received).toHaveLength(1);
    await until(() => server.closedRequests() === 1, 'the client to close its socket');
  });

  test('silence mid-stream for timeout_ms: a timeout error after the chunks so far', async () => {
    const server = await serve((_req, res) => {
      startStream(res);
      res.write(chatChunk('before the silence'));
    });
    const r = await collect('x', params(server, { timeout_ms: '200' }));
    expect(r.chunks).toEqual(['before the silence']);
    expect(r.error).toBeInstanceOf(OpenAITimeoutError);
    expect((r.error as Error).message).toMatch(/no data from POST \S+ for 200 ms mid-stream \(--param timeout_ms\)$/);
    await until(() => server.closedRequests() === 1, 'the client to close its socket');
  });

  test('abort mid-stream: the stream ends with the abort reason and the request is closed', async () => {
    const server = await serve((_req, res) => {
      startStream(res);
      res.write(chatChunk('one'));
    });
    const run = context(params(server));
    const reason = new Error('cancelled by the test');
    const stream = (await openai.process('x', run.ctx)) as AsyncIterable<string>;
    const chunks: string[] = [];
    let error: unknown;
    try {
      for await (const c of stream) {
        chunks.push(c);
        run.abort.abort(reason);
      }
    } catch (err) {
      error = err;
    }
    expect(chunks).toEqual(['one']);
    expect(error).toBe(reason);
    await until(() => server.closedRequests() === 1, 'the client to close its socket');
  });

  test('abort while waiting for the response', async () => {
    const server = await serve(() => undefined);
    const run = context(params(server));
    const reason = new Error('stop');
    const pending = collect('x', run.ctx.params, run);
    await until(() => server.received.length === 1, 'the request');
    run.abort.abort(reason);
    const r = await pending;
    expect(r.error).toBe(reason);
    await until(() => server.closedRequests() === 1, 'the client to close its socket');
  });

  test('abort during a Retry-After wait ends it without another request', async () => {
    const server = await serve((_req, res) => sendError(res, 429, 'slow down', { 'retry-after': '30' }));
    const run = context(params(server));
    const reason = new Error('stop waiting');
    const pending = collect('x', run.ctx.params, run);
    await until(() => run.logs.length === 1, 'the retry to be scheduled');
    expect(run.logs[0]).toMatch(/retry 1\/5 in 30000 ms$/);
    run.abort.abort(reason);
    const r = await pending;
    expect(r.error).toBe(reason);
    expect(server.received).toHaveLength(1);
  });

  test('a signal aborted before the start: no request at all', async () => {
    const server = await serve((_req, res) => streamChat(res, ['never']));
    const run = context(params(server));
    const reason = new Error('already cancelled');
    run.abort.abort(reason);
    const r = await collect('x', run.ctx.params, run);
    expect(r.error).toBe(reason);
    expect(r.chunks).toEqual([]);
    expect(server.received).toHaveLength(0);
  });
});
