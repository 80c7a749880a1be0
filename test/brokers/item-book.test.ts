/**
 * The item book alone (no pool, no endpoints): the test plays the run on top of it, starting
 * items and reporting how their attempts end, on a fake clock for the retry timers and durations.
 */
import * as perfHooks from 'node:perf_hooks';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { BookItem, ItemBook, type BookOptions } from '../../src/brokers/item-book.js';
import { TickEvents } from '../../src/brokers/tick-events.js';
import type { JobEvent } from '../../src/core/events.js';
import { itemsOf, type EventOf } from './helpers.js';

const tick = () => new Promise((resolve) => setImmediate(resolve));

/** A run that starts nothing by itself: the test moves items with `start`. */
function harness(options: Partial<BookOptions> = {}, listener?: (events: readonly JobEvent[]) => void) {
  const deliveries: JobEvent[][] = [];
  const state = { inFlight: 0, wakes: 0, released: 0, aborted: [] as string[], unfinished: [] as number[] };
  const book: ItemBook<BookItem> = new ItemBook<BookItem>(
    listener ?? ((events) => deliveries.push([...events])),
    { retries: 2, highWater: 4, ...options },
    {
      newItem: (spec, now) => new BookItem(spec, now),
      inFlight: () => state.inFlight,
      wake: () => state.wakes++,
      abortInFlight: (reason) => state.aborted.push(reason),
      release: () => state.released++,
      onUnfinished: (rec) => state.unfinished.push(rec.spec.index),
      laneOf: (rec) => (options.lanes === 2 && String(rec.spec.input).startsWith('alone') ? 1 : 0),
    },
  );
  /** Takes the next item of lane 0 and starts an attempt of it, as a run does. */
  const start = (now = perfHooks.performance.now()): BookItem => {
    const rec = book.lanes[0]!.shift()!;
    book.markRunning(rec, now);
    state.inFlight++;
    return rec;
  };
  /** The attempt is over (its slot is free); the caller settles it. */
  const leave = () => state.inFlight--;
  const events = () => deliveries.flat();
  const of = <T extends JobEvent['type']>(type: T) => events().filter((e): e is EventOf<T> => e.type === type);
  return { book, state, start, leave, deliveries, events, of };
}

/** A clock the test moves: `performance.now()` and the book's timers. */
function fakeClock() {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
  let now = 1000;
  vi.spyOn(perfHooks.performance, 'now').mockImplementation(() => now);
  return {
    advance(ms: number) {
      now += ms;
      vi.advanceTimersByTime(ms);
    },
  };
}

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('item book: taking items in', () => {
  it('holds add() while lane 0 is at its high-water mark, until it drains to half', async () => {
    const { book, start, leave } = harness({ highWater: 4 });
    let resolved = false;
    void book.add(itemsOf(['a', 'b', 'c', 'd'])).then(() => (resolved = true));
    await tick();
    expect(resolved).toBe(false);
    start();
    book.releaseIfRoom(); // 3 waiting: not below half of 4
    await tick();
    expect(resolved).toBe(false);
    leave();
    start();
    book.releaseIfRoom(); // 2 waiting: still not below half
    await tick();
    expect(resolved).toBe(false);
    start();
    book.releaseIfRoom();
    await tick();
    expect(resolved).toBe(true);
  });

  it('lets held callers go on a drain, ignores items after it, and refuses items after end()', async () => {
    const { book } = harness({ highWater: 1 });
    const held = book.add(itemsOf(['a']));
    book.drain();
    await held;
    await expect(book.add(itemsOf(['b'], 1))).resolves.toBeUndefined();
    const other = harness().book;
    other.end();
    await expect(other.add(itemsOf(['x']))).rejects.toThrow(/after end/);
  });

  it('puts an item in the lane the run names; lane 0 alone counts for backpressure', async () => {
    const { book } = harness({ lanes: 2, highWater: 2 });
    await book.add(itemsOf(['alone-1', 'alone-2', 'alone-3', 'a']));
    expect(book.lanes[0]!.length).toBe(1);
    expect(book.lanes[1]!.length).toBe(3);
  });
});

