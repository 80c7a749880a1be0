/**
 * The one interface between "what to run" and "where it runs". Everything above a broker
 * (the submit flow, the UI, the results writer) sees only this: the embedded piscina broker
 * and the Redis broker are swappable by one constructor.
 */
import type { EventListener, JobCounts } from '../core/events.js';
import type { LinkDown } from '../core/link.js';
import type { ItemSpec, JobSpec } from '../core/types.js';
import type { KeyActivity } from '../core/quota/ledger.js';

export interface Broker {
  /**
   * `embedded`, `redis` or `remote`: a label for display only. Nothing branches on it: what
   * differs between brokers is an optional capability (`JobRun.cancelItem`, `detach`,
   * `runningJobFor`) or is decided where the broker is chosen (src/app/serve.ts, submit.ts).
   */
  readonly kind: string;
  /** How many workers (threads, or processes' slots) serve this broker, for display. */
  describe(): string;
  /** Starts a job; items are added to the run as the inputs produce them. */
  startJob(spec: JobSpec, listener: EventListener, options?: JobRunOptions): JobRun;
  /** Releases threads, connections and timers. */
  close(): Promise<void>;
  /**
   * The id of a job an earlier submit started for this results file and that still runs without
   * it (distributed jobs outlive their submitter); `submit --resume` attaches to it.
   */
  runningJobFor?(outPath: string): Promise<string | null>;
  /** What the rate limiters its processors use (`ctx.limit`) are doing, busiest key first, for the live view. */
  quotaActivity?(): readonly KeyActivity[];
}

export interface JobRunOptions {
  /** Diagnostic lines processors write with `ctx.log`, prefixed with the item id. */
  readonly onLog?: (line: string) => void;
  /** Where the results are written, recorded with a distributed job so `submit --resume` finds it. */
  readonly outPath?: string;
  /**
   * Items (by id) the results file holds already. A distributed job attached to again replays its
   * events from the start: these items' events are skipped and not counted.
   */
  readonly recorded?: (id: string) => boolean;
  /**
   * With `recorded`: failed items are to run again (`--retry-failed`), so a failure an earlier
   * distributed job recorded only in Redis is not taken over either.
   */
  readonly retryFailed?: boolean;
  /**
   * The link to the broker's server went down (since when) or came back (null). Brokers without
   * a server (embedded) never call it.
   */
  readonly onLink?: (down: LinkDown | null) => void;
}

export interface JobRun {
  readonly jobId: string;
  /**
   * Adds items. Resolves when the run can take more (backpressure: readers await it so a
   * million-line file never sits in memory).
   */
  add(items: readonly ItemSpec[]): Promise<void>;
  /** No more items will be added. */
  end(): void;
  /** Stop starting items; in-flight ones finish (first Ctrl+C). */
  drain(reason: string): void;
  /**
   * Abort in-flight items too (second Ctrl+C, SIGTERM). Nothing already finished is lost. Ends
   * `finished` within seconds even when the broker's server cannot be reached: a distributed job
   * is then left as it is (its resume command attaches to it again).
   */
  abort(reason: string): void;
  /** Resolves after the final `job-done` or `job-cancelled` event was delivered. */
  readonly finished: Promise<JobCounts>;
  /**
   * Stops following a job that goes on without this process (distributed jobs only): `finished`
   * resolves with what was delivered so far, the rest counted unfinished.
   */
  detach?(): void;
  /**
   * Gives up one item (its HTTP client went away): a waiting item is dropped, a running one
   * aborted; it ends without a result and counts as unfinished. False if the run cannot (any
   * more). Brokers that cannot reach into a running item leave this out.
   */
  cancelItem?(index: number, reason: string): boolean;
}
