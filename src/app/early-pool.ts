/**
 * The embedded pool, started before the rest of a submit loads. Worker threads take about as
 * long to start as Node itself, so they come up while the main thread loads the submit flow
 * and checks the pipeline and the inputs. This module loads only the broker and the registry.
 */
import { EmbeddedBroker } from '../brokers/embedded/broker.js';
import { resolveProcessorRef } from '../processors/registry.js';

export interface EarlyPool {
  readonly broker: EmbeddedBroker;
  /** Set once the run owns the broker; until then whoever started it closes it. */
  handedOver: boolean;
}

export interface PoolChoice {
  readonly processors: readonly string[];
  readonly threads: number | undefined;
  readonly concurrency: number;
  readonly redis?: unknown;
}

/**
 * Starts the pool a submit will run on: null for Redis, or when a processor reference is wrong
 * (resolvePipeline then says so, in its own order).
 */
export function startPool(opts: PoolChoice, cwd: string): EarlyPool | null {
  if (opts.redis) return null;
  let processorUrls: string[];
  try {
    processorUrls = (opts.processors.length > 0 ? opts.processors : ['demo']).map((ref) => resolveProcessorRef(ref, cwd));
  } catch {
    return null;
  }
  return { broker: new EmbeddedBroker({ threads: opts.threads, maxConcurrency: opts.concurrency, processorUrls }), handedOver: false };
}
