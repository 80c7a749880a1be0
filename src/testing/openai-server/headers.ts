/**
 * The rate-limit headers of an answer, in OpenAI's wire format. Pure.
 *
 * - `x-ratelimit-limit-requests|tokens`: the per-minute limit;
 * - `x-ratelimit-remaining-requests|tokens`: what is left now (after this request, on a 2xx);
 * - `x-ratelimit-reset-requests|tokens`: until the bucket is full again, as a Go duration
 *   (`12ms`, `1s`, `6m0s`: the samples in OpenAI's guide and in real answers);
 * - on a 429, `retry-after` (whole seconds, rounded up) and `retry-after-ms`: the header the
 *   official `openai` clients read first (openai-node's `retryRequest` takes `retry-after-ms`,
 *   then `retry-after`, then falls back to its own exponential backoff).
 *
 * A limit that is off (0) has no headers of its kind.
 */
import type { LimitSnapshot, LimitState } from './buckets.js';

/**
 * A duration as Go's `time.Duration.String()` writes it, at millisecond precision (rounded up):
 * `0s`, `120ms`, `1s`, `9.816s`, `6m0s`, `1h0m0s`. OpenAI's headers and its "Please try again in
 * 9.816s" messages use this format.
 */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.ceil(ms - 1e-6));
  if (total === 0) return '0s';
  if (total < 1000) return `${total}ms`;
  const hours = Math.floor(total / 3_600_000);
  const minutes = Math.floor((total % 3_600_000) / 60_000);
  const secondsMs = total % 60_000;
  const seconds = secondsMs % 1000 === 0 ? String(secondsMs / 1000) : (secondsMs / 1000).toFixed(3).replace(/0+$/, '');
  if (hours > 0) return `${hours}h${minutes}m${seconds}s`;
  if (minutes > 0) return `${minutes}m${seconds}s`;
  return `${seconds}s`;
}

export type HeaderMap = Record<string, string>;

/** The x-ratelimit-* headers of a key's limits. */
export function rateLimitHeaders(snapshot: LimitSnapshot): HeaderMap {
  return { ...limitHeaders('requests', snapshot.requests), ...limitHeaders('tokens', snapshot.tokens) };
}

function limitHeaders(kind: 'requests' | 'tokens', state: LimitState | undefined): HeaderMap {
  if (!state) return {};
  return {
    [`x-ratelimit-limit-${kind}`]: String(state.limit),
    [`x-ratelimit-remaining-${kind}`]: String(state.remaining),
    [`x-ratelimit-reset-${kind}`]: formatDuration(state.resetMs),
  };
}

/** `retry-after` (seconds, rounded up, at least 1) and `retry-after-ms` of a 429. */
export function retryAfterHeaders(waitMs: number): HeaderMap {
  const ms = Math.max(0, Math.ceil(waitMs - 1e-6));
  return { 'retry-after': String(Math.max(1, Math.ceil(ms / 1000))), 'retry-after-ms': String(ms) };
}
