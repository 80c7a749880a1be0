/**
 * The dashboard's source for a running `slowwork serve` (`--url`): `GET /dashboard` for each
 * sample, `DELETE /jobs/:id` to cancel, `GET /jobs/:id/events` (server-sent events) to attach.
 */
import { performance } from 'node:perf_hooks';
import { z } from 'zod';
import type { DashSample } from '../core/dashboard-sample.js';
import { describeError, UsageError } from '../core/errors.js';
import type { JobCounts, JobEvent } from '../core/events.js';
import { SseParser } from '../processors/openai/sse.js';
import type { DashboardSource } from './dashboard-source.js';
import { ATTACHED_HINT, BACK_HINT, waitForKey } from './queue-admin.js';
import { pickReporter } from './reporters.js';

const REQUEST_TIMEOUT_MS = 3000;

const num = z.number();
const sampleSchema = z.object({
  at: num,
  source: z.string(),
  workers: z.array(
    z.object({
      name: z.string(),
      host: z.string(),
      pid: num,
      queue: z.string(),
      slots: num,
      busy: num,
      cpu: num.nullable(),
      rssBytes: num.nullable(),
      processed: num,
      failed: num,
      chunks: num,
      avgMs: num.nullable(),
      lastBeatAt: num.nullable(),
      heartbeatMs: num.nullable(),
      alive: z.boolean(),
    }),
  ),
  queues: z.array(z.object({ name: z.string(), waiting: num, inFlight: num, delayed: num, dead: num, oldestWaitingMs: num.nullable() })),
  jobs: z.array(
    z.object({
      id: z.string(),
      queue: z.string(),
      submitter: z.string(),
      processors: z.array(z.string()),
      status: z.enum(['running', 'draining', 'aborting', 'done', 'cancelled']),
      total: num.nullable(),
      done: num,
      failed: num,
      running: num,
      createdAt: num,
      finishedAt: num.nullable(),
    }),
  ),
});

export async function openHttpSource(baseUrl: string, token: string | undefined): Promise<DashboardSource> {
  let base: URL;
  try {
    base = new URL(baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`);
  } catch {
    throw new UsageError(`--url ${baseUrl} is not a URL (e.g. http://127.0.0.1:8000)`);
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new UsageError(`--url must be http:// or https:// (got ${baseUrl})`);
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  const display = base.origin;

  const call = async (method: string, path: string): Promise<Response> => {
    try {
      return await fetch(new URL(path, base), { method, headers, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause;
      if (cause?.code === 'ECONNREFUSED') throw new UsageError(`cannot reach slowwork serve at ${display}: connection refused (is it running?)`);
      if ((err as Error).name === 'TimeoutError') throw new UsageError(`slowwork serve at ${display} did not answer within ${REQUEST_TIMEOUT_MS / 1000} s`);
      throw new UsageError(`cannot reach slowwork serve at ${display}: ${describeError(cause ?? err)}`);
    }
  };

  const refused = async (res: Response, what: string): Promise<UsageError> => {
    if (res.status === 401) return new UsageError(`slowwork serve at ${display} wants a token: give --token (or SLOWWORK_TOKEN)`);
    if (res.status === 404 && what === 'dashboard') return new UsageError(`${display} has no /dashboard: is it a slowwork serve?`);
    let message = `HTTP ${res.status}`;
    try {
      const body = (await res.json()) as { error?: { message?: string } };
      if (body.error?.message) message = body.error.message;
    } catch {
      // not JSON
    }
    return new UsageError(`${what}: ${message}`);
  };

  const sample = async (): Promise<DashSample> => {
    const res = await call('GET', 'dashboard');
    if (!res.ok) throw await refused(res, 'dashboard');
    const parsed = sampleSchema.safeParse(await res.json().catch(() => null));
    if (!parsed.success) throw new UsageError(`${display}/dashboard did not answer a slowwork dashboard sample`);
    return { ...parsed.data, source: `serve ${display} · ${parsed.data.source}` };
  };

  // The first call decides whether this is a server we can watch at all.
  await sample();

  return {
    label: `serve ${display}`,
    lastCost: 1,
    sample,
    async cancel(jobId) {
      const res = await call('DELETE', `jobs/${encodeURIComponent(jobId)}`);
      if (!res.ok) throw await refused(res, `cancel ${jobId}`);
      return `job ${jobId}: cancelling (waiting items dropped, running items aborted)`;
    },
    async attach(jobId, io, signal) {
      await followHttpJob(base, headers, jobId, io, signal);
    },
    async close() {
      // fetch keeps no connection of ours open
    },
  };
}

/** The submit view on a job's event stream, until it ends (then a key) or Esc. */
async function followHttpJob(base: URL, headers: Record<string, string>, jobId: string, io: { stdin: NodeJS.ReadStream; stdout: NodeJS.WriteStream }, signal: AbortSignal): Promise<void> {
  const abort = new AbortController();
  let left = false;
  const leave = (): void => {
    left = true;
    abort.abort();
  };
  // The dashboard quitting while attached ends this view first.
  signal.addEventListener('abort', leave);
  if (signal.aborted) return;
  const res = await fetch(new URL(`jobs/${encodeURIComponent(jobId)}/events`, base), { headers: { ...headers, accept: 'text/event-stream' }, signal: abort.signal });
  if (!res.ok || !res.body) throw new UsageError(`cannot attach to job ${jobId}: HTTP ${res.status}`);
  const info = JSON.parse(res.headers.get('x-slowwork-job') ?? '{}') as { processors?: string[]; total?: number | null; broker?: string };
  const reporter = await pickReporter('tui', io, leave, { escapeInterrupts: true });
  const started = performance.now();
  reporter.start({
    jobId,
    processors: info.processors ?? [],
    broker: info.broker ?? 'slowwork serve',
    concurrency: 0,
    outPath: '(answered over HTTP)',
    total: info.total ?? null,
    skipped: 0,
    hint: ATTACHED_HINT,
  });
  let end: JobCounts | null = null;
  const parser = new SseParser();
  // Whatever goes wrong, the live view is finished (it holds the terminal) before it is said.
  let failure: unknown = null;
  try {
    for await (const piece of res.body as unknown as AsyncIterable<Uint8Array>) {
      const events: JobEvent[] = [];
      for (const e of parser.pushBytes(piece)) {
        const event = JSON.parse(e.data) as JobEvent;
        if (event.type === 'job-done' || event.type === 'job-cancelled') end = event.counts;
        events.push(event);
      }
      reporter.onEvents(events);
    }
  } catch (err) {
    if (!left) failure = err;
  } finally {
    signal.removeEventListener('abort', leave);
  }
  const counts = end ?? { total: info.total ?? 0, done: 0, failed: 0, unfinished: 0 };
  reporter.setPhase('finished');
  await reporter.finish({ counts, elapsedMs: performance.now() - started, outPath: '(answered over HTTP)', resumeCommand: null, interrupted: left });
  if (failure !== null) throw new UsageError(`the stream of job ${jobId} broke off: ${describeError(failure)}`);
  if (!left) await waitForKey(io.stdin, io.stdout, BACK_HINT, signal);
}
