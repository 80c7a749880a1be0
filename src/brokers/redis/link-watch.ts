/**
 * Watches one Redis connection and says when the link goes down and comes back. ioredis
 * reconnects on its own and queues commands meanwhile (maxRetriesPerRequest: null), which keeps a
 * job alive through a restart but also hides the outage: without this, a submit shows only
 * `0 items/s`. Down is the first `close` of a connection that had been ready; up is `ready` again.
 */
import type { Redis } from 'ioredis';
import type { LinkDown } from '../../core/link.js';

export type LinkListener = (down: LinkDown | null) => void;

export class LinkWatch {
  private downSince: number | null = null;
  private stopped = false;
  private readonly listeners = new Set<LinkListener>();

  constructor(
    private readonly conn: Redis,
    private readonly service = 'redis',
    private readonly now: () => number = Date.now,
  ) {
    conn.on('close', this.onClose);
    conn.on('ready', this.onReady);
    // Already down when the watch starts (a reconnect under way).
    if (conn.status !== 'ready' && conn.status !== 'wait') this.downSince = now();
  }

  /** The outage under way, or null while the link is up. */
  get down(): LinkDown | null {
    return this.downSince === null ? null : { service: this.service, since: this.downSince };
  }

  /** Calls `fn` on every change (down, then up); returns the unsubscribe. */
  subscribe(fn: LinkListener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Stops watching (the connection is being closed on purpose: that is no outage). */
  stop(): void {
    this.stopped = true;
    this.conn.off('close', this.onClose);
    this.conn.off('ready', this.onReady);
    this.listeners.clear();
  }

  private readonly onClose = (): void => {
    if (this.stopped || this.downSince !== null) return;
    this.downSince = this.now();
    this.emit();
  };

  private readonly onReady = (): void => {
    if (this.stopped || this.downSince === null) return;
    this.downSince = null;
    this.emit();
  };

  private emit(): void {
    const down = this.down;
    for (const fn of this.listeners) {
      try {
        fn(down);
      } catch {
        // A listener's failure is its own; the others still hear.
      }
    }
  }
}
