/** A worker's figures for its heartbeat: what the dashboard and `slowwork workers` show. */
import { hostname } from 'node:os';

export class WorkerStats {
  beats = 0;
  private processed = 0;
  private failed = 0;
  private chunkCount = 0;
  private totalMs = 0;
  private busyNow = 0;
  private readonly startedAt = Date.now();
  private lastCpu = process.cpuUsage();
  private lastAt = process.hrtime.bigint();

  constructor(
    private readonly slots: number,
    private readonly threads: number,
  ) {}

  busy(n: number): void {
    this.busyNow = n;
  }

  /** `n` processor chunks streamed (what the dashboard's chunks/s adds up). */
  chunks(n: number): void {
    this.chunkCount += n;
  }

  finished(ok: boolean, ms: number): void {
    if (ok) this.processed++;
    else this.failed++;
    this.totalMs += ms;
  }

  /** The heartbeat hash's fields, flat: field, value, field, value... */
  fields(extra: { name: string; queue: string; heartbeatMs: number }): string[] {
    const now = process.hrtime.bigint();
    const cpu = process.cpuUsage(this.lastCpu);
    const elapsedUs = Number(now - this.lastAt) / 1000;
    this.lastCpu = process.cpuUsage();
    this.lastAt = now;
    const cpuPct = elapsedUs > 0 ? ((cpu.user + cpu.system) / elapsedUs) * 100 : 0;
    const finished = this.processed + this.failed;
    return [
      'name', extra.name,
      'host', hostname(),
      'pid', String(process.pid),
      'queue', extra.queue,
      'slots', String(this.slots),
      'threads', String(this.threads),
      'busy', String(this.busyNow),
      'processed', String(this.processed),
      'failed', String(this.failed),
      'chunks', String(this.chunkCount),
      'avgMs', finished > 0 ? (this.totalMs / finished).toFixed(1) : '0',
      'cpu', cpuPct.toFixed(1),
      'rss', String(process.memoryUsage.rss()),
      'started', String(this.startedAt),
      'beat', String(Date.now()),
      'heartbeatMs', String(extra.heartbeatMs),
    ];
  }
}