describe('item book: retry or fail', () => {
  it('retries a charged failure after its backoff, at the front of its lane, then fails it with its cause', async () => {
    const clock = fakeClock();
    const { book, start, leave, state, of } = harness({ retries: 1 });
    await book.add(itemsOf(['a', 'b']));
    const a = start();
    leave();
    book.retryOrFail(a, 'boom', 1000, { charged: true, cause: 'quota' });
    expect(a.state).toBe('delayed');
    const retry = of('item-retry');
    expect(book.delayed.size).toBe(1);
    book.promoteDueRetries(); // not due yet: a timer wakes the run when it is
    expect(book.lanes[0]!.length).toBe(1);
    const wakes = state.wakes;
    clock.advance(10_000);
    expect(state.wakes).toBe(wakes + 1);
    book.promoteDueRetries();
    expect(book.lanes[0]!.peek()).toBe(a); // it has waited its turn already: ahead of b
    expect(a.state).toBe('waiting');
    const again = start();
    expect(again.attempt).toBe(2);
    leave();
    book.retryOrFail(again, 'boom again', 2000, { charged: true, cause: 'quota' });
    vi.useRealTimers();
    await tick();
    const [event] = of('item-retry');
    expect(event).toMatchObject({ index: 0, attempt: 1, error: 'boom', charged: true, cause: 'quota' });
    expect(event!.delayMs).toBeGreaterThan(0);
    expect(retry).toEqual([]); // delivered once per tick, not at once
    expect(of('item-failed')).toEqual([expect.objectContaining({ index: 0, attempts: 2, error: 'boom again', cause: 'quota' })]);
    expect(of('item-failed')[0]).not.toHaveProperty('final');
  });

  it('fails a `final` attempt at once, whatever retries it has left', async () => {
    const { book, start, leave, of } = harness({ retries: 5 });
    await book.add(itemsOf(['a']));
    const a = start();
    leave();
    book.retryOrFail(a, 'output too long', 10, { charged: true, final: true });
    await tick();
    expect(of('item-retry')).toEqual([]);
    expect(of('item-failed')).toEqual([expect.objectContaining({ attempts: 1, error: 'output too long', final: true })]);
    expect(a.charged).toBe(1);
  });

  it('reruns an uncharged failure after `freeDelayMs`, without using up its retries', async () => {
    const { book, start, leave, of } = harness({ retries: 0 });
    await book.add(itemsOf(['a']));
    for (let k = 0; k < 3; k++) {
      const a = start();
      leave();
      book.retryOrFail(a, 'lost its thread', 0, { charged: false, freeDelayMs: k * 100 });
      book.promoteDueRetries(); // due at once (the test's clock is far past 0 + 200)
    }
    await tick();
    expect(of('item-retry').map((e) => [e.charged, e.delayMs, e.attempt])).toEqual([
      [false, 0, 1],
      [false, 100, 2],
      [false, 200, 3],
    ]);
    expect(of('item-failed')).toEqual([]);
    expect(book.lanes[0]!.peek()?.charged).toBe(0);
  });

  it('ends a retry unfinished while draining (it announces the retry, then runs no more)', async () => {
    const { book, start, leave, state, of } = harness();
    await book.add(itemsOf(['a']));
    const a = start();
    book.drain();
    leave();
    book.retryOrFail(a, 'boom', 0, { charged: true });
    expect(a.state).toBe('unfinished');
    expect(state.unfinished).toEqual([0]);
    book.maybeFinish();
    await tick();
    await tick();
    expect(of('item-retry')).toHaveLength(1);
    expect(of('job-cancelled')).toEqual([expect.objectContaining({ reason: 'interrupted', counts: { total: 1, done: 0, failed: 0, unfinished: 1 } })]);
  });
});

