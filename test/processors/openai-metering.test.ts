/**
 * What the `openai` processor reports of each item (`ctx.report`): the server's usage, model,
 * finish reason and request id; its own estimate when the server sent no usage; the tokens of
 * failed requests. Against a scripted server on a real loopback socket.
 */
import type { ServerResponse } from 'node:http';
import { describe, expect, test } from 'vitest';
import type { Params } from '../../src/core/types.js';
import openai from '../../src/processors/openai.js';
import { OpenAIHttpError } from '../../src/processors/openai/errors.js';
import { DONE, processContext, sendError, serversPerTest, sse, type ContextRun, type ScriptedServer } from './openai-server.js';

const serve = serversPerTest();

async function collect(input: unknown, run: ContextRun): Promise<{ chunks: string[]; error?: unknown }> {
  const chunks: string[] = [];
  try {
    for await (const c of (await openai.process(input as string, run.ctx)) as AsyncIterable<string>) chunks.push(c);
    return { chunks };
  } catch (error) {
    return { chunks, error };
  }
}

const params = (server: ScriptedServer, extra: Params = {}): Params => ({ base_url: server.baseUrl, model: 'm', ...extra });

/** A chat chunk as OpenAI streams it with include_usage: every chunk but the last has `usage: null`. */
const chunk = (delta: Record<string, unknown>, finish: string | null = null, model = 'm-2024-08-06'): string =>
  sse({ id: 'c1', object: 'chat.completion.chunk', model, choices: [{ index: 0, delta, finish_reason: finish }], usage: null });
const usageChunk = (prompt: number, completion: number): string =>
  sse({ id: 'c1', object: 'chat.completion.chunk', model: 'm-2024-08-06', choices: [], usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion } });

function startStream(res: ServerResponse, requestId: string): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'x-request-id': requestId });
  res.flushHeaders();
}

/** One token per piece, a finish chunk, then the usage chunk when the request asked for it. */
function answer(res: ServerResponse, body: Record<string, unknown>, requestId: string, pieces: readonly string[], finish = 'stop'): void {
  startStream(res, requestId);
  res.write(chunk({ role: 'assistant', content: '' }));
  for (const p of pieces) res.write(chunk({ content: p }));
  res.write(chunk({}, finish));
  if ((body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true) res.write(usageChunk(11, pieces.length));
  res.end(DONE);
}

describe('ctx.report', () => {
  test("the server's usage, model (from the chunks), finish reason and x-request-id, reported once at the end", async () => {
    const server = await serve((_req, res, call) => answer(res, call.body, 'req-abc', ['a', 'b', 'c'], 'length'));
    const run = processContext(params(server));
    const r = await collect('hello', run);
    expect(r.chunks).toEqual(['a', 'b', 'c']);
    expect(server.received[0]!.body.stream_options).toEqual({ include_usage: true });
    expect(run.reports).toEqual([{ usage: { prompt_tokens: 11, completion_tokens: 3 }, model: 'm-2024-08-06', finish_reason: 'length', request_id: 'req-abc' }]);
  });

  test('no usage from the server: the pieces are the completion tokens, the prompt is chars/4 of its text; marked estimated', async () => {
    const server = await serve((_req, res) => answer(res, {}, 'req-1', ['x', 'y', 'z', 'w']));
    const run = processContext(params(server, { system: 'Be brief.' }));
    await collect('twelve chars', run);
    // "Be brief.\ntwelve chars": 22 characters, 6 tokens
    expect(run.reports).toEqual([{ usage: { prompt_tokens: 6, completion_tokens: 4, estimated: true }, model: 'm-2024-08-06', finish_reason: 'stop', request_id: 'req-1' }]);
  });

  test('a server that refuses stream_options (400 naming it): asked again at once without it, and from then on for that endpoint', async () => {
    const server = await serve((_req, res, call) => {
      if (call.body.stream_options !== undefined) {
        // vLLM before extra fields were allowed
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ object: 'error', message: "[{'type': 'extra_forbidden', 'loc': ('body', 'stream_options'), 'msg': 'Extra inputs are not permitted'}]", type: 'BadRequestError', code: 400 }));
        return;
      }
      answer(res, call.body, `req-${call.n}`, ['ok', '!']);
    });
    const first = processContext(params(server, { max_retries: '0' }));
    expect(await collect('abcd', first)).toEqual({ chunks: ['ok', '!'] });
    expect(server.received.map((r) => r.body.stream_options)).toEqual([{ include_usage: true }, undefined]);
    expect(first.logs).toEqual([expect.stringMatching(/^openai: HTTP 400 .*stream_options.*; asking again without stream_options \(usage will be estimated\)$/)]);
    expect(first.reports).toEqual([{ usage: { prompt_tokens: 1, completion_tokens: 2, estimated: true }, model: 'm-2024-08-06', finish_reason: 'stop', request_id: 'req-1' }]);

    const second = processContext(params(server));
    expect(await collect('abcd', second)).toEqual({ chunks: ['ok', '!'] });
    expect(server.received).toHaveLength(3);
    expect(server.received[2]!.body).not.toHaveProperty('stream_options');
    expect(second.logs).toEqual([]);
  });

  test('another 400 is not taken for a refused stream_options: the item fails as before, with the request id', async () => {
    const server = await serve((_req, res) => sendError(res, 400, "'messages' is too long", { 'x-request-id': 'req-400' }));
    const run = processContext(params(server));
    const r = await collect('x', run);
    expect(r.error).toBeInstanceOf(OpenAIHttpError);
    expect(server.received).toHaveLength(1);
    expect(run.reports).toEqual([{ request_id: 'req-400' }]); // nothing billed: no usage
  });

  test('a whole JSON answer (stream ignored) carries its usage too', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'x-request-id': 'req-json' });
      res.end(JSON.stringify({ model: 'm-1', choices: [{ index: 0, message: { role: 'assistant', content: 'whole' }, finish_reason: 'stop' }], usage: { prompt_tokens: 9, completion_tokens: 1 } }));
    });
    const run = processContext(params(server));
    expect((await collect('x', run)).chunks).toEqual(['whole']);
    expect(run.reports).toEqual([{ usage: { prompt_tokens: 9, completion_tokens: 1 }, model: 'm-1', finish_reason: 'stop', request_id: 'req-json' }]);
  });

  test('a whole JSON answer without usage: its text estimated at chars/4', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ choices: [{ index: 0, message: { role: 'assistant', content: 'nine char' }, finish_reason: 'stop' }] }));
    });
    const run = processContext(params(server));
    await collect('abcde', run);
    expect(run.reports).toEqual([{ usage: { prompt_tokens: 2, completion_tokens: 3, estimated: true }, finish_reason: 'stop' }]);
  });
});

