/**
 * The local OpenAI-compatible server's faults, seen by the official `openai` client; its SSE
 * framing seen by curl; and its standalone entry (the built dist/testing/openai-server/main.js).
 */
import OpenAI from 'openai';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, test } from 'vitest';
import type { OpenAIServerOptions } from '../../src/testing/openai-server/server.js';
import { ask, clientOf, serve } from './openai-server-helpers.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const MAIN = path.join(REPO, 'dist', 'testing', 'openai-server', 'main.js');

/** Streams a chat answer; the text received and the error that ended it, if one did. */
async function streamText(client: OpenAI, content: string, extra: Record<string, unknown> = {}): Promise<{ text: string; error: unknown; chunks: number }> {
  let text = '';
  let chunks = 0;
  try {
    const stream = await client.chat.completions.create({ ...ask(content), stream: true, ...extra });
    for await (const chunk of stream) {
      chunks++;
      text += chunk.choices[0]?.delta.content ?? '';
    }
    return { text, error: undefined, chunks };
  } catch (error) {
    return { text, error, chunks };
  }
}

describe('fault directives, as the official client sees them', () => {
  test('reset@2: two tokens, then the connection drops (fetch: "terminated")', async () => {
    const server = await serve({ completionTokens: 6, tokensPerSecond: 500 });
    const { text, error } = await streamText(clientOf(server), 'a b c [[fault:reset@2]]');
    expect(text).toBe('a b');
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toBe('terminated');
    expect(server.stats()).toMatchObject({ faults: { reset: 1 }, completed: 0, completionTokens: 2 });
  });

  test('error@3: three tokens, then an error event the client throws as an APIError', async () => {
    const server = await serve({ completionTokens: 6 });
    const { text, error } = await streamText(clientOf(server), 'a b c d [[fault:error@3]]');
    expect(text).toBe('a b c');
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect(error).toMatchObject({ status: undefined, type: 'server_error' });
    expect((error as Error).message).toBe('The server had an error while processing your request. Sorry about that!');
  });

  test('500 and 503: InternalServerError with the status and OpenAI body', async () => {
    const server = await serve();
    const client = clientOf(server);
    for (const status of [500, 503]) {
      const err = await client.chat.completions.create(ask(`x [[fault:${status}]]`)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.InternalServerError);
      expect(err).toMatchObject({ status, type: 'server_error' });
    }
    expect(server.stats()).toMatchObject({ faults: { 500: 1, 503: 1 }, answered: 0 });
  });

  test('without stream: reset@N is a connection error, error@N a 500', async () => {
    const server = await serve({ completionTokens: 4 });
    const client = clientOf(server);
    expect(await client.chat.completions.create(ask('x [[fault:reset@2]]')).catch((e: unknown) => e)).toBeInstanceOf(OpenAI.APIConnectionError);
    const err = await client.chat.completions.create(ask('x [[fault:error@2]]')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.InternalServerError);
    expect(err).toMatchObject({ status: 500 });
  });

  test('hang: the headers come, then nothing until close() destroys the sockets', async () => {
    const server = await serve();
    const client = clientOf(server);
    const streams = await Promise.all([1, 2, 3].map(() => client.chat.completions.create({ ...ask('x [[fault:hang]]'), stream: true })));
    expect(server.stats()).toMatchObject({ openStreams: 3, peakOpenStreams: 3, faults: { hang: 3 } });
    const reads = streams.map(async (stream) => {
      let chunks = 0;
      try {
        for await (const _ of stream) chunks++;
      } catch (error) {
        return { chunks, error };
      }
      return { chunks, error: undefined };
    });
    await server.close();
    for (const r of await Promise.all(reads)) {
      expect(r.chunks).toBe(0);
      expect(r.error).toBeInstanceOf(Error);
    }
    expect(server.stats()).toMatchObject({ openStreams: 0, completed: 0 });
  });

  test('no-usage: no usage chunk though include_usage asks for one; no usage in a whole answer', async () => {
    const server = await serve({ completionTokens: 2 });
    const client = clientOf(server);
    const stream = await client.chat.completions.create({ ...ask('x [[fault:no-usage]]'), stream: true, stream_options: { include_usage: true } });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.some((c) => c.choices.length === 0)).toBe(false);
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe('stop');
    const whole = await client.chat.completions.create(ask('x [[fault:no-usage]]'));
    expect(whole.usage).toBeUndefined();
    expect(whole.choices[0]?.message.content).toBe('x x');
  });
});

