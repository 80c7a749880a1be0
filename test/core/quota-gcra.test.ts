/**
 * The quota's arithmetic (src/core/quota/gcra.ts) on an injected clock: exact due times, both
 * dimensions, refunds, corrections, pauses, syncs; and, against the local OpenAI server's own
 * buckets, that every reservation is admitted at its due time and not a millisecond before.
 */
import { describe, expect, it } from 'vitest';
import { FRESH_STATE, correct, pause, refund, reserve, retune, sync, tooLarge, type QuotaCost, type QuotaRates, type QuotaState } from '../../src/core/quota/gcra.js';
import { RateLimiter } from '../../src/testing/openai-server/buckets.js';
import { seededRandom } from '../../src/core/random.js';

const rates = (rpm: number, tpm: number, windowSeconds = 60, jitterMs = 0): QuotaRates => ({ rpm, tpm, windowSeconds, jitterMs });
const one: QuotaCost = { requests: 1, tokens: 0 };

/** Reserves each cost at `now` in turn; the due times and the state after. */
function reserveAll(costs: readonly QuotaCost[], r: QuotaRates, now: number, state: QuotaState = FRESH_STATE): { dues: number[]; state: QuotaState } {
  const dues: number[] = [];
  for (const cost of costs) {
    const res = reserve(state, cost, r, now);
    if (!res.ok) throw new Error(`never fits: ${res.kind}`);
    dues.push(res.dueAtMs);
    state = res.state;
  }
  return { dues, state };
}

describe('reserve', () => {
  it('a burst of 5 at rpm=60 with a one-request bucket is due one a second', () => {
    const { dues } = reserveAll(Array(5).fill(one), rates(60, 0, 1), 1000);
    expect(dues).toEqual([1000, 2000, 3000, 4000, 5000]);
  });

  it('a full minute bucket (the default) lets a minute of requests go at once, then one per interval', () => {
    const { dues } = reserveAll(Array(62).fill(one), rates(60, 0), 1000);
    expect(dues.slice(0, 60)).toEqual(Array(60).fill(1000));
    expect(dues.slice(60)).toEqual([2000, 3000]);
  });

  it('reserves both dimensions at once: due when the later of the two holds its part', () => {
    // rpm 600: 100 ms a request, 10 at most; tpm 6000: 10 ms a token, 100 at most.
    const r = rates(600, 6000, 1);
    const { dues, state } = reserveAll(Array(3).fill({ requests: 1, tokens: 60 }), r, 0);
    // tokens: 100 - 60 = 40 left, the second needs 20 more (200 ms); the third 60 more after that.
    expect(dues).toEqual([0, 200, 800]);
    expect(state.tokensTat).toBe(1800);
    // requests took one each at its due time: the last at 800, so full again 100 ms later.
    expect(state.requestsTat).toBe(900);
  });

  it('a dimension without a limit, or with no cost, takes nothing', () => {
    // tpm 600: 100 ms a token, 600 at most
    const { dues, state } = reserveAll([{ requests: 1, tokens: 500 }, { requests: 0, tokens: 200 }, { requests: 1, tokens: 0 }], rates(0, 600), 0);
    expect(dues).toEqual([0, 10_000, 0]);
    expect(state.requestsTat).toBe(0);
    expect(state.tokensTat).toBe(70_000);
  });

  it('a cost larger than the bucket never fits: said at once, not waited for', () => {
    const res = reserve(FRESH_STATE, { requests: 1, tokens: 1001 }, rates(60, 1000), 0);
    expect(res).toEqual({ ok: false, kind: 'tokens', cost: 1001, capacity: 1000 });
    expect(tooLarge({ requests: 1, tokens: 100 }, rates(60, 1000, 6))).toBeNull();
    expect(tooLarge({ requests: 1, tokens: 101 }, rates(60, 1000, 6))).toEqual({ kind: 'tokens', cost: 101, capacity: 100 });
    // a requests bucket holds one request at least, however small the window
    expect(tooLarge(one, rates(6, 0, 1))).toBeNull();
  });

  it('time passing refills: a reservation made after the queue drained is due at once', () => {
    const { state } = reserveAll(Array(3).fill(one), rates(60, 0, 1), 0);
    expect(reserve(state, one, rates(60, 0, 1), 10_000)).toMatchObject({ ok: true, dueAtMs: 10_000 });
  });
});

