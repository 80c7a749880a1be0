/** `POST /generate` over real sockets: the SSE contract, batching, retries, disconnects, errors. */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoSettings, demoTokens } from '../../src/processors/demo.js';
import { FAST_DEMO, postJson, readSse, startTestServer, type TestServer } from './helpers.js';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(async () => {
  await s?.close();
});

const demoText = (prompt: string): string => demoTokens(prompt, demoSettings(FAST_DEMO)).join('');

interface GenerateEvent {
  request_id: string;
  text: string;
  status: 'in_progress' | 'completed' | 'failed';
  error?: string;
}

async function generate(body: unknown, query = ''): Promise<GenerateEvent[]> {
  const res = await postJson(`${s.url}/generate${query}`, body);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
  return (await readSse(res)).map((m) => JSON.parse(m.data) as GenerateEvent);
}

describe('POST /generate', () => {
  it('streams cumulative text and ends with the whole answer', async () => {
    const events = await generate({ prompt: 'hello there' });
    const expected = demoText('hello there');
    const last = events.at(-1)!;
    expect(last).toMatchObject({ status: 'completed', text: expected });
    expect(events[0]).toMatchObject({ status: 'in_progress', text: '' });
    // Every event carries the same request id, and the text only ever grows.
    expect(new Set(events.map((e) => e.request_id)).size).toBe(1);
    expect(last.request_id).toMatch(/^req_[0-9a-f]{16}$/);
    for (let k = 1; k < events.length; k++) expect(events[k]!.text.startsWith(events[k - 1]!.text)).toBe(true);
    expect(events.filter((e) => e.status === 'in_progress').length).toBeGreaterThan(1);
  });

  it('sends only the new pieces with ?delta=1', async () => {
    const events = await generate({ prompt: 'pieces please' }, '?delta=1');
    expect(events.map((e) => e.text).join('')).toBe(demoText('pieces please'));
    expect(events.at(-1)!.status).toBe('completed');
  });

  it('runs many requests at once, each getting its own answer', async () => {
    const prompts = Array.from({ length: 40 }, (_, i) => `prompt number ${i}`);
    const all = await Promise.all(prompts.map((p) => generate({ prompt: p })));
    all.forEach((events, i) => expect(events.at(-1)).toMatchObject({ status: 'completed', text: demoText(prompts[i]!) }));
    expect(new Set(all.map((e) => e[0]!.request_id)).size).toBe(40);
  });

  it('streams a retried item once: the second attempt only adds what the first had not sent', async () => {
    const events = await generate({ prompt: 'same', processor: 'retry-stream' }, '?delta=1');
    expect(events.map((e) => e.text).join('')).toBe('alpha beta gamma');
    expect(events.at(-1)!.status).toBe('completed');
  });

  it('fails the request when a retry would contradict the text already sent', async () => {
    const events = await generate({ prompt: 'differ', processor: 'retry-stream' });
    expect(events.at(-1)).toMatchObject({ status: 'failed', text: 'one ' });
    expect(events.at(-1)!.error).toMatch(/differs from what was already streamed/);
  });

  it('reports a failing item as a failed event with its error', async () => {
    const events = await generate({ prompt: 'throw', processor: 'faulty' });
    expect(events.at(-1)).toMatchObject({ status: 'failed' });
    expect(events.at(-1)!.error).toMatch(/boom/);
  });

  it('cancels the item when the client goes away', async ({ onTestFinished }) => {
    const dir = mkdtempSync(join(tmpdir(), 'sw-abort-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const marker = join(dir, 'marker');
    const controller = new AbortController();
    const res = await fetch(`${s.url}/generate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: marker, processor: 'abort-marker' }),
      signal: controller.signal,
    });
    const reader = res.body!.getReader();
    // Wait until the processor is running (its first piece arrived), then hang up.
    let seen = '';
    while (!seen.includes('waiting')) seen += new TextDecoder().decode((await reader.read()).value);
    controller.abort();
    for (let i = 0; i < 200 && !existsSync(marker); i++) await new Promise((r) => setTimeout(r, 25));
    expect(readFileSync(marker, 'utf8')).toBe('aborted');
    for (let i = 0; i < 200 && s.manager.pendingRequests > 0; i++) await new Promise((r) => setTimeout(r, 25));
    expect(s.manager.pendingRequests).toBe(0);
  });
});

describe('bad requests get a JSON error, never a crash', () => {
  const cases: [string, () => Promise<Response>, number, RegExp][] = [
    ['no body', () => fetch(`${s.url}/generate`, { method: 'POST' }), 400, /JSON body/],
    ['invalid JSON', () => fetch(`${s.url}/generate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"prompt": ' }), 400, /JSON/],
    ['missing prompt', () => postJson(`${s.url}/generate`, { text: 'x' }), 400, /prompt/],
    ['empty prompt', () => postJson(`${s.url}/generate`, { prompt: '' }), 400, /prompt: must not be empty/],
    ['prompt not a string', () => postJson(`${s.url}/generate`, { prompt: 42 }), 400, /prompt/],
    ['unknown processor', () => postJson(`${s.url}/generate`, { prompt: 'x', processor: 'nope' }), 404, /unknown processor "nope"/],
    ['prompt over the limit', () => postJson(`${s.url}/generate`, { prompt: 'x'.repeat(10_001) }), 413, /at most 10000/],
    ['body over the limit', () => postJson(`${s.url}/generate`, { prompt: 'x'.repeat(70_000) }), 413, /larger than this server takes/],
    ['unknown route', () => fetch(`${s.url}/nope`), 404, /no route GET \/nope/],
    ['a body neither JSON nor text', () => fetch(`${s.url}/generate`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: 'x' }), 415, /as JSON/],
    ['a body shorter than its length', () => fetch(`${s.url}/generate`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': '0' }, body: '' }), 400, /JSON body/],
  ];
  it.each(cases)('%s', async (_name, send, status, message) => {
    const res = await send();
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    const body = (await res.json()) as { error: { message: string; type: string; code: string | null } };
    expect(body.error.message).toMatch(message);
    expect(typeof body.error.type).toBe('string');
    // fastify's internal codes are not part of the API.
    expect(String(body.error.code)).not.toMatch(/FST_/);
  });

  it('reads a curl -d body (form content type) as JSON', async () => {
    const res = await fetch(`${s.url}/generate`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: '{"prompt":"curl style"}' });
    const events = (await readSse(res)).map((m) => JSON.parse(m.data) as GenerateEvent);
    expect(events.at(-1)).toMatchObject({ status: 'completed', text: demoText('curl style') });
  });
});
