/**
 * Resolves and checks the `--processor` list on the main thread before any work starts:
 * unknown names, missing modules, modules that are not processors, and bad params (unknown
 * keys too, against what the processors declare) all fail here with one line.
 */
import type { Params, Pipeline, PipelineStage } from '../core/types.js';
import type { Processor } from '../processors/contract.js';
import { ProcessorError } from '../core/errors.js';
import { checkParams, declarationProblem } from '../processors/params.js';
import { loadProcessor, resolveProcessorRef } from '../processors/registry.js';

export interface ResolvedPipeline {
  /** Each processor's name and module URL, in order: what a job carries to its workers. */
  readonly stages: Pipeline;
  /** The processors as loaded here, stage by stage (their params and `accepts`). */
  readonly processors: Processor[];
}

export async function resolvePipeline(refs: readonly string[], params: Params, cwd: string): Promise<ResolvedPipeline> {
  const stages: PipelineStage[] = [];
  const processors: Processor[] = [];
  for (const ref of refs.length > 0 ? refs : ['demo']) {
    const url = resolveProcessorRef(ref, cwd);
    const processor = await loadProcessor(url);
    const problem = processor.params === undefined ? undefined : declarationProblem(processor.params);
    if (problem) throw new ProcessorError(`processor ${processor.name}: ${problem}`);
    processors.push(processor);
    stages.push({ name: processor.name, url });
  }
  checkParams(processors, params);
  return { stages, processors };
}
