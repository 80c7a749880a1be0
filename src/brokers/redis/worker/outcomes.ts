/**
 * What a worker's items do, turned into report records: starts, chunks and results as they come
 * (folded where they can be: report-buffer.ts), a charged failure retried through the delayed
 * set (on any worker) or dead-lettered, and items let go (job stopped, item given up, entry
 * lost). Settling an item frees its slot and, with its entry's last item, finishes the entry.
 */
import type { JobEvent } from '../../../core/events.js';
import type { ItemMeta } from '../../../core/item-meta.js';
import { backoffMs, defaultRetryPolicy, shouldRetry } from '../../../core/retry.js';
import type { ItemDurations } from '../../../core/types.js';
import { wireFailed, wireRetry } from '../wire.js';
import { delayedMember } from '../work-entry.js';
import type { Lease, Leases } from './leases.js';
import type { LocalJob, LocalRuns } from './local-runs.js';
import { failedForGood, rerunNotice, retryLater } from './report-buffer.js';
import type { Reporter } from './reports.js';
import type { WorkerStats } from './stats.js';

/** A charged failure of one attempt. */
export interface Failure {
  readonly error: string;
  /** The attempt that failed, if the local run says (else the lease's). */
  readonly attempt: number | null;
  readonly durations: ItemDurations;
  /** The processor's systemic cause, passed on to the submitter (its fail-fast). */
  readonly cause?: string;
  /** No retries: its output passed the bound. */
  readonly final?: true;
  /** What the attempt reported (its tokens were billed): on its 'r' or 'f'. */
  readonly meta?: ItemMeta;
}

export class Outcomes {
  constructor(
    private readonly worker: string,
    private readonly leases: Leases,
    private readonly runs: LocalRuns,
    private readonly reports: Reporter,
    private readonly stats: WorkerStats,
    private readonly log: (line: string) => void,
  ) {}

  /** The local runs' events, by local item number. */
  readonly onLocalEvents = (events: readonly JobEvent[]): void => {
    const buffer = this.reports.buffer;
    for (const e of events) {
      // By type, not `'index' in e`: events come in many shapes, and a megamorphic `in` is slow.
      const type = e.type;
      if (type !== 'item-start' && type !== 'chunk' && type !== 'item-done' && type !== 'item-failed' && type !== 'item-retry') continue;
      const lease = this.leases.get(e.index);
      if (!lease) continue;
      if (lease.lost) {
        // Given up or handed on, but it ended before the abort reached it: nothing to report,
        // yet its slot and its place in its entry are free now (else the entry never finishes).
        if (type === 'item-done' || type === 'item-failed') this.settle(e.index, lease);
        continue;
      }
      const { held, item } = lease;
      switch (e.type) {
        case 'item-start': {
          const stage = e.stage ?? 0;
          if (stage === 0) lease.startedAt = Date.now();
          const rec = buffer.start(held.jobId, held.entryId, item.index, item.id, e.attempt, this.worker, stage);
          lease.started = stage === 0 ? rec : null;
          break;
        }
        case 'chunk':
          this.stats.chunks(e.n);
          buffer.chunk(held.jobId, held.entryId, item.index, e.attempt, e.text, e.n, e.stage ?? 0, lease.started);
          break;
        case 'item-retry':
          // A local rerun through no fault of the item (its thread died of another): tell watchers.
          lease.started = null;
          buffer.add(held.jobId, rerunNotice(held.entryId, item.index, wireRetry(item.index, item.id, e.attempt, e.error, 0, false, undefined, e.meta), e.meta));
          break;
        case 'item-done': {
          const durations = { queuedMs: queuedMs(lease), firstChunkMs: e.durations.firstChunkMs, totalMs: e.durations.totalMs };
          buffer.done(held.jobId, held.entryId, item.index, item.id, e.attempt, e.output, this.worker, durations, lease.started, e.meta);
          lease.started = null;
          this.stats.finished(true, e.durations.totalMs);
          this.settle(e.index, lease);
          break;
        }
        case 'item-failed': {
          const job = this.runs.get(held.jobId);
          const durations = { ...e.durations, queuedMs: queuedMs(lease) };
          if (job) this.failed(lease, job, { error: e.error, attempt: e.attempts, durations, cause: e.cause, final: e.final, meta: e.meta });
          this.settle(e.index, lease);
          break;
        }
      }
    }
    this.reports.schedule();
  };

