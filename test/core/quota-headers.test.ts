/**
 * Reading OpenAI's rate-limit headers (src/core/quota/headers.ts): the samples of OpenAI's rate
 * limits guide, the local server's own answers, Go durations, retry-after in both forms.
 */
import { describe, expect, it } from 'vitest';
import { parseDuration, parseRetryAfter, readRateHeaders, saysAnything } from '../../src/core/quota/headers.js';
import { formatDuration, rateLimitHeaders, retryAfterHeaders } from '../../src/testing/openai-server/headers.js';

const NOW = Date.parse('2025-01-02T03:04:05Z');

describe('readRateHeaders', () => {
  it("reads the sample answer of OpenAI's rate limits guide", () => {
    // https://platform.openai.com/docs/guides/rate-limits, "Rate limits in headers"
    const headers = new Headers({
      'x-ratelimit-limit-requests': '60',
      'x-ratelimit-limit-tokens': '150000',
      'x-ratelimit-remaining-requests': '59',
      'x-ratelimit-remaining-tokens': '149984',
      'x-ratelimit-reset-requests': '1s',
      'x-ratelimit-reset-tokens': '6m0s',
    });
    expect(readRateHeaders(headers, NOW)).toEqual({
      requests: { limit: 60, remaining: 59, resetMs: 1000 },
      tokens: { limit: 150_000, remaining: 149_984, resetMs: 360_000 },
    });
  });

  it('reads node:http header records in any case, and a 429 with retry-after-ms before retry-after', () => {
    const obs = readRateHeaders({ 'Retry-After': '2', 'retry-after-ms': '1500', 'X-RateLimit-Remaining-Requests': '0', other: ['a', 'b'] }, NOW);
    expect(obs).toEqual({ requests: { remaining: 0 }, retryAfterMs: 1500 });
    expect(saysAnything(obs)).toBe(true);
  });

  it("round-trips what the local OpenAI server sends", () => {
    const sent = {
      ...rateLimitHeaders({ requests: { limit: 1200, remaining: 17, resetMs: 59_151 }, tokens: { limit: 40_000, remaining: 0, resetMs: 9816 } }),
      ...retryAfterHeaders(644),
    };
    expect(readRateHeaders(sent, NOW)).toEqual({
      requests: { limit: 1200, remaining: 17, resetMs: 59_151 },
      tokens: { limit: 40_000, remaining: 0, resetMs: 9816 },
      retryAfterMs: 644,
    });
  });

  it('says nothing for no headers, and leaves out what does not parse', () => {
    expect(readRateHeaders(undefined, NOW)).toEqual({});
    expect(saysAnything(readRateHeaders(new Headers({ 'content-type': 'text/plain' }), NOW))).toBe(false);
    expect(readRateHeaders({ 'x-ratelimit-limit-requests': 'lots', 'x-ratelimit-reset-tokens': 'soon', 'retry-after': 'later', 'retry-after-ms': '-5' }, NOW)).toEqual({});
  });
});

describe('durations and retry-after', () => {
  it.for([
    ['1s', 1000],
    ['6m0s', 360_000],
    ['120ms', 120],
    ['1h2m3.5s', 3_723_500],
    ['2m59.56s', 179_560],
    ['7.66s', 7660],
    ['0s', 0],
    ['1.5', 1500],
    ['250us', 0.25],
  ] as const)('%s is %d ms', ([text, ms]) => {
    expect(parseDuration(text)).toBeCloseTo(ms, 9);
  });

  it.for(['', 's', '1x', '1s2', '-1s', '1 s'])('%j does not parse', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });

  it("round-trips the local server's durations", () => {
    for (const ms of [0, 7, 999, 1000, 9816, 60_000, 360_000, 3_723_500]) expect(parseDuration(formatDuration(ms))).toBe(ms);
  });

  it('retry-after: seconds, or an HTTP date against the wall clock (a past date is no wait)', () => {
    expect(parseRetryAfter('20', NOW)).toBe(20_000);
    expect(parseRetryAfter('0.5', NOW)).toBe(500);
    expect(parseRetryAfter(new Date(NOW + 3000).toUTCString(), NOW)).toBe(3000);
    expect(parseRetryAfter(new Date(NOW - 3000).toUTCString(), NOW)).toBe(0);
    expect(parseRetryAfter('tomorrow-ish', NOW)).toBeUndefined();
  });
});