describe('server-level faults', () => {
  test('failEvery 2: every second request is a 503', async () => {
    const server = await serve({ failEvery: 2 });
    const client = clientOf(server);
    const statuses = [];
    for (let i = 0; i < 4; i++) {
      const r = await client.chat.completions.create(ask('x')).then(() => 200, (e: unknown) => (e as { status: number }).status);
      statuses.push(r);
    }
    expect(statuses).toEqual([200, 503, 200, 503]);
  });

  test('resetFraction: the same seeded choice of streams on every run; 1 resets them all halfway', async () => {
    const pattern = async (options: OpenAIServerOptions): Promise<string[]> => {
      const server = await serve({ completionTokens: 4, ...options });
      const out = [];
      for (let i = 0; i < 12; i++) {
        const { text, error } = await streamText(clientOf(server), 'a b c d');
        out.push(error ? `reset:${text}` : 'ok');
      }
      return out;
    };
    const first = await pattern({ resetFraction: 0.5, seed: 7 });
    expect(await pattern({ resetFraction: 0.5, seed: 7 })).toEqual(first);
    expect(first).toContain('ok');
    expect(first).toContain('reset:a b');
    expect(new Set(await pattern({ resetFraction: 1 }))).toEqual(new Set(['reset:a b']));
  });
});

describe('SSE framing and the standalone server', () => {
  test('curl: text/event-stream, one `data: {json}` line per event, blank line after each, [DONE] last', async () => {
    const server = await serve({ completionTokens: 3 });
    const body = JSON.stringify({ ...ask('one two'), stream: true, stream_options: { include_usage: true } });
    const { stdout } = await promisify(execFile)('curl', ['-sS', '-N', '-i', '-H', 'content-type: application/json', '-d', body, `${server.baseUrl}/chat/completions`]);
    const [head = '', sse = ''] = stdout.split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(head).toMatch(/\r\ncontent-type: text\/event-stream; charset=utf-8\r\n/i);
    expect(head).toMatch(/\r\nx-request-id: req_[0-9a-f]{32}\r\n/i);
    expect(sse.endsWith('\n\ndata: [DONE]\n\n')).toBe(true);
    const events = sse.slice(0, -'\n\n'.length).split('\n\n');
    expect(events).toHaveLength(1 + 3 + 1 + 1 + 1); // role, tokens, finish, usage, [DONE]
    for (const event of events.slice(0, -1)) {
      expect(event).toMatch(/^data: \{[^\n]*\}$/);
      expect(JSON.parse(event.slice('data: '.length))).toHaveProperty('object', 'chat.completion.chunk');
    }
  });

  test('main.js: prints where it listens, serves, and on SIGTERM prints its stats and exits 0', async () => {
    expect(existsSync(MAIN), 'build first: npm run build').toBe(true);
    const child = spawn(process.execPath, [MAIN, '--port', '0', '--rpm', '1', '--keys', 'sk-a', '--completion-tokens', '2'], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
      const first = (await lines.next()).value as string;
      expect(first).toMatch(/^listening http:\/\/127\.0\.0\.1:\d+\/v1$/);
      const client = new OpenAI({ apiKey: 'sk-a', baseURL: first.slice('listening '.length), maxRetries: 0 });
      expect((await client.chat.completions.create(ask('hey'))).choices[0]?.message.content).toBe('hey hey');
      expect(await client.chat.completions.create(ask('hey')).catch((e: unknown) => e)).toBeInstanceOf(OpenAI.RateLimitError);
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const stats = JSON.parse((await lines.next()).value as string) as Record<string, unknown>;
      expect(stats).toMatchObject({ requests: 2, answered: 1, completed: 1, limited: { requests: 1 }, completionTokens: 2, openStreams: 0 });
      expect(await exited).toEqual([0, null]);
    } finally {
      child.kill('SIGKILL');
    }
  });

  test('main.js: a bad flag is a message on stderr and exit 2', async () => {
    const err = await promisify(execFile)(process.execPath, [MAIN, '--rpm', 'lots']).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 2 });
    expect((err as { stderr: string }).stderr).toContain('--rpm wants a number >= 0, not "lots"');
  });
});
