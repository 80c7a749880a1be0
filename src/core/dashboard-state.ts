/**
 * The dashboard reducer: folds successive samples (src/core/dashboard-sample.ts) into what the
 * screen shows: rates from counter deltas, sparkline series, per-job speed and ETA, worker
 * health, a short history of finished jobs, and the connection state. Pure: time comes with
 * the samples, and the work per sample is linear in its size.
 */
import type { DashJob, DashQueue, DashSample, DashWorker } from './dashboard-sample.js';
import { isFinishedStatus } from './dashboard-sample.js';

export type WorkerHealth = 'ok' | 'silent' | 'dead';

export interface WorkerView extends DashWorker {
  readonly health: WorkerHealth;
  /** Time since its last heartbeat, at the sample's time; null when not known. */
  readonly beatAgeMs: number | null;
}

export interface JobView extends DashJob {
  /** Finished items per second, smoothed (about 10 s). */
  readonly itemsPerSec: number;
  /** Completion tokens per second, smoothed alike; null while the job has reported none. */
  readonly tokensPerSec: number | null;
  readonly etaMs: number | null;
  /** Since the job was created (finished or not). */
  readonly ageMs: number;
  /** A finished job kept for a while as history. */
  readonly history: boolean;
}

export type ConnectionState = 'connecting' | 'ok' | 'reconnecting';

export interface DashboardView {
  /** When the newest sample was taken. */
  readonly at: number;
  /**
   * When the view was built: the clock of the title and of `reconnecting for …`, which must move
   * on while no sample lands (absent: `at`).
   */
  readonly now?: number;
  readonly source: string;
  readonly connection: ConnectionState;
  /** Why the source is unreachable, while reconnecting. */
  readonly connectionError: string | null;
  /** Since when it is unreachable. */
  readonly lostSince: number | null;
  /** Live ones first (busy first), then silent, then dead. */
  readonly workers: readonly WorkerView[];
  readonly queues: readonly DashQueue[];
  /** Running jobs (newest first), then the finished history (newest first). */
  readonly jobs: readonly JobView[];
  readonly totals: {
    readonly alive: number;
    readonly silent: number;
    readonly dead: number;
    readonly slots: number;
    readonly busy: number;
    readonly running: number;
    readonly itemsPerSec: number;
    readonly chunksPerSec: number;
  };
  /** Rates per sample interval, oldest first, at most `historySamples`. */
  readonly series: { readonly items: readonly number[]; readonly chunks: readonly number[] };
}

export interface DashboardOptions {
  /** Rate samples kept for the sparklines. Default 300 (5 minutes at one refresh a second). */
  readonly historySamples?: number;
  /** Finished jobs stay in the history this long. Default 10 minutes. */
  readonly historyMs?: number;
  /** At most this many finished jobs in the history. Default 8. */
  readonly maxHistory?: number;
  /** The time constant of a job's smoothed speed. Default 10 s. */
  readonly smoothingMs?: number;
}

/** The shown rates average this many of the newest samples. */
const RATE_SAMPLES = 5;

/** A live worker silent for this many heartbeat intervals is shown as silent. */
const SILENT_AFTER_BEATS = 2.5;

interface JobTrack {
  finished: number;
  at: number;
  rate: number;
  tokens: number;
  tokenRate: number;
}

export class DashboardState {
  private readonly historySamples: number;
  private readonly historyMs: number;
  private readonly maxHistory: number;
  private readonly smoothingMs: number;
  private last: DashSample | null = null;
  private lastWorkers = new Map<string, { finished: number; chunks: number }>();
  private jobTracks = new Map<string, JobTrack>();
  private readonly items: number[] = [];
  private readonly chunks: number[] = [];
  private itemsPerSec = 0;
  private chunksPerSec = 0;
  private connection: ConnectionState = 'connecting';
  private connectionError: string | null = null;
  private lostSince: number | null = null;

  constructor(options: DashboardOptions = {}) {
    this.historySamples = Math.max(1, options.historySamples ?? 300);
    this.historyMs = options.historyMs ?? 600_000;
    this.maxHistory = Math.max(0, options.maxHistory ?? 8);
    this.smoothingMs = Math.max(1, options.smoothingMs ?? 10_000);
  }

  get hasData(): boolean {
    return this.last !== null;
  }

  /** The source's state, without building a view. */
  get connectionState(): ConnectionState {
    return this.connection;
  }

  apply(sample: DashSample): void {
    const prev = this.last;
    const dt = prev ? sample.at - prev.at : 0;
    // Per-worker counter deltas: a worker seen for the first time (or restarted under a new
    // name) adds nothing; counters never count backwards.
    const workers = new Map<string, { finished: number; chunks: number }>();
    let dItems = 0;
    let dChunks = 0;
    for (const w of sample.workers) {
      const now = { finished: w.processed + w.failed, chunks: w.chunks };
      workers.set(w.name, now);
      const before = this.lastWorkers.get(w.name);
      if (before) {
        dItems += Math.max(0, now.finished - before.finished);
        dChunks += Math.max(0, now.chunks - before.chunks);
      }
    }
    this.lastWorkers = workers;
    if (prev && dt > 0) {
      push(this.items, (dItems * 1000) / dt, this.historySamples);
      push(this.chunks, (dChunks * 1000) / dt, this.historySamples);
      // The figure shown is the mean of the last few samples: items finish in bursts.
      this.itemsPerSec = recentMean(this.items, RATE_SAMPLES);
      this.chunksPerSec = recentMean(this.chunks, RATE_SAMPLES);
    }
    this.trackJobs(sample);
    this.last = sample;
    this.connection = 'ok';
    this.connectionError = null;
    this.lostSince = null;
  }

