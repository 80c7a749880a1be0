/**
 * What processors report of their items (`ctx.report`) in serve's answers, over real sockets:
 * the OpenAI routes' `usage` and `finish_reason` (through the official client), `/generate`'s
 * last event, an action's view, and the token counters of `/metrics`.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtinUrl, fixtureUrl } from '../brokers/helpers.js';
import { postJson, readSse, startTestServer, type TestServer } from './helpers.js';

let s: TestServer;
let client: OpenAI;
beforeAll(async () => {
  s = await startTestServer({ processors: new Map([['metered', fixtureUrl('metered-words')], ['demo', builtinUrl('demo')]]) });
  client = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 20_000 });
});
afterAll(async () => {
  await s?.close();
});

/**
 * The metered fixture answers each word upper-cased and reports the words + 7 prompt tokens and 2
 * completion tokens a word: not what serve would estimate (1 a word, 1 a chunk).
 */
const words = (text: string): number => text.split(/\s+/).filter(Boolean).length;
const usageFor = (...prompts: string[]) => {
  const n = prompts.reduce((sum, p) => sum + words(p), 0);
  return { prompt_tokens: n + 7 * prompts.length, completion_tokens: 2 * n, total_tokens: 3 * n + 7 * prompts.length };
};

/** `slowwork_tokens_total` by `processor/kind/estimated`. */
async function tokenCounters(): Promise<Map<string, number>> {
  const text = await (await fetch(`${s.url}/metrics`)).text();
  const counters = new Map<string, number>();
  for (const m of text.matchAll(/^slowwork_tokens_total\{([^}]*)\} (\d+)$/gm)) {
    const labels = Object.fromEntries([...m[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    counters.set(`${labels.processor}/${labels.kind}/${labels.estimated}`, Number(m[2]));
  }
  return counters;
}

describe("the OpenAI routes report the processor's usage", () => {
  it('in a whole chat answer, with its finish_reason', async () => {
    const answer = await client.chat.completions.create({ model: 'metered', messages: [{ role: 'user', content: 'count these four words' }] });
    expect(answer.choices[0]!.message.content).toBe('COUNT THESE FOUR WORDS ');
    expect(answer.usage).toEqual(usageFor('count these four words'));
    expect(answer.choices[0]!.finish_reason).toBe('stop');
    const cut = await client.chat.completions.create({ model: 'metered', messages: [{ role: 'user', content: 'stopped by length' }] });
    expect(cut.choices[0]!.finish_reason).toBe('length');
  });

  it('in the last frame of a stream that asked include_usage, with usage null on the others', async () => {
    const prompt = 'stream my three';
    const stream = await client.chat.completions.create({ model: 'metered', messages: [{ role: 'user', content: prompt }], stream: true, stream_options: { include_usage: true } });
    const frames: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of stream) frames.push(chunk);
    const last = frames.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage).toEqual(usageFor(prompt));
    expect(frames.slice(0, -1).every((f) => f.usage === null)).toBe(true);
    expect(frames.map((f) => f.choices[0]?.delta.content ?? '').join('')).toBe('STREAM MY THREE ');
    expect(frames.at(-2)!.choices[0]!.finish_reason).toBe('stop');
  });

  it('in no frame of a stream that did not ask', async () => {
    const stream = await client.chat.completions.create({ model: 'metered', messages: [{ role: 'user', content: 'no usage here' }], stream: true });
    const frames: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of stream) frames.push(chunk);
    expect(frames.length).toBeGreaterThan(2);
    expect(frames.every((f) => !('usage' in f))).toBe(true);
    expect(frames.at(-1)!.choices[0]!.finish_reason).toBe('stop');
  });

  it('summed over the prompts of a completion, streamed and not; a processor that reports none gets the estimate', async () => {
    const prompts = ['one', 'two words', 'and then length'];
    const whole = await client.completions.create({ model: 'metered', prompt: prompts });
    expect(whole.usage).toEqual(usageFor(...prompts));
    expect(whole.choices.map((c) => c.finish_reason)).toEqual(['stop', 'stop', 'length']);

    const stream = await client.completions.create({ model: 'metered', prompt: prompts, stream: true, stream_options: { include_usage: true } });
    let usage: OpenAI.CompletionUsage | null | undefined;
    const finish = new Map<number, string>();
    for await (const frame of stream) {
      if (frame.usage) usage = frame.usage;
      for (const c of frame.choices) if (c.finish_reason) finish.set(c.index, c.finish_reason);
    }
    expect(usage).toEqual(usageFor(...prompts));
    expect([...finish.entries()].sort()).toEqual([[0, 'stop'], [1, 'stop'], [2, 'length']]);

    // The demo reports nothing: prompt words and its chunks stand in, as before.
    const demo = await client.completions.create({ model: 'demo', prompt: 'three little words' });
    expect(demo.usage).toMatchObject({ prompt_tokens: 3, completion_tokens: 8 });
  });
});

