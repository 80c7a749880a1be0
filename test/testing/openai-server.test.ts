/**
 * The local OpenAI-compatible server over real sockets, driven by the official `openai` client:
 * answers, errors and rate limits. Counts are made deterministic by a clock the test holds (the
 * buckets' clock), never by timing.
 */
import OpenAI from 'openai';
import { performance } from 'node:perf_hooks';
import { describe, expect, test } from 'vitest';
import { ask, clientOf, serve } from './openai-server-helpers.js';

/** A bucket clock that never moves: every count is decided by the limits alone. */
const frozen = (): number => 0;

const CHAT_USAGE_DETAILS = {
  prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
  completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
};

describe('answers, read by the official client', () => {
  test('a whole chat answer: words of the prompt, cut at max_tokens, with usage and headers', async () => {
    const server = await serve({ rpm: 100, tpm: 1000, now: frozen });
    const { data, response, request_id } = await clientOf(server)
      .chat.completions.create({ ...ask('say hello'), max_tokens: 3 })
      .withResponse();
    expect(data.object).toBe('chat.completion');
    expect(data.id).toMatch(/^chatcmpl-/);
    expect(data.system_fingerprint).toMatch(/^fp_/);
    expect(data.choices).toEqual([
      { index: 0, message: { role: 'assistant', content: 'say hello say', refusal: null, annotations: [] }, logprobs: null, finish_reason: 'length' },
    ]);
    // "say hello" is 9 characters: 3 prompt tokens at 4 characters a token.
    expect(data.usage).toEqual({ prompt_tokens: 3, completion_tokens: 3, total_tokens: 6, ...CHAT_USAGE_DETAILS });
    expect(request_id).toMatch(/^req_[0-9a-f]{32}$/);
    expect(Object.fromEntries([...response.headers].filter(([k]) => k.startsWith('x-ratelimit-')))).toEqual({
      'x-ratelimit-limit-requests': '100',
      'x-ratelimit-remaining-requests': '99',
      'x-ratelimit-reset-requests': '600ms',
      'x-ratelimit-limit-tokens': '1000',
      'x-ratelimit-remaining-tokens': '994',
      'x-ratelimit-reset-tokens': '360ms',
    });
  });

  test('without max_tokens the answer has the default length and ends with "stop"', async () => {
    const server = await serve({ completionTokens: 5 });
    const completion = await clientOf(server).chat.completions.create(ask('one two'));
    expect(completion.choices[0]?.message.content).toBe('one two one two one');
    expect(completion.choices[0]?.finish_reason).toBe('stop');
    expect(completion.usage?.completion_tokens).toBe(5);
  });

  test('a paced stream with include_usage: role chunk, one chunk per token, finish, usage, [DONE]', async () => {
    const server = await serve({ tokensPerSecond: 200, firstTokenMs: 5 });
    const stream = await clientOf(server).chat.completions.create({ ...ask('a b'), max_tokens: 4, stream: true, stream_options: { include_usage: true } });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    const id = chunks[0]?.id;
    expect(id).toMatch(/^chatcmpl-/);
    for (const c of chunks) expect(c).toMatchObject({ id, object: 'chat.completion.chunk', model: 'm', system_fingerprint: 'fp_5100c0a7e5' });
    expect(chunks.map((c) => c.choices)).toEqual([
      [{ index: 0, delta: { role: 'assistant', content: '', refusal: null }, logprobs: null, finish_reason: null }],
      ...['a', ' b', ' a', ' b'].map((content) => [{ index: 0, delta: { content }, logprobs: null, finish_reason: null }]),
      [{ index: 0, delta: {}, logprobs: null, finish_reason: 'length' }],
      [],
    ]);
    expect(chunks.slice(0, -1).every((c) => c.usage === null)).toBe(true);
    expect(chunks.at(-1)?.usage).toEqual({ prompt_tokens: 1, completion_tokens: 4, total_tokens: 5, ...CHAT_USAGE_DETAILS });
    expect(server.stats()).toMatchObject({ answered: 1, completed: 1, promptTokens: 1, completionTokens: 4, openStreams: 0, peakOpenStreams: 1 });
  });

  test('a stream without include_usage has no usage chunk and no usage field', async () => {
    const server = await serve({ completionTokens: 2 });
    const stream = await clientOf(server).chat.completions.create({ ...ask('x'), stream: true });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks).toHaveLength(4);
    expect(chunks.every((c) => c.choices.length === 1 && !('usage' in c))).toBe(true);
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe('stop');
  });

  test('legacy completions, whole and streamed, with max_completion_tokens read like max_tokens', async () => {
    const server = await serve();
    const client = clientOf(server);
    const whole = await client.completions.create({ model: 'm', prompt: 'to be or', max_tokens: 4 });
    expect(whole).toMatchObject({ object: 'text_completion', choices: [{ text: 'to be or to', index: 0, logprobs: null, finish_reason: 'length' }] });
    expect(whole.usage).toEqual({ prompt_tokens: 2, completion_tokens: 4, total_tokens: 6 });
    const stream = await client.completions.create({ model: 'm', prompt: ['p', 'q'], max_tokens: 3, stream: true, stream_options: { include_usage: true } });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.map((c) => c.choices.map((ch) => [ch.text, ch.finish_reason]))).toEqual([[['p', null]], [[' q', null]], [[' p', null]], [['', 'length']], []]);
    expect(chunks.at(-1)?.usage).toEqual({ prompt_tokens: 1, completion_tokens: 3, total_tokens: 4 });
    const chat = await client.chat.completions.create({ ...ask('z'), max_completion_tokens: 2 });
    expect(chat.choices[0]?.message.content).toBe('z z');
  });

  test('GET /v1/models lists the configured models', async () => {
    const server = await serve({ models: ['gpt-a', 'gpt-b'] });
    const page = await clientOf(server).models.list();
    expect(page.data.map((m) => [m.id, m.object])).toEqual([['gpt-a', 'model'], ['gpt-b', 'model']]);
  });
});

