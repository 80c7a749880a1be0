/** The pure parts of the `openai` processor: params, request bodies, payloads, backoff. */
import { describe, expect, test } from 'vitest';
import openai from '../../src/processors/openai.js';
import { RETRY_BASE_MS, RETRY_CAP_MS, retryAfterMs, retryDelayMs } from '../../src/processors/openai/backoff.js';
import { OpenAIConnectionError, OpenAIHttpError, networkErrorCode, networkErrorDetail } from '../../src/processors/openai/errors.js';
import { OpenAIParamError, parseOpenAIParams } from '../../src/processors/openai/params.js';
import { describeErrorBody, interpretEvent, interpretWholeAnswer } from '../../src/processors/openai/payloads.js';
import { AttemptFacts, ItemMeter, promptText } from '../../src/processors/openai/meter.js';
import { buildRequest, requestBody } from '../../src/processors/openai/request.js';

const BASE = { base_url: 'http://127.0.0.1:8000/v1', model: 'm' };

describe('params', () => {
  test('defaults', () => {
    expect(parseOpenAIParams(BASE)).toEqual({
      baseUrl: 'http://127.0.0.1:8000/v1',
      model: 'm',
      endpoint: 'chat',
      maxTokens: undefined,
      temperature: undefined,
      system: undefined,
      timeoutMs: 60_000,
      maxRetries: 5,
      apiKeyEnv: 'OPENAI_API_KEY',
      rpm: undefined,
      tpm: undefined,
      rateWindowS: undefined,
    });
  });

  test('every param read; trailing slashes of base_url dropped', () => {
    const s = parseOpenAIParams({
      base_url: 'https://api.example.com/v1///',
      model: 'gpt-x',
      endpoint: 'completions',
      max_tokens: '64',
      temperature: '0.7',
      system: ' Be brief.',
      timeout_ms: '0',
      max_retries: '0',
      api_key_env: 'MY_KEY',
      rpm: '500',
      tpm: '200000',
      rate_window_s: '10',
    });
    expect(s).toEqual({
      baseUrl: 'https://api.example.com/v1',
      model: 'gpt-x',
      endpoint: 'completions',
      maxTokens: 64,
      temperature: 0.7,
      system: ' Be brief.',
      timeoutMs: 0,
      maxRetries: 0,
      apiKeyEnv: 'MY_KEY',
      rpm: 500,
      tpm: 200_000,
      rateWindowS: 10,
    });
  });

  const bad: [Record<string, string>, RegExp][] = [
    [{ model: 'm' }, /--param base_url is required/],
    [{ ...BASE, rpm: '0' }, /--param rpm=0 must be a whole number from 1 to/],
    [{ ...BASE, tpm: '1e5' }, /--param tpm=1e5 must be a whole number from 1 to/],
    [{ ...BASE, base_url: '' }, /--param base_url is required/],
    [{ ...BASE, base_url: '127.0.0.1:8000/v1' }, /base_url=127\.0\.0\.1:8000\/v1 must start with http:\/\/ or https:\/\//],
    [{ ...BASE, base_url: 'not a url' }, /base_url=not a url must start with http/],
    [{ ...BASE, base_url: 'http://' }, /base_url=http:\/\/ is not a URL/],
    [{ ...BASE, base_url: 'localhost:8000/v1' }, /must start with http:\/\/ or https/],
    [{ ...BASE, base_url: 'ftp://host/v1' }, /must start with http:\/\/ or https:\/\//],
    [{ ...BASE, base_url: 'http://host/v1?x=1' }, /must not have a query/],
    [{ base_url: BASE.base_url }, /--param model is required/],
    [{ ...BASE, endpoint: 'embeddings' }, /endpoint=embeddings must be chat or completions/],
    [{ ...BASE, max_tokens: '0' }, /max_tokens=0 must be a whole number from 1/],
    [{ ...BASE, max_tokens: '1.5' }, /max_tokens=1\.5 must be a whole number/],
    [{ ...BASE, max_tokens: 'lots' }, /max_tokens=lots/],
    [{ ...BASE, temperature: '3' }, /temperature=3 must be a number from 0 to 2/],
    [{ ...BASE, temperature: 'hot' }, /temperature=hot/],
    [{ ...BASE, timeout_ms: '-1' }, /timeout_ms=-1 must be a whole number from 0/],
    [{ ...BASE, max_retries: '101' }, /max_retries=101 must be a whole number from 0 to 100/],
    [{ ...BASE, api_key_env: 'MY-KEY' }, /api_key_env=MY-KEY must be the name of an environment variable/],
  ];
  test.each(bad)('validate rejects %j in one line', (params, message) => {
    let err: unknown;
    try {
      openai.validate!(params);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(OpenAIParamError);
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).not.toContain('\n');
  });

  test('validate accepts good params, and ignores params meant for other stages', () => {
    expect(() => openai.validate!({ ...BASE, tokens_per_s: '0', max_tokens: '10', temperature: '0' })).not.toThrow();
  });
});

describe('request', () => {
  const chat = parseOpenAIParams(BASE);
  const completions = parseOpenAIParams({ ...BASE, endpoint: 'completions', max_tokens: '5', temperature: '0' });

  test('a string is one user message (chat) or the prompt (completions); stream is always on, with the usage asked for', () => {
    const usage = { stream_options: { include_usage: true } };
    expect(requestBody(chat, 'hi')).toEqual({ model: 'm', messages: [{ role: 'user', content: 'hi' }], stream: true, ...usage });
    expect(requestBody(completions, 'hi')).toEqual({ model: 'm', prompt: 'hi', stream: true, ...usage, max_tokens: 5, temperature: 0 });
    expect(requestBody(chat, 'hi', false)).toEqual({ model: 'm', messages: [{ role: 'user', content: 'hi' }], stream: true });
    expect(buildRequest(chat, 'hi', undefined, false)).toMatchObject({ asksUsage: false, body: expect.not.stringContaining('stream_options') as unknown });
    expect(buildRequest(chat, 'hi', undefined)).toMatchObject({ asksUsage: true, body: expect.stringContaining('"stream_options":{"include_usage":true}') as unknown });
  });

  test('the system param comes first for chat', () => {
    const s = parseOpenAIParams({ ...BASE, system: 'Be brief.' });
    expect(requestBody(s, 'hi').messages).toEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'hi' },
    ]);
  });

  test('an input with messages is sent as it is', () => {
    const messages = [
      { role: 'system', content: 'S' },
      { role: 'user', content: 'U' },
    ];
    const s = parseOpenAIParams({ ...BASE, system: 'ignored' });
    expect(requestBody(s, { messages, custom: 1 }).messages).toBe(messages);
  });

  test('an input with a prompt: that prompt; anything else: its JSON', () => {
    expect(requestBody(chat, { prompt: 'P', id: 3 }).messages).toEqual([{ role: 'user', content: 'P' }]);
    expect(requestBody(completions, { prompt: 'P' }).prompt).toBe('P');
    expect(requestBody(chat, { q: 1 }).messages).toEqual([{ role: 'user', content: '{"q":1}' }]);
    expect(requestBody(completions, [1, 2]).prompt).toBe('[1,2]');
    expect(requestBody(completions, 42).prompt).toBe('42');
    expect(requestBody(chat, null).messages).toEqual([{ role: 'user', content: 'null' }]);
  });

  test('url per endpoint; Authorization only with a key', () => {
    const r = buildRequest(chat, 'x', 'sk-1');
    expect(r.url).toBe('http://127.0.0.1:8000/v1/chat/completions');
    expect(r.headers).toMatchObject({ authorization: 'Bearer sk-1', 'content-type': 'application/json' });
    expect(JSON.parse(r.body)).toMatchObject({ stream: true, model: 'm' });
    expect(buildRequest(completions, 'x', undefined).url).toBe('http://127.0.0.1:8000/v1/completions');
    expect(buildRequest(completions, 'x', undefined).headers).not.toHaveProperty('authorization');
    expect(buildRequest(completions, 'x', '').headers).not.toHaveProperty('authorization');
  });
});

