/**
 * A quota ledger and its client in one thread, joined by direct calls: what a process without a
 * pool uses (a processor server, the item runner's own tests). Every item of the process that
 * names a key shares that key's limiter.
 */
import { aimdConfig } from '../../core/quota/aimd.js';
import { QuotaLedger, type KeyView } from '../../core/quota/ledger.js';
import { QuotaClient } from './client.js';
import { monotonicMs } from './clock.js';

export class LocalQuota {
  readonly client: QuotaClient;
  private readonly ledger: QuotaLedger;

  /** `ceiling`: the most calls in flight per key (the AIMD window's top); `clock` for tests. */
  constructor(ceiling = Infinity, clock: () => number = monotonicMs) {
    this.ledger = new QuotaLedger(aimdConfig(ceiling));
    this.client = new QuotaClient((request) => {
      for (const out of this.ledger.handle(0, request, clock())) this.client.receive(out.reply);
    }, clock);
  }

  view(key: string): KeyView | undefined {
    return this.ledger.view(key);
  }
}

let shared: LocalQuota | null = null;

/** This process's own quota, made on first use. */
export function localQuota(): LocalQuota {
  return (shared ??= new LocalQuota());
}

/** The client of this process's own quota. */
export const processQuota = (): QuotaClient => localQuota().client;
