/** The OpenAI-compatible routes, driven by the official `openai` npm client over real sockets. */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoSettings, demoTokens } from '../../src/processors/demo.js';
import { FAST_DEMO, TEST_PROCESSORS, postJson, startTestServer, type TestServer } from './helpers.js';

let s: TestServer;
let client: OpenAI;
beforeAll(async () => {
  s = await startTestServer();
  client = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 20_000 });
});
afterAll(async () => {
  await s?.close();
});

const settings = demoSettings(FAST_DEMO);

describe('GET /v1/models', () => {
  it('lists the processors as models', async () => {
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toEqual([...TEST_PROCESSORS]);
    expect(models.data[0]).toMatchObject({ object: 'model', owned_by: 'slowwork' });
  });
});

describe('POST /v1/chat/completions', () => {
  it('answers whole, with the demo text and usage', async () => {
    const answer = await client.chat.completions.create({ model: 'demo', messages: [{ role: 'user', content: 'hi there' }] });
    const tokens = demoTokens('hi there', settings);
    expect(answer.object).toBe('chat.completion');
    expect(answer.choices[0]!.message).toMatchObject({ role: 'assistant', content: tokens.join('') });
    expect(answer.choices[0]!.finish_reason).toBe('stop');
    expect(answer.usage).toEqual({ prompt_tokens: 2, completion_tokens: tokens.length, total_tokens: 2 + tokens.length });
  });

  it('streams deltas the client reassembles, then [DONE]', async () => {
    const stream = await client.chat.completions.create({
      model: 'demo',
      messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'stream me' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let role: string | undefined;
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | undefined;
    let frames = 0;
    for await (const chunk of stream) {
      frames++;
      expect(chunk.object).toBe('chat.completion.chunk');
      const c = chunk.choices[0];
      if (c) {
        role ??= c.delta.role;
        text += c.delta.content ?? '';
        finish = c.finish_reason ?? finish;
      }
      if (chunk.usage) usage = chunk.usage;
    }
    const expected = demoTokens('system: be brief\nuser: stream me', settings);
    expect(text).toBe(expected.join(''));
    expect(role).toBe('assistant');
    expect(finish).toBe('stop');
    expect(usage?.completion_tokens).toBe(expected.length);
    expect(frames).toBeGreaterThan(2);
  });

  it('serves many clients at once', async () => {
    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, i) => client.chat.completions.create({ model: 'demo', messages: [{ role: 'user', content: `q${i}` }] })),
    );
    answers.forEach((a, i) => expect(a.choices[0]!.message.content).toBe(demoTokens(`q${i}`, settings).join('')));
  });

  it('answers an unknown model with OpenAI\'s error shape (404 model_not_found)', async () => {
    const err = await client.chat.completions.create({ model: 'gpt-nope', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    const e = err as InstanceType<typeof OpenAI.NotFoundError>;
    expect(e.status).toBe(404);
    expect(e.code).toBe('model_not_found');
    expect(e.message).toMatch(/gpt-nope/);
  });

  it('rejects a malformed request with a 400 the client understands', async () => {
    const err = await client.chat.completions.create({ model: 'demo', messages: [] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as Error).message).toMatch(/messages/);
  });

  it('says why a completion with too many prompts is refused', async () => {
    const err = await client.completions.create({ model: 'demo', prompt: Array.from({ length: 65 }, (_, k) => `p${k}`) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as Error).message).toMatch(/prompt: at most 64 prompts per request \(got 65\)/);
    const empty = await postJson(`${s.url}/v1/completions`, { model: 'demo', prompt: [] });
    expect(empty.status).toBe(400);
    expect(((await empty.json()) as { error: { message: string } }).error.message).toMatch(/at least one prompt/);
  });

    it('turns a failing processor into a 500 error, and an error frame when streaming', async () => {
    // The faulty fixture reads its input as a string: a completion's prompt.
    const whole = await client.completions.create({ model: 'faulty', prompt: 'throw' }).catch((e: unknown) => e);
    expect(whole).toBeInstanceOf(OpenAI.InternalServerError);
    expect((whole as Error).message).toMatch(/boom/);
    const res = await postJson(`${s.url}/v1/completions`, { model: 'faulty', stream: true, prompt: 'throw' });
    const body = await res.text();
    expect(body).toMatch(/"error":\{"message":"the processor failed: boom/);
    expect(body).not.toMatch(/\[DONE\]/);
  });
});

describe('POST /v1/completions', () => {
  it('answers each prompt of a list as its own choice', async () => {
    const answer = await client.completions.create({ model: 'demo', prompt: ['one', 'two', 'three'] });
    expect(answer.object).toBe('text_completion');
    expect(answer.choices.map((c) => c.text)).toEqual(['one', 'two', 'three'].map((p) => demoTokens(p, settings).join('')));
    expect(answer.choices.map((c) => c.index)).toEqual([0, 1, 2]);
  });

  it('streams text pieces per choice', async () => {
    const stream = await client.completions.create({ model: 'demo', prompt: ['a b', 'c d'], stream: true });
    const texts = ['', ''];
    for await (const chunk of stream) for (const c of chunk.choices) texts[c.index] += c.text;
    expect(texts).toEqual(['a b', 'c d'].map((p) => demoTokens(p, settings).join('')));
  });
});
