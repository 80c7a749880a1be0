/**
 * `slowwork jobs`, `slowwork cancel` and `slowwork watch job`: looking at and steering a Redis
 * queue from any machine. Each opens its own connection (failing fast with one line) and closes
 * it when done.
 */
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import { cancelJob, getJob, listJobs, liveWorkers, type JobRow } from '../brokers/redis/admin.js';
import { duplicateConnection, openRedis, parseRedisUrl } from '../brokers/redis/connection.js';
import { EventsReader } from '../brokers/redis/events-reader.js';
import { queueKeys } from '../brokers/redis/keys.js';
import type { ScriptedRedis } from '../brokers/redis/scripts.js';
import { ExitCode, UsageError } from '../core/errors.js';
import type { JobCounts, JobEvent } from '../core/events.js';
import { formatDuration } from '../core/format.js';
import { pickReporter, type UiMode } from './reporters.js';
import { onStopSignals } from './signal-ladder.js';
import { LinkWatch } from '../brokers/redis/link-watch.js';

export interface QueueTarget {
  readonly redisUrl: string;
  readonly queue: string;
}

async function withRedis<T>(target: QueueTarget, role: string, use: (redis: ScriptedRedis) => Promise<T>): Promise<T> {
  const redis = await openRedis(parseRedisUrl(target.redisUrl), 'command', { name: `slowwork:${role}:${hostname()}:${process.pid}`, checkVersion: true });
  try {
    return await use(redis);
  } finally {
    redis.disconnect();
  }
}

const noSuchJob = (id: string, queue: string) => new UsageError(`no job ${id} on queue ${queue} (it may have expired; see slowwork jobs)`);

// ---- jobs --------------------------------------------------------------------------------

export async function runJobs(target: QueueTarget & { json: boolean; limit: number }, out: NodeJS.WritableStream): Promise<number> {
  const rows = await withRedis(target, 'jobs', (redis) => listJobs(redis, queueKeys(target.queue), target.limit));
  if (target.json) {
    for (const row of rows) out.write(`${JSON.stringify(row)}\n`);
    return ExitCode.ok;
  }
  if (rows.length === 0) {
    out.write(`no jobs on queue ${target.queue}\n`);
    return ExitCode.ok;
  }
  out.write(formatJobsTable(rows, Date.now()));
  return ExitCode.ok;
}

export function formatJobsTable(rows: readonly JobRow[], now: number): string {
  const header = ['JOB', 'STATUS', 'DONE', 'FAILED', 'TOTAL', 'RUNNING', 'AGE', 'PROCESSORS', 'SUBMITTER'];
  const lines = rows.map((r) => [
    r.id,
    r.status,
    String(r.done),
    String(r.failed),
    r.total >= 0 ? String(r.total) : `${r.enqueued}+`,
    String(r.running),
    formatDuration(Math.max(0, now - r.created)),
    r.processors.join(' > '),
    r.submitter,
  ]);
  const widths = header.map((h, k) => Math.max(h.length, ...lines.map((l) => l[k]!.length)));
  const fmt = (cells: string[]) => cells.map((c, k) => c.padEnd(widths[k]!)).join('  ').trimEnd();
  return `${[fmt(header), ...lines.map(fmt)].join('\n')}\n`;
}

// ---- cancel ------------------------------------------------------------------------------

export async function runCancel(target: QueueTarget & { jobId: string; drain: boolean }, out: NodeJS.WritableStream): Promise<number> {
  const status = await withRedis(target, 'cancel', (redis) =>
    cancelJob(redis, queueKeys(target.queue), target.jobId, target.drain ? 'drain' : 'abort', target.drain ? 'drained by slowwork cancel' : 'cancelled by slowwork cancel'),
  );
  if (status === null) throw noSuchJob(target.jobId, target.queue);
  const what: Record<string, string> = {
    aborting: 'cancelling: queued items dropped, running items aborted',
    draining: 'draining: queued items dropped, running items finish',
    cancelled: 'cancelled',
    done: 'already done: nothing to cancel',
  };
  out.write(`job ${target.jobId}: ${what[status] ?? status}\n`);
  return ExitCode.ok;
}

// ---- watch job ---------------------------------------------------------------------------

export interface WatchIO {
  readonly stdin: NodeJS.ReadStream;
  readonly stdout: NodeJS.WriteStream;
  readonly signals?: NodeJS.EventEmitter;
}

/**
 * Attaches to a job's events from the start: finished items, then the live streams. Ctrl+C
 * leaves the job running. Exit codes as submit: 0 all done, 1 some failed, 130 cancelled or left.
 */
