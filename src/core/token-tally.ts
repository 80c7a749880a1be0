/**
 * The run's token totals and what they cost: every attempt's reported usage added up, failed
 * attempts included (they were billed). Pure; fed the events a job run emits.
 */
import type { JobEvent } from './events.js';
import type { ItemMeta } from './item-meta.js';
import { costOf, type Pricer } from './pricing.js';

export interface TokenTotals {
  readonly prompt: number;
  readonly completion: number;
  /** Some of them were counted by slowwork, not reported by the server. */
  readonly estimated: boolean;
  /** $ of the priced ones; absent when none could be priced. */
  readonly costUsd?: number;
  /** Tokens of answers whose model has no known price (not in costUsd). */
  readonly unpriced?: number;
}

export class TokenTally {
  private prompt = 0;
  private completion = 0;
  private estimated = false;
  private any = false;
  private cost = 0;
  private priced = false;
  private unpriced = 0;

  /** `pricer`: what a model's tokens cost; without one, no cost is kept. */
  constructor(private readonly pricer?: Pricer) {}

  /** Counts the usage an attempt-ending event carries, if any; returns its completion tokens. */
  addFrom(e: JobEvent): number {
    if (e.type !== 'item-done' && e.type !== 'item-retry' && e.type !== 'item-failed') return 0;
    return e.meta?.usage ? this.add(e.meta) : 0;
  }

  add(meta: ItemMeta): number {
    const usage = meta.usage;
    if (!usage) return 0;
    this.any = true;
    this.prompt += usage.prompt_tokens;
    this.completion += usage.completion_tokens;
    if (usage.estimated) this.estimated = true;
    if (this.pricer) {
      const price = this.pricer(meta.model);
      if (price) {
        this.cost += costOf(price, usage.prompt_tokens, usage.completion_tokens);
        this.priced = true;
      } else this.unpriced += usage.prompt_tokens + usage.completion_tokens;
    }
    return usage.completion_tokens;
  }

  /** Null until some processor reported usage. */
  totals(): TokenTotals | null {
    if (!this.any) return null;
    return {
      prompt: this.prompt,
      completion: this.completion,
      estimated: this.estimated,
      ...(this.priced ? { costUsd: this.cost } : {}),
      ...(this.unpriced > 0 ? { unpriced: this.unpriced } : {}),
    };
  }
}
