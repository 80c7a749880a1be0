/**
 * The quota ledger (src/core/quota/ledger.ts): many clients, one key, on an injected clock: the
 * replies each request gets, pauses that move waiting permits, limits learned from headers,
 * the AIMD window queueing callers, refunds and corrections.
 */
import { describe, expect, it } from 'vitest';
import { aimdConfig } from '../../src/core/quota/aimd.js';
import { QuotaLedger, type Outgoing, type QuotaRequest } from '../../src/core/quota/ledger.js';
import type { QuotaLimits } from '../../src/core/quota/limits.js';

const exact: QuotaLimits = { rpm: 600, windowSeconds: 0.1, jitterMs: 0 }; // one request each 100 ms

class Harness {
  readonly ledger: QuotaLedger;
  private ids = 0;
  now = 1000;

  constructor(ceiling = 64) {
    this.ledger = new QuotaLedger(aimdConfig(ceiling));
  }

  send(client: number, request: QuotaRequest): Outgoing[] {
    return this.ledger.handle(client, request, this.now);
  }

  /** Asks for a permit; its id and the replies. */
  acquire(client: number, limits: QuotaLimits | undefined = exact, tokens = 0, key = 'k'): { id: number; out: Outgoing[] } {
    const id = ++this.ids;
    return { id, out: this.send(client, { t: 'acquire', id, key, cost: { requests: 1, tokens }, limits }) };
  }
}

const dueOf = (out: readonly Outgoing[]): number[] => out.map((o) => (o.reply.t === 'grant' ? o.reply.dueAtMs : NaN));

