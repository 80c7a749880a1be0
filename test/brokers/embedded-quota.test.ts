/**
 * `ctx.limit` on the embedded pool: one limiter per key for every thread (the main thread's
 * QuotaHost), read from the due times the limiter gave each permit, never from wall-clock durations.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startOpenAIServer, type OpenAIServer } from '../../src/testing/openai-server/server.js';
import { fixtureUrl, outcomes, poolPerTest, runAll, type EventOf } from './helpers.js';

const open = poolPerTest();

interface Got {
  readonly due: number;
  readonly asked: number;
  readonly thread: number;
}

const got = (rec: Parameters<typeof outcomes>[0]): Got[] =>
  [...outcomes(rec).values()].map((e) => {
    expect(e.type, JSON.stringify(e)).toBe('item-done');
    return JSON.parse((e as EventOf<'item-done'>).output) as Got;
  });

describe('embedded pool: one quota per key across threads', () => {
  it('at rpm=600 with a one-request bucket, permits of items on every thread are due 100 ms apart', async () => {
    const b = open([fixtureUrl('limited')], 12);
    const params = { key: 'spaced', rpm: '600', window: '0.1', jitter: '0' };
    const { rec } = await runAll(b, Array(12).fill(''), { params, concurrency: 12, batchSize: 1 });
    const permits = got(rec).sort((x, y) => x.due - y.due);
    expect(permits).toHaveLength(12);
    expect(new Set(permits.map((p) => p.thread)).size).toBe(2);
    let exact = 0;
    for (let k = 1; k < permits.length; k++) {
      const gap = permits[k]!.due - permits[k - 1]!.due;
      // never closer than the limit allows, whichever thread asked
      expect(gap).toBeGreaterThanOrEqual(100 - 1e-6);
      // asked for while the one before still waited: due exactly one interval after it
      if (permits[k]!.asked < permits[k - 1]!.due) {
        expect(gap).toBeCloseTo(100, 6);
        exact++;
      }
    }
    expect(exact).toBeGreaterThan(0);
    const view = b.quota.view('spaced')!;
    expect(view).toMatchObject({ held: 0, queued: 0, rates: { rpm: 600 } });
    expect(view.state.requestsTat).toBeCloseTo(permits.at(-1)!.due + 100, 6);
  });

  it('an item aborted while it waits gives its tokens back: the next item fits at once', async () => {
    const b = open([fixtureUrl('limited')], 1);
    // tpm 1000: a bucket of 1000 tokens. 600 fit; the next 600 would wait 12 s and times out at
    // 2 s; given back, the 400 after it fit at once (without the refund they would wait 36 s).
    const params = { key: 'refund', tpm: '1000', jitter: '0' };
    const { rec } = await runAll(b, ['600', '600', '400'], { params, concurrency: 1, batchSize: 1, timeoutMs: 2000 });
    const ends = outcomes(rec);
    expect(ends.get(0)!.type).toBe('item-done');
    expect(ends.get(1)).toMatchObject({ type: 'item-failed', error: 'timed out after 2000 ms' });
    expect(ends.get(2)!.type).toBe('item-done');
    const first = JSON.parse((ends.get(0) as EventOf<'item-done'>).output) as Got;
    expect(b.quota.view('refund')).toMatchObject({ held: 0, queued: 0 });
    // the bucket owes the 1000 tokens the two done items took, and no more
    expect(b.quota.view('refund')!.state.tokensTat).toBeCloseTo(first!.due + 600 * 60 + 400 * 60, 3);
  });

  it('a thread that dies holding permits gives their slots back', async () => {
    const b = open([fixtureUrl('limited')], 2);
    const { rec } = await runAll(b, ['exit'], { params: { key: 'dies' }, concurrency: 2, batchSize: 1 });
    expect(outcomes(rec).get(0)).toMatchObject({ type: 'item-failed' });
    // each thread's port closes as the thread ends; the ledger hears it a moment after the event
    const deadline = Date.now() + 10_000;
    while (b.quota.view('dies')!.held > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(b.quota.view('dies')).toMatchObject({ held: 0, queued: 0 });
  });

  it('a server that says nothing of its limits: its 429s shrink how many calls are in flight', async () => {
    const server = await startOpenAIServer({ rpm: 240, windowSeconds: 1, headers: false });
    servers.push(server);
    const b = open([fixtureUrl('quota-openai')], 16);
    const { rec } = await runAll(b, Array.from({ length: 20 }, (_, k) => `prompt ${k}`), {
      params: { base_url: server.baseUrl },
      concurrency: 16,
      batchSize: 1,
      retries: 8,
    });
    expect([...outcomes(rec).values()].every((e) => e.type === 'item-done')).toBe(true);
    expect(server.stats().limited.requests).toBeGreaterThan(0); // 16 at once into a bucket of 4
    const view = b.quota.view(`${server.baseUrl}#sk-quota-hash`)!;
    expect(view.aimd.window).toBeLessThan(16);
    expect(view).toMatchObject({ held: 0, queued: 0, rates: { rpm: 0, tpm: 0 } });
  });
});

const servers: OpenAIServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});
