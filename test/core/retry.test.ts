import { describe, expect, it } from 'vitest';
import { backoffMs, defaultRetryPolicy, shouldRetry, type RetryPolicy } from '../../src/core/retry.js';

const policy: RetryPolicy = { retries: 3, baseMs: 200, maxMs: 10_000 };

describe('shouldRetry', () => {
  it('allows exactly `retries` retries after the first attempt', () => {
    expect(shouldRetry(policy, 1)).toBe(true);
    expect(shouldRetry(policy, 2)).toBe(true);
    expect(shouldRetry(policy, 3)).toBe(true);
    expect(shouldRetry(policy, 4)).toBe(false);
  });

  it('with zero retries a first failure is final', () => {
    expect(shouldRetry(defaultRetryPolicy(0), 1)).toBe(false);
  });

  it('an uncharged item (zero charged failures) may always run again', () => {
    expect(shouldRetry(defaultRetryPolicy(0), 0)).toBe(true);
  });
});

describe('defaultRetryPolicy', () => {
  it('keeps the retries and has the documented base and cap', () => {
    expect(defaultRetryPolicy(5)).toEqual({ retries: 5, baseMs: 200, maxMs: 10_000 });
  });
});

describe('backoffMs', () => {
  it('is half fixed, half jitter: random 0 gives half the step, random ~1 the whole step', () => {
    expect(backoffMs(policy, 1, () => 0)).toBe(100);
    expect(backoffMs(policy, 1, () => 0.5)).toBe(150);
    expect(backoffMs(policy, 1, () => 0.999999)).toBe(200);
  });

  it('doubles per charged failure', () => {
    const mid = (n: number) => backoffMs(policy, n, () => 0.5);
    expect([1, 2, 3, 4, 5].map(mid)).toEqual([150, 300, 600, 1200, 2400]);
    expect([1, 2, 3, 4].map((n) => backoffMs(policy, n, () => 0))).toEqual([100, 200, 400, 800]);
  });

  it('is capped at maxMs however many failures (and never overflows)', () => {
    for (const n of [7, 10, 50, 1000, 5000]) {
      const lo = backoffMs(policy, n, () => 0);
      const hi = backoffMs(policy, n, () => 0.999999);
      expect(lo).toBe(5000);
      expect(hi).toBe(10_000);
    }
  });

  it('treats a zero or negative failure count like the first', () => {
    expect(backoffMs(policy, 0, () => 0)).toBe(100);
    expect(backoffMs(policy, -2, () => 0)).toBe(100);
  });

  it('with the real random source, stays within [step/2, step] and spreads out', () => {
    const seen = new Set<number>();
    for (let k = 0; k < 200; k++) {
      const ms = backoffMs(policy, 2);
      expect(ms).toBeGreaterThanOrEqual(200);
      expect(ms).toBeLessThanOrEqual(400);
      seen.add(ms);
    }
    expect(seen.size).toBeGreaterThan(10);
  });

  it('returns whole milliseconds', () => {
    expect(Number.isInteger(backoffMs(policy, 1, () => 0.123456))).toBe(true);
  });
});