describe('QuotaLedger', () => {
  it('permits of several clients on one key are due 100 ms apart, in the order asked', () => {
    const h = new Harness();
    const dues = [1, 2, 3, 1, 2, 3].map((client) => {
      const { out } = h.acquire(client);
      expect(out).toHaveLength(1);
      expect(out[0]!.client).toBe(client);
      return dueOf(out)[0];
    });
    expect(dues).toEqual([1000, 1100, 1200, 1300, 1400, 1500]);
    // other keys have limiters of their own
    expect(dueOf(h.acquire(1, exact, 0, 'other').out)).toEqual([1000]);
  });

  it('a cost the limit never holds is denied at once, naming what to change', () => {
    const h = new Harness();
    const { id, out } = h.acquire(1, { tpm: 6000, windowSeconds: 1 }, 500);
    expect(out).toEqual([{ client: 1, reply: { t: 'deny', id, err: expect.stringContaining('a request costs 500 tokens but the limit holds at most 100 (tpm 6000 over a 1 s window): lower max_tokens') } }]);
    expect(h.ledger.view('k')!.held).toBe(0);
  });

  it('a cancelled permit gives its reservation back; done or cancel twice changes nothing', () => {
    const h = new Harness();
    h.acquire(1);
    const b = h.acquire(1);
    expect(dueOf(b.out)).toEqual([1100]);
    h.send(1, { t: 'cancel', id: b.id });
    h.send(1, { t: 'cancel', id: b.id });
    expect(dueOf(h.acquire(2).out)).toEqual([1100]);
  });

  it('a 429 with retry-after pauses the key and moves the permits still waiting after it, in order', () => {
    const h = new Harness();
    const sent = h.acquire(1);
    const waiting = [h.acquire(2), h.acquire(3), h.acquire(2)];
    expect(waiting.map((w) => dueOf(w.out)[0])).toEqual([1100, 1200, 1300]);
    h.now = 1050;
    const moved = h.send(1, { t: 'learn', id: sent.id, status: 429, obs: { retryAfterMs: 2000 } });
    // refunded, then reserved again from the end of the pause, each told to its own client
    expect(moved.map((o) => [o.client, o.reply])).toEqual([
      [2, { t: 'grant', id: waiting[0]!.id, dueAtMs: 3050 }],
      [3, { t: 'grant', id: waiting[1]!.id, dueAtMs: 3150 }],
      [2, { t: 'grant', id: waiting[2]!.id, dueAtMs: 3250 }],
    ]);
    expect(dueOf(h.acquire(1).out)).toEqual([3350]);
    // the same burst's other 429s say nothing new
    expect(h.send(1, { t: 'learn', id: waiting[0]!.id, status: 429, obs: { retryAfterMs: 1500 } })).toEqual([]);
  });

  it('learns the limits from headers when none were given, and where the server stands', () => {
    const h = new Harness();
    const first = h.acquire(1, {});
    expect(dueOf(first.out)).toEqual([1000]);
    expect(h.ledger.view('k')!.rates).toMatchObject({ rpm: 0, tpm: 0 });
    // the server: 60 rpm, and 58 left (one more request than ours reached it)
    h.send(1, { t: 'learn', id: first.id, status: 200, obs: { requests: { limit: 60, remaining: 58, resetMs: 2000 }, tokens: { limit: 10_000 } } });
    expect(h.ledger.view('k')!.rates).toMatchObject({ rpm: 60, tpm: 10_000 });
    expect(h.ledger.view('k')!.state.requestsTat).toBe(1000 + 2 * 1000);
    // a caller's limits win over the learned ones
    const given = h.acquire(1, { rpm: 120 });
    expect(h.ledger.view('k')!.rates).toMatchObject({ rpm: 120, tpm: 10_000 });
    expect(dueOf(given.out)).toEqual([1000]);
  });

  it('a limit learned while permits are out counts them: they were sent without it', async () => {
    const h = new Harness();
    const out = [h.acquire(1, {}), h.acquire(2, {}), h.acquire(1, {})];
    expect(out.map((p) => dueOf(p.out)[0])).toEqual([1000, 1000, 1000]);
    h.send(1, { t: 'done', id: out[2]!.id });
    // 60 rpm: a second a request; the two still out are owed, on top of what the headers say
    h.send(1, { t: 'learn', id: out[0]!.id, status: 200, obs: { requests: { limit: 60, remaining: 60 } } });
    expect(h.ledger.view('k')!.state.requestsTat).toBe(1000 + 2 * 1000);
  });

  it("the server's headers do not count the requests sent after the one they answer: sync adds them", () => {
    const h = new Harness();
    const limits: QuotaLimits = { rpm: 60, jitterMs: 0 }; // a minute bucket: 60 at once, then 1 s each
    const sent = [h.acquire(1, limits), h.acquire(1, limits), h.acquire(2, limits)];
    expect(sent.map((p) => dueOf(p.out)[0])).toEqual([1000, 1000, 1000]);
    h.now = 1200;
    // the first one's answer: 59 left when it was admitted; the two others may not have arrived yet
    h.send(1, { t: 'learn', id: sent[0]!.id, status: 200, obs: { requests: { remaining: 10 } } });
    expect(h.ledger.view('k')!.state.requestsTat).toBe(1200 + (50 + 2) * 1000);
  });

  it('a server that says nothing: a 429 shrinks the window, callers queue, done lets them in', () => {
    const h = new Harness(8);
    const open: QuotaLimits = {};
    const held = Array.from({ length: 8 }, () => h.acquire(1, open));
    expect(held.every((p) => p.out.length === 1)).toBe(true);
    const queued = h.acquire(2, open);
    expect(queued.out).toEqual([]); // the window (8, the ceiling) is full
    h.send(1, { t: 'learn', id: held[0]!.id, status: 503, obs: {} });
    expect(h.ledger.view('k')!.aimd.window).toBe(4);
    // three finish: 5 in flight, still more than the window of 4
    for (const p of held.slice(0, 3)) expect(h.send(1, { t: 'done', id: p.id })).toEqual([]);
    expect(h.send(1, { t: 'done', id: held[3]!.id })).toEqual([]);
    const admitted = h.send(1, { t: 'done', id: held[4]!.id });
    expect(admitted).toEqual([{ client: 2, reply: { t: 'grant', id: queued.id, dueAtMs: 1000 } }]);
    expect(h.ledger.view('k')!.queued).toBe(0);
  });

  it('a 429 that carries headers or retry-after does not shrink the window', () => {
    const h = new Harness(8);
    const p = h.acquire(1, {});
    h.send(1, { t: 'learn', id: p.id, status: 429, obs: { requests: { remaining: 0 } } });
    expect(h.ledger.view('k')!.aimd.window).toBe(8);
  });

  it('real usage corrects the tokens estimate: up always, down only when the server refunds', () => {
    const h = new Harness();
    const limits: QuotaLimits = { tpm: 6000, jitterMs: 0 }; // 10 ms a token
    const p = h.acquire(1, limits, 100);
    const tat = h.ledger.view('k')!.state.tokensTat;
    h.send(1, { t: 'done', id: p.id, tokens: 40 });
    expect(h.ledger.view('k')!.state.tokensTat).toBe(tat);
    const q = h.acquire(1, limits, 100);
    h.send(1, { t: 'done', id: q.id, tokens: 130 });
    expect(h.ledger.view('k')!.state.tokensTat).toBe(tat + 1000 + 300);
    const r = h.acquire(1, { ...limits, serverRefunds: true }, 100);
    h.send(1, { t: 'done', id: r.id, tokens: 40 });
    expect(h.ledger.view('k')!.state.tokensTat).toBe(tat + 1300 + 400);
  });

  it('a client that goes away gives its slots back and its queued permits up', () => {
    const h = new Harness(2);
    h.acquire(1, {});
    h.acquire(1, {});
    h.acquire(1, {}); // queued
    const other = h.acquire(2, {});
    expect(other.out).toEqual([]);
    const out = h.ledger.disconnect(1, h.now);
    expect(out).toEqual([{ client: 2, reply: { t: 'grant', id: other.id, dueAtMs: 1000 } }]);
    expect(h.ledger.view('k')).toMatchObject({ queued: 0, held: 1 });
  });

  it('activity: calls waiting (queued, or reserved and not yet due), calls of the last minute, the pause', () => {
    const h = new Harness(2);
    const a = h.acquire(1); // due 1000, now
    const b = h.acquire(1); // due 1100: reserved, waiting
    h.acquire(2); // no slot (AIMD ceiling 2): queued
    expect(h.ledger.activity(h.now)).toEqual([{ key: 'k', waiting: 2, perMinute: 0, rpm: 600, tpm: 0, pausedMs: 0 }]);
    // a's answer counts it as a call; a 429 with retry-after pauses the key
    h.now = 1050;
    h.send(1, { t: 'learn', id: a.id, status: 429, obs: { retryAfterMs: 2000 } });
    h.send(1, { t: 'done', id: a.id });
    h.now = 1500;
    const view = h.ledger.activity(h.now)[0]!;
    expect(view.pausedMs).toBe(1550);
    expect(view.waiting).toBe(2); // b moved behind the pause; the third got a's slot, due after b
    h.now = 4000;
    h.send(1, { t: 'done', id: b.id });
    // two calls over the key's 3 s of life: 40 a minute; past a minute they no longer count
    expect(h.ledger.activity(h.now)[0]).toMatchObject({ waiting: 0, perMinute: 40, pausedMs: 0 });
    h.now = 70_000;
    expect(h.ledger.activity(h.now)[0]).toMatchObject({ perMinute: 0 });
  });
});

