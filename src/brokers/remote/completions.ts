/**
 * Routes POST /complete to the attempt waiting for it, by dispatch id (unique per attempt): an
 * answer for an attempt already settled (timed out, re-sent, cancelled) finds no one.
 */
import type { ItemMeta } from '../../core/item-meta.js';

export interface Completion {
  readonly id: string;
  readonly output?: string;
  readonly error?: string;
  /** What the attempt cost, checked (wire.ts). */
  readonly meta?: ItemMeta;
}

export class CompletionRouter {
  private readonly waiting = new Map<string, (completion: Completion) => void>();

  expect(id: string, handler: (completion: Completion) => void): void {
    this.waiting.set(id, handler);
  }

  forget(id: string): void {
    this.waiting.delete(id);
  }

  /** Hands the completion to its attempt; false when no attempt waits for this id. */
  deliver(completion: Completion): boolean {
    const handler = this.waiting.get(completion.id);
    if (!handler) return false;
    this.waiting.delete(completion.id);
    handler(completion);
    return true;
  }

  get size(): number {
    return this.waiting.size;
  }
}
