/**
 * One look at a whole slowwork system: what a dashboard source (Redis, a running `slowwork
 * serve`, or the submit view's own job) reports on every refresh. Plain data: it is what
 * `watch dashboard --once --json` prints and what `GET /dashboard` answers.
 */

export interface DashWorker {
  /** Unique name, e.g. `host:pid:xxxx` for Redis workers, `thread-2` for the embedded pool. */
  readonly name: string;
  readonly host: string;
  /** 0 when not known. */
  readonly pid: number;
  readonly queue: string;
  /** Items it can run at once; 0 when not known. */
  readonly slots: number;
  readonly busy: number;
  /** Percent of one core over its last heartbeat; null when not known. */
  readonly cpu: number | null;
  /** Resident memory in bytes; null when not known. */
  readonly rssBytes: number | null;
  /** Attempts finished well, and attempts that failed (retried or for good), since it started. */
  readonly processed: number;
  readonly failed: number;
  /** Chunks streamed since it started (feeds chunks/s). */
  readonly chunks: number;
  /** Average time of a finished attempt; null before the first. */
  readonly avgMs: number | null;
  /** When it last said it was alive (ms since the epoch); null when not known. */
  readonly lastBeatAt: number | null;
  /** Its heartbeat interval; a worker silent for 2.5 intervals is shown as silent. */
  readonly heartbeatMs: number | null;
  /** False once its heartbeat expired (it is presumed dead; its items go to others). */
  readonly alive: boolean;
}

export interface DashQueue {
  readonly name: string;
  /** Items not yet handed to any worker. */
  readonly waiting: number;
  /** Items a worker holds. */
  readonly inFlight: number;
  /** Retries waiting for their backoff. */
  readonly delayed: number;
  /** Items out of attempts (the dead-letter stream). */
  readonly dead: number;
  /** Age of the oldest waiting item (consumer lag in time); null when nothing waits. */
  readonly oldestWaitingMs: number | null;
}

export type DashJobStatus = 'running' | 'draining' | 'aborting' | 'done' | 'cancelled';

export interface DashJob {
  readonly id: string;
  readonly queue: string;
  /** Who submitted it (`host:pid`), or a kind of job for a server (`requests`, `action`). */
  readonly submitter: string;
  readonly processors: readonly string[];
  readonly status: DashJobStatus;
  /** Null while the submitter is still reading its inputs. */
  readonly total: number | null;
  readonly done: number;
  readonly failed: number;
  readonly running: number;
  readonly createdAt: number;
  readonly finishedAt: number | null;
  /** Completion tokens its items reported so far, every attempt (feeds tokens/s); absent when the source does not count them. */
  readonly tokensOut?: number;
}

export interface DashSample {
  /** When it was taken (ms since the epoch). */
  readonly at: number;
  /** What it watches, for the title: `redis 127.0.0.1:6379`, `serve http://...`, `embedded`. */
  readonly source: string;
  readonly workers: readonly DashWorker[];
  readonly queues: readonly DashQueue[];
  readonly jobs: readonly DashJob[];
}

/** The Redis job hash statuses, as a dashboard status. */
export function jobStatusOf(raw: string): DashJobStatus {
  switch (raw) {
    case 'done':
    case 'cancelled':
    case 'draining':
    case 'aborting':
      return raw;
    default:
      return 'running';
  }
}

export const isFinishedStatus = (s: DashJobStatus): boolean => s === 'done' || s === 'cancelled';
