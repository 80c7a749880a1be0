/**
 * A Redis worker's local runs: one embedded job run per job it has items of, on the worker's own
 * piscina pool, with retries 0 there: time limits, blocked or dying threads and the watchdog all
 * work as in the embedded mode, and every charged failure comes back to Redis (outcomes.ts). A
 * run is ended once its job has had nothing here for 30 s.
 */
import { describeError } from '../../../core/errors.js';
import type { JobEvent } from '../../../core/events.js';
import type { ItemInput, Pipeline } from '../../../core/types.js';
import type { EmbeddedBroker } from '../../embedded/broker.js';
import type { EmbeddedJobRun } from '../../embedded/job-run.js';
import { parseWireSpec, resolveOnWorker, type WireJobSpec } from '../job-spec.js';
import type { Lease } from './leases.js';

/** A job as this worker knows it. */
export interface LocalJob {
  readonly id: string;
  readonly spec: WireJobSpec;
  /** The job's pipeline as this worker runs it; null when it cannot load the job's processors (`error` says why). */
  readonly pipeline: Pipeline | null;
  readonly error: string | null;
  run: EmbeddedJobRun | null;
  /** Its items held here. */
  leases: number;
  idleSince: number;
}

export interface LocalRunHooks {
  readonly onEvents: (events: readonly JobEvent[]) => void;
  /** A local item aborted or dropped (job stopped, item given up, entry lost). */
  readonly onUnfinished: (local: number) => void;
  readonly log: (line: string) => void;
}

const IDLE_MS = 30_000;

export class LocalRuns {
  private readonly jobs = new Map<string, LocalJob>();

  constructor(
    private readonly pool: EmbeddedBroker,
    private readonly worker: string,
    private readonly slots: number,
    /** The worker's own processors by name (from `--processor`), as module URLs. */
    private readonly processors: ReadonlyMap<string, string>,
    private readonly hooks: LocalRunHooks,
  ) {}

  get(jobId: string): LocalJob | undefined {
    return this.jobs.get(jobId);
  }

  /** A job first seen in a claim, from its spec (null if unreadable: its items then fail). */
  open(jobId: string, specJson: string | null): LocalJob {
    const job = this.fromSpec(jobId, specJson);
    this.jobs.set(jobId, job);
    return job;
  }

  private fromSpec(id: string, specJson: string | null): LocalJob {
    const base = { id, run: null, leases: 0, idleSince: 0 };
    try {
      const spec = parseWireSpec(specJson ?? '');
      try {
        return { ...base, spec, pipeline: resolveOnWorker(spec, this.processors), error: null };
      } catch (err) {
        return { ...base, spec, pipeline: null, error: describeError(err) };
      }
    } catch (err) {
      const spec: WireJobSpec = { processors: [{ name: '?', url: '' }], params: {}, timeoutMs: 0, retries: 0, batchSize: 1 };
      return { ...base, spec, pipeline: null, error: `job ${id} has an unreadable spec (${describeError(err)})` };
    }
  }

  /** Runs claimed items of a job this worker can run (`pipeline` set), under their local numbers. */
  run(job: LocalJob, items: readonly [number, Lease][]): void {
    if (items.length === 0 || !job.pipeline) return;
    if (!job.run) {
      const jobId = job.id;
      job.run = this.pool.startLocalRun(
        {
          jobId,
          pipeline: job.pipeline,
          params: job.spec.params,
          concurrency: this.slots,
          batchSize: job.spec.batchSize,
          batchWindowMs: 0,
          retries: 0,
          timeoutMs: job.spec.timeoutMs,
          maxOutputChars: job.spec.maxOutputChars,
        },
        this.hooks.onEvents,
        {
          onLog: (line) => this.hooks.log(`[${jobId}] ${line}`),
          onItemUnfinished: this.hooks.onUnfinished,
        },
      );
      job.run.finished.catch((err: unknown) => this.hooks.log(`worker ${this.worker}: job ${jobId}: ${describeError(err)}`));
    }
    // Attempts neither charged nor reclaimed were free reruns (thread deaths, hand-backs): they
    // count against the item's bound on those (thread-faults.ts), on whatever worker it lands.
    void job.run.add(
      items.map(([local, { item, payload }]) => ({
        id: item.id,
        index: local,
        input: parsePayload(payload),
        attempt: item.attempt,
        reruns: Math.max(0, item.attempt - 1 - item.charged - item.reclaims),
      })),
    );
  }

  /** Aborts a local item; false if its job has no run here (the caller lets it go itself). */
  abortItem(jobId: string, local: number, reason: string): boolean {
    return this.jobs.get(jobId)?.run?.abortItem(local, reason) ?? false;
  }

  /** One of the job's items is no longer held here. */
  released(jobId: string): void {
    const job = this.jobs.get(jobId);
    if (job && --job.leases === 0) job.idleSince = Date.now();
  }

  /** Ends the runs of jobs idle here for a while. */
  closeIdle(): void {
    const now = Date.now();
    for (const [jobId, job] of this.jobs) {
      if (job.leases === 0 && now - job.idleSince > IDLE_MS) {
        job.run?.end();
        this.jobs.delete(jobId);
      }
    }
  }
}

function parsePayload(payload: string): ItemInput {
  try {
    return JSON.parse(payload) as ItemInput;
  } catch {
    return payload;
  }
}
