import { describe, expect, it } from 'vitest';
import type { JobEvent } from '../../src/core/events.js';
import { FailFast, parseFailureLimit } from '../../src/core/fail-fast.js';

const durations = { queuedMs: 0, firstChunkMs: null, totalMs: 1 };
const retry = (index: number, cause?: string, charged = true): JobEvent => ({
  type: 'item-retry',
  index,
  id: String(index),
  attempt: 1,
  error: `boom ${index}`,
  delayMs: 10,
  charged,
  ...(cause === undefined ? {} : { cause }),
});
const failed = (index: number, cause?: string): JobEvent => ({
  type: 'item-failed',
  index,
  id: String(index),
  attempts: 1,
  error: `boom ${index}`,
  worker: 'thread-1',
  durations,
  ...(cause === undefined ? {} : { cause }),
});
const done = (index: number): JobEvent => ({ type: 'item-done', index, id: String(index), attempt: 1, output: 'ok', worker: 'thread-1', durations });

const fresh = (maxFailures: ReturnType<typeof parseFailureLimit> | null = null, total = 100) => new FailFast({ sameCause: 3, maxFailures: maxFailures ?? null }, total);

describe('FailFast', () => {
  it('stops when three different items end an attempt with the same systemic cause, naming the last error', () => {
    const ff = fresh();
    expect(ff.observe([retry(0, 'refused'), retry(1, 'refused')])).toBeNull();
    expect(ff.observe([retry(2, 'refused')])).toBe('3 items in a row failed the same way, no fault of theirs: boom 2');
    // Once: the decision is not repeated.
    expect(ff.observe([retry(3, 'refused')])).toBeNull();
  });

  it('counts items, not attempts: one item failing three times is not a pattern', () => {
    const ff = fresh();
    expect(ff.observe([retry(0, 'refused'), retry(0, 'refused'), failed(0, 'refused')])).toBeNull();
  });

  it('a success, an item error, or another cause in between starts the count again', () => {
    const ff = fresh();
    expect(ff.observe([retry(0, 'a'), retry(1, 'a'), done(5), retry(2, 'a'), retry(3, 'a')])).toBeNull();
    expect(ff.observe([retry(4, 'b'), retry(6)])).toBeNull();
    expect(ff.observe([retry(7, 'a'), retry(8, 'a'), retry(9, 'b')])).toBeNull();
    expect(ff.observe([retry(10, 'b'), retry(11, 'b')])).toMatch(/^3 items in a row/);
  });

  it('ignores errors without a cause and uncharged losses', () => {
    const ff = fresh();
    expect(ff.observe(Array.from({ length: 20 }, (_, i) => retry(i)))).toBeNull();
    expect(ff.observe([retry(30, 'x', false), retry(31, 'x', false), retry(32, 'x', false)])).toBeNull();
  });

  it('--max-failures N stops at the Nth failed item', () => {
    const ff = fresh({ count: 2 });
    expect(ff.observe([failed(0), done(1)])).toBeNull();
    expect(ff.observe([failed(2)])).toBe('--max-failures 2 reached: 2 items failed');
  });

  it('--max-failures P% counts against the job size, rounding up, at least one', () => {
    const ff = fresh({ percent: 10 }, 25);
    expect(ff.observe([failed(0), failed(1)])).toBeNull();
    expect(ff.observe([failed(2)])).toBe('--max-failures 10% reached: 3 of 25 items failed');
    expect(fresh({ percent: 1 }, 5).observe([failed(0)])).toBe('--max-failures 1% reached: 1 of 5 items failed');
  });
});

describe('parseFailureLimit', () => {
  it('takes a count or a percentage', () => {
    expect(parseFailureLimit('5')).toEqual({ count: 5 });
    expect(parseFailureLimit(' 12.5% ')).toEqual({ percent: 12.5 });
    expect(parseFailureLimit('100%')).toEqual({ percent: 100 });
  });
  it('refuses anything else', () => {
    for (const bad of ['0', '-1', '0%', '101%', 'abc', '5 %', '', '1.5']) expect(parseFailureLimit(bad), bad).toBeUndefined();
  });
});
