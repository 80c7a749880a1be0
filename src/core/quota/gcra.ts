/**
 * A rate quota as reservations on two continuous buckets, requests and tokens: the generic cell
 * rate algorithm (GCRA) with a cost per request. Pure: state is three plain numbers, time comes
 * in as an argument (ms on one monotonic clock), so the Redis store can run the same arithmetic in
 * a Lua script with the server's TIME.
 *
 * The buckets are the ones OpenAI enforces (src/testing/openai-server/buckets.ts): each holds up to
 * `capacity` units (a minute's limit by default) and refills at limit/60 s, continuously. GCRA keeps,
 * per bucket, one number instead of a level: its theoretical arrival time (TAT), the moment the
 * bucket is full again. At time t the bucket holds `capacity - (tat - t) / interval` units, where
 * `interval` is 60,000 ms / limit, the time one unit takes to refill.
 *
 * A reservation is taken now for a moment in the future: `reserve` commits the cost at once and
 * returns when it is due, the first moment both buckets hold the cost, and the caller sleeps until
 * then. Reservations are due in the order they were made; a server that admits what fits admits
 * every one of them at its due time, and up to `jitterMs` later, in any order (see QuotaRates).
 */

/** Per-minute limits, resolved; 0 means no limit of that kind. */
export interface QuotaRates {
  readonly rpm: number;
  readonly tpm: number;
  /**
   * What a bucket holds, as the limit's share of this window: capacity = limit × windowSeconds / 60.
   * 60 (a whole minute's limit at once) is what OpenAI's 429 messages show; OpenAI's guide warns
   * that limits may be enforced over shorter periods, which a smaller window models.
   */
  readonly windowSeconds: number;
  /**
   * How much later than its due time a request may reach the server, varying from one request to
   * the next (ms). A bucket that is full wastes the refill it cannot hold, so a request that
   * arrives late from a full bucket leaves the server's bucket behind ours; each reservation's
   * refill is therefore reckoned from this long after its due time. It costs nothing while
   * requests queue (the bucket is never full then) and at most this long's refill once a bucket
   * fills up. 0: exact spacing, for a clock that is the server's.
   */
  readonly jitterMs: number;
}

export interface QuotaCost {
  readonly requests: number;
  readonly tokens: number;
}

export interface QuotaState {
  /** When the requests bucket is full again (ms); anything at or before now means full. */
  readonly requestsTat: number;
  readonly tokensTat: number;
  /** No reservation is due before this (a server's retry-after). */
  readonly pausedUntil: number;
}

/** A key never used: both buckets full, no pause. */
export const FRESH_STATE: QuotaState = { requestsTat: 0, tokensTat: 0, pausedUntil: 0 };

export type LimitKind = 'requests' | 'tokens';

export type Reservation =
  | { readonly ok: true; readonly state: QuotaState; readonly dueAtMs: number }
  /** The cost is more than a bucket ever holds: no wait makes it fit. */
  | ({ readonly ok: false } & TooLarge);

const MINUTE_MS = 60_000;

/** One bucket's constants: ms per unit of refill, and the most it holds. */
interface Bucket {
  readonly interval: number;
  readonly capacity: number;
}

/** The bucket of a per-minute limit, or null when there is none. A requests bucket holds one request at least. */
function bucket(perMinute: number, windowSeconds: number, kind: LimitKind): Bucket | null {
  if (!(perMinute > 0)) return null;
  const capacity = (perMinute * windowSeconds) / 60;
  return { interval: MINUTE_MS / perMinute, capacity: kind === 'requests' ? Math.max(1, capacity) : capacity };
}

const requestsBucket = (rates: QuotaRates): Bucket | null => bucket(rates.rpm, rates.windowSeconds, 'requests');
const tokensBucket = (rates: QuotaRates): Bucket | null => bucket(rates.tpm, rates.windowSeconds, 'tokens');

/** The first moment a bucket whose TAT is `tat` holds `cost`. */
const earliest = (tat: number, cost: number, b: Bucket): number => tat - (b.capacity - cost) * b.interval;

