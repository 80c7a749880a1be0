/**
 * Resolves and checks the `--processor` list on the main thread before any work starts:
 * unknown names, missing modules, modules that are not processors, and bad params all fail
 * here with one line.
 */
import { ProcessorError, describeError } from '../core/errors.js';
import type { Params } from '../core/types.js';
import { loadProcessor, resolveProcessorRef } from '../processors/registry.js';

export interface ResolvedPipeline {
  /** Module URLs, in order, for the workers. */
  readonly urls: string[];
  /** Processor names, in order, for display. */
  readonly names: string[];
  /** What each takes from a chat request (the contract's `accepts`), in order. */
  readonly accepts: ('text' | 'messages')[];
}

export async function resolvePipeline(refs: readonly string[], params: Params, cwd: string): Promise<ResolvedPipeline> {
  const urls: string[] = [];
  const names: string[] = [];
  const accepts: ('text' | 'messages')[] = [];
  for (const ref of refs.length > 0 ? refs : ['demo']) {
    const url = resolveProcessorRef(ref, cwd);
    const processor = await loadProcessor(url);
    try {
      processor.validate?.(params);
    } catch (err) {
      throw new ProcessorError(`processor ${processor.name}: ${describeError(err)}`);
    }
    urls.push(url);
    names.push(processor.name);
    accepts.push(processor.accepts === 'messages' ? 'messages' : 'text');
  }
  return { urls, names, accepts };
}
