/**
 * An action's event log, kept bounded: what a client resuming `GET /actions/:id/events` with
 * `Last-Event-ID` needs, not every chunk ever streamed. Pure.
 *
 * - An item's chunks are dropped once it ends (`item-done` carries the whole output, and
 *   `item-failed` ends it) or its attempt is retried (the next one starts from nothing).
 * - A running item keeps its latest CHUNK_WINDOW chunk events one by one; older ones are
 *   coalesced into a single chunk event (`n` summed) whose `from` is the first id it covers. A
 *   reader resuming from an id inside that range gets it whole: `from` tells it the text restarts
 *   the item's attempt rather than follows what it had.
 *
 * So a log holds a few events per item plus at most CHUNK_WINDOW + 1 chunks per running item,
 * however long the outputs are.
 */
import type { JobEvent } from '../core/events.js';

export interface ActionLogEntry {
  /** 1-based, the SSE `id:` a client resumes from. */
  readonly seq: number;
  readonly type: JobEvent['type'];
  /** The event, with the item's `item` id added to item events (a coalesced chunk also has `from`). */
  readonly data: Record<string, unknown>;
}

/** Chunk events of a running item kept one by one (resumable exactly). */
export const CHUNK_WINDOW = 256;

interface Entry {
  seq: number;
  readonly type: JobEvent['type'];
  data: Record<string, unknown>;
  dropped: boolean;
}

export class ActionLog {
  private entries: Entry[] = [];
  private lastSeq = 0;
  private droppedCount = 0;
  /** A running item's chunk entries (its current attempt, in order). */
  private readonly chunks = new Map<number, Entry[]>();

  /** Entries held (for tests and figures). */
  get size(): number {
    return this.entries.length - this.droppedCount;
  }

  /** Logs one event; returns the entry to send live (its seq is the next one). */
  append(e: JobEvent, data: Record<string, unknown>): ActionLogEntry {
    const entry: Entry = { seq: ++this.lastSeq, type: e.type, data, dropped: false };
    this.entries.push(entry);
    const live: ActionLogEntry = { seq: entry.seq, type: entry.type, data };
    if (e.type === 'chunk') this.keepChunk(e.index, entry);
    else if (e.type === 'item-start' || e.type === 'item-retry' || e.type === 'item-done' || e.type === 'item-failed') this.dropChunks(e.index);
    this.compact();
    return live;
  }

  /** The entries after `seq`, in order. */
  after(seq: number): ActionLogEntry[] {
    let lo = 0;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.entries[mid]!.seq <= seq) lo = mid + 1;
      else hi = mid;
    }
    const out: ActionLogEntry[] = [];
    for (let i = lo; i < this.entries.length; i++) {
      const e = this.entries[i]!;
      if (!e.dropped) out.push({ seq: e.seq, type: e.type, data: e.data });
    }
    return out;
  }

  private keepChunk(index: number, entry: Entry): void {
    const list = this.chunks.get(index) ?? [];
    this.chunks.set(index, list);
    list.push(entry);
    if (list.length <= CHUNK_WINDOW + 1) return;
    // The two oldest become one: the later entry takes the earlier's text (entries stay in seq order).
    const [first, second] = list.splice(0, 2) as [Entry, Entry];
    const a = first.data;
    const b = second.data;
    second.data = { ...b, text: `${a.text as string}${b.text as string}`, n: (a.n as number) + (b.n as number), from: (a.from as number | undefined) ?? first.seq };
    list.unshift(second);
    this.drop(first);
  }

  private dropChunks(index: number): void {
    const list = this.chunks.get(index);
    if (!list) return;
    for (const entry of list) this.drop(entry);
    this.chunks.delete(index);
  }

  private drop(entry: Entry): void {
    entry.dropped = true;
    entry.data = {};
    this.droppedCount++;
  }

  /** Forgets dropped entries once they are most of the array. */
  private compact(): void {
    if (this.droppedCount < 1024 || this.droppedCount * 2 < this.entries.length) return;
    this.entries = this.entries.filter((e) => !e.dropped);
    this.droppedCount = 0;
  }
}
