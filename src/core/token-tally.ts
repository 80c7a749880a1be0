/**
 * The run's token totals: every attempt's reported usage added up, failed attempts included
 * (they were billed). Pure; fed the events a job run emits.
 */
import type { JobEvent } from './events.js';
import type { TokenUsage } from './item-meta.js';

export interface TokenTotals {
  readonly prompt: number;
  readonly completion: number;
  /** Some of them were counted by slowwork, not reported by the server. */
  readonly estimated: boolean;
}

export class TokenTally {
  private prompt = 0;
  private completion = 0;
  private estimated = false;
  private any = false;

  /** Counts the usage an attempt-ending event carries, if any; returns its completion tokens. */
  addFrom(e: JobEvent): number {
    if (e.type !== 'item-done' && e.type !== 'item-retry' && e.type !== 'item-failed') return 0;
    const usage = e.meta?.usage;
    return usage ? this.add(usage) : 0;
  }

  add(usage: TokenUsage): number {
    this.any = true;
    this.prompt += usage.prompt_tokens;
    this.completion += usage.completion_tokens;
    if (usage.estimated) this.estimated = true;
    return usage.completion_tokens;
  }

  /** Null until some processor reported usage. */
  totals(): TokenTotals | null {
    return this.any ? { prompt: this.prompt, completion: this.completion, estimated: this.estimated } : null;
  }
}
