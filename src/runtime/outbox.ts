/**
 * Collects a batch's messages and posts them once per event-loop tick, merging consecutive
 * chunks of the same item: at thousands of tokens per second this turns one postMessage per
 * token into one per tick. An item that starts (first stage), streams and ends within one tick
 * goes as one `outcome` message: short items cost one message, not three.
 */
import type { ThreadMessage } from './protocol.js';

type ChunkMessage = Extract<ThreadMessage, { t: 'chunk' }>;

/** An item's first-stage start of this tick, gathering its chunks until its result comes. */
interface OpenStart {
  /** Where its start message sits in the queue (replaced by the outcome). */
  readonly at: number;
  readonly a: number;
  text: string;
  n: number;
}

export class Outbox {
  private queue: ThreadMessage[] = [];
  private openChunks = new Map<number, ChunkMessage>();
  private starts = new Map<number, OpenStart>();
  private scheduled = false;

  constructor(private readonly post: (messages: ThreadMessage[]) => void) {}

  push(message: ThreadMessage): void {
    // (By type, not `'i' in message`: a lookup across many message shapes is slow.)
    const t = message.t;
    if (t === 'start' || t === 'done' || t === 'error' || t === 'log') {
      const i = message.i;
      // Anything but a chunk ends the merge window of its item, keeping per-item order intact.
      if (this.openChunks.size > 0) this.openChunks.delete(i);
      const open = this.starts.size > 0 ? this.starts.get(i) : undefined;
      if (open !== undefined) {
        this.starts.delete(i);
        if (t === 'done' && message.a === open.a) {
          // Two literals rather than a spread of an optional field: two stable shapes, and cheaper.
          this.queue[open.at] =
            message.meta === undefined
              ? { t: 'outcome', i, a: open.a, text: open.text, n: open.n, out: message.out, ms: message.ms, fc: message.fc }
              : { t: 'outcome', i, a: open.a, text: open.text, n: open.n, out: message.out, ms: message.ms, fc: message.fc, meta: message.meta };
          return;
        }
        this.spill(i, open);
      }
      if (t === 'start' && message.s === 0) this.starts.set(i, { at: this.queue.length, a: message.a, text: '', n: 0 });
    }
    this.queue.push(message);
    this.schedule();
  }

  chunk(i: number, a: number, s: number, text: string): void {
    if (s === 0 && this.starts.size > 0) {
      const open = this.starts.get(i);
      if (open !== undefined && open.a === a) {
        open.text += text;
        open.n++;
        return;
      }
    }
    const open = this.openChunks.get(i);
    if (open && open.a === a && open.s === s) {
      open.text += text;
      open.n++;
      return;
    }
    const message: ChunkMessage = { t: 'chunk', i, a, s, text, n: 1 };
    this.openChunks.set(i, message);
    this.queue.push(message);
    this.schedule();
  }

  /** Posts everything now (before a batch returns or a thread dies). */
  flush(): void {
    this.scheduled = false;
    if (this.starts.size > 0) {
      for (const [i, open] of this.starts) this.spill(i, open);
      this.starts.clear();
    }
    if (this.queue.length === 0) return;
    const messages = this.queue;
    this.queue = [];
    this.openChunks.clear();
    this.post(messages);
  }

  /** The chunks an open start gathered, as the chunk message they would have been. */
  private spill(i: number, open: OpenStart): void {
    if (open.n > 0) this.queue.push({ t: 'chunk', i, a: open.a, s: 0, text: open.text, n: open.n });
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      if (this.scheduled) this.flush();
    });
  }
}
