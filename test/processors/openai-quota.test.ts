/**
 * The `openai` processor and the endpoint's shared limiter (ctx.limit), item by item against a
 * scripted server on a real loopback socket: a 429 pauses every item of the endpoint, not only the
 * one that got it; a request that never left gives its permit back. Times are read on the server's
 * side of the socket and only ever bounded from below (a busy machine makes them later, never earlier).
 */
import { performance } from 'node:perf_hooks';
import { describe, expect, test } from 'vitest';
import type { Params } from '../../src/core/types.js';
import openai from '../../src/processors/openai.js';
import { quotaKey } from '../../src/processors/openai/quota.js';
import { localQuota } from '../../src/runtime/quota/local.js';
import { monotonicMs } from '../../src/runtime/quota/clock.js';
import { waitFor } from '../cli/run.js';
import { processContext, sendError, serversPerTest, streamChat, type ContextRun, type ScriptedServer } from './openai-server.js';

const serve = serversPerTest();

const params = (server: ScriptedServer, extra: Params = {}): Params => ({ base_url: server.baseUrl, model: 'm', ...extra });

async function collect(input: string, run: ContextRun): Promise<{ chunks: string[]; error?: unknown }> {
  const chunks: string[] = [];
  try {
    for await (const c of (await openai.process(input, run.ctx)) as AsyncIterable<string>) chunks.push(c);
    return { chunks };
  } catch (error) {
    return { chunks, error };
  }
}

describe('openai under the endpoint limiter', () => {
  test("a 429's retry-after pauses the whole endpoint: an item that had no 429 waits for it too", async () => {
    const arrivals: number[] = [];
    let refusedAt = 0;
    const server = await serve((_req, res, call) => {
      arrivals.push(performance.now());
      if (call.n === 0) {
        refusedAt = performance.now();
        sendError(res, 429, 'Rate limit reached for requests', { 'retry-after-ms': '400' });
      } else streamChat(res, [`answer ${call.n}`]);
    });
    const first = processContext(params(server));
    const a = collect('a', first);
    await waitFor(() => first.logs.length === 1, "the first item's 429");
    // Asked after the 429: due only when the pause ends, although this item never was refused.
    const b = collect('b', processContext(params(server)));
    const [ra, rb] = await Promise.all([a, b]);
    expect(ra.error).toBeUndefined();
    expect(rb.error).toBeUndefined();
    expect(first.logs[0]).toMatch(/HTTP 429 .*; retry 1\/5 in 400 ms$/);
    expect(arrivals).toHaveLength(3);
    for (const t of arrivals.slice(1)) expect(t - refusedAt).toBeGreaterThanOrEqual(400 - 5);
  });

  test('given rpm: requests of concurrent items reach the server spaced by the limit, none refused', async () => {
    const arrivals: number[] = [];
    const server = await serve((_req, res) => {
      arrivals.push(performance.now());
      streamChat(res, ['ok']);
    });
    // 600 a minute over a one-second window: a burst of 10, then one every 100 ms.
    const runs = Array.from({ length: 14 }, () => processContext(params(server, { rpm: '600', rate_window_s: '1' })));
    const results = await Promise.all(runs.map((r, i) => collect(`p${i}`, r)));
    expect(results.every((r) => r.error === undefined)).toBe(true);
    expect(arrivals).toHaveLength(14);
    arrivals.sort((x, y) => x - y);
    // at most 10 in the first burst; the 14 take at least 4 intervals
    expect(arrivals[13]! - arrivals[0]!).toBeGreaterThanOrEqual(4 * 100 - 1000 / 60 - 5);
  });

  test('a server that cannot be reached: the permit is given back, not charged', async () => {
    const server = await serve((_req, res) => streamChat(res, ['never']));
    const base = server.baseUrl;
    await server.close();
    const run = processContext({ base_url: base, model: 'm', tpm: '1000', max_tokens: '100' });
    const r = await collect('x'.repeat(40), run);
    expect((r.error as Error).message).toMatch(/ECONNREFUSED/);
    const view = localQuota().view(quotaKey(base, undefined));
    expect(view).toMatchObject({ held: 0, queued: 0 });
    // refunded: charged, the 110 tokens would hold the bucket 6.6 s (tpm 1000) past the request
    expect(view!.state.tokensTat - monotonicMs()).toBeLessThan(6600 / 2);
  });
});
