/**
 * Where a dashboard's samples come from (Redis queues, or a running `slowwork serve`), and the
 * loop that takes one a second: never two at once, and a sample that does not come back in
 * time marks the source as lost (the screen says "reconnecting") until one does.
 */
import type { DashSample } from '../core/dashboard-sample.js';
import { describeError } from '../core/errors.js';

export interface DashboardSource {
  /** For the title, e.g. `redis 127.0.0.1:6379 queue default`. */
  readonly label: string;
  /** One sample; rejects when the source cannot be read now. */
  sample(): Promise<DashSample>;
  /** Cancels a job everywhere; resolves with a line for the user. */
  cancel(jobId: string): Promise<string>;
  /** Shows a job's live streams on the terminal until the user comes back (or `signal` aborts). */
  attach(jobId: string, io: { stdin: NodeJS.ReadStream; stdout: NodeJS.WriteStream }, signal: AbortSignal): Promise<void>;
  /** Redis commands (or HTTP requests) the last sample cost. */
  readonly lastCost: number;
  /** Called when the connection drops, before any sample times out. */
  onLost?(listener: (error: string) => void): void;
  close(): Promise<void>;
}

export interface SamplerEvents {
  readonly onSample: (sample: DashSample) => void;
  readonly onLost: (error: string) => void;
}

/** Samples every `intervalMs` until stopped. */
export class Sampler {
  private timer: NodeJS.Timeout | null = null;
  private inFlight = false;
  private stopped = false;

  constructor(
    private readonly source: DashboardSource,
    private readonly intervalMs: number,
    private readonly events: SamplerEvents,
    /** A sample slower than this counts as a lost connection (it may still land later). */
    private readonly timeoutMs = Math.max(2000, intervalMs * 2),
  ) {
    source.onLost?.((error) => {
      if (!this.stopped) events.onLost(error);
    });
  }

  start(): void {
    this.timer = setInterval(() => this.tick(), this.intervalMs);
  }

  /** One sample now (also the first, before `start`). */
  async tick(): Promise<void> {
    if (this.inFlight || this.stopped) return;
    this.inFlight = true;
    const late = setTimeout(() => {
      if (!this.stopped) this.events.onLost(`no answer in ${Math.round(this.timeoutMs / 100) / 10} s`);
    }, this.timeoutMs);
    try {
      const sample = await this.source.sample();
      if (!this.stopped) this.events.onSample(sample);
    } catch (err) {
      if (!this.stopped) this.events.onLost(describeError(err));
    } finally {
      clearTimeout(late);
      this.inFlight = false;
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
