/**
 * How long to wait before retrying a request: what the server asked for (`retry-after-ms`,
 * `Retry-After` in seconds or as an HTTP date), else exponential backoff with jitter; capped
 * either way. Pure: the clock and the random source are passed in.
 */
import { backoffMs } from '../../core/retry.js';

export const RETRY_BASE_MS = 500;
export const RETRY_CAP_MS = 30_000;

export interface HeaderSource {
  get(name: string): string | null;
}

/** The wait a 429/5xx response asks for, in ms; null when it does not say (or says nonsense). */
export function retryAfterMs(headers: HeaderSource, nowMs: number): number | null {
  const ms = headers.get('retry-after-ms')?.trim();
  if (ms && /^\d+(\.\d+)?$/.test(ms)) return Math.ceil(Number(ms));
  const after = headers.get('retry-after')?.trim();
  if (!after) return null;
  if (/^\d+(\.\d+)?$/.test(after)) return Math.ceil(Number(after) * 1000);
  if (!/^[A-Za-z]{3}/.test(after)) return null; // every HTTP date form starts with the day's name
  const at = Date.parse(after);
  return Number.isNaN(at) ? null : Math.max(0, at - nowMs);
}

/** The wait before retry number `retry` (1-based). */
export function retryDelayMs(retry: number, hintMs: number | null, random: () => number = Math.random): number {
  if (hintMs !== null) return Math.min(RETRY_CAP_MS, Math.max(0, hintMs));
  return backoffMs({ retries: Number.MAX_SAFE_INTEGER, baseMs: RETRY_BASE_MS, maxMs: RETRY_CAP_MS }, retry, random);
}
