/**
 * Delivers a job run's events to its listener once per event-loop tick, one array a tick: the
 * results writer, the reporters and HTTP streams then do their work per tick, not per event.
 * Chunks a run hands over one piece at a time (`chunk`) merge within the tick into one chunk
 * event of their item's attempt (`n` counts the pieces); runs whose chunks come merged already
 * (the embedded pool's threads) `emit` them as they are.
 */
import type { EventListener, JobEvent } from '../core/events.js';

interface OpenChunk {
  type: 'chunk';
  index: number;
  attempt: number;
  text: string;
  n: number;
}

export class TickEvents {
  private pending: JobEvent[] = [];
  /** The chunk event of each item still open for merging in this tick. */
  private readonly open = new Map<number, OpenChunk>();
  private scheduled = false;

  /** `onError`: the listener threw (a consumer that cannot keep up stops the job). */
  constructor(
    private readonly listener: EventListener,
    private readonly onError: (err: unknown) => void,
  ) {}

  emit(event: JobEvent): void {
    // Anything but a merged chunk closes its item's merge window, so per-item order holds.
    if (this.open.size > 0 && 'index' in event) this.open.delete(event.index);
    this.pending.push(event);
    this.schedule();
  }

  /** One piece of an attempt's stream, merged with the item's other pieces of this tick. */
  chunk(index: number, attempt: number, text: string): void {
    const open = this.open.get(index);
    if (open && open.attempt === attempt) {
      open.text += text;
      open.n++;
      return;
    }
    const event: OpenChunk = { type: 'chunk', index, attempt, text, n: 1 };
    this.open.set(index, event);
    this.pending.push(event);
    this.schedule();
  }

  /** Delivers what is pending now. */
  flush(): void {
    this.scheduled = false;
    this.open.clear();
    if (this.pending.length === 0) return;
    const events = this.pending;
    this.pending = [];
    try {
      this.listener(events);
    } catch (err) {
      this.onError(err);
    }
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      if (this.scheduled) this.flush();
    });
  }
}
