/**
 * Rate limits as OpenAI enforces them, per API key: requests per minute (RPM) and tokens per
 * minute (TPM), each a continuous bucket. Pure: the time comes in as an argument (milliseconds on
 * any monotonic clock), so tests step it by hand and never sleep.
 *
 * A bucket holds up to `capacity` and refills continuously at limit/60 s: it is not a fixed
 * minute window that resets at once. The figures in OpenAI's own 429 messages fit this exactly:
 * "Limit 3, Used 3, Requested 1. Please try again in 20s" (one request every 60/3 s) and "Limit
 * 30000, Used 29937, Requested 385. Please try again in 644ms" (322 tokens at 500 tokens/s), and a
 * full bucket can take a whole minute's limit at once ("Used 3000" of 3000 RPM).
 *
 * OpenAI's guide adds that limits are quantized, enforced over shorter periods (60,000
 * requests/minute may be enforced as 1,000 requests/second). `windowSeconds` models that: the
 * capacity becomes the share of the limit that falls in the window, at the same refill rate. The
 * default, 60, is the behaviour the messages above show.
 *
 * A request costs 1 request and (estimated prompt tokens + max_tokens) tokens up front, admitted
 * only if both buckets hold enough; a refused request takes nothing. Nothing is refunded when the
 * answer turns out shorter: OpenAI's limiter does not learn the real usage either.
 */

/** Milliseconds on a monotonic clock (performance.now by default); injected in tests. */
export type Clock = () => number;

/** Per-minute limits; 0 means no limit of that kind. */
export interface Limits {
  readonly rpm: number;
  readonly tpm: number;
}

export type LimitKind = 'requests' | 'tokens';

const MINUTE_MS = 60_000;
/** Float noise below this is not a real shortfall (levels are sums of products of ms and rates). */
const EPSILON = 1e-9;

/** One continuous bucket. `limit` is per minute; the level refills at limit per 60 s. */
export class Bucket {
  private limit: number;
  private level: number;
  private at: number;

  constructor(
    limit: number,
    now: number,
    private readonly windowSeconds = 60,
  ) {
    this.limit = limit;
    this.level = this.capacity();
    this.at = now;
  }

  /** The most the bucket holds: the limit's share of the enforcement window. */
  capacity(): number {
    return (this.limit * this.windowSeconds) / 60;
  }

  perMinute(): number {
    return this.limit;
  }

  /** The level at `now`, refilled since the last look (time going backwards refills nothing). */
  levelAt(now: number): number {
    if (now > this.at) {
      this.level = Math.min(this.capacity(), this.level + ((now - this.at) * this.limit) / MINUTE_MS);
      this.at = now;
    }
    return this.level;
  }

  /** True if `cost` fits now. */
  fits(cost: number, now: number): boolean {
    return this.levelAt(now) + EPSILON >= cost;
  }

  take(cost: number, now: number): void {
    this.level = this.levelAt(now) - cost;
  }

  /** Milliseconds until `cost` fits (0 if it does now), rounded up; Infinity if it never can. */
  waitMs(cost: number, now: number): number {
    if (cost > this.capacity() + EPSILON) return Infinity;
    const short = cost - this.levelAt(now);
    return short <= EPSILON ? 0 : ceilMs((short * MINUTE_MS) / this.limit);
  }

  /** Milliseconds until the bucket is full again ("resets to its initial state"), rounded up. */
  resetMs(now: number): number {
    const empty = this.capacity() - this.levelAt(now);
    return empty <= EPSILON ? 0 : ceilMs((empty * MINUTE_MS) / this.limit);
  }

  /** What is used of the capacity now (capacity minus level), as OpenAI's "Used N" reports it. */
  used(now: number): number {
    return Math.max(0, Math.ceil(this.capacity() - this.levelAt(now) - EPSILON));
  }

  /** A new per-minute limit from now on: the level refills at the old rate until now, then is capped. */
  setLimit(limit: number, now: number): void {
    this.levelAt(now);
    this.limit = limit;
    this.level = Math.min(this.level, this.capacity());
  }
}

/** Integer milliseconds, rounded up but not past float noise (1000.0000001 is 1000). */
function ceilMs(ms: number): number {
  return Math.ceil(ms - 1e-6);
}

