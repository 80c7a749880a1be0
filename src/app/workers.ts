/**
 * `slowwork workers`, as a function: serve a Redis queue until a signal. The first SIGINT or
 * SIGTERM drains (no new items; running ones finish, or go back to the queue after the grace
 * period), a second hands everything back at once. Either way the process exits 0 and loses
 * nothing: whatever it did not finish runs elsewhere.
 */
import { RedisWorker } from '../brokers/redis/worker.js';
import { parseRedisUrl } from '../brokers/redis/connection.js';
import { formatDuration } from '../core/format.js';
import { resolvePipeline } from './pipeline.js';
import { SignalLadder } from './signal-ladder.js';

export interface WorkersOptions {
  readonly redisUrl: string;
  readonly queue: string;
  readonly slots: number;
  readonly threads: number | undefined;
  readonly processors: readonly string[];
  readonly heartbeatMs: number;
  readonly drainTimeoutMs: number;
}

export interface WorkersIO {
  readonly stderr: NodeJS.WritableStream;
  readonly cwd: string;
  readonly signals?: NodeJS.EventEmitter;
}

export async function runWorkers(opts: WorkersOptions, io: WorkersIO): Promise<number> {
  const target = parseRedisUrl(opts.redisUrl);
  const own = opts.processors.length > 0 ? (await resolvePipeline(opts.processors, {}, io.cwd)).stages : [];
  const log = (line: string): void => void io.stderr.write(`${line}\n`);
  const worker = await RedisWorker.start({
    target,
    queue: opts.queue,
    slots: opts.slots,
    threads: opts.threads,
    processors: new Map(own.map((s) => [s.name, s.url])),
    heartbeatMs: opts.heartbeatMs,
    log,
  });
  const signals = io.signals ?? process;
  let leaving: Promise<void> | null = null;
  const unlisten = new SignalLadder({
    drain: () => {
      log(`slowwork workers: draining (up to ${formatDuration(opts.drainTimeoutMs)} for running items; again to stop now)`);
      leaving = worker.drain(opts.drainTimeoutMs);
    },
    abort: () => {
      log('slowwork workers: stopping now; running items go back to the queue');
      leaving = worker.stop();
    },
  }).listen(signals);
  // Only now: whoever reads this line may signal at once, and the default action would kill us.
  log(`slowwork workers: ${worker.describe()} on ${target.display}; Ctrl+C drains, twice stops at once`);
  try {
    await worker.stopped;
    while (leaving === null) await new Promise((resolve) => setTimeout(resolve, 20));
    await leaving;
    // A second signal during a drain replaces the drain's promise.
    await leaving;
    log('slowwork workers: stopped');
    return 0;
  } finally {
    unlisten();
  }
}
