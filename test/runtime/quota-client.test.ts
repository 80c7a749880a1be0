/**
 * `ctx.limit` in one thread (src/runtime/quota/client.ts over a LocalQuota), on fake timers and a
 * clock that moves with them: permits resolve at their due time and not before, an abort while
 * waiting rejects with its reason and gives the reservation back, a pause moves a waiting permit;
 * and the item runner finishes the permits its items leave open.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { QuotaArgumentError, QuotaTooLargeError, type QuotaLimits } from '../../src/core/quota/limits.js';
import type { Permit, Processor } from '../../src/processors/contract.js';
import { ItemControl, runBatch } from '../../src/runtime/item-runner.js';
import { Outbox } from '../../src/runtime/outbox.js';
import type { ThreadMessage } from '../../src/runtime/protocol.js';
import { LocalQuota, localQuota } from '../../src/runtime/quota/local.js';
import { runLocal } from '../../src/processor-server/run-local.js';

const exact: QuotaLimits = { rpm: 600, windowSeconds: 0.1, jitterMs: 0 }; // one request each 100 ms
const T0 = 1_000_000;

beforeEach(() => {
  vi.useFakeTimers({ now: T0 });
});
afterEach(() => {
  vi.useRealTimers();
});

const fakeQuota = (ceiling = Infinity): LocalQuota => new LocalQuota(ceiling, () => Date.now());

/** Records when (on the fake clock) each promise settles. */
function track<T>(promise: Promise<T>): { settled: number | null; value?: T; error?: unknown } {
  const t: { settled: number | null; value?: T; error?: unknown } = { settled: null };
  promise.then(
    (value) => Object.assign(t, { settled: Date.now(), value }),
    (error: unknown) => Object.assign(t, { settled: Date.now(), error }),
  );
  return t;
}

describe('QuotaClient', () => {
  it('each permit resolves at its due time, and not before', async () => {
    const q = fakeQuota();
    const permits = [0, 1, 2].map(() => track(q.client.limit('k', undefined, exact)));
    await vi.advanceTimersByTimeAsync(0);
    expect(permits.map((p) => p.settled)).toEqual([T0, null, null]);
    await vi.advanceTimersByTimeAsync(99);
    expect(permits[1]!.settled).toBeNull();
    await vi.advanceTimersByTimeAsync(101);
    expect(permits.map((p) => p.settled)).toEqual([T0, T0 + 100, T0 + 200]);
    expect(permits.map((p) => (p.value as Permit).dueAtMs)).toEqual([T0, T0 + 100, T0 + 200]);
    expect(q.client.pending).toBe(0);
  });

  it('an abort while waiting rejects with its reason and gives the reservation back', async () => {
    const q = fakeQuota();
    await q.client.limit('k', undefined, exact);
    const before = q.view('k')!.state;
    const abort = new AbortController();
    const waiting = track(q.client.limit('k', undefined, exact, abort.signal));
    await vi.advanceTimersByTimeAsync(50);
    expect(q.view('k')!.state).not.toEqual(before);
    const reason = new Error('item timed out');
    abort.abort(reason);
    await vi.advanceTimersByTimeAsync(0);
    expect(waiting).toMatchObject({ settled: T0 + 50, error: reason });
    expect(q.view('k')).toMatchObject({ state: before, held: 1 });
    // the next one takes the slot the aborted one had
    const next = track(q.client.limit('k', undefined, exact));
    await vi.advanceTimersByTimeAsync(50);
    expect(next.settled).toBe(T0 + 100);
    // and an already aborted signal reserves nothing at all
    await expect(q.client.limit('k', undefined, exact, AbortSignal.abort(reason))).rejects.toBe(reason);
    expect(q.view('k')!.held).toBe(2);
  });

  it('a 429 with retry-after moves the permits still waiting to after the pause', async () => {
    const q = fakeQuota();
    const first = await q.client.limit('k', undefined, exact);
    const waiting = track(q.client.limit('k', undefined, exact));
    await vi.advanceTimersByTimeAsync(10);
    first.learn({ status: 429, headers: { 'retry-after-ms': '1000' } });
    await vi.advanceTimersByTimeAsync(500);
    expect(waiting.settled).toBeNull();
    await vi.advanceTimersByTimeAsync(1000);
    expect(waiting.settled).toBe(T0 + 10 + 1000);
  });

  it('a cost the limit never holds rejects at once; bad arguments are the processor bug they are', async () => {
    const q = fakeQuota();
    await expect(q.client.limit('k', { tokens: 5000 }, { tpm: 1000 })).rejects.toBeInstanceOf(QuotaTooLargeError);
    await expect(q.client.limit('', undefined, exact)).rejects.toBeInstanceOf(QuotaArgumentError);
    await expect(q.client.limit('k', { tokens: -1 })).rejects.toThrow('ctx.limit: cost.tokens must be a number >= 0 (got -1)');
    await expect(q.client.limit('k', undefined, { rpm: 0 })).rejects.toThrow('limits.rpm must be a number > 0 (got 0); leave it out for none');
    expect(q.client.pending).toBe(0);
  });

  it('done and cancel act once: a slot of the window comes back once', async () => {
    const q = fakeQuota(1);
    const a = await q.client.limit('k', undefined, {});
    const b = track(q.client.limit('k', undefined, {}));
    await vi.advanceTimersByTimeAsync(0);
    expect(b.settled).toBeNull(); // the window of 1 is taken
    a.done({ tokens: 3 });
    a.done();
    a.cancel();
    await vi.advanceTimersByTimeAsync(0);
    expect(b.settled).toBe(T0);
    expect(q.view('k')).toMatchObject({ held: 1, queued: 0 });
  });
});