describe('the other answers show it where it fits', () => {
  it("/generate's completed event carries usage, finish_reason and model; its request_id stays serve's", async () => {
    const res = await postJson(`${s.url}/generate`, { prompt: 'generate five words right here', processor: 'metered' });
    const events = (await readSse(res)).map((m) => JSON.parse(m.data) as Record<string, unknown>);
    const last = events.at(-1)!;
    expect(last).toMatchObject({
      status: 'completed',
      text: 'GENERATE FIVE WORDS RIGHT HERE ',
      usage: { prompt_tokens: 12, completion_tokens: 10 },
      finish_reason: 'stop',
      model: 'metered-1',
    });
    expect(last.request_id).toMatch(/^req_/);
    expect(events.slice(0, -1).some((e) => 'usage' in e)).toBe(false);
  });

  it("an action's items show their report, and the action the tokens of every attempt", async () => {
    const created = (await (await postJson(`${s.url}/actions`, { items: ['fine as is', 'fail-once then ok', 'fail'], processor: 'metered', retries: 1 })).json()) as { id: string };
    const log = await readSse(await fetch(`${s.url}/actions/${created.id}/events`));
    expect(log.at(-1)!.event).toBe('job-done');
    // The event stream carries the events as they are, meta included.
    expect(JSON.parse(log.find((m) => m.event === 'item-retry')!.data)).toHaveProperty('meta.usage');
    const view = (await (await fetch(`${s.url}/actions/${created.id}`)).json()) as {
      usage: { prompt_tokens: number; completion_tokens: number } | null;
      items: Record<string, unknown>[];
    };
    expect(view.items.map((i) => [i.status, i.usage, i.finish_reason, i.model, i.request_id])).toEqual([
      ['done', { prompt_tokens: 10, completion_tokens: 6 }, 'stop', 'metered-1', '1#1'],
      ['done', { prompt_tokens: 10, completion_tokens: 6 }, 'stop', 'metered-1', '2#2'],
      ['failed', { prompt_tokens: 8, completion_tokens: 2 }, 'stop', 'metered-1', '3#2'],
    ]);
    // One attempt of the first, two of each other: the failed attempts were billed too.
    expect(view.usage).toEqual({ prompt_tokens: 10 + 2 * 10 + 2 * 8, completion_tokens: 6 + 2 * 6 + 2 * 2 });
  });

  it('/metrics counts the tokens by processor and kind, estimated ones apart, failed attempts included', async () => {
    const before = await tokenCounters();
    const at = (m: Map<string, number>, key: string): number => m.get(key) ?? 0;
    await client.chat.completions.create({ model: 'metered', messages: [{ role: 'user', content: 'two words' }] });
    await client.chat.completions.create({ model: 'metered', messages: [{ role: 'user', content: 'three estimated words' }] });
    const res = await postJson(`${s.url}/generate`, { prompt: 'fail-once then fine', processor: 'metered' });
    expect((await readSse(res)).at(-1)!.data).toMatch(/"status":"completed"/);
    const after = await tokenCounters();
    // 2 words, then 3 words twice (its first attempt failed after reporting).
    expect(at(after, 'metered/prompt/false') - at(before, 'metered/prompt/false')).toBe(2 + 7 + 2 * (3 + 7));
    expect(at(after, 'metered/completion/false') - at(before, 'metered/completion/false')).toBe(2 * (2 + 2 * 3));
    expect(at(after, 'metered/prompt/true') - at(before, 'metered/prompt/true')).toBe(3 + 7);
    expect(at(after, 'metered/completion/true') - at(before, 'metered/completion/true')).toBe(2 * 3);
    // The demo reports no usage: it is not counted (serve's own estimates are not tokens billed).
    expect([...after.keys()].some((k) => k.startsWith('demo/'))).toBe(false);
    expect(await (await fetch(`${s.url}/metrics`)).text()).toMatch(/^slowwork_tokens_total\{processor="metered",kind="completion",estimated="true"\} \d+$/m);
  });

  it('/metrics counts a pipeline\'s tokens once, under the pipeline', async () => {
    const created = (await (await postJson(`${s.url}/actions`, { items: ['a b'], pipeline: ['metered', 'metered'] })).json()) as { id: string };
    expect((await readSse(await fetch(`${s.url}/actions/${created.id}/events`))).at(-1)!.event).toBe('job-done');
    const counters = await tokenCounters();
    // Each stage reads two words: 2 + 7 prompt tokens and 4 completion tokens, twice.
    expect([counters.get('metered -> metered/prompt/false'), counters.get('metered -> metered/completion/false')]).toEqual([18, 8]);
  });
});
