/**
 * The broker for remote processors: items of a job go one by one to the endpoints registered
 * under the job's processor name (see registry.ts, job-run.ts, and wire.ts for the contract).
 * Single-stage jobs only; `spec.pipeline[0].name` is the remote processor's name.
 */
import type { Broker, JobRunOptions } from '../broker.js';
import type { EventListener } from '../../core/events.js';
import type { JobSpec } from '../../core/types.js';
import { CompletionRouter, type Completion } from './completions.js';
import { RemoteJobRun } from './job-run.js';
import type { RemoteProcessorRegistry } from './registry.js';

export { RemoteJobRun } from './job-run.js';

export interface RemoteBrokerOptions {
  /** The URL processors answering 202 post their results to: `{manager}/complete`. */
  readonly callbackUrl: () => string;
  /** Sent as `Authorization: Bearer` on POST /process. */
  readonly token?: string;
  /** Silence allowed on a stream when a job has no time limit (default 60 s). */
  readonly idleTimeoutMs?: number;
  /** How long items wait while no endpoint of their processor is healthy (default 10 s; 0: the job's time limit). */
  readonly unhealthyWaitMs?: number;
}

export const DEFAULT_IDLE_TIMEOUT_MS = 60_000;
export const DEFAULT_UNHEALTHY_WAIT_MS = 10_000;

export class RemoteBroker implements Broker {
  readonly kind = 'remote';
  private readonly completions = new CompletionRouter();
  private readonly runs = new Set<RemoteJobRun>();

  constructor(
    private readonly registry: RemoteProcessorRegistry,
    private readonly opts: RemoteBrokerOptions,
  ) {}

  describe(): string {
    const endpoints = this.registry.list();
    const healthy = endpoints.filter((ep) => ep.healthy).length;
    return `${endpoints.length} remote endpoint${endpoints.length === 1 ? '' : 's'} (${healthy} healthy)`;
  }

  /** Throws a RemoteJobError for a pipeline of several processors. */
  startJob(spec: JobSpec, listener: EventListener, options?: JobRunOptions): RemoteJobRun {
    const run = new RemoteJobRun(
      spec,
      {
        registry: this.registry,
        completions: this.completions,
        callbackUrl: this.opts.callbackUrl,
        token: this.opts.token,
        idleTimeoutMs: this.opts.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
        unhealthyWaitMs: this.opts.unhealthyWaitMs ?? DEFAULT_UNHEALTHY_WAIT_MS,
        onClosed: (r) => this.runs.delete(r),
      },
      listener,
      options,
    );
    this.runs.add(run);
    return run;
  }

  /** POST /complete: false when no attempt waits for this dispatch id (→ 404). */
  complete(body: Completion): boolean {
    return this.completions.deliver(body);
  }

  /** Aborts the runs still going; their `finished` resolve with what they did. */
  async close(): Promise<void> {
    const runs = [...this.runs];
    for (const run of runs) run.abort('the manager is shutting down');
    await Promise.all(runs.map((run) => run.finished.catch(() => undefined)));
  }
}