describe("errors in OpenAI's shape", () => {
  test('keys: none given is 401 without code, a wrong one 401 invalid_api_key (masked), a right one answers', async () => {
    const server = await serve({ keys: ['sk-right-key-1234'] });
    const anonymous = clientOf(server, { defaultHeaders: { authorization: null } });
    const missing = await anonymous.chat.completions.create(ask('x')).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(missing).toMatchObject({ status: 401, type: 'invalid_request_error', code: null });
    expect((missing as Error).message).toContain("You didn't provide an API key");
    const wrong = await clientOf(server, { apiKey: 'sk-wrong-key-9876' }).chat.completions.create(ask('x')).catch((e: unknown) => e);
    expect(wrong).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(wrong).toMatchObject({ code: 'invalid_api_key' });
    expect((wrong as Error).message).toContain('Incorrect API key provided: sk-**********9876.');
    const right = await clientOf(server, { apiKey: 'sk-right-key-1234' }).chat.completions.create(ask('x'));
    expect(right.choices).toHaveLength(1);
    expect(server.stats()).toMatchObject({ requests: 3, rejected: 2, answered: 1 });
  });

  test('an unknown model is 404 model_not_found; missing messages is 400 missing_required_parameter', async () => {
    const server = await serve({ models: ['gpt-a'] });
    const client = clientOf(server);
    const unknown = await client.chat.completions.create({ ...ask('x'), model: 'gpt-z' }).catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(OpenAI.NotFoundError);
    expect(unknown).toMatchObject({ code: 'model_not_found', type: 'invalid_request_error' });
    expect((unknown as Error).message).toContain('The model `gpt-z` does not exist or you do not have access to it.');
    const noMessages = await client.chat.completions.create({ model: 'gpt-a' } as never).catch((e: unknown) => e);
    expect(noMessages).toBeInstanceOf(OpenAI.BadRequestError);
    expect(noMessages).toMatchObject({ param: 'messages', code: 'missing_required_parameter' });
  });

  test('bad JSON, a bad max_tokens and an unknown URL, by plain fetch: status, error body, request id', async () => {
    const server = await serve();
    const post = (path: string, body: string) => fetch(`${server.baseUrl}${path}`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    const cases: [Response, number, Record<string, unknown>][] = [
      [await post('/chat/completions', '{"model":'), 400, { type: 'invalid_request_error', param: null, code: null }],
      [await post('/chat/completions', JSON.stringify({ ...ask('x'), max_tokens: 0 })), 400, { param: 'max_tokens', code: 'integer_below_min_value' }],
      [await post('/embeddings', '{}'), 404, { message: 'Invalid URL (POST /v1/embeddings)' }],
    ];
    for (const [res, status, fields] of cases) {
      expect(res.status).toBe(status);
      expect(res.headers.get('x-request-id')).toMatch(/^req_/);
      const body = (await res.json()) as { error: Record<string, unknown> };
      expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
      expect(body.error).toMatchObject(fields);
    }
  });
});

describe('rate limits', () => {
  test('rpm 60: a burst of 61 gets exactly one RateLimitError, with OpenAI body and headers', async () => {
    const server = await serve({ rpm: 60, now: frozen, models: ['gpt-4o'] });
    const client = clientOf(server);
    const settled = await Promise.allSettled(Array.from({ length: 61 }, () => client.chat.completions.create({ ...ask('hi'), model: 'gpt-4o', max_tokens: 1 })));
    const refused = settled.filter((s) => s.status === 'rejected').map((s) => (s as PromiseRejectedResult).reason as unknown);
    expect(refused).toHaveLength(1);
    const err = refused[0];
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    const e = err as InstanceType<typeof OpenAI.RateLimitError>;
    expect(e).toMatchObject({ status: 429, type: 'requests', code: 'rate_limit_exceeded', param: null });
    expect(e.message).toBe(
      '429 Rate limit reached for gpt-4o in organization org-slowwork on requests per min (RPM): Limit 60, Used 60, Requested 1. ' +
        'Please try again in 1s. Visit https://platform.openai.com/account/rate-limits to learn more.',
    );
    expect(e.headers.get('retry-after')).toBe('1');
    expect(e.headers.get('retry-after-ms')).toBe('1000');
    expect(e.headers.get('x-ratelimit-limit-requests')).toBe('60');
    expect(e.headers.get('x-ratelimit-remaining-requests')).toBe('0');
    expect(e.headers.get('x-ratelimit-reset-requests')).toBe('1m0s');
    expect(e.headers.get('x-request-id')).toMatch(/^req_/);
    expect(server.stats()).toMatchObject({ requests: 61, answered: 60, limited: { requests: 1, tokens: 0 } });
  });

  test('tpm: a request costs its prompt tokens plus max_tokens up front; refused as type "tokens"', async () => {
    const server = await serve({ tpm: 100, now: frozen });
    const client = clientOf(server);
    await client.chat.completions.create({ ...ask('abcd'), max_tokens: 90 }); // 1 + 90 tokens
    const err = await client.chat.completions.create({ ...ask('abcd'), max_tokens: 9 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect(err).toMatchObject({ type: 'tokens', code: 'rate_limit_exceeded' });
    expect((err as Error).message).toContain('on tokens per min (TPM): Limit 100, Used 91, Requested 10. Please try again in 600ms.');
    expect((err as InstanceType<typeof OpenAI.RateLimitError>).headers.get('retry-after-ms')).toBe('600');
    await client.chat.completions.create({ ...ask('abcd'), max_tokens: 8 }); // 9 tokens still fit
  });

  test('headers: false sends no rate-limit headers at all; retryAfter: false keeps only the x-ratelimit-*', async () => {
    for (const [options, expectRetry, expectLimits] of [
      [{ headers: false }, false, false],
      [{ retryAfter: false }, false, true],
    ] as const) {
      const server = await serve({ rpm: 1, now: frozen, ...options });
      const client = clientOf(server);
      const { response } = await client.chat.completions.create(ask('x')).withResponse();
      expect(response.headers.has('x-ratelimit-limit-requests')).toBe(expectLimits);
      const err = (await client.chat.completions.create(ask('x')).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.RateLimitError>;
      expect(err).toBeInstanceOf(OpenAI.RateLimitError);
      expect(err.headers.has('retry-after')).toBe(expectRetry);
      expect(err.headers.has('retry-after-ms')).toBe(expectRetry);
      expect(err.headers.has('x-ratelimit-remaining-requests')).toBe(expectLimits);
    }
  });

  test('setLimits at run time: a higher rpm refills faster, 0 lifts the limit', async () => {
    const server = await serve({ rpm: 1, now: frozen });
    const client = clientOf(server);
    await client.chat.completions.create(ask('x'));
    const wait = (e: unknown) => (e as InstanceType<typeof OpenAI.RateLimitError>).headers.get('retry-after-ms');
    expect(wait(await client.chat.completions.create(ask('x')).catch((e: unknown) => e))).toBe('60000');
    server.setLimits({ rpm: 120 });
    expect(wait(await client.chat.completions.create(ask('x')).catch((e: unknown) => e))).toBe('500');
    server.setLimits({ rpm: 0 });
    const { response } = await client.chat.completions.create(ask('x')).withResponse();
    expect(response.headers.has('x-ratelimit-limit-requests')).toBe(false);
  });

  test("with the client's default retries a burst over the rpm all succeeds: it waits retry-after-ms", async () => {
    // The bucket clock stands still until the first 429, then runs in real time: the one request
    // refused waits its retry-after-ms (1000) and fits. Had it retried sooner, it would have
    // been refused again, and a second 429 counted.
    let startedAt: number | null = null;
    const server = await serve({
      rpm: 60,
      now: () => (startedAt === null ? 0 : performance.now() - startedAt),
      onResponse: (e) => {
        if (e.status === 429 && startedAt === null) startedAt = performance.now();
      },
    });
    const client = new OpenAI({ apiKey: 'sk-test', baseURL: server.baseUrl });
    const answers = await Promise.all(Array.from({ length: 61 }, () => client.chat.completions.create({ ...ask('hi'), max_tokens: 1 })));
    expect(answers).toHaveLength(61);
    expect(server.stats()).toMatchObject({ requests: 62, answered: 61, limited: { requests: 1, tokens: 0 } });
  });
});