describe('failed requests count', () => {
  test('a stream cut mid-way: the pieces so far, estimated, reported before the error reaches the runner', async () => {
    const server = await serve((_req, res) => {
      startStream(res, 'req-cut');
      res.write(chunk({ content: 'one' }) + chunk({ content: ' two' }), () => res.destroy());
    });
    const run = processContext(params(server));
    const r = await collect('abcdefgh', run);
    expect(r.chunks).toEqual(['one', ' two']);
    expect(r.error).toBeDefined();
    expect(run.reports).toEqual([{ usage: { prompt_tokens: 2, completion_tokens: 2, estimated: true }, model: 'm-2024-08-06', request_id: 'req-cut' }]);
  });

  test('a 200 dropped before its first chunk is retried; both requests took the prompt, so both count', async () => {
    const server = await serve((_req, res, call) => {
      if (call.n === 0) {
        startStream(res, 'req-0');
        res.write(': keep-alive\n\n', () => res.destroy()); // the 200 is out, then the connection drops
        return;
      }
      answer(res, call.body, 'req-1', ['fine']);
    });
    const run = processContext(params(server));
    expect((await collect('abcd', run)).chunks).toEqual(['fine']);
    expect(server.received).toHaveLength(2);
    // 1 estimated prompt token for the dropped request, plus the server's 11 + 1
    expect(run.reports).toEqual([{ usage: { prompt_tokens: 12, completion_tokens: 1, estimated: true }, model: 'm-2024-08-06', finish_reason: 'stop', request_id: 'req-1' }]);
  });

  test('429s: nothing billed, the last request id kept', async () => {
    const server = await serve((_req, res, call) => sendError(res, 429, 'slow down', { 'retry-after-ms': '1', 'x-request-id': `req-${call.n}` }));
    const run = processContext(params(server, { max_retries: '1' }));
    expect((await collect('x', run)).error).toBeInstanceOf(OpenAIHttpError);
    expect(run.reports).toEqual([{ request_id: 'req-1' }]);
  });

  test('an item stopped from outside mid-stream reports from the abort itself, before the runner settles it', async () => {
    const server = await serve((_req, res) => {
      startStream(res, 'req-held');
      res.write(chunk({ content: 'a' }) + chunk({ content: 'b' }));
    });
    const run = processContext(params(server));
    const stream = (await openai.process('abcd', run.ctx)) as AsyncIterable<string>;
    const it = stream[Symbol.asyncIterator]();
    expect((await it.next()).value).toBe('a');
    expect((await it.next()).value).toBe('b');
    const pending = it.next(); // waits on the held stream
    run.abort.abort(new Error('time limit'));
    // At once, in the abort's own turn: the runner folds the reports as soon as it sees the abort.
    expect(run.reports).toEqual([{ usage: { prompt_tokens: 1, completion_tokens: 2, estimated: true }, model: 'm-2024-08-06', request_id: 'req-held' }]);
    await expect(pending).rejects.toThrow('time limit');
  });
});
