/** Shared data shapes. Pure declarations: no runtime code lives here. */
import type { TokenUsage } from './item-meta.js';

/** What a processor receives: a prompt string, or any JSON value from a .jsonl line. */
export type ItemInput = string | number | boolean | null | readonly unknown[] | { readonly [key: string]: unknown };

/** One unit of work as the inputs produce it. `index` is its 0-based position across all inputs. */
export interface ItemSpec {
  /** Stable user-facing id: from the input (`id`, `custom_id`) or the 1-based position. */
  readonly id: string;
  readonly index: number;
  readonly input: ItemInput;
  /** Where it came from, for error messages: `prompts.txt:12`. */
  readonly source?: string;
  /**
   * Execution number of its first attempt in this run (default 1). A Redis worker passes the
   * attempt the queue recorded, so a processor sees the same `ctx.attempt` on any machine.
   */
  readonly attempt?: number;
  /**
   * Uncharged reruns it has had already, after losing its thread (default 0): a Redis worker
   * passes what the queue's counts imply, so free reruns stay bounded across workers.
   */
  readonly reruns?: number;
}

/** One processor of a pipeline: its name and the module that runs it. */
export interface PipelineStage {
  /** The processor's own name (`demo`, or what a module's `name` says): what users and workers see. */
  readonly name: string;
  /**
   * The module URL a thread imports, as resolved where the pipeline was made. Empty for a remote
   * processor (serve's registry), whose endpoints are found by name.
   */
  readonly url: string;
}

/** Processors in order: each one's output is the next one's input. */
export type Pipeline = readonly PipelineStage[];

export type Params = Readonly<Record<string, string>>;

/** Everything a broker needs to run a job's items. Cloneable (crosses thread and process lines). */
export interface JobSpec {
  readonly jobId: string;
  readonly pipeline: Pipeline;
  readonly params: Params;
  /** Items in flight at once, over all workers. */
  readonly concurrency: number;
  readonly batchSize: number;
  readonly batchWindowMs: number;
  /** Retries after the first attempt. */
  readonly retries: number;
  /** Per-item time limit in ms; 0 means none. */
  readonly timeoutMs: number;
  /** Bound on one item's output (each stage's), in characters; 0 means none, absent the default. */
  readonly maxOutputChars?: number;
  /** How many items the job has, when the inputs were counted first (lets a distributed job end without its submitter). */
  readonly total?: number;
}

export type ItemStatus = 'done' | 'failed';

/** Durations of the final attempt, in ms. */
export interface ItemDurations {
  /** From submission until the final attempt started. */
  readonly queuedMs: number;
  /** From the final attempt's start to its first chunk; null if it produced none. */
  readonly firstChunkMs: number | null;
  /** From the final attempt's start to its end. */
  readonly totalMs: number;
}

/** One line of the results file. */
export interface ResultRecord {
  readonly id: string;
  readonly index: number;
  readonly input: ItemInput;
  readonly output: string | null;
  readonly status: ItemStatus;
  readonly error: string | null;
  readonly attempts: number;
  readonly durations: ItemDurations;
  readonly worker: string | null;
  /** What the processor reported of the final attempt (core/item-meta.ts), when it did. */
  readonly usage?: TokenUsage;
  readonly finish_reason?: string;
  readonly model?: string;
  readonly request_id?: string;
}
