/**
 * Sends what a worker gathered (report-buffer.ts) to Redis, one `report` script call per job:
 * anything but chunks at once, with one flush in flight at a time (the next carries what came
 * meanwhile); chunk-only news after `chunkFlushMs` at most. A job's records go in parts of
 * REPORT_BYTES at most, in order; a part that fails goes back, with the rest, for the next try.
 */
import { describeError } from '../../../core/errors.js';
import type { QueueKeys } from '../keys.js';
import { report } from '../script-calls.js';
import type { ScriptedRedis } from '../scripts.js';
import { ReportBuffer, type ReportRecord, reportArgs, reportParts } from './report-buffer.js';

/** Most text one report script call carries (see reportParts). */
const REPORT_BYTES = 4 * 1024 * 1024;

export interface ReportHooks {
  /** Redis took the entry's E. */
  readonly acknowledged: (entryId: string) => void;
  /** Redis refused the entry's records: it is no longer this worker's (reaped while it stalled). */
  readonly stale: (entryId: string, jobId: string) => void;
  /** The job's status after a report (null: the job is gone). */
  readonly status: (jobId: string, status: string | null) => void;
  readonly log: (line: string) => void;
}

export class Reporter {
  readonly buffer = new ReportBuffer();
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> | null = null;
  /** Numbers every report, so one sent again after a lost reply is applied once. */
  private seq = 0;

  constructor(
    private readonly cmd: ScriptedRedis,
    private readonly keys: QueueKeys,
    private readonly worker: string,
    private readonly chunkFlushMs: number,
    private readonly hooks: ReportHooks,
  ) {}

  /** Something was gathered: sends it now, or (chunks only) within `chunkFlushMs`. */
  schedule(): void {
    if (this.flushing || this.buffer.size === 0) return;
    if (this.buffer.hasUrgent) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      this.flushing = this.flush();
      return;
    }
    if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = null;
        if (!this.flushing) this.flushing = this.flush();
      }, this.chunkFlushMs);
    }
  }

  /** Sends everything gathered so far, now, and waits for it (the worker is stopping). */
  async flushNow(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.flushing;
    if (this.buffer.size > 0) await this.flush();
  }

  /** Sends everything gathered, one script call per job; then again if more came meanwhile. */
  private async flush(): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve)); // gather what this tick produced
    const jobs = this.buffer.take();
    await Promise.all([...jobs].map(([jobId, records]) => this.send(jobId, records)));
    this.flushing = null;
    this.schedule();
  }

  /** Sends a job's records, in parts of REPORT_BYTES at most, one after the other. */
  private async send(jobId: string, records: ReportRecord[]): Promise<void> {
    const parts = reportParts(records, REPORT_BYTES);
    for (let k = 0; k < parts.length; k++) {
      if (await this.sendPart(jobId, parts[k]!)) continue;
      // Not sent: this part and the rest go back, in order, for the next try.
      this.buffer.restore(jobId, parts.slice(k).flat());
      return;
    }
  }

  /** One report script call; false (after a pause) if it failed. */
  private async sendPart(jobId: string, records: ReportRecord[]): Promise<boolean> {
    let reply: { status: string | null; stale: string[] };
    try {
      reply = await report(this.cmd, this.keys, jobId, { worker: this.worker, now: Date.now(), seq: ++this.seq, records: reportArgs(records) });
    } catch (err) {
      // Not a lost connection (commands wait for it): a script error. Keep the records, try again.
      this.hooks.log(`worker ${this.worker}: reporting job ${jobId} failed, retrying: ${describeError(err)}`);
      await new Promise<void>((resolve) => setTimeout(resolve, 500));
      return false;
    }
    for (const r of records) if (r.kind === 'E') this.hooks.acknowledged(r.entryId);
    for (const entryId of reply.stale) this.hooks.stale(entryId, jobId);
    this.hooks.status(jobId, reply.status);
    return true;
  }
}