describe('the local server admits every reservation at its due time, and none a millisecond earlier', () => {
  for (const [name, r] of [
    ['rpm only, a one-second window', rates(600, 0, 1)],
    ['tpm-bound, a one-second window', rates(6000, 30_000, 1)],
    ['both, a minute window', rates(120, 20_000)],
  ] as const) {
    it(name, () => {
      const random = seededRandom(7);
      const server = new RateLimiter({ rpm: r.rpm, tpm: r.tpm }, 0, r.windowSeconds);
      let state = FRESH_STATE;
      let now = 0;
      let waited = 0;
      for (let k = 0; k < 400; k++) {
        now += random() < 0.2 ? random() * 300 : 0; // callers come in bursts and lulls
        const cost = { requests: 1, tokens: r.tpm > 0 ? 1 + Math.floor(random() * 400) : 0 };
        const res = reserve(state, cost, r, now);
        if (!res.ok) throw new Error('never fits');
        state = res.state;
        if (res.dueAtMs > now) {
          waited++;
          // no slack: had it gone 1 ms sooner, the server would have refused it
          expect(server.admit(cost.tokens, res.dueAtMs - 1).ok).toBe(false);
        }
        expect(server.admit(cost.tokens, res.dueAtMs)).toEqual({ ok: true });
      }
      expect(waited).toBeGreaterThan(100);
    });
  }

  /** Reservations made over time, each reaching the server up to `lateMs` after its due time. */
  function lateArrivals(r: QuotaRates, lateMs: number, seed: number): { admitted: number; refused: number; span: number } {
    const random = seededRandom(seed);
    const server = new RateLimiter({ rpm: r.rpm, tpm: r.tpm }, 0, r.windowSeconds);
    let state = FRESH_STATE;
    const arrivals: Array<{ at: number; tokens: number }> = [];
    for (let k = 0; k < 300; k++) {
      const cost = { requests: 1, tokens: 1 + Math.floor(random() * 300) };
      const res = reserve(state, cost, r, k * 5 + (k % 50 === 0 ? 3000 : 0));
      if (!res.ok) throw new Error('never fits');
      state = res.state;
      arrivals.push({ at: res.dueAtMs + random() * lateMs, tokens: cost.tokens });
    }
    arrivals.sort((a, b) => a.at - b.at); // the order the server sees them in
    let admitted = 0;
    for (const a of arrivals) if (server.admit(a.tokens, a.at).ok) admitted++;
    return { admitted, refused: arrivals.length - admitted, span: arrivals.at(-1)!.at };
  }

  it('requests that reach the server up to jitterMs late, in any order, are all admitted', () => {
    for (const seed of [1, 2, 3]) expect(lateArrivals(rates(600, 20_000, 1, 80), 80, seed)).toMatchObject({ admitted: 300, refused: 0 });
  });

  it('without the allowance, late arrivals from a full bucket are refused (why jitterMs exists)', () => {
    const refused = [1, 2, 3].map((seed) => lateArrivals(rates(600, 20_000, 1, 0), 80, seed).refused);
    expect(Math.max(...refused)).toBeGreaterThan(0);
  });

  it('the allowance costs only the refill a full bucket wastes, not the steady rate', () => {
    // a deep queue at rpm 600: one every 100 ms with or without the allowance
    const { dues } = reserveAll(Array(20).fill(one), rates(600, 0, 1, 80), 0);
    const gaps = dues.slice(1).map((d, k) => d - dues[k]!);
    expect(gaps.slice(10)).toEqual(Array(9).fill(100));
    // a one-request bucket: each request waits for the last one's allowance too
    const strict = reserveAll(Array(3).fill(one), rates(600, 0, 0.1, 80), 0).dues;
    expect(strict).toEqual([0, 180, 360]);
  });
});