describe('the item runner and ctx.limit', () => {
  it('finishes the permits an item leaves open; an item aborted while it waits ends with its timeout', async () => {
    const q = fakeQuota(4);
    const messages: ThreadMessage[] = [];
    const outbox = new Outbox((m) => messages.push(...m));
    const p: Processor = {
      name: 'limited',
      async *process(input, ctx) {
        const permit = await ctx.limit('k', undefined, exact);
        yield `${String(input)}@${permit.dueAtMs - T0}`; // and never says done
      },
    };
    const items = ['a', 'b', 'c'].map((input, i) => ({ i, id: `id-${i}`, a: 1, input }));
    const done = runBatch({ batchId: 1, params: {}, timeoutMs: 150, maxOutputChars: 0, items, outbox, quota: () => q.client }, [p], new Map<number, ItemControl>());
    await vi.advanceTimersByTimeAsync(300);
    await done;
    outbox.flush();
    const ends = messages.filter((m) => m.t === 'outcome' || m.t === 'done' || m.t === 'error');
    expect(ends.map((m) => (m.t === 'error' ? m.err : m.t === 'outcome' || m.t === 'done' ? m.out : ''))).toEqual(['a@0', 'b@100', 'timed out after 150 ms']);
    // every slot is back: two items ended without `done`, one was refunded as it waited
    expect(q.view('k')).toMatchObject({ held: 0, queued: 0 });
    expect(q.view('k')!.state.requestsTat).toBe(T0 + 200);
  });
});

describe('a processor server (runLocal) and ctx.limit', () => {
  it("uses this process's quota, shared by its items, and finishes the permits an item leaves open", async () => {
    vi.useRealTimers();
    const p: Processor = {
      name: 'limited',
      async *process(_input, ctx) {
        const permit = await ctx.limit('run-local', undefined, { rpm: 6000 });
        yield String(permit.dueAtMs > 0);
      },
    };
    const item = (k: number) => ({ itemId: String(k), input: 'x', attempt: 1, params: {}, signal: new AbortController().signal, log: () => undefined });
    const outs = await Promise.all([1, 2, 3].map((k) => runLocal(p, item(k), () => undefined)));
    expect(outs).toEqual(['true', 'true', 'true']);
    expect(localQuota().view('run-local')).toMatchObject({ held: 0, queued: 0, rates: { rpm: 6000 } });
  });
});