/** The TAT after `cost` is taken at `at` (a full bucket refills no further: max(tat, at)). */
const taken = (tat: number, at: number, cost: number, b: Bucket): number => Math.max(tat, at) + cost * b.interval;

/** The jitter allowance, checked: a negative or absent figure is none. */
const allowance = (rates: QuotaRates): number => (rates.jitterMs > 0 ? rates.jitterMs : 0);

/** Why a cost can never be reserved: it is more than its bucket ever holds. */
export interface TooLarge {
  readonly kind: LimitKind;
  readonly cost: number;
  readonly capacity: number;
}

/** The dimension a cost never fits in (OpenAI answers such a request "Request too large"), or null. */
export function tooLarge(cost: QuotaCost, rates: QuotaRates): TooLarge | null {
  const r = requestsBucket(rates);
  const t = tokensBucket(rates);
  if (r && cost.requests > r.capacity) return { kind: 'requests', cost: cost.requests, capacity: r.capacity };
  if (t && cost.tokens > t.capacity) return { kind: 'tokens', cost: cost.tokens, capacity: t.capacity };
  return null;
}

/**
 * Reserves `cost` in both buckets at once and says when it is due: not before now, not before a
 * pause ends, and not before each bucket holds its part; the later of the two. A cost of 0 in a
 * dimension, or no limit of that kind, takes nothing from it.
 */
export function reserve(state: QuotaState, cost: QuotaCost, rates: QuotaRates, now: number): Reservation {
  const never = tooLarge(cost, rates);
  if (never) return { ok: false, ...never };
  const r = cost.requests > 0 ? requestsBucket(rates) : null;
  const t = cost.tokens > 0 ? tokensBucket(rates) : null;
  let due = Math.max(now, state.pausedUntil);
  if (r) due = Math.max(due, earliest(state.requestsTat, cost.requests, r));
  if (t) due = Math.max(due, earliest(state.tokensTat, cost.tokens, t));
  return {
    ok: true,
    dueAtMs: due,
    state: {
      // Taken when the request reaches the server, which may be as late as due + jitter.
      requestsTat: r ? taken(state.requestsTat, due + allowance(rates), cost.requests, r) : state.requestsTat,
      tokensTat: t ? taken(state.tokensTat, due + allowance(rates), cost.tokens, t) : state.tokensTat,
      pausedUntil: state.pausedUntil,
    },
  };
}

/**
 * Gives back a reservation that was never sent (aborted while it waited). Reservations made after
 * it keep their due times; the room goes to the next one made. It undoes `reserve` exactly in a
 * bucket that was not full when the reservation was taken (the one that set its due time); in the
 * other it may leave a little more owed, never less. A TAT below now only means a full bucket.
 */
export function refund(state: QuotaState, cost: QuotaCost, rates: QuotaRates): QuotaState {
  const r = cost.requests > 0 ? requestsBucket(rates) : null;
  const t = cost.tokens > 0 ? tokensBucket(rates) : null;
  return {
    requestsTat: r ? state.requestsTat - cost.requests * r.interval : state.requestsTat,
    tokensTat: t ? state.tokensTat - cost.tokens * t.interval : state.tokensTat,
    pausedUntil: state.pausedUntil,
  };
}

/**
 * Takes `cost` now, with no due time: what a bucket must count when it learns of calls already on
 * their way (sent before its limit was known).
 */
export function charge(state: QuotaState, cost: QuotaCost, rates: QuotaRates, now: number): QuotaState {
  const r = cost.requests > 0 ? requestsBucket(rates) : null;
  const t = cost.tokens > 0 ? tokensBucket(rates) : null;
  return {
    requestsTat: r ? taken(state.requestsTat, now, cost.requests, r) : state.requestsTat,
    tokensTat: t ? taken(state.tokensTat, now, cost.tokens, t) : state.tokensTat,
    pausedUntil: state.pausedUntil,
  };
}

/**
 * Corrects the tokens bucket once a request's real usage is known: `delta` is real minus estimated.
 * More is always taken (the server counted it, or will: reasoning tokens, a prompt longer than its
 * estimate). Less is given back only when the server is known to refund unused tokens: OpenAI's
 * limiter charges prompt + max_tokens up front and its guide mentions no refund (and the local
 * server gives none), so by default an answer shorter than max_tokens changes nothing.
 */
