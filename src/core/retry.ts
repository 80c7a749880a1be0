/**
 * Retry policy: exponential backoff, half of it jitter, capped. Pure: the random source is passed
 * in so tests can pin it.
 */
export interface RetryPolicy {
  /** Retries after the first attempt. */
  readonly retries: number;
  readonly baseMs: number;
  readonly maxMs: number;
}

export const defaultRetryPolicy = (retries: number): RetryPolicy => ({ retries, baseMs: 200, maxMs: 10_000 });

/** True if an item whose `attempt`-th try failed (a charged failure) gets another try. */
export function shouldRetry(policy: RetryPolicy, chargedFailures: number): boolean {
  return chargedFailures <= policy.retries;
}

/**
 * Delay before the next try after `chargedFailures` failures (1-based): half fixed, half jitter,
 * so retries of a batch that failed together spread out instead of stampeding.
 */
export function backoffMs(policy: RetryPolicy, chargedFailures: number, random: () => number = Math.random): number {
  const exp = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, chargedFailures - 1));
  return Math.round(exp / 2 + random() * (exp / 2));
}