describe('item book: settling and the end', () => {
  it('measures queued, first-chunk and total time from the item start the run reports', async () => {
    const clock = fakeClock();
    const { book, start, leave, of } = harness();
    await book.add(itemsOf(['a']));
    clock.advance(50);
    const a = start(1050);
    a.firstChunkAt = 1070;
    leave();
    book.settleDone(a, 'out', 1100.04);
    vi.useRealTimers();
    await tick();
    expect(of('item-done')).toEqual([
      expect.objectContaining({ index: 0, attempt: 1, output: 'out', worker: '?', input: 'a', durations: { queuedMs: 50, firstChunkMs: 20, totalMs: 50 } }),
    ]);
  });

  it('finishes once all input is in and settled, and not while an attempt runs', async () => {
    const { book, start, leave, state, of, deliveries } = harness();
    await book.add(itemsOf(['a', 'b']));
    book.end();
    const a = start();
    const b = start();
    leave();
    book.settleDone(a, 'A', 0);
    book.maybeFinish();
    expect(book.closed).toBe(false);
    leave();
    book.retryOrFail(b, 'bad input', 0, { charged: false }); // goes around once more
    book.maybeFinish();
    expect(book.closed).toBe(false);
    book.promoteDueRetries();
    const b2 = start();
    leave();
    book.settleFailed(b2, 'no endpoint', 0);
    book.maybeFinish();
    expect(book.closed).toBe(true);
    expect(state.released).toBe(1);
    await expect(book.finished).resolves.toEqual({ total: 2, done: 1, failed: 1, unfinished: 0 });
    expect(of('job-done')).toHaveLength(1);
    expect(deliveries.at(-1)?.at(-1)?.type).toBe('job-done'); // the last event of all
  });

  it('drain: what waits or is delayed ends unfinished once nothing runs; abort stops what runs', async () => {
    const { book, start, leave, state, of } = harness();
    await book.add(itemsOf(['a', 'b', 'c']));
    const a = start();
    const b = start();
    leave();
    book.retryOrFail(b, 'x', 0, { charged: true }); // delayed
    book.drain();
    expect(book.closed).toBe(false); // a still runs
    book.abort('stop');
    expect(state.aborted).toEqual(['stop']);
    book.abort('stop again');
    expect(state.aborted).toEqual(['stop']);
    leave();
    book.settleUnfinished(a);
    book.maybeFinish();
    expect(state.unfinished.sort()).toEqual([0, 1, 2]);
    await expect(book.finished).resolves.toEqual({ total: 3, done: 0, failed: 0, unfinished: 3 });
    expect(of('job-cancelled')).toEqual([expect.objectContaining({ reason: 'aborted' })]);
  });

  it('drops a waiting or delayed item (a client went away), not a running one', async () => {
    const { book, start, leave, state } = harness();
    await book.add(itemsOf(['a', 'b', 'c']));
    const a = start();
    const b = start();
    leave();
    book.retryOrFail(b, 'x', 0, { charged: true });
    expect(book.dropQueued(a)).toBe(false);
    expect(book.dropQueued(b)).toBe(true);
    expect(book.dropQueued(book.get(2)!)).toBe(true);
    expect(book.delayed.size).toBe(0);
    expect(book.lanes[0]!.length).toBe(0);
    expect(book.get(1)).toBeUndefined();
    expect(state.unfinished).toEqual([1, 2]);
  });

  it('a listener that throws stops the run: in-flight attempts are aborted and finished rejects', async () => {
    const { book, start, leave, state } = harness({}, () => {
      throw new Error('disk full');
    });
    await book.add(itemsOf(['a', 'b']));
    start();
    const b = start();
    leave();
    book.settleDone(b, 'B', 0); // its event reaches the listener at the end of the tick
    await expect(book.finished).rejects.toThrow('disk full');
    expect(state.aborted).toEqual(['disk full']);
    expect(book.closed).toBe(true);
    expect(state.released).toBe(1);
  });
});

describe('tick events', () => {
  it('delivers one array per tick and merges the chunks an attempt streams within it', async () => {
    const deliveries: JobEvent[][] = [];
    const events = new TickEvents((e) => deliveries.push([...e]), () => undefined);
    events.emit({ type: 'item-start', index: 0, id: 'a', attempt: 1, worker: 'w' });
    events.chunk(0, 1, 'he');
    events.chunk(1, 1, 'x');
    events.chunk(0, 1, 'llo');
    events.emit({ type: 'item-retry', index: 0, id: 'a', attempt: 1, error: 'e', delayMs: 0, charged: false });
    events.chunk(0, 2, '!'); // after another event of its item: a chunk event of its own
    await tick();
    events.chunk(1, 1, 'y'); // the next tick: not merged into the last one's
    await tick();
    expect(deliveries).toEqual([
      [
        { type: 'item-start', index: 0, id: 'a', attempt: 1, worker: 'w' },
        { type: 'chunk', index: 0, attempt: 1, text: 'hello', n: 2 },
        { type: 'chunk', index: 1, attempt: 1, text: 'x', n: 1 },
        { type: 'item-retry', index: 0, id: 'a', attempt: 1, error: 'e', delayMs: 0, charged: false },
        { type: 'chunk', index: 0, attempt: 2, text: '!', n: 1 },
      ],
      [{ type: 'chunk', index: 1, attempt: 1, text: 'y', n: 1 }],
    ]);
  });
});