describe('payloads', () => {
  const ev = (data: string, event = 'message') => ({ event, data, id: undefined });

  test('chat deltas, completion texts, [DONE], role-only and usage chunks', () => {
    expect(interpretEvent(ev('{"choices":[{"delta":{"content":"Hi"},"finish_reason":null}]}'), 'chat')).toEqual({ kind: 'text', text: 'Hi', finished: false });
    expect(interpretEvent(ev('{"choices":[{"text":"Hi","finish_reason":"length"}]}'), 'completions')).toEqual({ kind: 'text', text: 'Hi', finished: true });
    expect(interpretEvent(ev('{"choices":[{"delta":{"role":"assistant"}}]}'), 'chat')).toEqual({ kind: 'skip', finished: false });
    expect(interpretEvent(ev('{"choices":[{"delta":{},"finish_reason":"stop"}]}'), 'chat')).toEqual({ kind: 'skip', finished: true });
    expect(interpretEvent(ev('{"choices":[],"usage":{"total_tokens":3}}'), 'chat')).toEqual({ kind: 'skip', finished: false });
    expect(interpretEvent(ev(' [DONE] '), 'chat')).toEqual({ kind: 'done' });
  });

  test('errors in the stream: an error object, an error event, not JSON', () => {
    expect(interpretEvent(ev('{"error":{"message":"overloaded\\nnow","type":"server_error"}}'), 'chat')).toEqual({ kind: 'error', message: 'overloaded now' });
    expect(interpretEvent(ev('model crashed', 'error'), 'chat')).toEqual({ kind: 'error', message: 'model crashed' });
    expect(interpretEvent(ev('{"choices":[{"delta":{"content":"x"}}]}', 'error'), 'chat').kind).toBe('error');
    expect(interpretEvent(ev('{"choices":'), 'chat')).toEqual({ kind: 'error', message: 'not JSON in the event stream: {"choices":' });
  });

  test('error bodies of several servers', () => {
    expect(describeErrorBody('{"error":{"message":"Invalid model","type":"invalid_request_error"}}')).toBe('Invalid model');
    expect(describeErrorBody('{"error":"model not found"}')).toBe('model not found');
    expect(describeErrorBody('{"object":"error","message":"bad max_tokens","code":400}')).toBe('bad max_tokens');
    expect(describeErrorBody('{"detail":"Not Found"}')).toBe('Not Found');
    expect(describeErrorBody('<html>\n<body>Bad Gateway</body>\n</html>')).toBe('<html> <body>Bad Gateway</body> </html>');
    expect(describeErrorBody('x'.repeat(500))).toHaveLength(200);
    expect(describeErrorBody('')).toBeUndefined();
  });

  test('a whole JSON answer (a server that does not stream)', () => {
    expect(interpretWholeAnswer('{"choices":[{"message":{"role":"assistant","content":"All of it"}}]}', 'chat')).toEqual({ kind: 'text', text: 'All of it', finished: true });
    expect(interpretWholeAnswer('{"choices":[{"text":"T"}]}', 'completions')).toMatchObject({ kind: 'text', text: 'T' });
    expect(interpretWholeAnswer('{"error":{"message":"nope"}}', 'chat')).toEqual({ kind: 'error', message: 'nope' });
    expect(interpretWholeAnswer('{}', 'chat').kind).toBe('error');
  });
});