/** Why a request was refused, with the figures OpenAI's 429 message and headers carry. */
export interface Refusal {
  readonly by: LimitKind;
  /** The per-minute limit. */
  readonly limit: number;
  readonly used: number;
  readonly requested: number;
  /** Until the request would fit; null when it never can (more tokens than the bucket holds). */
  readonly retryAfterMs: number | null;
}

export type Admission = { readonly ok: true } | ({ readonly ok: false } & Refusal);

/** Where one limit stands, for the x-ratelimit-* headers. */
export interface LimitState {
  readonly limit: number;
  /** Whole units left now (the level, rounded down). */
  readonly remaining: number;
  /** Until the bucket is full again. */
  readonly resetMs: number;
}

export interface LimitSnapshot {
  readonly requests?: LimitState;
  readonly tokens?: LimitState;
}

/** The two buckets of one API key. */
export class RateLimiter {
  private requests: Bucket | null;
  private tokens: Bucket | null;

  constructor(
    limits: Limits,
    now: number,
    private readonly windowSeconds = 60,
  ) {
    this.requests = limits.rpm > 0 ? new Bucket(limits.rpm, now, windowSeconds) : null;
    this.tokens = limits.tpm > 0 ? new Bucket(limits.tpm, now, windowSeconds) : null;
  }

  /**
   * Admits a request that costs 1 request and `tokens` tokens, taking both, or says why not. A
   * request larger than the token bucket is refused first (it never fits), then requests are
   * checked before tokens, as OpenAI's messages name the request limit when both are short.
   */
  admit(tokens: number, now: number): Admission {
    const r = this.requests;
    const t = this.tokens;
    if (t && !Number.isFinite(t.waitMs(tokens, now))) return { ok: false, ...refusal('tokens', t, tokens, now) };
    if (r && !r.fits(1, now)) return { ok: false, ...refusal('requests', r, 1, now) };
    if (t && !t.fits(tokens, now)) return { ok: false, ...refusal('tokens', t, tokens, now) };
    r?.take(1, now);
    t?.take(tokens, now);
    return { ok: true };
  }

  snapshot(now: number): LimitSnapshot {
    return {
      ...(this.requests && { requests: stateOf(this.requests, now) }),
      ...(this.tokens && { tokens: stateOf(this.tokens, now) }),
    };
  }

  /** New limits from now on; a limit that was off starts with a full bucket, one set to 0 is dropped. */
  setLimits(limits: Partial<Limits>, now: number): void {
    if (limits.rpm !== undefined) this.requests = this.retuned(this.requests, limits.rpm, now);
    if (limits.tpm !== undefined) this.tokens = this.retuned(this.tokens, limits.tpm, now);
  }

  private retuned(bucket: Bucket | null, limit: number, now: number): Bucket | null {
    if (limit <= 0) return null;
    if (!bucket) return new Bucket(limit, now, this.windowSeconds);
    bucket.setLimit(limit, now);
    return bucket;
  }
}

function refusal(by: LimitKind, bucket: Bucket, requested: number, now: number): Refusal {
  const wait = bucket.waitMs(requested, now);
  return {
    by,
    limit: bucket.perMinute(),
    used: bucket.used(now),
    requested,
    retryAfterMs: Number.isFinite(wait) ? wait : null,
  };
}

function stateOf(bucket: Bucket, now: number): LimitState {
  return {
    limit: bucket.perMinute(),
    remaining: Math.max(0, Math.floor(bucket.levelAt(now) + EPSILON)),
    resetMs: bucket.resetMs(now),
  };
}

/** One RateLimiter per API key, created on first use with the current limits. */
export class KeyedLimiters {
  private readonly byKey = new Map<string, RateLimiter>();
  private limits: Limits;

  constructor(
    limits: Limits,
    private readonly windowSeconds = 60,
  ) {
    this.limits = limits;
  }

  for(key: string, now: number): RateLimiter {
    let limiter = this.byKey.get(key);
    if (!limiter) {
      limiter = new RateLimiter(this.limits, now, this.windowSeconds);
      this.byKey.set(key, limiter);
    }
    return limiter;
  }

  current(): Limits {
    return this.limits;
  }

  setLimits(limits: Partial<Limits>, now: number): void {
    this.limits = { rpm: limits.rpm ?? this.limits.rpm, tpm: limits.tpm ?? this.limits.tpm };
    for (const limiter of this.byKey.values()) limiter.setLimits(limits, now);
  }
}