export async function runWatchJob(target: QueueTarget & { jobId: string; ui: UiMode; fromDashboard?: boolean; signal?: AbortSignal }, io: WatchIO): Promise<number> {
  const attached = target.fromDashboard === true;
  const keys = queueKeys(target.queue);
  const redisTarget = parseRedisUrl(target.redisUrl);
  const cmd = await openRedis(redisTarget, 'command', { name: `slowwork:watch:${hostname()}:${process.pid}`, checkVersion: true });
  const readerConn = duplicateConnection(cmd, `slowwork:watch-events:${hostname()}:${process.pid}`);
  // The events connection blocks on the stream: it is the first to see Redis go away.
  const link = new LinkWatch(readerConn);
  try {
    const job = await getJob(cmd, keys, target.jobId);
    if (!job) throw noSuchJob(target.jobId, target.queue);
    const workers = await liveWorkers(cmd, keys);
    const started = performance.now();
    let left = false;
    let readerRef: EventsReader | null = null;
    const leave = (): void => {
      left = true;
      readerRef?.stop();
    };
    const reporter = await pickReporter(target.ui, io, leave, { escapeInterrupts: attached });
    reporter.start({
      jobId: job.id,
      processors: job.processors,
      broker: `redis ${redisTarget.display} queue ${target.queue}: ${workers.length} worker${workers.length === 1 ? '' : 's'}`,
      concurrency: workers.reduce((sum, w) => sum + w.slots, 0),
      outPath: job.out || '(written by the submitter)',
      total: job.total >= 0 ? job.total : null,
      skipped: 0,
      // Elapsed time, rates and ETA are the job's, not this attach's.
      startedAt: job.created || undefined,
      hint: attached ? ATTACHED_HINT : 'Ctrl+C: leave (the job keeps running)',
    });
    link.subscribe((down) => reporter.setLink(down));
    let end: JobCounts | null = null;
    let endAt: number | null = null;
    let cancelled = false;
    const reader = new EventsReader(readerConn, keys.job(job.id).events, {
      onEvents: (decoded, times) => {
        // Handed over at the times they happened (a replay keeps its history's pace).
        let events: JobEvent[] = [];
        let at = times[0] ?? Date.now();
        decoded.forEach((e, k) => {
          if (e.type === 'stopping') return;
          const t = times[k] ?? at;
          if (t !== at && events.length > 0) {
            reporter.onEvents(events, at);
            events = [];
          }
          at = t;
          if (e.type === 'job-done' || e.type === 'job-cancelled') {
            end = e.counts;
            endAt = t;
            cancelled = e.type === 'job-cancelled';
          }
          events.push(e);
        });
        if (events.length > 0) reporter.onEvents(events, at);
      },
      isGone: async () => (await cmd.exists(keys.job(job.id).hash)) === 0,
    });
    readerRef = reader;
    // From the dashboard, keys arrive raw (Esc, Ctrl+C) and a signal is the dashboard's to handle.
    const signals = attached ? null : (io.signals ?? process);
    const unlisten = signals ? onStopSignals(signals, leave) : () => undefined;
    // The dashboard quitting (q, a signal) while attached ends this view first.
    target.signal?.addEventListener('abort', leave);
    if (target.signal?.aborted) leave();
    // Whatever goes wrong, the live view is finished (it holds the terminal) before it is said.
    let failure: unknown = null;
    try {
      await reader.done;
    } catch (err) {
      if (!left) failure = err;
    } finally {
      unlisten();
      target.signal?.removeEventListener('abort', leave);
    }
    const counts: JobCounts = end ?? { total: job.total, done: job.done, failed: job.failed, unfinished: Math.max(0, job.total - job.done - job.failed) };
    reporter.setPhase('finished');
    await reporter.finish({
      counts,
      // The job's run time: to its end event, or to now if it still runs.
      elapsedMs: job.created ? (endAt ?? job.finished ?? Date.now()) - job.created : performance.now() - started,
      outPath: job.out || '(written by the submitter)',
      resumeCommand: left && !attached ? `slowwork watch job ${job.id}${target.queue === 'default' ? '' : ` --queue ${target.queue}`}` : null,
      interrupted: left,
    });
    if (failure !== null) throw failure;
    // The job ended while attached: its summary stays until the user goes back.
    if (attached && !left) await waitForKey(io.stdin, io.stdout, BACK_HINT, target.signal);
    if (left || cancelled) return ExitCode.interrupted;
    return (end as JobCounts | null)?.failed ? ExitCode.itemsFailed : ExitCode.ok;
  } finally {
    link.stop();
    readerConn.disconnect();
    cmd.disconnect();
  }
}

/** The key lines of a job view attached from the dashboard, while it runs and once it ended. */
export const ATTACHED_HINT = 'Esc: back to the dashboard (the job keeps running)';
export const BACK_HINT = 'Esc or Enter: back to the dashboard';

/**
 * Waits for Esc, Enter, q or Ctrl+C on a raw TTY (returns at once without one). Reads the way
 * ink does ('readable' and read(), never pause()): a paused TTY stream is not read again by the
 * next ink instance, and the dashboard mounts one right after.
 */
export async function waitForKey(stdin: NodeJS.ReadStream, stdout: NodeJS.WritableStream, hint: string, signal?: AbortSignal): Promise<void> {
  if (!stdin.isTTY || typeof stdin.setRawMode !== 'function' || signal?.aborted) return;
  stdout.write(`\u001B[2m${hint}\u001B[22m\n`);
  stdin.setRawMode(true);
  stdin.ref();
  let onReadable: () => void = () => undefined;
  try {
    await new Promise<void>((resolve) => {
      onReadable = (): void => {
        let chunk: unknown;
        while ((chunk = stdin.read()) !== null) {
          const s = String(chunk);
          if (s === '\u001B' || s === '\r' || s === '\n' || s === 'q' || s === '\u0003') resolve();
        }
      };
      stdin.on('readable', onReadable);
      signal?.addEventListener('abort', () => resolve());
    });
  } finally {
    stdin.off('readable', onReadable);
    stdin.setRawMode(false);
    stdin.unref();
  }
}
