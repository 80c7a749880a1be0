/**
 * lua/quota.lua against a real redis-server: the same arithmetic as src/core/quota/gcra.ts (its
 * reserve cases run through both and must agree), refunds, learned and given limits, and a pause
 * that reaches other processes by its PUBLISH. The script runs on the server's clock: times are
 * checked against the server's TIME read around a call, never against the test's own timers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRedis, parseRedisUrl } from '../../src/brokers/redis/connection.js';
import { queueKeys, type QueueKeys } from '../../src/brokers/redis/keys.js';
import { quotaCorrect, quotaLearn, quotaRefund, quotaReserve, type QuotaCaller } from '../../src/brokers/redis/quota-calls.js';
import type { ScriptedRedis } from '../../src/brokers/redis/scripts.js';
import { FRESH_STATE, reserve, type QuotaCost, type QuotaRates } from '../../src/core/quota/gcra.js';
import type { QuotaLimits } from '../../src/core/quota/limits.js';
import { redisPerFile } from './server.js';

const server = redisPerFile();
let redis: ScriptedRedis;
let queueN = 0;
const fresh = (): QueueKeys => queueKeys(`quota${++queueN}`);

beforeAll(async () => {
  redis = await openRedis(parseRedisUrl(server().url), 'command', { name: 'test', checkVersion: true });
});
afterAll(() => redis?.disconnect());

const none: QuotaCost = { requests: 0, tokens: 0 };
const one: QuotaCost = { requests: 1, tokens: 0 };
const caller = (limits: QuotaLimits, held: QuotaCost = none, key = 'api'): QuotaCaller => ({ key, limits, held });

/** The server's clock, in ms (what the script reads). */
async function serverNow(): Promise<number> {
  const [s, us] = await redis.time();
  return Number(s) * 1000 + Number(us) / 1000;
}

async function field(keys: QueueKeys, name: string, key = 'api'): Promise<number> {
  return Number(await redis.hget(keys.quota(key), name));
}

/** gcra.ts's due times for these costs reserved at once from a fresh key, relative to now. */
function gcraWaits(costs: readonly QuotaCost[], rates: QuotaRates): number[] {
  let state = FRESH_STATE;
  return costs.map((cost) => {
    const r = reserve(state, cost, rates, 0);
    if (!r.ok) return -1;
    state = r.state;
    return Math.ceil(r.dueAtMs);
  });
}

describe('quota.lua reserve: the arithmetic of gcra.ts', () => {
  const cases: { name: string; limits: Required<Pick<QuotaLimits, 'windowSeconds' | 'jitterMs'>> & QuotaLimits; costs: QuotaCost[] }[] = [
    { name: 'a burst of 5 at rpm=60 with a one-request bucket, one a second', limits: { rpm: 60, windowSeconds: 1, jitterMs: 0 }, costs: Array(5).fill(one) },
    { name: 'a full minute bucket lets a minute go at once, then one per interval', limits: { rpm: 60, windowSeconds: 60, jitterMs: 0 }, costs: Array(62).fill(one) },
    {
      name: 'both dimensions: due when the later holds its part',
      limits: { rpm: 600, tpm: 6000, windowSeconds: 1, jitterMs: 0 },
      costs: [{ requests: 1, tokens: 80 }, { requests: 1, tokens: 80 }, { requests: 1, tokens: 10 }, { requests: 1, tokens: 100 }],
    },
    { name: 'a jitter margin trims the burst', limits: { rpm: 600, windowSeconds: 1, jitterMs: 250 }, costs: Array(14).fill(one) },
    { name: 'a cost larger than the bucket never fits', limits: { tpm: 600, windowSeconds: 1, jitterMs: 0 }, costs: [{ requests: 1, tokens: 11 }, { requests: 1, tokens: 10 }] },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const keys = fresh();
      const reply = await quotaReserve(redis, keys, caller(c.limits), c.costs);
      const rates: QuotaRates = { rpm: c.limits.rpm ?? 0, tpm: c.limits.tpm ?? 0, windowSeconds: c.limits.windowSeconds, jitterMs: c.limits.jitterMs };
      const want = gcraWaits(c.costs, rates);
      expect(want.some((w) => w !== 0 && w !== -1) || c.costs.length < 3, 'a case that spaces nothing proves nothing').toBe(true);
      expect(reply.waits).toEqual(want);
      expect(reply).toMatchObject({ epoch: 0, rpm: rates.rpm, tpm: rates.tpm, windowSeconds: rates.windowSeconds });
    });
  }

  it('calls one after another share the key: the second call is spaced after the first', async () => {
    const keys = fresh();
    const limits = { rpm: 60, windowSeconds: 1, jitterMs: 0 };
    const before = await serverNow();
    await quotaReserve(redis, keys, caller(limits), [one, one]);
    const second = await quotaReserve(redis, keys, caller(limits), [one]);
    // Due at the first call's now + 2 s: at least 2 s after the server's time before it, less what passed.
    const after = await serverNow();
    expect(second.waits[0]).toBeGreaterThanOrEqual(Math.floor(before + 2000 - after));
    expect(second.waits[0]).toBeGreaterThan(0);
  });
});

