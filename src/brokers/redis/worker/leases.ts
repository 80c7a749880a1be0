/**
 * The items a Redis worker holds, by local number, and the entries it claimed them from. An
 * entry is finished (its E goes with the next report) once every item taken from it is settled:
 * done, failed, or let go. Local numbers are the worker's own, so a re-delivered item never
 * collides with an attempt of it still being aborted.
 */
import type { WorkItem } from '../work-entry.js';
import type { ReportRecord } from './report-buffer.js';

/** One entry this worker claimed items of. */
export interface Held {
  readonly jobId: string;
  readonly entryId: string;
  /** The local numbers of its items not settled yet: at none, the entry is finished. */
  readonly open: Set<number>;
}

/** One item this worker runs. */
export interface Lease {
  /** Its entry (and job). */
  readonly held: Held;
  readonly item: WorkItem;
  /** Its input as JSON text. */
  readonly payload: string;
  /** When it was first enqueued (epoch ms). */
  readonly enqueuedAt: number;
  startedAt: number;
  /** Its first stage's start record while that goes with the next report (chunks and result fold into it). */
  started: ReportRecord | null;
  /** Redis no longer lets this worker report it (reaped, handed back, given up): forget it quietly. */
  lost: boolean;
  /** Already being aborted because its job stopped: not aborted twice. */
  stopping: boolean;
}

export class Leases {
  private readonly leases = new Map<number, Lease>();
  private readonly held = new Map<string, Held>();
  /** Entries whose E is queued or in flight: not ours to claim again when our PEL is read. */
  private readonly finishing = new Set<string>();
  private nextLocal = 0;
  private slotWaiter: (() => void) | null = null;

  constructor(
    private readonly slots: number,
    /** An entry's last item settled: its E is due. */
    private readonly onEntryFinished: (held: Held) => void,
  ) {}

  get size(): number {
    return this.leases.size;
  }

  get free(): number {
    return this.slots - this.leases.size;
  }

  get(local: number): Lease | undefined {
    return this.leases.get(local);
  }

  /** Every item held, by local number. */
  all(): IterableIterator<[number, Lease]> {
    return this.leases.entries();
  }

  /** An entry of our PEL that is running or being finished here (not to be claimed again). */
  knows(entryId: string): boolean {
    return this.held.has(entryId) || this.finishing.has(entryId);
  }

  heldEntry(entryId: string): Held | undefined {
    return this.held.get(entryId);
  }

  /** A claimed entry, to take its items in. */
  hold(jobId: string, entryId: string): Held {
    const held: Held = { jobId, entryId, open: new Set() };
    this.held.set(entryId, held);
    return held;
  }

  /** Takes in one item of a held entry; returns its local number. */
  add(held: Held, item: WorkItem, payload: string, enqueuedAt: number): [number, Lease] {
    const lease: Lease = { held, item, payload, enqueuedAt, startedAt: 0, started: null, lost: false, stopping: false };
    const local = ++this.nextLocal;
    this.leases.set(local, lease);
    held.open.add(local);
    return [local, lease];
  }

  /** The item is settled here; false if it was already. With its entry's last item, the entry is finished. */
  settle(local: number, lease: Lease): boolean {
    if (!this.leases.delete(local)) return false;
    const held = lease.held;
    held.open.delete(local);
    if (held.open.size === 0 && this.held.get(held.entryId) === held) {
      this.held.delete(held.entryId);
      this.finishing.add(held.entryId);
      this.onEntryFinished(held);
    }
    this.wake();
    return true;
  }

  /** Redis took the entry's E. */
  acknowledged(entryId: string): void {
    this.finishing.delete(entryId);
  }

  /** Hands over every held entry's id (the worker is leaving: they go back to the queue). */
  takeHeld(): string[] {
    const ids = [...this.held.keys()];
    this.held.clear();
    return ids;
  }

  /** Resolves when a slot frees (or on `wake`). */
  waitForSlot(): Promise<void> {
    return new Promise<void>((resolve) => (this.slotWaiter = resolve));
  }

  wake(): void {
    const wake = this.slotWaiter;
    this.slotWaiter = null;
    wake?.();
  }
}