describe('metering', () => {
  const ev = (data: string) => ({ event: 'message', data, id: undefined });

  test("a stream's facts: the first chunk's model, the last finish reason, the usage chunk's counts", () => {
    const facts = new AttemptFacts();
    const events = [
      '{"model":"gpt-4o-2024","choices":[{"delta":{"role":"assistant","content":""},"finish_reason":null}],"usage":null}',
      '{"model":"other","choices":[{"delta":{"content":"Hi"},"finish_reason":null}],"usage":null}',
      '{"model":"gpt-4o-2024","choices":[{"delta":{},"finish_reason":"length"}],"usage":null}',
      '{"model":"gpt-4o-2024","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":1,"total_tokens":13,"prompt_tokens_details":{"cached_tokens":0}}}',
    ];
    for (const e of events) interpretEvent(ev(e), 'chat', facts);
    expect(facts).toMatchObject({ model: 'gpt-4o-2024', finishReason: 'length', usage: { prompt_tokens: 12, completion_tokens: 1 } });
    // vLLM's usage chunk may say choices: null; a usage without the counts is not one
    const other = new AttemptFacts();
    interpretEvent(ev('{"choices":null,"usage":{"prompt_tokens":3,"completion_tokens":4}}'), 'completions', other);
    expect(other.usage).toEqual({ prompt_tokens: 3, completion_tokens: 4 });
    interpretEvent(ev('{"choices":[],"usage":{"total_tokens":3}}'), 'completions', other);
    interpretEvent(ev('{"choices":[],"usage":{"prompt_tokens":-1,"completion_tokens":2.5}}'), 'completions', other);
    expect(other.usage).toEqual({ prompt_tokens: 3, completion_tokens: 4 });
  });

  test('a whole answer notes its facts too', () => {
    const facts = new AttemptFacts();
    interpretWholeAnswer('{"model":"m1","choices":[{"text":"T","finish_reason":"stop"}],"usage":{"prompt_tokens":2,"completion_tokens":1}}', 'completions', facts);
    expect(facts).toMatchObject({ model: 'm1', finishReason: 'stop', usage: { prompt_tokens: 2, completion_tokens: 1 } });
  });

  test("the prompt's text, as the estimate counts it: messages' text joined by newlines, text parts included", () => {
    const chat = parseOpenAIParams({ ...BASE, system: 'S' });
    expect(promptText(chat, 'hi')).toBe('S\nhi');
    expect(promptText(chat, { messages: [{ role: 'user', content: [{ type: 'text', text: 'a' }, { type: 'image_url' }, { type: 'text', text: 'b' }] }, { role: 'assistant', content: 'c' }] })).toBe('ab\nc');
    expect(promptText(parseOpenAIParams({ ...BASE, endpoint: 'completions', system: 'S' }), { prompt: 'P' })).toBe('P');
  });

  test("an item's meter: usage adds up over the requests the server answered; estimated when any part is", () => {
    let asked = 0;
    const meter = new ItemMeter(() => (asked++, 'x'.repeat(9)));
    expect(meter.meta()).toBeUndefined();
    const refused = meter.attempt(); // a 429: no usage, only its id
    refused.requestId = 'r0';
    expect(meter.meta()).toEqual({ request_id: 'r0' });
    meter.attempt(); // the connection failed: nothing known, the earlier id stays
    expect(meter.meta()).toEqual({ request_id: 'r0' });
    const dropped = meter.attempt();
    Object.assign(dropped, { answered: true, counted: 0, requestId: 'r2' });
    expect(meter.meta()).toEqual({ usage: { prompt_tokens: 3, completion_tokens: 0, estimated: true }, request_id: 'r2' });
    const ok = meter.attempt();
    Object.assign(ok, { answered: true, counted: 5, requestId: 'r3', model: 'm', finishReason: 'stop', usage: { prompt_tokens: 4, completion_tokens: 6 } });
    expect(meter.meta()).toEqual({ usage: { prompt_tokens: 7, completion_tokens: 6, estimated: true }, model: 'm', finish_reason: 'stop', request_id: 'r3' });
    expect(asked).toBe(1); // the prompt's text is only looked at for an estimate, and once
  });
});

