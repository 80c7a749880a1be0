/**
 * The embedded pool, started before the rest of a submit loads. Worker threads take longer to come
 * up than the main thread takes to load slowwork, so a submit starts them first: bin/slowwork.js
 * calls `startSpeculativePool` with the raw arguments before the command line is even parsed, and
 * the submit flow adopts that pool when the parsed options want the same one (else it starts its
 * own, and the guess costs nothing but a thread start). This module loads only the threads'
 * pools and the registry: the broker around them loads with the submit flow (app/submit-pool.ts).
 */
import { parseArgs } from 'node:util';
import { defaultThreads } from '../brokers/embedded/default-threads.js';
import { ThreadPools } from '../brokers/embedded/thread-pools.js';
import { resolveProcessorRef } from '../processors/registry.js';

export interface PoolChoice {
  readonly files: readonly string[];
  readonly prompts: readonly string[];
  readonly processors: readonly string[];
  readonly threads: number | undefined;
  readonly concurrency: number;
  readonly redis?: unknown;
}

/** What makes one pool another: a pool is adopted only when all three match. */
export interface PoolSettings {
  readonly threads: number | undefined;
  readonly maxConcurrency: number;
  readonly preload: readonly string[];
}

/**
 * The submit options that take a value, by long name (with the short one): what the look at the
 * raw arguments must know to tell a flag's value from an input file. A flag missing here makes the
 * guess wrong (a slower start), never the run: test/app/early-pool.test.ts checks it against the command.
 */
export const SUBMIT_VALUE_FLAGS: Readonly<Record<string, string | undefined>> = {
  prompt: 'p',
  processor: undefined,
  param: undefined,
  concurrency: 'c',
  threads: undefined,
  'batch-size': undefined,
  'batch-window': undefined,
  retries: undefined,
  timeout: undefined,
  'max-output-chars': undefined,
  'max-failures': undefined,
  budget: undefined,
  'budget-tokens': undefined,
  out: 'o',
  format: undefined,
  redis: undefined,
  queue: undefined,
  keep: undefined,
};

/** The commander default of `--concurrency`, for a guess made before commander runs. */
const DEFAULT_CONCURRENCY = 16;

let speculative: { pools: ThreadPools; settings: PoolSettings } | null = null;

/**
 * Starts the threads the arguments of `slowwork submit ...` most likely want, before anything else
 * loads; `takeSpeculativePools` hands them to the run. Nothing for `--help`, `--redis` or SLOWWORK_REDIS_URL.
 */
export function startSpeculativePool(args: readonly string[], cwd: string = process.cwd(), env: NodeJS.ProcessEnv = process.env): ThreadPools | null {
  const choice = guessChoice(args, env);
  const settings = choice && poolSettings(choice, cwd);
  if (!settings) return null;
  try {
    speculative = { pools: new ThreadPools(settings), settings };
  } catch {
    return null; // a bad setting (SLOWWORK_THREAD_HEAP_MB): the submit flow says so, in one line
  }
  return speculative.pools;
}

/** The speculative threads when they are the ones `settings` want, else null (and they are ended). */
export function takeSpeculativePools(settings: PoolSettings | null): ThreadPools | null {
  const guess = speculative;
  speculative = null;
  if (guess && settings && sameSettings(guess.settings, settings)) return guess.pools;
  if (guess) void guess.pools.destroy();
  return null;
}

/**
 * Ends the speculative threads if no submit took them (a wrong flag, a failed check): before the
 * process exits, so they are not cut off while they load (see ThreadPools.whenLoaded).
 */
export async function discardSpeculativePool(): Promise<void> {
  const guess = speculative;
  speculative = null;
  await guess?.pools.destroy();
}

/** The pool a submit with these options wants; null for Redis, or when a processor reference is wrong. */
export function poolSettings(opts: PoolChoice, cwd: string): PoolSettings | null {
  if (opts.redis) return null;
  try {
    const preload = (opts.processors.length > 0 ? opts.processors : ['demo']).map((ref) => resolveProcessorRef(ref, cwd));
    return { threads: opts.threads ?? threadsFor(opts), maxConcurrency: opts.concurrency, preload };
  } catch {
    return null;
  }
}

const sameSettings = (a: PoolSettings, b: PoolSettings): boolean =>
  a.threads === b.threads && a.maxConcurrency === b.maxConcurrency && a.preload.length === b.preload.length && a.preload.every((url, i) => url === b.preload[i]);

/** The submit's pool choice as the raw arguments suggest it, or null when no early pool is wanted. */
function guessChoice(args: readonly string[], env: NodeJS.ProcessEnv): PoolChoice | null {
  const options = Object.fromEntries(
    Object.entries(SUBMIT_VALUE_FLAGS).map(([name, short]) => [name, { type: 'string' as const, multiple: true, ...(short ? { short } : {}) }]),
  );
  const { values, positionals } = parseArgs({ args: [...args], options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: false, allowPositionals: true });
  const last = (name: string): string | undefined => {
    const v = values[name];
    return Array.isArray(v) ? (v.at(-1) as string | undefined) : undefined;
  };
  const list = (name: string): string[] => (Array.isArray(values[name]) ? (values[name] as string[]) : []);
  if (values.help || last('redis') || env.SLOWWORK_REDIS_URL) return null;
  const whole = (raw: string | undefined): number | undefined => (raw !== undefined && /^\d+$/.test(raw) ? Number(raw) : undefined);
  return {
    files: positionals,
    prompts: list('prompt'),
    processors: list('processor'),
    threads: whole(last('threads')),
    concurrency: whole(last('concurrency')) ?? DEFAULT_CONCURRENCY,
  };
}

/**
 * The default size, or fewer threads when the work is known to be smaller: `-p` prompts alone
 * (no file, no stdin) are that many items, and a thread more than items only slows the start
 * (on two cores, a second thread starting costs the first one about half of Node's start).
 */
function threadsFor(opts: PoolChoice): number | undefined {
  return opts.files.length === 0 && opts.prompts.length > 0 ? Math.min(defaultThreads(), opts.prompts.length) : undefined;
}
