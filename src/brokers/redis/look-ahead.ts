/**
 * How far a submitter runs ahead of its workers: items handed to Redis and not final yet,
 * counted in items (so the feeder stays a few batches ahead, no more) and in payload bytes (so
 * long prompts do not pile up in Redis: 1000 items of 1 MB ahead would be 1 GB held there).
 *
 * Items count from `add()`; bytes count when an enqueue call is about to be sent, which waits
 * for room first. The byte bound never holds back the job's own concurrency: while fewer than
 * `minItems` items are held (enough to keep every slot of the job busy), a call goes however big
 * it is, so long prompts cost Redis memory in proportion to the concurrency asked for, no more.
 */

export class LookAhead {
  private items = 0;
  private bytes = 0;
  /** Payload bytes of each item sent and not final yet, by index. */
  private readonly sizes = new Map<number, number>();
  private itemWaiters: Array<() => void> = [];
  private byteWaiters: Array<() => void> = [];
  /** Set once the run stopped or ended: nothing waits any more. */
  private released = false;

  constructor(
    private readonly maxItems: number,
    private readonly maxBytes: number,
    /** Items held below which the byte bound does not apply (at least 1). */
    private readonly minItems: number = 1,
  ) {}

  /** Items the feeder added. */
  added(n: number): void {
    this.items += n;
  }

  /** Whether the feeder may add more at once (else it waits for `roomForItems`). */
  get hasItemRoom(): boolean {
    return this.items < this.maxItems;
  }

  /** Resolves once half the item bound is free again (or on `release`). */
  roomForItems(): Promise<void> {
    if (this.released) return Promise.resolve();
    return new Promise<void>((resolve) => this.itemWaiters.push(resolve));
  }

  /** Resolves once a call of `bytes` fits (or on `release`). */
  async roomForBytes(bytes: number): Promise<void> {
    while (!this.released && this.sizes.size >= Math.max(1, this.minItems) && this.bytes + bytes > this.maxBytes) await new Promise<void>((resolve) => this.byteWaiters.push(resolve));
  }

  /** An item's payload goes to Redis. */
  sent(index: number, bytes: number): void {
    this.sizes.set(index, bytes);
    this.bytes += bytes;
  }

  /** An item is final (or given up, or carried over): its room is free. */
  settled(index: number): void {
    this.items--;
    const size = this.sizes.get(index);
    if (size !== undefined) {
      this.sizes.delete(index);
      this.bytes -= size;
      if (this.byteWaiters.length > 0) this.wake('bytes');
    }
    if (this.items < this.maxItems / 2 && this.itemWaiters.length > 0) this.wake('items');
  }

  /** Lets every waiter go (the run stopped or ended: nothing waits on Redis any more). */
  release(): void {
    this.released = true;
    this.wake('items');
    this.wake('bytes');
  }

  private wake(which: 'items' | 'bytes'): void {
    const waiters = which === 'items' ? this.itemWaiters : this.byteWaiters;
    if (which === 'items') this.itemWaiters = [];
    else this.byteWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
