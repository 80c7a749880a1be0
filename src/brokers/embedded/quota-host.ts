/**
 * The embedded pool's quota, on the main thread: one QuotaLedger for every thread of the pool, so
 * every key has one limiter however many threads call it. A thread's requests arrive with its item
 * events (the pool's 'message'), in the order it made them; replies go back on the MessagePort it
 * handed over first (runtime/quota/thread-link.ts). A port that closes (its thread ended) gives
 * that thread's slots back.
 *
 * Why the main thread and not a SharedArrayBuffer per key: a reservation changes two TATs at once,
 * a pause moves permits other threads are sleeping on, and the AIMD window queues callers until
 * another thread's call ends; all of that is plain code on one thread, and the same request and
 * reply are what a Redis store will answer. It costs a message round trip per permit (see
 * docs/architecture.md for the figure), against calls that take ms to s.
 */
import type { MessagePort } from 'node:worker_threads';
import { aimdConfig } from '../../core/quota/aimd.js';
import { QuotaLedger, type KeyActivity, type KeyView, type Outgoing, type QuotaRequest } from '../../core/quota/ledger.js';
import { monotonicMs } from '../../runtime/quota/clock.js';

/**
 * What the pool's threads ask for permits: this host, or a Redis worker's (brokers/redis/quota-host.ts),
 * whose buckets are the queue's.
 */
export interface PoolQuota {
  /** Answers thread `thread` on `port` from now on. */
  attach(thread: number, port: MessagePort): void;
  /** A request of thread `thread`. */
  handle(thread: number, request: QuotaRequest): void;
  view(key: string): KeyView | undefined;
  activity(): KeyActivity[];
  close(): void;
}

export class QuotaHost implements PoolQuota {
  private readonly ledger: QuotaLedger;
  /** Each thread's reply port, by thread id (the ledger's client number). */
  private readonly ports = new Map<number, MessagePort>();

  /** `ceiling`: the most calls in flight per key (the pool's concurrency). */
  constructor(ceiling: number, private readonly clock: () => number = monotonicMs) {
    this.ledger = new QuotaLedger(aimdConfig(ceiling));
  }

  /** Answers thread `thread` on `port` from now on. */
  attach(thread: number, port: MessagePort): void {
    this.ports.set(thread, port);
    port.on('close', () => {
      this.ports.delete(thread);
      this.deliver(this.ledger.disconnect(thread, this.clock()));
    });
    port.unref();
  }

  /** A request of thread `thread`. */
  handle(thread: number, request: QuotaRequest): void {
    this.deliver(this.ledger.handle(thread, request, this.clock()));
  }

  view(key: string): KeyView | undefined {
    return this.ledger.view(key);
  }

  activity(): KeyActivity[] {
    return this.ledger.activity(this.clock());
  }

  close(): void {
    for (const port of this.ports.values()) port.close();
    this.ports.clear();
  }

  private deliver(outs: readonly Outgoing[]): void {
    for (const out of outs) this.ports.get(out.client)?.postMessage(out.reply);
  }
}
