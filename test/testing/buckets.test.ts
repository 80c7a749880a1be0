/** The local OpenAI server's rate-limit math and its headers: pure, the clock stepped by hand. */
import { describe, expect, test } from 'vitest';
import { Bucket, KeyedLimiters, RateLimiter, type Admission } from '../../src/testing/openai-server/buckets.js';
import { rateLimited } from '../../src/testing/openai-server/errors.js';
import { formatDuration, rateLimitHeaders, retryAfterHeaders } from '../../src/testing/openai-server/headers.js';

/** Admits `n` requests of `tokens` tokens each at time `at`; how many got in. */
function burst(limiter: RateLimiter, n: number, at: number, tokens = 0): number {
  let admitted = 0;
  for (let i = 0; i < n; i++) if (limiter.admit(tokens, at).ok) admitted++;
  return admitted;
}

function refused(a: Admission): Exclude<Admission, { ok: true }> {
  if (a.ok) throw new Error('expected a refusal');
  return a;
}

describe('requests per minute', () => {
  test('a full bucket takes the whole minute at once, then refuses with the wait for one request', () => {
    const limiter = new RateLimiter({ rpm: 60, tpm: 0 }, 0);
    expect(burst(limiter, 60, 0)).toBe(60);
    expect(refused(limiter.admit(0, 0))).toEqual({ ok: false, by: 'requests', limit: 60, used: 60, requested: 1, retryAfterMs: 1000 });
  });

  test('refills continuously at limit/60 s, not at the minute', () => {
    const limiter = new RateLimiter({ rpm: 60, tpm: 0 }, 0);
    burst(limiter, 60, 0);
    expect(refused(limiter.admit(0, 250)).retryAfterMs).toBe(750);
    expect(refused(limiter.admit(0, 999)).retryAfterMs).toBe(1);
    expect(limiter.admit(0, 1000).ok).toBe(true);
    expect(refused(limiter.admit(0, 1000)).retryAfterMs).toBe(1000);
    // 2.5 s later: 2.5 requests' worth, so two fit and the third waits the missing half.
    expect(burst(limiter, 3, 3500)).toBe(2);
    expect(refused(limiter.admit(0, 3500)).retryAfterMs).toBe(500);
  });

  test('the refill stops at the capacity', () => {
    const limiter = new RateLimiter({ rpm: 60, tpm: 0 }, 0);
    burst(limiter, 60, 0);
    expect(burst(limiter, 100, 3_600_000)).toBe(60);
  });

  test("OpenAI's own figures: 3 RPM waits 20 s, 3000 RPM waits 20 ms", () => {
    const slow = new RateLimiter({ rpm: 3, tpm: 0 }, 0);
    burst(slow, 3, 0);
    expect(refused(slow.admit(0, 0)).retryAfterMs).toBe(20_000);
    const fast = new RateLimiter({ rpm: 3000, tpm: 0 }, 0);
    burst(fast, 3000, 0);
    expect(refused(fast.admit(0, 0))).toMatchObject({ used: 3000, retryAfterMs: 20 });
  });

  test('a clock that goes back refills nothing and breaks nothing', () => {
    const limiter = new RateLimiter({ rpm: 60, tpm: 0 }, 1000);
    burst(limiter, 60, 1000);
    expect(refused(limiter.admit(0, 0)).retryAfterMs).toBe(1000);
    expect(limiter.admit(0, 2000).ok).toBe(true);
  });
});

describe('tokens per minute', () => {
  // Real 429 messages: "Limit 30000, Used 29937, Requested 385. Please try again in 644ms" and
  // "Limit 10000, Used 8554, Requested 3082. Please try again in 9.816s".
  test.each([
    [30_000, 29_937, 385, 644, '644ms'],
    [10_000, 8_554, 3_082, 9_816, '9.816s'],
  ])('tpm %i, used %i, requested %i: try again in %i ms', (tpm, used, requested, waitMs, said) => {
    const limiter = new RateLimiter({ rpm: 0, tpm }, 0);
    expect(limiter.admit(used, 0).ok).toBe(true);
    const r = refused(limiter.admit(requested, 0));
    expect(r).toEqual({ ok: false, by: 'tokens', limit: tpm, used, requested, retryAfterMs: waitMs });
    expect(rateLimited(r, 'gpt-4o', 'org-x').error.message).toBe(
      `Rate limit reached for gpt-4o in organization org-x on tokens per min (TPM): Limit ${tpm}, Used ${used}, Requested ${requested}. ` +
        `Please try again in ${said}. Visit https://platform.openai.com/account/rate-limits to learn more.`,
    );
    expect(limiter.admit(requested, waitMs - 1).ok).toBe(false);
    expect(limiter.admit(requested, waitMs).ok).toBe(true);
  });

  test('a request larger than the bucket is refused for good, worded "Request too large"', () => {
    const limiter = new RateLimiter({ rpm: 60, tpm: 1000 }, 0);
    const r = refused(limiter.admit(1001, 0));
    expect(r).toMatchObject({ by: 'tokens', requested: 1001, retryAfterMs: null });
    expect(rateLimited(r, 'm', 'org-x')).toEqual({
      status: 429,
      error: {
        message:
          'Request too large for m in organization org-x on tokens per min (TPM): Limit 1000, Requested 1001. ' +
          'The input or output tokens must be reduced in order to run successfully. Visit https://platform.openai.com/account/rate-limits to learn more.',
        type: 'tokens',
        param: null,
        code: 'rate_limit_exceeded',
      },
    });
    expect(limiter.snapshot(0).requests?.remaining).toBe(60);
  });

  test('a refusal takes nothing: refused by requests keeps the tokens, refused by tokens keeps the request', () => {
    const limiter = new RateLimiter({ rpm: 2, tpm: 100 }, 0);
    expect(limiter.admit(60, 0).ok).toBe(true);
    expect(refused(limiter.admit(60, 0)).by).toBe('tokens');
    expect(limiter.snapshot(0)).toMatchObject({ requests: { remaining: 1 }, tokens: { remaining: 40 } });
    expect(limiter.admit(40, 0).ok).toBe(true);
    expect(refused(limiter.admit(0, 0)).by).toBe('requests');
    expect(limiter.snapshot(0)).toMatchObject({ requests: { remaining: 0 }, tokens: { remaining: 0 } });
  });
});