describe('backoff', () => {
  const headers = (h: Record<string, string>) => new Headers(h);
  const NOW = Date.parse('2025-01-01T00:00:00Z');

  test('Retry-After in seconds, as an HTTP date, and retry-after-ms (which wins)', () => {
    expect(retryAfterMs(headers({ 'retry-after': '2' }), NOW)).toBe(2000);
    expect(retryAfterMs(headers({ 'retry-after': '0.5' }), NOW)).toBe(500);
    expect(retryAfterMs(headers({ 'retry-after': 'Wed, 01 Jan 2025 00:00:07 GMT' }), NOW)).toBe(7000);
    expect(retryAfterMs(headers({ 'retry-after': 'Tue, 31 Dec 2024 23:59:00 GMT' }), NOW)).toBe(0);
    expect(retryAfterMs(headers({ 'retry-after': '2', 'retry-after-ms': '150' }), NOW)).toBe(150);
    expect(retryAfterMs(headers({ 'retry-after': 'soon' }), NOW)).toBeNull();
    expect(retryAfterMs(headers({ 'retry-after': '-3' }), NOW)).toBeNull();
    expect(retryAfterMs(headers({}), NOW)).toBeNull();
  });

  test('exponential with jitter between half and all of the step, capped', () => {
    for (let retry = 1; retry <= 12; retry++) {
      const step = Math.min(RETRY_CAP_MS, RETRY_BASE_MS * 2 ** (retry - 1));
      expect(retryDelayMs(retry, null, () => 0)).toBe(step / 2);
      expect(retryDelayMs(retry, null, () => 0.999999)).toBe(Math.round(step / 2 + 0.999999 * (step / 2)));
    }
    expect(retryDelayMs(1, null, () => 0)).toBe(250);
    expect(retryDelayMs(50, null, () => 1)).toBe(RETRY_CAP_MS);
  });

  test("the server's wait is honoured as it is, capped", () => {
    expect(retryDelayMs(1, 1234, () => 0.5)).toBe(1234);
    expect(retryDelayMs(3, 0, () => 0.5)).toBe(0);
    expect(retryDelayMs(1, 3_600_000, () => 0.5)).toBe(RETRY_CAP_MS);
  });

  test('which failures are worth another try', () => {
    const http = (status: number) => new OpenAIHttpError(status, 'POST u', 'm', null).retryable;
    expect([429, 500, 502, 503, 504].map(http)).toEqual([true, true, true, true, true]);
    expect([400, 401, 403, 404, 422].map(http)).toEqual([false, false, false, false, false]);
    expect(new OpenAIConnectionError('x', 'ECONNREFUSED').retryable).toBe(true);
    expect(new OpenAIConnectionError('x', 'UND_ERR_SOCKET').retryable).toBe(true);
    expect(new OpenAIConnectionError('x', 'ENOTFOUND').retryable).toBe(false);
    expect(new OpenAIConnectionError('x', undefined).retryable).toBe(false);
  });

  test('network codes and messages are dug out of fetch errors', () => {
    const inner = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    const viaAggregate = new TypeError('fetch failed', { cause: Object.assign(new AggregateError([inner], ''), {}) });
    expect(networkErrorCode(new TypeError('fetch failed', { cause: inner }))).toBe('ECONNREFUSED');
    expect(networkErrorCode(viaAggregate)).toBe('ECONNREFUSED');
    expect(networkErrorDetail(new TypeError('fetch failed', { cause: inner }))).toBe('connect ECONNREFUSED 127.0.0.1:1');
    expect(networkErrorCode(new Error('plain'))).toBeUndefined();
  });
});