  /** The source did not answer: keep the last data on screen, marked as reconnecting. */
  lost(error: string, now: number): void {
    if (this.connection !== 'reconnecting') this.lostSince = now;
    this.connection = this.last ? 'reconnecting' : 'connecting';
    this.connectionError = error;
  }

  /** The view at `now` (the wall clock; default: the newest sample's time). */
  view(now?: number): DashboardView {
    const s = this.last;
    const at = s?.at ?? 0;
    const workers = (s?.workers ?? []).map((w) => workerView(w, at));
    workers.sort(byHealthThenBusy);
    let alive = 0;
    let silent = 0;
    let dead = 0;
    let slots = 0;
    let busy = 0;
    for (const w of workers) {
      if (w.health === 'dead') {
        dead++;
        continue;
      }
      if (w.health === 'silent') silent++;
      else alive++;
      slots += w.slots;
      busy += w.busy;
    }
    const running: JobView[] = [];
    const history: JobView[] = [];
    for (const j of s?.jobs ?? []) {
      const finished = isFinishedStatus(j.status);
      if (finished && (j.finishedAt === null || at - j.finishedAt > this.historyMs)) continue;
      (finished ? history : running).push(this.jobView(j, at, finished));
    }
    running.sort((a, b) => b.createdAt - a.createdAt);
    history.sort((a, b) => (b.finishedAt ?? 0) - (a.finishedAt ?? 0));
    return {
      at,
      now: now ?? at,
      source: s?.source ?? '',
      connection: this.connection,
      connectionError: this.connectionError,
      lostSince: this.lostSince,
      workers,
      queues: s?.queues ?? [],
      jobs: [...running, ...history.slice(0, this.maxHistory)],
      totals: { alive, silent, dead, slots, busy, running: running.length, itemsPerSec: this.itemsPerSec, chunksPerSec: this.chunksPerSec },
      series: { items: [...this.items], chunks: [...this.chunks] },
    };
  }

  private trackJobs(sample: DashSample): void {
    const tracks = new Map<string, JobTrack>();
    for (const j of sample.jobs) {
      const finished = j.done + j.failed;
      const tokens = j.tokensOut ?? 0;
      const t = this.jobTracks.get(j.id);
      if (!t) {
        // First sight: the average speed so far is the best first guess, once the job is old
        // enough for it to mean something (its creation time is another machine's clock).
        const age = sample.at - j.createdAt;
        const guess = isFinishedStatus(j.status) || age < 1000 ? 0 : 1000 / age;
        tracks.set(j.id, { finished, at: sample.at, rate: finished * guess, tokens, tokenRate: tokens * guess });
        continue;
      }
      const dt = sample.at - t.at;
      if (dt > 0) {
        const weight = 1 - Math.exp(-dt / this.smoothingMs);
        t.rate += ((Math.max(0, finished - t.finished) * 1000) / dt - t.rate) * weight;
        t.tokenRate += ((Math.max(0, tokens - t.tokens) * 1000) / dt - t.tokenRate) * weight;
        t.finished = finished;
        t.tokens = tokens;
        t.at = sample.at;
      }
      if (isFinishedStatus(j.status)) t.rate = t.tokenRate = 0;
      tracks.set(j.id, t);
    }
    this.jobTracks = tracks;
  }

  private jobView(j: DashJob, at: number, history: boolean): JobView {
    const track = this.jobTracks.get(j.id);
    const rate = track?.rate ?? 0;
    const tokensPerSec = j.tokensOut ? (track?.tokenRate ?? 0) : null;
    const left = j.total === null ? null : Math.max(0, j.total - j.done - j.failed);
    const etaMs = history || left === null ? null : left === 0 ? 0 : rate > 0 ? (left / rate) * 1000 : null;
    // AGE is how long ago the job was created, finished or not (as `slowwork jobs` says it).
    return { ...j, itemsPerSec: rate, tokensPerSec, etaMs, ageMs: Math.max(0, at - j.createdAt), history };
  }
}

function workerView(w: DashWorker, at: number): WorkerView {
  const beatAgeMs = w.lastBeatAt === null ? null : Math.max(0, at - w.lastBeatAt);
  let health: WorkerHealth = 'ok';
  if (!w.alive) health = 'dead';
  else if (beatAgeMs !== null && w.heartbeatMs !== null && w.heartbeatMs > 0 && beatAgeMs > SILENT_AFTER_BEATS * w.heartbeatMs) health = 'silent';
  return { ...w, health, beatAgeMs };
}

const HEALTH_ORDER: Record<WorkerHealth, number> = { ok: 0, silent: 1, dead: 2 };

function byHealthThenBusy(a: WorkerView, b: WorkerView): number {
  return HEALTH_ORDER[a.health] - HEALTH_ORDER[b.health] || b.busy - a.busy || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

function recentMean(values: readonly number[], n: number): number {
  const from = Math.max(0, values.length - n);
  let sum = 0;
  for (let i = from; i < values.length; i++) sum += values[i]!;
  return values.length > from ? sum / (values.length - from) : 0;
}

function push(ring: number[], value: number, max: number): void {
  ring.push(value);
  if (ring.length > max) ring.splice(0, ring.length - max);
}
