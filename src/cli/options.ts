/** Parsers and validators for flag values: one clear line for each mistake. */
import type { BudgetLimits } from '../core/budget.js';
import { UsageError } from '../core/errors.js';
import { parseFailureLimit, type FailureLimit } from '../core/fail-fast.js';

/**
 * Parses a numeric flag value or throws a UsageError naming the flag. By hand, not with zod:
 * zod is a hundred modules, and every command would load them before doing anything.
 */
export function parseIntFlag(flag: string, value: string | undefined, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (value.trim() === '') throw new UsageError(`${flag} needs a number`);
  const n = Number(value);
  const problem = !Number.isInteger(n) ? 'must be a whole number' : n < min ? `must be at least ${min}` : n > max ? `must be at most ${max}` : null;
  if (problem) throw new UsageError(`${flag} ${problem} (got "${value}")`);
  return n;
}

/** `--param k=v`, repeatable, into a record. */
export function parseParams(pairs: readonly string[]): Record<string, string> {
  const params: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`--param needs KEY=VALUE (got "${pair}")`);
    params[pair.slice(0, eq).trim()] = pair.slice(eq + 1);
  }
  return params;
}

/** `--max-failures N|P%`. */
export function parseMaxFailures(value: string | undefined): FailureLimit | null {
  if (value === undefined) return null;
  const limit = parseFailureLimit(value);
  if (!limit) throw new UsageError(`--max-failures must be a whole number of items (at least 1) or a percentage such as 5% (got "${value}")`);
  return limit;
}

/** `--budget USD` and `--budget-tokens N`, checked; undefined when neither is given. */
export function parseBudget(usd: string | undefined, tokens: string | undefined): BudgetLimits | undefined {
  if (usd === undefined && tokens === undefined) return undefined;
  const dollars = usd === undefined ? undefined : Number(usd);
  if (dollars !== undefined && (usd!.trim() === '' || !Number.isFinite(dollars) || dollars <= 0)) {
    throw new UsageError(`--budget must be an amount of $ above 0, e.g. 5 or 0.50 (got "${usd}")`);
  }
  const count = parseIntFlag('--budget-tokens', tokens, 1, Number.MAX_SAFE_INTEGER);
  return { ...(dollars === undefined ? {} : { usd: dollars }), ...(count === undefined ? {} : { tokens: count }) };
}

/** Commander collector for repeatable flags. */
export const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

export const FORMATS = ['auto', 'txt', 'jsonl'] as const;
export function parseFormat(value: string): (typeof FORMATS)[number] {
  if ((FORMATS as readonly string[]).includes(value)) return value as (typeof FORMATS)[number];
  throw new UsageError(`--format must be one of ${FORMATS.join(', ')} (got "${value}")`);
}
