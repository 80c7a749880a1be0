/**
 * What the submit flow talks to while a job runs: the live ink view on a TTY, plain lines when
 * piped, NDJSON with `--json`. Each reporter keeps its own JobState (the pure reducer).
 */
import type { TokenTotals } from '../core/token-tally.js';
import type { Pricer } from '../core/pricing.js';
import type { JobCounts, JobEvent } from '../core/events.js';
import type { LinkDown } from '../core/link.js';
import type { KeyActivity } from '../core/quota/ledger.js';

export interface RunInfo {
  readonly jobId: string;
  /** Processor names of the pipeline, in order. */
  readonly processors: readonly string[];
  /** e.g. `embedded: 2 threads`. */
  readonly broker: string;
  readonly concurrency: number;
  readonly outPath: string;
  /** Known once all inputs were validated; null while unknown. */
  readonly total: number | null;
  /** Items skipped because a previous run already finished them (`--resume`). */
  readonly skipped: number;
  /**
   * When the job started (epoch ms), when it was not just now: a job attached to (`watch job`)
   * counts its elapsed time and rates from its own start, not from the attach.
   */
  readonly startedAt?: number;
  /** The key hint under the live rows; default: what Ctrl+C does to a submit. */
  readonly hint?: string;
  /** What the run's tokens cost, for the live view's `$` (core/pricing.ts); none: no cost shown. */
  readonly pricer?: Pricer;
}

/** running → draining (Ctrl+C once) → aborting (twice) → finished. */
export type Phase = 'running' | 'draining' | 'aborting' | 'finished';

export interface FinalSummary {
  readonly counts: JobCounts;
  readonly elapsedMs: number;
  readonly outPath: string;
  /** Printed when items are left to do, e.g. after Ctrl+C. */
  readonly resumeCommand: string | null;
  readonly interrupted: boolean;
  /** Why the job was cancelled from elsewhere (`slowwork cancel`), when it was. */
  readonly cancelReason?: string | null;
  /** Why the job stopped itself (fail-fast, `--max-failures`), when it did. */
  readonly stopReason?: string | null;
  /** Tokens the processors reported over the run (all attempts); null or absent when none did. */
  readonly tokens?: TokenTotals | null;
}

export interface Reporter {
  start(info: RunInfo): void;
  /** Events that happened at `at` (epoch ms; default now: a replayed history passes its own times). */
  onEvents(events: readonly JobEvent[], at?: number): void;
  setPhase(phase: Phase): void;
  /** The broker's server is unreachable (since when), or reachable again (null). */
  setLink(down: LinkDown | null): void;
  /** What the run's rate limiters are doing (`ctx.limit`), busiest key first; the live view shows it. */
  setQuota?(keys: readonly KeyActivity[]): void;
  /** Prints the final summary and releases the terminal. */
  finish(summary: FinalSummary): Promise<void>;
}