describe('refund, correct, pause, sync, retune', () => {
  const r = rates(60, 6000, 1); // 1 request (1 s each), 100 tokens (10 ms each)

  it('a refunded reservation gives its room to the next one made', () => {
    const cost = { requests: 1, tokens: 50 };
    const a = reserveAll([cost], r, 0);
    const b = reserveAll([cost], r, 0, a.state);
    expect(b.dues).toEqual([1000]);
    const back = refund(b.state, cost, r);
    // exact in the bucket that set the due time (requests); never less owed in the other
    expect(back.requestsTat).toBe(a.state.requestsTat);
    expect(back.tokensTat).toBeGreaterThanOrEqual(a.state.tokensTat);
    expect(reserveAll([cost], r, 0, back).dues).toEqual(b.dues);
  });

  it('usage above the estimate is always taken; below it only when the server refunds', () => {
    const { state } = reserveAll([{ requests: 1, tokens: 50 }], r, 0); // tokensTat 500
    expect(correct(state, 30, r, false, 100).tokensTat).toBe(800);
    expect(correct(state, -30, r, false, 100)).toBe(state);
    expect(correct(state, -30, r, true, 100).tokensTat).toBe(200);
    // a bucket full again by the time the usage lands is charged from now
    expect(correct(state, 30, r, false, 2000).tokensTat).toBe(2300);
  });

  it('a pause: nothing due before it ends, and the refused cost is due exactly then', () => {
    const fast = rates(600, 0); // a minute bucket: 600 at once, as a fresh key
    const paused = pause(FRESH_STATE, 5000, one, fast);
    expect(paused.pausedUntil).toBe(5000);
    const { dues } = reserveAll(Array(3).fill(one), fast, 0, paused);
    // the bucket is taken to hold just the refused request at 5000: then one every 100 ms
    expect(dues).toEqual([5000, 5100, 5200]);
    // a shorter pause does not shorten the one in force
    expect(pause(paused, 3000, one, fast).pausedUntil).toBe(5000);
  });

  it('sync only ever lowers our view of the buckets', () => {
    const fast = rates(600, 6000); // 600 requests (100 ms each), 6000 tokens (10 ms each)
    const now = 10_000;
    // the server says 500 requests left: 100 used, full again in 10 s
    const s1 = sync(FRESH_STATE, { requests: { remaining: 500, resetMs: 10_000 } }, fast, now);
    expect(s1.requestsTat).toBe(now + 100 * 100);
    // it says more is left than we think (headers lag behind requests in flight): ours stands
    expect(sync(s1, { requests: { remaining: 599 } }, fast, now)).toEqual(s1);
    // no count: the reset time stands in
    expect(sync(FRESH_STATE, { tokens: { resetMs: 2500 } }, fast, now).tokensTat).toBe(now + 2500);
    // requests sent after the answered one are not in its headers: they count on top
    expect(sync(FRESH_STATE, { requests: { remaining: 500 } }, fast, now, { requests: 3, tokens: 0 }).requestsTat).toBe(now + 103 * 100);
    // and nothing for a limit we do not have
    expect(sync(FRESH_STATE, { tokens: { remaining: 0 } }, rates(600, 0), now)).toEqual(FRESH_STATE);
  });

  it('new limits keep what is owed, repaid at the new rate; a new limit starts full', () => {
    const { state } = reserveAll(Array(4).fill(one), rates(60, 0, 1), 0); // requestsTat 4000: 4 owed
    expect(retune(state, rates(60, 0, 1), rates(120, 0, 1), 1000).requestsTat).toBe(1000 + 3 * 500);
    expect(retune({ ...state, tokensTat: 99_999 }, rates(60, 0), rates(60, 600), 1000).tokensTat).toBe(0);
  });
});