describe('quota.lua refund and correct', () => {
  it('a refund gives the room back: the TAT falls by the cost, and the next reservation takes it again', async () => {
    const keys = fresh();
    const limits = { rpm: 60, windowSeconds: 1, jitterMs: 0 };
    await quotaReserve(redis, keys, caller(limits), [one, one, one]);
    const full = await field(keys, 'rt');
    await quotaRefund(redis, keys, caller(limits), one);
    expect(await field(keys, 'rt')).toBeCloseTo(full - 1000, 3);
    await quotaReserve(redis, keys, caller(limits), [one]);
    expect(await field(keys, 'rt')).toBeCloseTo(full, 3);
  });

  it('a correction takes more tokens, and gives back only where the server refunds', async () => {
    const keys = fresh();
    const limits = { tpm: 6000, windowSeconds: 60, jitterMs: 0 };
    await quotaReserve(redis, keys, caller(limits), [{ requests: 1, tokens: 6000 }]);
    const tat = await field(keys, 'tt');
    await quotaCorrect(redis, keys, caller(limits), -100, false);
    expect(await field(keys, 'tt')).toBe(tat);
    await quotaCorrect(redis, keys, caller(limits), -100, true);
    expect(await field(keys, 'tt')).toBeCloseTo(tat - 1000, 3);
    await quotaCorrect(redis, keys, caller(limits), 300, false);
    expect(await field(keys, 'tt')).toBeCloseTo(tat + 2000, 3);
  });
});

describe('quota.lua learn', () => {
  const noObs = { pending: none, cost: one, waiting: [] as QuotaCost[] };

  it('learned limits are the key\'s for every caller that gives none; a caller\'s own limits win', async () => {
    const keys = fresh();
    const learned = await quotaLearn(redis, keys, caller({}), { ...noObs, overload: false, obs: { requests: { limit: 120 }, tokens: { limit: 9000 } } });
    expect(learned).toMatchObject({ rpm: 120, tpm: 9000 });
    // Another process, knowing nothing: the learned limits space its permits (a 60 s bucket of 120).
    const other = await quotaReserve(redis, keys, caller({ jitterMs: 0 }), Array(121).fill(one));
    expect(other).toMatchObject({ rpm: 120, tpm: 9000 });
    expect(other.waits[120]).toBeGreaterThanOrEqual(499);
    const given = await quotaReserve(redis, keys, caller({ rpm: 60, jitterMs: 0 }), []);
    expect(given.rpm).toBe(60);
    expect(await field(keys, 'lr')).toBe(120);
  });

  it('a limit learned while permits are held charges them: they were sent without it', async () => {
    const keys = fresh();
    const before = await serverNow();
    await quotaLearn(redis, keys, caller({ windowSeconds: 1, jitterMs: 0 }, { requests: 3, tokens: 0 }), { ...noObs, overload: false, obs: { requests: { limit: 120 } } });
    // 500 ms a request, 3 held: the bucket is owed 1.5 s from the call's now.
    expect(await field(keys, 'rt')).toBeGreaterThanOrEqual(before + 1500);
  });

  it('remaining counts lower the view to the server\'s, with what was sent after', async () => {
    const keys = fresh();
    const before = await serverNow();
    // rpm 60 over 10 s: 10 requests, 1 s each. The server has 4 left, 2 were sent after: 8 owed.
    await quotaLearn(redis, keys, caller({ rpm: 60, windowSeconds: 10, jitterMs: 0 }), { ...noObs, overload: false, pending: { requests: 2, tokens: 0 }, obs: { requests: { remaining: 4 } } });
    expect(await field(keys, 'rt')).toBeGreaterThanOrEqual(before + 8000);
  });

  it('a 429 with retry-after pauses the key for every caller, moves the caller\'s waiting permits past it, and is published once', async () => {
    const keys = fresh();
    const sub = await openRedis(parseRedisUrl(server().url), 'subscriber', { name: 'test-sub' });
    try {
      const heard: string[] = [];
      const first = new Promise<void>((resolve) => sub.on('message', (_c: string, m: string) => (heard.push(m), resolve())));
      await sub.subscribe(keys.quotaChannel);
      const limits = { rpm: 600, windowSeconds: 1, jitterMs: 0 };
      const before = await serverNow();
      const paused = await quotaLearn(redis, keys, caller(limits), { ...noObs, overload: true, obs: { retryAfterMs: 3000 }, waiting: [one, one] });
      expect(paused.epoch).toBe(1);
      // The two waiting permits: not before the pause ends (the bucket then holds one request), one interval apart.
      expect(paused.waits[0]).toBeGreaterThanOrEqual(Math.floor(before + 3000 - (await serverNow())));
      expect(paused.waits[1]).toBe(paused.waits[0]! + 100);
      // Another caller's permit waits for the pause too.
      const other = await quotaReserve(redis, keys, caller(limits), [one]);
      expect(other.epoch).toBe(1);
      expect(other.waits[0]).toBeGreaterThan(paused.waits[1]!);
      // A second 429 of the same burst, inside the pause in force: no new pause, nothing published.
      const again = await quotaLearn(redis, keys, caller(limits), { ...noObs, overload: true, obs: { retryAfterMs: 1000 } });
      expect(again.epoch).toBe(1);
      await first;
      await redis.publish(keys.quotaChannel, 'marker');
      while (!heard.includes('marker')) await new Promise((r) => sub.once('message', r));
      expect(heard).toEqual([`1 ${keys.quota('api')}`, 'marker']);
    } finally {
      sub.disconnect();
    }
  });

  it('keys are apart: a pause of one endpoint leaves another alone', async () => {
    const keys = fresh();
    const limits = { rpm: 600, windowSeconds: 1, jitterMs: 0 };
    await quotaLearn(redis, keys, caller(limits, none, 'a'), { ...noObs, overload: true, obs: { retryAfterMs: 60_000 } });
    const b = await quotaReserve(redis, keys, caller(limits, none, 'b'), [one]);
    expect(b).toMatchObject({ epoch: 0, waits: [0] });
  });
});