describe('limits over shorter windows and changed at run time', () => {
  test('windowSeconds 1: 60 RPM holds one request, refilled at the same rate', () => {
    const limiter = new RateLimiter({ rpm: 60, tpm: 0 }, 0, 1);
    expect(burst(limiter, 5, 0)).toBe(1);
    expect(refused(limiter.admit(0, 0))).toMatchObject({ limit: 60, used: 1, retryAfterMs: 1000 });
    expect(burst(limiter, 5, 10_000)).toBe(1);
  });

  test('a lower limit caps the level; a limit turned on starts full; 0 turns it off', () => {
    const limiters = new KeyedLimiters({ rpm: 60, tpm: 0 });
    const a = limiters.for('a', 0);
    limiters.setLimits({ rpm: 6, tpm: 100 }, 0);
    expect(a.snapshot(0)).toEqual({ requests: { limit: 6, remaining: 6, resetMs: 0 }, tokens: { limit: 100, remaining: 100, resetMs: 0 } });
    const b = limiters.for('b', 0);
    expect(b.snapshot(0).requests?.limit).toBe(6);
    expect(burst(a, 10, 0)).toBe(6);
    expect(burst(b, 1, 0)).toBe(1); // keys do not share a bucket
    limiters.setLimits({ rpm: 0 }, 0);
    expect(a.snapshot(0).requests).toBeUndefined();
    expect(burst(a, 10, 0)).toBe(10);
  });

  test('Bucket.used and resetMs follow the level', () => {
    const bucket = new Bucket(120, 0);
    bucket.take(30, 0);
    expect(bucket.used(0)).toBe(30);
    expect(bucket.resetMs(0)).toBe(15_000);
    expect(bucket.used(5000)).toBe(20);
  });
});

describe('headers', () => {
  test.each([
    [0, '0s'],
    [0.4, '1ms'],
    [12, '12ms'],
    [999, '999ms'],
    [1000, '1s'],
    [9816, '9.816s'],
    [9810, '9.81s'],
    [18_199.2, '18.2s'],
    [60_000, '1m0s'],
    [90_500, '1m30.5s'],
    [360_000, '6m0s'],
    [3_600_000, '1h0m0s'],
    [3_723_004, '1h2m3.004s'],
  ])('formatDuration(%d) is %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  test('x-ratelimit-* after a burst, per kind; a limit that is off has none', () => {
    const limiter = new RateLimiter({ rpm: 60, tpm: 150_000 }, 0);
    limiter.admit(16, 0);
    expect(rateLimitHeaders(limiter.snapshot(0))).toEqual({
      'x-ratelimit-limit-requests': '60',
      'x-ratelimit-remaining-requests': '59',
      'x-ratelimit-reset-requests': '1s',
      'x-ratelimit-limit-tokens': '150000',
      'x-ratelimit-remaining-tokens': '149984',
      'x-ratelimit-reset-tokens': '7ms',
    });
    burst(limiter, 59, 0);
    expect(rateLimitHeaders(limiter.snapshot(0))).toMatchObject({ 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': '1m0s' });
    expect(rateLimitHeaders(new RateLimiter({ rpm: 0, tpm: 10 }, 0).snapshot(0))).toEqual({
      'x-ratelimit-limit-tokens': '10',
      'x-ratelimit-remaining-tokens': '10',
      'x-ratelimit-reset-tokens': '0s',
    });
  });

  test('retry-after is whole seconds rounded up, retry-after-ms the milliseconds', () => {
    expect(retryAfterHeaders(1000)).toEqual({ 'retry-after': '1', 'retry-after-ms': '1000' });
    expect(retryAfterHeaders(18_199)).toEqual({ 'retry-after': '19', 'retry-after-ms': '18199' });
    expect(retryAfterHeaders(20)).toEqual({ 'retry-after': '1', 'retry-after-ms': '20' });
  });
});
