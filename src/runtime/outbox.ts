/**
 * Collects a batch's messages and posts them once per event-loop tick, merging consecutive
 * chunks of the same item: at thousands of tokens per second this turns one postMessage per
 * token into one per tick.
 */
import type { ThreadMessage } from './protocol.js';

type ChunkMessage = Extract<ThreadMessage, { t: 'chunk' }>;

export class Outbox {
  private queue: ThreadMessage[] = [];
  private openChunks = new Map<number, ChunkMessage>();
  private scheduled = false;

  constructor(private readonly post: (messages: ThreadMessage[]) => void) {}

  push(message: ThreadMessage): void {
    // Anything but a chunk ends the merge window of its item, keeping per-item order intact.
    // (By type, not `'i' in message`: a lookup across many message shapes is slow.)
    const t = message.t;
    if (this.openChunks.size > 0 && (t === 'start' || t === 'done' || t === 'error' || t === 'log')) this.openChunks.delete(message.i);
    this.queue.push(message);
    this.schedule();
  }

  chunk(i: number, a: number, s: number, text: string): void {
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
    if (this.queue.length === 0) return;
    const messages = this.queue;
    this.queue = [];
    this.openChunks.clear();
    this.post(messages);
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      if (this.scheduled) this.flush();
    });
  }
}
