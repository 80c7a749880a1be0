/**
 * A run's spending limit (`--budget USD`, `--budget-tokens N`): once the tokens reported so far
 * reach it, no new item starts; the items in flight finish and are written (they may spend a
 * little past it: what a started request costs is known only when it ends). Pure.
 */
import type { TokenTotals } from './token-tally.js';
import { formatUsd } from './format.js';

export interface BudgetLimits {
  /** $ over every attempt's priced tokens. */
  readonly usd?: number;
  /** Prompt + completion tokens over every attempt. */
  readonly tokens?: number;
}

/** Why the run must stop starting items, or null while under every limit. */
export function budgetReached(limits: BudgetLimits, totals: TokenTotals | null): string | null {
  if (!totals) return null;
  const used = totals.prompt + totals.completion;
  if (limits.tokens !== undefined && used >= limits.tokens) {
    return `budget reached: ${used} tokens of --budget-tokens ${limits.tokens}`;
  }
  if (limits.usd !== undefined && (totals.costUsd ?? 0) >= limits.usd) {
    return `budget reached: ${formatUsd(totals.costUsd ?? 0)} of --budget ${formatUsd(limits.usd)}`;
  }
  return null;
}
