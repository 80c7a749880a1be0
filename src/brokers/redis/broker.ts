/**
 * The Redis broker, for `submit --redis`: jobs go to a Redis queue that `slowwork workers`
 * processes on any machine serve. Behind the same Broker interface as the embedded pool, so
 * the submit flow, the live view and the results file do not know the difference.
 */
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import type { EventListener } from '../../core/events.js';
import type { JobSpec } from '../../core/types.js';
import type { Broker, JobRun, JobRunOptions } from '../broker.js';
import { duplicateConnection, openRedis, type RedisTarget } from './connection.js';
import { queueKeys, type QueueKeys } from './keys.js';
import { RedisJobRun } from './job-run.js';
import { LinkWatch } from './link-watch.js';
import type { ScriptedRedis } from './scripts.js';
import { ensureGroup } from './group.js';
import { listJobs, liveWorkers, type WorkerRow } from './admin.js';

export interface RedisBrokerOptions {
  readonly target: RedisTarget;
  readonly queue: string;
  /** How long a finished job stays in Redis (its events, for `watch job`). */
  readonly ttlMs?: number;
}

export const DEFAULT_JOB_TTL_MS = 24 * 3600_000;
/** How long closing waits for Redis to answer QUIT before it drops the connection. */
const QUIT_WAIT_MS = 1000;

export class RedisBroker implements Broker {
  readonly kind = 'redis';
  private readonly readers = new Set<ScriptedRedis>();
  private readonly runs = new Set<RedisJobRun>();
  private readonly link: LinkWatch;

  private constructor(
    private readonly opts: RedisBrokerOptions,
    private readonly cmd: ScriptedRedis,
    private readonly keys: QueueKeys,
    private readonly workers: readonly WorkerRow[],
  ) {
    this.link = new LinkWatch(cmd);
  }

  /** Connects (one clear line and exit 2 if Redis cannot be used) and looks at the workers. */
  static async connect(opts: RedisBrokerOptions): Promise<RedisBroker> {
    const cmd = await openRedis(opts.target, 'command', { name: `slowwork:submit:${hostname()}:${process.pid}`, checkVersion: true });
    const keys = queueKeys(opts.queue);
    await ensureGroup(cmd, keys);
    const workers = await liveWorkers(cmd, keys);
    return new RedisBroker(opts, cmd, keys, workers);
  }

  describe(): string {
    const slots = this.workers.reduce((sum, w) => sum + w.slots, 0);
    const who = this.workers.length === 0 ? 'no workers yet' : `${this.workers.length} worker${this.workers.length === 1 ? '' : 's'}, ${slots} slots`;
    return `redis ${this.opts.target.display} queue ${this.opts.queue}: ${who}`;
  }

  /** Live worker count when connecting (a hint for the user). */
  get workerCount(): number {
    return this.workers.length;
  }

  startJob(spec: JobSpec, listener: EventListener, options: JobRunOptions = {}): JobRun {
    const reader = duplicateConnection(this.cmd, `slowwork:submit-events:${hostname()}:${process.pid}`);
    this.readers.add(reader);
    const run = new RedisJobRun(
      spec,
      {
        cmd: this.cmd,
        reader,
        keys: this.keys,
        ttlMs: this.opts.ttlMs ?? DEFAULT_JOB_TTL_MS,
        submitter: `${hostname()}:${process.pid}`,
        outPath: options.outPath ? resolve(options.outPath) : '',
        recorded: options.recorded,
        retryFailed: options.retryFailed,
        link: this.link,
        onLink: options.onLink,
      },
      listener,
    );
    this.runs.add(run);
    return run;
  }

  async runningJobFor(outPath: string): Promise<string | null> {
    const path = resolve(outPath);
    const jobs = await listJobs(this.cmd, this.keys, 500);
    return jobs.find((j) => j.out === path && j.status === 'running')?.id ?? null;
  }

  /**
   * Never waits on Redis for long: QUIT behind commands queued for an unreachable server would
   * wait for it to come back, so closing drops the connection unless Redis answers at once.
   */
  async close(): Promise<void> {
    this.link.stop();
    for (const run of this.runs) run.detach();
    for (const r of this.readers) r.disconnect();
    if (this.cmd.status !== 'ready') {
      this.cmd.disconnect();
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, QUIT_WAIT_MS)));
    await Promise.race([this.cmd.quit().catch(() => undefined), late]);
    clearTimeout(timer);
    this.cmd.disconnect();
  }
}
