/**
 * The embedded pool a submit runs on: a broker around the threads bin/slowwork.js started early
 * (app/early-pool.ts) when they are the ones the parsed options want, else around new ones.
 */
import { EmbeddedBroker } from '../brokers/embedded/broker.js';
import { poolSettings, takeSpeculativePools, type PoolChoice } from './early-pool.js';

export interface EarlyPool {
  readonly broker: EmbeddedBroker;
  /** Set once the run owns the broker; until then whoever started it closes it. */
  handedOver: boolean;
}

/**
 * The pool for these options: on the speculative threads when they fit (else those are ended), or
 * new ones; null for Redis, or when a processor reference is wrong (resolvePipeline then says so,
 * in its own order).
 */
export function adoptPool(opts: PoolChoice, cwd: string): EarlyPool | null {
  const settings = poolSettings(opts, cwd);
  const pools = takeSpeculativePools(settings);
  return settings && { broker: new EmbeddedBroker(settings, pools ?? undefined), handedOver: false };
}

/** The pool for a run that did not start early (`runSubmit` called directly). */
export function startPool(opts: PoolChoice, cwd: string): EarlyPool | null {
  const settings = poolSettings(opts, cwd);
  return settings && { broker: new EmbeddedBroker(settings), handedOver: false };
}
