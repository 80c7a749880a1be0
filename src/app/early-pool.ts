/**
 * The embedded pool, started before the rest of a submit loads. Worker threads take about as
 * long to start as Node itself, so they come up while the main thread loads the submit flow
 * and checks the pipeline and the inputs. This module loads only the broker and the registry.
 */
import { EmbeddedBroker } from '../brokers/embedded/broker.js';
import { defaultThreads } from '../brokers/embedded/default-threads.js';
import { resolveProcessorRef } from '../processors/registry.js';

export interface EarlyPool {
  readonly broker: EmbeddedBroker;
  /** Set once the run owns the broker; until then whoever started it closes it. */
  handedOver: boolean;
}

export interface PoolChoice {
  readonly files: readonly string[];
  readonly prompts: readonly string[];
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
  return { broker: new EmbeddedBroker({ threads: opts.threads ?? threadsFor(opts), maxConcurrency: opts.concurrency, preload: processorUrls }), handedOver: false };
}

/**
 * The default size, or fewer threads when the work is known to be smaller: `-p` prompts alone
 * (no file, no stdin) are that many items, and a thread more than items only slows the start
 * (on two cores, a second thread starting costs the first one about half of Node's start).
 */
function threadsFor(opts: PoolChoice): number | undefined {
  return opts.files.length === 0 && opts.prompts.length > 0 ? Math.min(defaultThreads(), opts.prompts.length) : undefined;
}
