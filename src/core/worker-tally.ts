/**
 * Per-worker figures folded from job events: what a dashboard shows of workers it only knows
 * through their events (the embedded pool's threads, a server's workers). Pure and O(1) per
 * event; `observe` takes each job's events with the job's own key, so indexes never collide.
 */
import type { DashWorker } from './dashboard-sample.js';
import type { JobEvent } from './events.js';

export interface WorkerFigures {
  readonly name: string;
  readonly busy: number;
  readonly processed: number;
  readonly failed: number;
  readonly chunks: number;
  readonly totalMs: number;
  readonly lastSeenAt: number;
}

interface Mutable {
  name: string;
  busy: number;
  processed: number;
  failed: number;
  chunks: number;
  totalMs: number;
  lastSeenAt: number;
}

export class WorkerTally {
  private readonly workers = new Map<string, Mutable>();
  /** job key -> item index -> the worker running it. */
  private readonly running = new Map<string, Map<number, Mutable>>();

  observe(job: string, events: readonly JobEvent[], now: number): void {
    let items = this.running.get(job);
    if (!items) this.running.set(job, (items = new Map()));
    for (const e of events) {
      switch (e.type) {
        case 'item-start': {
          const before = items.get(e.index);
          const w = this.worker(e.worker, now);
          if (before === w) break; // a pipeline's next stage on the same worker
          if (before) before.busy--;
          w.busy++;
          items.set(e.index, w);
          break;
        }
        case 'chunk': {
          const w = items.get(e.index);
          if (w) {
            w.chunks += e.n > 0 ? e.n : 1;
            w.lastSeenAt = now;
          }
          break;
        }
        case 'item-retry': {
          const w = items.get(e.index);
          if (w) {
            w.busy--;
            if (e.charged) w.failed++;
            w.lastSeenAt = now;
            items.delete(e.index);
          }
          break;
        }
        case 'item-done':
        case 'item-failed': {
          const w = items.get(e.index) ?? (e.worker ? this.worker(e.worker, now) : undefined);
          if (!w) break;
          if (items.delete(e.index)) w.busy--;
          if (e.type === 'item-done') w.processed++;
          else w.failed++;
          w.totalMs += e.durations.totalMs;
          w.lastSeenAt = now;
          break;
        }
        case 'job-done':
        case 'job-cancelled':
          for (const w of items.values()) w.busy--;
          items.clear();
          break;
        default:
          break;
      }
    }
  }

  /** One item given up without an event: its worker is no longer busy with it. */
  drop(job: string, index: number): void {
    const items = this.running.get(job);
    const w = items?.get(index);
    if (w && items!.delete(index)) w.busy--;
  }

  /** The job ended: its items no longer occupy anyone. */
  forget(job: string): void {
    const items = this.running.get(job);
    if (!items) return;
    for (const w of items.values()) w.busy--;
    this.running.delete(job);
  }

  /**
   * The workers, less those idle and unseen for `forgetAfterMs` (a worker known only from events
   * cannot say it died: a restarted one comes back under a new name).
   */
  list(now?: number, forgetAfterMs = 600_000): WorkerFigures[] {
    if (now !== undefined) {
      for (const [name, w] of this.workers) if (w.busy <= 0 && now - w.lastSeenAt > forgetAfterMs) this.workers.delete(name);
    }
    return [...this.workers.values()].map((w) => ({ ...w, busy: Math.max(0, w.busy) }));
  }

  private worker(name: string, now: number): Mutable {
    let w = this.workers.get(name);
    if (!w) this.workers.set(name, (w = { name, busy: 0, processed: 0, failed: 0, chunks: 0, totalMs: 0, lastSeenAt: now }));
    w.lastSeenAt = now;
    return w;
  }
}

/** A worker known only from events, as a dashboard row (no host, pid, cpu or memory known). */
export function tallyWorker(w: WorkerFigures, queue: string, slots: number): DashWorker {
  const finished = w.processed + w.failed;
  return {
    name: w.name,
    host: '',
    pid: 0,
    queue,
    slots,
    busy: w.busy,
    cpu: null,
    rssBytes: null,
    processed: w.processed,
    failed: w.failed,
    chunks: w.chunks,
    avgMs: finished > 0 ? w.totalMs / finished : null,
    lastBeatAt: w.lastSeenAt,
    heartbeatMs: null,
    alive: true,
  };
}
