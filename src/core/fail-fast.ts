/**
 * When a job should stop by itself instead of failing its items one by one. Pure: it folds the
 * job's events and answers with a reason once a limit is reached.
 *
 * - Systemic: the processor marked an error as no fault of the item (`cause`: a refused
 *   connection, a 404 for the URL or model, a 401). Once `sameCause` different items ended an
 *   attempt with the same cause and no item succeeded or failed otherwise in between, every item
 *   would go the same way: stop.
 * - `--max-failures N` or `P%`: stop once N items (or P% of the job's items) failed for good.
 */
import type { JobEvent } from './events.js';

/** `--max-failures`: a count of failed items, or a share of the job's items. */
export type FailureLimit = { readonly count: number } | { readonly percent: number };

export interface FailFastLimits {
  /** Distinct items ending an attempt with the same systemic cause, in a row, that stop the job. */
  readonly sameCause: number;
  readonly maxFailures: FailureLimit | null;
}

/** Three items, as the first ones of a job run at once: enough to tell a setup from bad luck. */
export const DEFAULT_SAME_CAUSE = 3;

/** `N` or `P%` → the limit; undefined when the text is neither. */
export function parseFailureLimit(text: string): FailureLimit | undefined {
  const t = text.trim();
  const percent = /^(\d+(?:\.\d+)?)%$/.exec(t);
  if (percent) {
    const p = Number(percent[1]);
    return p > 0 && p <= 100 ? { percent: p } : undefined;
  }
  return /^\d+$/.test(t) && Number(t) >= 1 && Number.isSafeInteger(Number(t)) ? { count: Number(t) } : undefined;
}

export const describeFailureLimit = (limit: FailureLimit): string => ('count' in limit ? String(limit.count) : `${limit.percent}%`);

export class FailFast {
  private streakCause: string | null = null;
  private readonly streakItems = new Set<number>();
  private failed = 0;
  private stopped = false;

  constructor(
    private readonly limits: FailFastLimits,
    /** The job's items (this run's), for a percentage limit. */
    private readonly total: number,
  ) {}

  /** Folds events in; returns why the job should stop, once, at the event that decides it. */
  observe(events: readonly JobEvent[]): string | null {
    if (this.stopped) return null;
    for (const e of events) {
      const reason = this.step(e);
      if (reason !== null) {
        this.stopped = true;
        return reason;
      }
    }
    return null;
  }

  private step(e: JobEvent): string | null {
    switch (e.type) {
      case 'item-done':
        this.resetStreak();
        return null;
      case 'item-retry':
        // A lost attempt through no fault of the item (its thread died of another) says nothing.
        return e.charged ? this.attemptFailed(e.index, e.cause, e.error) : null;
      case 'item-failed': {
        this.failed++;
        return this.attemptFailed(e.index, e.cause, e.error) ?? this.overLimit();
      }
      default:
        return null;
    }
  }

  private attemptFailed(index: number, cause: string | undefined, error: string): string | null {
    if (cause === undefined) {
      this.resetStreak();
      return null;
    }
    if (cause !== this.streakCause) this.resetStreak(cause);
    this.streakItems.add(index);
    if (this.streakItems.size < this.limits.sameCause) return null;
    return `${this.streakItems.size} items in a row failed the same way, no fault of theirs: ${error}`;
  }

  private overLimit(): string | null {
    const limit = this.limits.maxFailures;
    if (limit === null) return null;
    const most = 'count' in limit ? limit.count : Math.max(1, Math.ceil((limit.percent / 100) * this.total));
    if (this.failed < most) return null;
    const of = 'count' in limit ? '' : ` of ${this.total}`;
    return `--max-failures ${describeFailureLimit(limit)} reached: ${this.failed}${of} ${this.failed === 1 && of === '' ? 'item' : 'items'} failed`;
  }

  private resetStreak(cause: string | null = null): void {
    this.streakCause = cause;
    this.streakItems.clear();
  }
}
