/**
 * What `slowwork serve` is running, for `GET /dashboard` and the `/jobs` routes: every job the
 * manager started (groups of requests, actions) with its progress, the workers seen in their
 * events, and live event feeds for attaching. Finished jobs stay a while as history.
 */
import type { JobRun } from '../brokers/broker.js';
import type { DashJob, DashJobStatus, DashSample, DashWorker } from '../core/dashboard-sample.js';
import type { JobEvent } from '../core/events.js';
import { pruneFinished } from '../core/prune-finished.js';
import { WorkerTally, tallyWorker } from '../core/worker-tally.js';

export type BoardJobKind = 'requests' | 'action';

export interface BoardJob {
  readonly id: string;
  readonly kind: BoardJobKind;
  readonly processors: readonly string[];
  readonly createdAt: number;
  readonly run: JobRun;
  total: number | null;
  done: number;
  failed: number;
  readonly running: Set<number>;
  readonly retrying: Set<number>;
  status: DashJobStatus;
  finishedAt: number | null;
  readonly listeners: Set<(events: readonly JobEvent[]) => void>;
}

export interface BoardOptions {
  /** Finished jobs are kept this long. Default 10 minutes. */
  readonly finishedMs?: number;
  /** And at most this many. Default 20. */
  readonly maxFinished?: number;
}

export class JobBoard {
  private readonly jobs = new Map<string, BoardJob>();
  private readonly tally = new WorkerTally();
  private readonly finishedMs: number;
  private readonly maxFinished: number;

  constructor(options: BoardOptions = {}) {
    this.finishedMs = options.finishedMs ?? 600_000;
    this.maxFinished = options.maxFinished ?? 20;
  }

  add(id: string, kind: BoardJobKind, processors: readonly string[], total: number | null, run: JobRun): BoardJob {
    this.prune(Date.now());
    const job: BoardJob = {
      id,
      kind,
      processors,
      createdAt: Date.now(),
      run,
      total,
      done: 0,
      failed: 0,
      running: new Set(),
      retrying: new Set(),
      status: 'running',
      finishedAt: null,
      listeners: new Set(),
    };
    this.jobs.set(id, job);
    return job;
  }

  get(id: string): BoardJob | undefined {
    return this.jobs.get(id);
  }

  observe(job: BoardJob, events: readonly JobEvent[]): void {
    const now = Date.now();
    this.tally.observe(job.id, events, now);
    for (const e of events) {
      switch (e.type) {
        case 'item-start':
          job.running.add(e.index);
          job.retrying.delete(e.index);
          break;
        case 'item-retry':
          job.running.delete(e.index);
          job.retrying.add(e.index);
          break;
        case 'item-done':
          job.running.delete(e.index);
          job.done++;
          break;
        case 'item-failed':
          job.running.delete(e.index);
          job.retrying.delete(e.index);
          job.failed++;
          break;
        case 'job-total':
          job.total = e.total;
          break;
        case 'job-done':
        case 'job-cancelled':
          job.status = e.type === 'job-done' ? 'done' : 'cancelled';
          job.finishedAt = now;
          job.total ??= e.counts.total;
          job.running.clear();
          job.retrying.clear();
          break;
        default:
          break;
      }
    }
    for (const listen of job.listeners) listen(events);
    if (job.finishedAt !== null) {
      job.listeners.clear();
      this.tally.forget(job.id);
    }
  }

  /** One item given up (its client went away): no event will say so, so it stops counting here. */
  dropItem(job: BoardJob, index: number): void {
    job.running.delete(index);
    job.retrying.delete(index);
    this.tally.drop(job.id, index);
  }

  /** A job whose run ended without its last event (it failed): ends it here and for followers. */
  end(job: BoardJob, reason: string): void {
    const total = job.total ?? job.done + job.failed;
    this.observe(job, [{ type: 'job-cancelled', reason, counts: { total, done: job.done, failed: job.failed, unfinished: Math.max(0, total - job.done - job.failed) } }]);
  }

  /** A live feed of a running job's events; returns the unsubscribe. */
  subscribe(job: BoardJob, listener: (events: readonly JobEvent[]) => void): () => void {
    job.listeners.add(listener);
    return () => job.listeners.delete(listener);
  }

  /**
   * One dashboard sample; the pool itself appears as one queue named `queue` (a request joins a
   * job at once, so every waiting item belongs to a job).
   */
  sample(source: string, queue: string, extraWorkers: readonly DashWorker[]): DashSample {
    const now = Date.now();
    this.prune(now);
    const jobs: DashJob[] = [];
    let waiting = 0;
    let inFlight = 0;
    let delayed = 0;
    let dead = 0;
    for (const j of this.jobs.values()) {
      dead += j.failed;
      if (j.finishedAt === null) {
        inFlight += j.running.size;
        delayed += j.retrying.size;
        if (j.total !== null) waiting += Math.max(0, j.total - j.done - j.failed - j.running.size - j.retrying.size);
      }
      jobs.push({
        id: j.id,
        queue,
        submitter: j.kind,
        processors: [...j.processors],
        status: j.status,
        total: j.total,
        done: j.done,
        failed: j.failed,
        running: j.running.size,
        createdAt: j.createdAt,
        finishedAt: j.finishedAt,
      });
    }
    const workers: DashWorker[] = this.tally.list(now).map((w) => tallyWorker(w, queue, 0));
    // A remote processor is also seen in the events under its id: one row, the registry's
    // figures with the chunks the events counted.
    const seen = new Map(workers.map((w) => [w.name, w]));
    const extra = extraWorkers.map((w) => ({ ...w, chunks: w.chunks + (seen.get(w.name)?.chunks ?? 0) }));
    const extraNames = new Set(extraWorkers.map((w) => w.name));
    return {
      at: now,
      source,
      workers: [...workers.filter((w) => !extraNames.has(w.name)), ...extra],
      queues: [{ name: queue, waiting, inFlight, delayed, dead, oldestWaitingMs: null }],
      jobs,
    };
  }

  private prune(now: number): void {
    pruneFinished(this.jobs, (j) => j.finishedAt, this.finishedMs, this.maxFinished, now);
  }
}
