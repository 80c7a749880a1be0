/**
 * What a processor passes to `ctx.limit`, checked, and the errors a limit can end with. Pure.
 */
import type { QuotaCost, QuotaRates, TooLarge } from './gcra.js';

/** What one call costs; default one request and no tokens. */
export interface QuotaCostInput {
  readonly requests?: number;
  /** Estimated prompt tokens plus max_tokens, as OpenAI's limiter charges up front. */
  readonly tokens?: number;
}

/** The limits of a key, as the caller knows them; a limit not given is learned from the server's headers. */
export interface QuotaLimits {
  /** Requests per minute. */
  readonly rpm?: number;
  /** Tokens per minute. */
  readonly tpm?: number;
  /** The burst a bucket allows, as the limit's share of this many seconds (default 60: a minute's limit). */
  readonly windowSeconds?: number;
  /**
   * How much later than its due time a call may reach the server, varying from call to call, in ms
   * (default 1000: a first call opens a connection, a thread may be busy). Kept as a margin while a
   * bucket is nearly full (gcra.ts, QuotaRates): it trims the first burst by this long's refill and
   * costs nothing while calls queue, in a window longer than it. 0: exact spacing.
   */
  readonly jitterMs?: number;
  /** The server gives back tokens a request did not use (OpenAI does not): `done` may then lower the estimate. */
  readonly serverRefunds?: boolean;
}

/** The limits learned from a server's headers, per minute (0: not learned). */
export interface LearnedLimits {
  readonly rpm: number;
  readonly tpm: number;
}

export const DEFAULT_WINDOW_SECONDS = 60;
export const DEFAULT_JITTER_MS = 1000;

/** The limits in force: the caller's, else the server's. */
export function resolveRates(given: QuotaLimits, learned: LearnedLimits): QuotaRates {
  return {
    rpm: given.rpm ?? learned.rpm,
    tpm: given.tpm ?? learned.tpm,
    windowSeconds: given.windowSeconds ?? DEFAULT_WINDOW_SECONDS,
    jitterMs: given.jitterMs ?? DEFAULT_JITTER_MS,
  };
}

/** A processor called ctx.limit with values that are not a cost or a limit: a bug in the processor. */
export class QuotaArgumentError extends TypeError {
  constructor(message: string) {
    super(`ctx.limit: ${message}`);
    this.name = 'QuotaArgumentError';
  }
}

/** A cost that never fits its bucket: waiting would never help, so the call fails at once. */
export class QuotaTooLargeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'QuotaTooLargeError';
  }
}

/** The message of a QuotaTooLargeError, naming what to change. */
export function tooLargeMessage(key: string, never: TooLarge, rates: QuotaRates): string {
  const perMinute = never.kind === 'requests' ? `rpm ${rates.rpm}` : `tpm ${rates.tpm}`;
  const window = rates.windowSeconds === DEFAULT_WINDOW_SECONDS ? '' : ` over a ${rates.windowSeconds} s window`;
  const fix = never.kind === 'tokens' ? 'lower max_tokens or shorten the prompt, or raise tpm' : 'ask for fewer requests at once';
  return `quota ${key}: a request costs ${never.cost} ${never.kind} but the limit holds at most ${Math.floor(never.capacity)} (${perMinute}${window}): ${fix}`;
}

const isCount = (n: unknown): n is number => typeof n === 'number' && Number.isFinite(n) && n >= 0;
const isRate = (n: unknown): n is number => typeof n === 'number' && Number.isFinite(n) && n > 0;

export function checkedKey(key: unknown): string {
  if (typeof key !== 'string' || key === '') throw new QuotaArgumentError(`the key must be a non-empty string (got ${JSON.stringify(key)})`);
  return key;
}

export function checkedCost(cost: QuotaCostInput | undefined): QuotaCost {
  const requests = cost?.requests ?? 1;
  const tokens = cost?.tokens ?? 0;
  if (!isCount(requests)) throw new QuotaArgumentError(`cost.requests must be a number >= 0 (got ${String(requests)})`);
  if (!isCount(tokens)) throw new QuotaArgumentError(`cost.tokens must be a number >= 0 (got ${String(tokens)})`);
  return { requests, tokens };
}

/** The limits, checked; undefined stays undefined (the key keeps the limits it has). */
export function checkedLimits(limits: QuotaLimits | undefined): QuotaLimits | undefined {
  if (limits === undefined) return undefined;
  for (const name of ['rpm', 'tpm', 'windowSeconds'] as const) {
    const v = limits[name];
    if (v !== undefined && !isRate(v)) throw new QuotaArgumentError(`limits.${name} must be a number > 0 (got ${String(v)}); leave it out for none`);
  }
  if (limits.jitterMs !== undefined && !isCount(limits.jitterMs)) throw new QuotaArgumentError(`limits.jitterMs must be a number >= 0 (got ${String(limits.jitterMs)})`);
  // Only the known fields: the limits cross a thread boundary.
  return {
    ...(limits.rpm !== undefined && { rpm: limits.rpm }),
    ...(limits.tpm !== undefined && { tpm: limits.tpm }),
    ...(limits.windowSeconds !== undefined && { windowSeconds: limits.windowSeconds }),
    ...(limits.jitterMs !== undefined && { jitterMs: limits.jitterMs }),
    ...(limits.serverRefunds === true && { serverRefunds: true }),
  };
}
