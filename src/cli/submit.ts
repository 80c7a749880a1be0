/** `slowwork submit`: parses flags and hands them to the submit flow. */
import { Command } from './commander.js';
import type { SubmitOptions, UiMode } from '../app/submit.js';
import { defaultThreads } from '../brokers/embedded/default-threads.js';
import { UsageError } from '../core/errors.js';
import { DEFAULT_MAX_OUTPUT_CHARS, MAX_OUTPUT_CHARS_LIMIT } from '../core/output-limit.js';
import { isQueueName } from '../brokers/redis/keys.js';
import { builtinProcessorNames } from '../processors/registry.js';
import { collect, parseBudget, parseFormat, parseIntFlag, parseMaxFailures, parseParams } from './options.js';

interface SubmitFlags {
  prompt?: string[];
  processor?: string[];
  param?: string[];
  concurrency?: string;
  threads?: string;
  batchSize?: string;
  batchWindow?: string;
  retries?: string;
  timeout?: string;
  maxOutputChars?: string;
  maxFailures?: string;
  budget?: string;
  budgetTokens?: string;
  out?: string;
  resume?: boolean;
  retryFailed?: boolean;
  format: string;
  tui: boolean;
  json?: boolean;
  redis?: string;
  queue: string;
  keep: string;
}

export function submitCommand(setExitCode: (code: number) => void): Command {
  return new Command('submit')
    .description('run every prompt of the inputs through a processor pipeline, live, and write the results as JSONL')
    .argument('[inputs...]', 'prompt files (.txt: one prompt per line; .jsonl: objects), or - for stdin')
    .option('-p, --prompt <text>', 'a prompt given inline (repeatable)', collect)
    .option('--processor <name|path>', `a built-in (${builtinProcessorNames().join(', ')}) or a module path; repeat for a pipeline`, collect)
    .option('--param <key=value>', 'a parameter for the processors (repeatable)', collect)
    .option('-c, --concurrency <n>', 'items in flight at once, over all threads', '16')
    .option('--threads <n>', `worker threads (default: the number of cores, ${defaultThreads()})`)
    .option('--batch-size <n>', 'most items handed to a thread at once', '16')
    .option('--batch-window <ms>', 'how long a short batch may wait for more input', '5')
    .option('--retries <n>', 'retries of a failing item (exponential backoff with jitter)', '2')
    .option('--timeout <ms>', 'time limit per item attempt, 0 for none', '600000')
    .option('--max-output-chars <n>', 'fail an item (without retries) whose output passes this many characters, 0 for no bound', String(DEFAULT_MAX_OUTPUT_CHARS))
    .option('--max-failures <n|p%>', 'stop the job (exit 3) once this many items, or this share of them, failed')
    .option('--budget <usd>', 'stop starting items once the tokens reported cost this many $ (prices: --param price_in/price_out, or the built-in table); exit 5')
    .option('--budget-tokens <n>', 'stop starting items once this many tokens (prompt + completion, every attempt) were reported; exit 5')
    .option('-o, --out <file>', 'results file (JSONL; default ./slowwork-results/<time>-<job>.jsonl)')
    .option('--resume', 'continue the run recorded in --out: skip the items it finished')
    .option('--retry-failed', 'with --resume, run again the items recorded as failed')
    .option('--format <format>', 'input format: auto, txt or jsonl (auto: by extension; stdin by content)', 'auto')
    .option('--no-tui', 'plain lines instead of the live view, even on a terminal')
    .option('--json', 'events as NDJSON on stdout, for scripts')
    .option('--redis <url>', 'run on `slowwork workers` through Redis (redis://[user:pass@]host:port[/db], rediss:// for TLS; or SLOWWORK_REDIS_URL)')
    .option('--queue <name>', 'the Redis queue, to keep workloads apart', process.env.SLOWWORK_QUEUE ?? 'default')
    .option('--keep <seconds>', 'with --redis: how long the finished job stays in Redis for watch job and jobs', '86400')
    .action(async (inputs: string[], flags: SubmitFlags, cmd: Command) => {
      if (flags.retryFailed && !flags.resume) throw new UsageError('--retry-failed only makes sense with --resume');
      const ui: UiMode = flags.json ? 'json' : flags.tui ? 'tui' : 'plain';
      const opts: SubmitOptions = {
        files: inputs,
        prompts: flags.prompt ?? [],
        format: parseFormat(flags.format),
        processors: flags.processor ?? [],
        params: parseParams(flags.param ?? []),
        concurrency: parseIntFlag('--concurrency', flags.concurrency, 1, 100_000)!,
        threads: parseIntFlag('--threads', flags.threads, 1, 256),
        batchSize: parseIntFlag('--batch-size', flags.batchSize, 1, 100_000)!,
        batchWindowMs: parseIntFlag('--batch-window', flags.batchWindow, 0, 60_000)!,
        retries: parseIntFlag('--retries', flags.retries, 0, 100)!,
        timeoutMs: parseIntFlag('--timeout', flags.timeout, 0, 86_400_000)!,
        maxOutputChars: parseIntFlag('--max-output-chars', flags.maxOutputChars, 0, MAX_OUTPUT_CHARS_LIMIT)!,
        maxFailures: parseMaxFailures(flags.maxFailures),
        budget: parseBudget(flags.budget, flags.budgetTokens),
        out: flags.out,
        resume: flags.resume ?? false,
        retryFailed: flags.retryFailed ?? false,
        ui,
        argv: cmd.parent ? process.argv.slice(process.argv.indexOf('submit') + 1) : [],
        redis: redisChoice(flags.redis, flags.queue, parseIntFlag('--keep', flags.keep, 1, 365 * 86_400)!),
      };
      const io = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, cwd: process.cwd() };
      // The pool's threads started first (bin/slowwork.js) and come up while the rest of the submit
      // flow loads; that flow is loaded only when a submit runs (`--help` and other commands skip it).
      const { adoptPool } = await import('../app/submit-pool.js');
      const early = adoptPool(opts, io.cwd);
      const { runSubmit } = await import('../app/submit.js');
      const code = await runSubmit(opts, io, early);
      setExitCode(code);
    });
}

/** `--redis`, else SLOWWORK_REDIS_URL, else the embedded pool. */
export function redisChoice(url: string | undefined, queue: string, keepSeconds: number): { url: string; queue: string; keepMs: number } | undefined {
  const chosen = url ?? process.env.SLOWWORK_REDIS_URL;
  if (chosen === undefined || chosen === '') return undefined;
  return { url: chosen, queue: parseQueue(queue), keepMs: keepSeconds * 1000 };
}

export function parseQueue(queue: string): string {
  if (!isQueueName(queue)) throw new UsageError(`--queue must be 1-64 letters, digits or . _ : - (got "${queue}")`);
  return queue;
}
