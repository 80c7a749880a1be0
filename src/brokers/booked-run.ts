/**
 * The part of the JobRun contract every run on the item book shares, written once: `add`,
 * `end`, `drain`, `abort` and `finished` are the book's (item-book.ts), and the book wakes the run
 * through one pump a microtask. A run (embedded pool, remote endpoints) supplies how its items are
 * made, started (`pump`) and stopped.
 */
import type { EventListener, JobCounts } from '../core/events.js';
import type { ItemSpec } from '../core/types.js';
import type { JobRun } from './broker.js';
import { ItemBook, type BookItem, type BookOptions } from './item-book.js';

export abstract class BookedRun<R extends BookItem> implements JobRun {
  readonly jobId: string;
  readonly finished: Promise<JobCounts>;
  protected readonly book: ItemBook<R>;
  private pumpScheduled = false;

  constructor(jobId: string, listener: EventListener, options: BookOptions) {
    this.jobId = jobId;
    // Closures, not `this` as hooks: the subclass's own fields exist only after this returns.
    this.book = new ItemBook<R>(listener, options, {
      newItem: (spec, now) => this.newItem(spec, now),
      laneOf: (rec) => this.laneOf(rec),
      inFlight: () => this.inFlight(),
      wake: () => this.schedulePump(),
      abortInFlight: (reason) => this.abortInFlight(reason),
      release: () => this.release(),
      onUnfinished: (rec) => this.onUnfinished(rec),
    });
    this.finished = this.book.finished;
  }

  add(items: readonly ItemSpec[]): Promise<void> {
    return this.book.add(items);
  }

  end(): void {
    this.book.end();
  }

  drain(_reason: string): void {
    this.book.drain();
  }

  abort(reason: string): void {
    this.book.abort(reason);
  }

  /** Runs `pump` once in a microtask, however many events asked for it meanwhile. */
  protected schedulePump(): void {
    if (this.pumpScheduled || this.book.closed) return;
    this.pumpScheduled = true;
    queueMicrotask(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  /** Starts what may start now; ends with the book's `releaseIfRoom` and `maybeFinish`. */
  protected abstract pump(): void;
  /** The run's record of an item `add` takes in. */
  protected abstract newItem(spec: ItemSpec, now: number): R;
  /** Items whose attempt runs now. */
  protected abstract inFlight(): number;
  /** Abort: stop every running attempt. */
  protected abstract abortInFlight(reason: string): void;
  /** The run ended: release its timers and subscriptions. */
  protected abstract release(): void;
  /** Which of the book's waiting lanes an item goes to. */
  protected laneOf(_rec: R): number {
    return 0;
  }
  /** An item ended without a result. */
  protected onUnfinished(_rec: R): void {}
}
