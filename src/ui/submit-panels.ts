/**
 * The dashboard panels of a submit's own job (the `d` key of the live view): its workers as
 * seen in its events (the embedded pool's threads, or Redis worker processes), its items as a
 * queue, the job itself and its throughput. Pure: events and snapshots in, samples out.
 */
import type { DashSample } from '../core/dashboard-sample.js';
import type { JobEvent } from '../core/events.js';
import type { JobSnapshot } from '../core/job-state.js';
import { WorkerTally, tallyWorker } from '../core/worker-tally.js';
import type { Phase, RunInfo } from './reporter.js';

export class SubmitPanels {
  private readonly tally = new WorkerTally();

  observe(events: readonly JobEvent[], now: number): void {
    this.tally.observe('job', events, now);
  }

  sample(info: RunInfo, snap: JobSnapshot, phase: Phase, startedAt: number): DashSample {
    const queue = info.broker.split(':')[0] || 'pool';
    const threads = this.tally.list();
    const perWorker = threads.length > 0 ? Math.max(1, Math.ceil(info.concurrency / threads.length)) : 0;
    const waiting = snap.total === null ? 0 : Math.max(0, snap.total - snap.done - snap.failed - snap.inFlight - snap.retrying);
    const status = snap.ended === 'cancelled' ? 'cancelled' : snap.ended === 'done' ? 'done' : phase === 'draining' ? 'draining' : phase === 'aborting' ? 'aborting' : 'running';
    return {
      at: snap.now,
      source: info.broker,
      workers: threads.map((w) => tallyWorker(w, queue, perWorker)),
      queues: [{ name: queue, waiting, inFlight: snap.inFlight, delayed: snap.retrying, dead: snap.failed, oldestWaitingMs: null }],
      jobs: [
        {
          id: info.jobId,
          queue,
          submitter: 'this submit',
          processors: [...info.processors],
          status,
          total: snap.total,
          done: snap.done,
          failed: snap.failed,
          running: snap.inFlight,
          createdAt: startedAt,
          finishedAt: snap.ended ? snap.now : null,
        },
      ],
    };
  }
}