  /** This worker cannot run the job: a charged failure of each item, so it retries (maybe elsewhere). */
  cannotRun(job: LocalJob, items: readonly [number, Lease][]): void {
    for (const [local, lease] of items) {
      this.failed(lease, job, { error: job.error ?? 'cannot run this job', attempt: null, durations: { queuedMs: 0, firstChunkMs: null, totalMs: 0 } });
      this.settle(local, lease);
    }
  }

  /** A charged failure: another attempt later (any worker), or the dead-letter stream. */
  private failed(lease: Lease, job: LocalJob, f: Failure): void {
    const { held, item } = lease;
    const attempt = f.attempt ?? item.attempt;
    const charged = item.charged + 1;
    const policy = defaultRetryPolicy(job.spec.retries);
    this.stats.finished(false, f.durations.totalMs);
    if (!f.final && shouldRetry(policy, charged)) {
      const delay = backoffMs(policy, charged);
      // The member carries a short input as its entry did; a long one waits in the input hash.
      const next = delayedMember({ jobId: held.jobId, item: { ...item, attempt: attempt + 1, charged }, enqueuedAt: lease.enqueuedAt });
      this.reports.buffer.add(held.jobId, retryLater(held.entryId, item.index, wireRetry(item.index, item.id, attempt, f.error, delay, true, f.cause, f.meta), delay, next, f.meta));
    } else {
      const event = wireFailed(item.index, item.id, attempt, f.error, this.worker, f.durations, lease.payload, f.cause, f.meta);
      this.reports.buffer.add(held.jobId, failedForGood(held.entryId, item.index, event, lease.payload, f.error, f.meta));
    }
    this.reports.schedule();
  }

  /** A local item aborted or dropped (job stopped, item given up, entry lost): let it go. */
  readonly onUnfinished = (local: number): void => {
    const lease = this.leases.get(local);
    if (!lease) return;
    this.settle(local, lease);
    this.reports.schedule();
  };

  /** The item is settled here: its slot is free. */
  settle(local: number, lease: Lease): void {
    if (!this.leases.settle(local, lease)) return;
    this.runs.released(lease.held.jobId);
    this.stats.busy(this.leases.size);
  }

  /** The entry is no longer this worker's (reaped while it stalled): its items run elsewhere now. */
  dropEntry(entryId: string, jobId: string): void {
    const held = this.leases.heldEntry(entryId);
    if (!held) return;
    let dropped = 0;
    for (const local of [...held.open]) {
      const lease = this.leases.get(local);
      if (lease && !lease.lost) {
        this.dropItem(local, lease, 'handed to another worker');
        dropped++;
      }
    }
    if (dropped > 0) this.log(`worker ${this.worker}: entry ${entryId} of job ${jobId} (${dropped} item${dropped === 1 ? '' : 's'}) was handed to another worker; dropping this attempt`);
  }

  /** One item given up (its HTTP client went away): it gets no result; stop running it. */
  dropGivenUp(jobId: string, index: string): void {
    for (const [local, lease] of this.leases.all()) {
      if (lease.held.jobId === jobId && String(lease.item.index) === index) this.dropItem(local, lease, 'its client went away');
    }
  }

  /** Stops running an item whose reports would be refused now. */
  private dropItem(local: number, lease: Lease, reason: string): void {
    if (lease.lost) return;
    lease.lost = true;
    if (!this.runs.abortItem(lease.held.jobId, local, reason)) this.settle(local, lease);
  }

  /** The job stopped: aborts its items here. */
  abortJob(jobId: string, reason: string): void {
    for (const [local, lease] of this.leases.all()) {
      if (lease.held.jobId !== jobId || lease.stopping) continue;
      lease.stopping = true;
      if (!this.runs.abortItem(jobId, local, reason)) this.onUnfinished(local);
    }
  }

  /** The worker is leaving: every item still here is aborted, nothing more reported of it. */
  abortAll(): void {
    for (const [, lease] of this.leases.all()) lease.lost = true;
    for (const [local, lease] of [...this.leases.all()]) {
      if (!this.runs.abortItem(lease.held.jobId, local, 'the worker is stopping')) this.settle(local, lease);
    }
  }
}

function queuedMs(lease: Lease): number {
  return Math.max(0, (lease.startedAt || Date.now()) - lease.enqueuedAt);
}