export function correct(state: QuotaState, delta: number, rates: QuotaRates, serverRefunds: boolean, now: number): QuotaState {
  const t = tokensBucket(rates);
  if (!t || delta === 0 || !Number.isFinite(delta)) return state;
  if (delta > 0) return { ...state, tokensTat: taken(state.tokensTat, now, delta, t) };
  return serverRefunds ? { ...state, tokensTat: state.tokensTat + delta * t.interval } : state;
}

/**
 * The server refused a request of `cost` and said when it would fit (a 429's or 503's retry-after):
 * nothing is due before `untilMs`, and each bucket the request draws on is taken to hold just its
 * cost then: the emptiest buckets that agree with the server, whose own bucket was emptier than
 * ours. It costs at most a burst: the buckets still refill at the full rate. (Reservations handed
 * out and not yet due are the caller's to refund before this and to make again after it.)
 */
export function pause(state: QuotaState, untilMs: number, cost: QuotaCost, rates: QuotaRates): QuotaState {
  const r = cost.requests > 0 ? requestsBucket(rates) : null;
  const t = cost.tokens > 0 ? tokensBucket(rates) : null;
  return {
    requestsTat: r ? Math.max(state.requestsTat, untilMs + (r.capacity - Math.min(cost.requests, r.capacity)) * r.interval) : state.requestsTat,
    tokensTat: t ? Math.max(state.tokensTat, untilMs + (t.capacity - Math.min(cost.tokens, t.capacity)) * t.interval) : state.tokensTat,
    pausedUntil: Math.max(state.pausedUntil, untilMs),
  };
}

/** What the server said of one bucket (x-ratelimit-remaining-* and x-ratelimit-reset-*). */
export interface BucketReport {
  /** Units left now. */
  readonly remaining?: number;
  /** Until the bucket is full again. */
  readonly resetMs?: number;
}

/**
 * Takes in what the server said of its buckets. Only ever lowers our view: a server that says it
 * holds more than we think is behind us, not ahead. The headers were written when the answer's
 * request was admitted, before the requests sent after it arrived: `pending` is what those take
 * (the caller's best count), added to the server's figure. Remaining counts are read first (a
 * count is what OpenAI's buckets keep); the reset time stands in when no count came.
 */
export function sync(
  state: QuotaState,
  report: { readonly requests?: BucketReport; readonly tokens?: BucketReport },
  rates: QuotaRates,
  now: number,
  pending: QuotaCost = { requests: 0, tokens: 0 },
): QuotaState {
  return {
    requestsTat: synced(state.requestsTat, report.requests, requestsBucket(rates), now, pending.requests),
    tokensTat: synced(state.tokensTat, report.tokens, tokensBucket(rates), now, pending.tokens),
    pausedUntil: state.pausedUntil,
  };
}

function synced(tat: number, report: BucketReport | undefined, b: Bucket | null, now: number, pending: number): number {
  if (!b || !report) return tat;
  const owed = report.remaining !== undefined ? (b.capacity - report.remaining) * b.interval : report.resetMs;
  if (owed === undefined) return tat;
  return Math.max(tat, now + owed + pending * b.interval);
}

/**
 * New limits from now on. What is owed (the TAT ahead of now) is kept in units and repaid at the
 * new rate; a bucket that had no limit starts full, as a server's new bucket does.
 */
export function retune(state: QuotaState, from: QuotaRates, to: QuotaRates, now: number): QuotaState {
  return {
    requestsTat: retuned(state.requestsTat, from.rpm, to.rpm, now),
    tokensTat: retuned(state.tokensTat, from.tpm, to.tpm, now),
    pausedUntil: state.pausedUntil,
  };
}

function retuned(tat: number, from: number, to: number, now: number): number {
  if (!(to > 0) || from === to) return tat;
  if (!(from > 0)) return 0;
  const owed = Math.max(0, tat - now) / (MINUTE_MS / from);
  return now + owed * (MINUTE_MS / to);
}
