/**
 * The embedded pool's quota, on the main thread: one QuotaLedger for every thread of the pool, so
 * every key has one limiter however many threads call it. Each thread hands over a MessagePort on
 * its first `ctx.limit` (runtime/quota/thread-link.ts); requests arrive on it and replies go back
 * on it. A port that closes (its thread ended) gives its slots back.
 *
 * Why the main thread and not a SharedArrayBuffer per key: a reservation changes two TATs at once,
 * a pause moves permits other threads are sleeping on, and the AIMD window queues callers until
 * another thread's call ends; all of that is plain code on one thread, and the same request and
 * reply are what a Redis store will answer. It costs a message round trip per permit (see
 * docs/architecture.md for the figure), against calls that take ms to s.
 */
import type { MessagePort } from 'node:worker_threads';
import { aimdConfig } from '../../core/quota/aimd.js';
import { QuotaLedger, type KeyView, type Outgoing, type QuotaRequest } from '../../core/quota/ledger.js';
import { monotonicMs } from '../../runtime/quota/clock.js';

export class QuotaHost {
  private readonly ledger: QuotaLedger;
  private readonly ports = new Map<number, MessagePort>();
  private clients = 0;

  /** `ceiling`: the most calls in flight per key (the pool's concurrency). */
  constructor(ceiling: number, private readonly clock: () => number = monotonicMs) {
    this.ledger = new QuotaLedger(aimdConfig(ceiling));
  }

  /** Serves a thread's quota port. */
  attach(port: MessagePort): void {
    const client = ++this.clients;
    this.ports.set(client, port);
    port.on('message', (request: QuotaRequest) => this.deliver(this.ledger.handle(client, request, this.clock())));
    port.on('close', () => {
      this.ports.delete(client);
      this.deliver(this.ledger.disconnect(client, this.clock()));
    });
    port.unref();
  }

  view(key: string): KeyView | undefined {
    return this.ledger.view(key);
  }

  close(): void {
    for (const port of this.ports.values()) port.close();
    this.ports.clear();
  }

  private deliver(outs: readonly Outgoing[]): void {
    for (const out of outs) this.ports.get(out.client)?.postMessage(out.reply);
  }
}
