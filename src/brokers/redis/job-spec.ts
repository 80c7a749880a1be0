/**
 * What a distributed job tells its workers, stored as JSON in the job hash: the pipeline (each
 * processor's name and where the submitter found it) and the per-item settings. Workers may run
 * on other machines, so a processor is found by name first (built-ins, or the worker's own
 * `--processor` modules), and by the submitter's path only if that file exists here too.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { ProcessorError } from '../../core/errors.js';
import type { JobSpec, Pipeline } from '../../core/types.js';
import { builtinProcessorNames, resolveProcessorRef } from '../../processors/registry.js';

const wireSpec = z.object({
  processors: z.array(z.object({ name: z.string(), url: z.string() })).min(1),
  params: z.record(z.string(), z.string()),
  timeoutMs: z.number().int().min(0),
  /** Absent in jobs of older submitters: the workers' default applies. */
  maxOutputChars: z.number().int().min(0).optional(),
  retries: z.number().int().min(0),
  batchSize: z.number().int().min(1),
});

export type WireJobSpec = z.infer<typeof wireSpec>;

export function toWireSpec(spec: JobSpec): WireJobSpec {
  return {
    processors: spec.pipeline.map(({ name, url }) => ({ name, url })),
    params: { ...spec.params },
    timeoutMs: spec.timeoutMs,
    ...(spec.maxOutputChars === undefined ? {} : { maxOutputChars: spec.maxOutputChars }),
    retries: spec.retries,
    batchSize: spec.batchSize,
  };
}

export function parseWireSpec(json: string): WireJobSpec {
  return wireSpec.parse(JSON.parse(json));
}

/**
 * The job's pipeline as this worker runs it: each stage's module found here. `own` maps names to
 * the worker's `--processor` modules. Throws a ProcessorError naming what to do when this worker
 * cannot run the job.
 */
export function resolveOnWorker(spec: WireJobSpec, own: ReadonlyMap<string, string>): Pipeline {
  return spec.processors.map(({ name, url }) => {
    const mine = own.get(name);
    if (mine) return { name, url: mine };
    if (builtinProcessorNames().includes(name)) return { name, url: resolveProcessorRef(name) };
    if (url.startsWith('file:') && existsSync(fileURLToPath(url))) return { name, url };
    throw new ProcessorError(`this worker has no processor "${name}" (start it with --processor PATH for that module)`);
  });
}
