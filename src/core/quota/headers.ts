/**
 * What a server's answer says of its rate limits, read from OpenAI's headers. Pure.
 *
 * - `x-ratelimit-limit-requests|tokens`: the per-minute limit;
 * - `x-ratelimit-remaining-requests|tokens`: what is left now;
 * - `x-ratelimit-reset-requests|tokens`: until the bucket is full again, as a Go duration
 *   (`1s`, `6m0s`, `120ms`, `2m59.56s`: OpenAI's guide and real answers);
 * - `retry-after-ms` (what the official clients read first), else `retry-after`: seconds, or an
 *   HTTP date.
 *
 * A header that does not parse is left out, as if absent: a client must never stall on a server's typo.
 */
import type { BucketReport } from './gcra.js';

export interface LimitReport extends BucketReport {
  /** The per-minute limit. */
  readonly limit?: number;
}

export interface RateObservation {
  readonly requests?: LimitReport;
  readonly tokens?: LimitReport;
  /** How long the server asks us to wait (a 429's or 503's retry-after), in ms. */
  readonly retryAfterMs?: number;
}

/** Headers as fetch gives them (`Headers`), or as node:http does (a record; any case). */
export type HeaderSource = { get(name: string): string | null } | Readonly<Record<string, string | readonly string[] | number | undefined>>;

const UNIT_MS: Readonly<Record<string, number>> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 1e-3, µs: 1e-3, μs: 1e-3, ns: 1e-6 };
const PART = /(\d+(?:\.\d*)?|\.\d+)(ms|us|µs|μs|ns|h|m|s)/y;

/**
 * A duration in Go's format (`time.Duration.String()`), in ms: `1h2m3.5s`, `6m0s`, `120ms`, `0s`.
 * A bare number is taken as seconds (some servers send that). Undefined if it does not parse.
 */
export function parseDuration(text: string): number | undefined {
  const s = text.trim();
  if (s === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s) * 1000;
  let ms = 0;
  PART.lastIndex = 0;
  while (PART.lastIndex < s.length) {
    const at = PART.lastIndex;
    const m = PART.exec(s);
    if (!m || m.index !== at) return undefined;
    ms += Number(m[1]) * UNIT_MS[m[2]!]!;
  }
  return ms;
}

/**
 * A retry-after value in ms: seconds (`2`, `1.5`) or an HTTP date, against `nowEpochMs` (the wall
 * clock: a date is wall time). A date in the past means no wait. Undefined if it does not parse.
 */
export function parseRetryAfter(text: string, nowEpochMs: number): number | undefined {
  const s = text.trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s) * 1000;
  const at = Date.parse(s);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowEpochMs);
}

/** Everything the answer's headers say of the server's limits (an empty object when nothing). */
export function readRateHeaders(headers: HeaderSource | undefined, nowEpochMs: number): RateObservation {
  if (!headers) return {};
  const get = headerGetter(headers);
  const requests = limitReport(get, 'requests');
  const tokens = limitReport(get, 'tokens');
  const retryMs = count(get('retry-after-ms'));
  const retryRaw = get('retry-after');
  const retryAfterMs = retryMs ?? (retryRaw === undefined ? undefined : parseRetryAfter(retryRaw, nowEpochMs));
  return { ...(requests && { requests }), ...(tokens && { tokens }), ...(retryAfterMs !== undefined && { retryAfterMs }) };
}

/** True when the observation says anything of the server's limits (headers, or a retry-after). */
export function saysAnything(obs: RateObservation): boolean {
  return obs.requests !== undefined || obs.tokens !== undefined || obs.retryAfterMs !== undefined;
}

function limitReport(get: (name: string) => string | undefined, kind: 'requests' | 'tokens'): LimitReport | undefined {
  const limit = count(get(`x-ratelimit-limit-${kind}`));
  const remaining = count(get(`x-ratelimit-remaining-${kind}`));
  const rawReset = get(`x-ratelimit-reset-${kind}`);
  const resetMs = rawReset === undefined ? undefined : parseDuration(rawReset);
  if (limit === undefined && remaining === undefined && resetMs === undefined) return undefined;
  return { ...(limit !== undefined && limit > 0 && { limit }), ...(remaining !== undefined && { remaining }), ...(resetMs !== undefined && { resetMs }) };
}

/** A non-negative finite number, or undefined. */
function count(text: string | undefined): number | undefined {
  if (text === undefined || !/^\s*\d+(\.\d+)?\s*$/.test(text)) return undefined;
  return Number(text);
}

function headerGetter(headers: HeaderSource): (name: string) => string | undefined {
  if (typeof (headers as { get?: unknown }).get === 'function') {
    const h = headers as { get(name: string): string | null };
    return (name) => h.get(name) ?? undefined;
  }
  const lower = new Map<string, string>();
  for (const [k, v] of Object.entries(headers as Record<string, unknown>)) {
    if (v === undefined) continue;
    lower.set(k.toLowerCase(), Array.isArray(v) ? String(v[0]) : String(v));
  }
  return (name) => lower.get(name);
}
