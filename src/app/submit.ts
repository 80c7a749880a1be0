/**
 * `slowwork submit`, as a function: reads and checks the inputs, skips what a previous run
 * finished, runs the rest on a broker, writes each result as it lands, reports live, and turns
 * Ctrl+C into a drain (once) or an abort (twice). Returns the exit code. The CLI layer only
 * parses flags into SubmitOptions.
 */
import { randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, statSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { Broker, JobRun } from '../brokers/broker.js';
import { startPool, type EarlyPool } from './submit-pool.js';
import { ExitCode, UsageError, describeError } from '../core/errors.js';
import type { JobCounts } from '../core/events.js';
import { DEFAULT_SAME_CAUSE, FailFast, type FailureLimit } from '../core/fail-fast.js';
import type { ItemSpec, JobSpec, Params, Pipeline } from '../core/types.js';
import { prepareInputs, type InputFormat, type PreparedInputs } from '../inputs/index.js';
import { compactResults } from '../results/compact.js';
import { Ledger } from '../results/ledger.js';
import { TokenTally } from '../core/token-tally.js';
import { budgetReached, type BudgetLimits } from '../core/budget.js';
import { PRICES_CHECKED, knownModels, pricerFor } from '../core/pricing.js';
import { resultRecordOf } from '../results/record.js';
import { lockResults, refuseIfInUse, type ResultsLock } from '../results/lock.js';
import { ResultsWriter, defaultResultsPath } from '../results/writer.js';
import type { Phase, Reporter } from '../ui/reporter.js';
import { openBroker } from './open-broker.js';
import { pickReporter } from './reporters.js';
import { resolvePipeline } from './pipeline.js';
import { resumeCommand } from './resume-command.js';
import { SignalLadder, onStopSignals } from './signal-ladder.js';

export type { UiMode } from './reporters.js';
import type { UiMode } from './reporters.js';

export interface SubmitOptions {
  readonly files: readonly string[];
  readonly prompts: readonly string[];
  readonly format: InputFormat;
  readonly processors: readonly string[];
  readonly params: Params;
  readonly concurrency: number;
  /** Worker threads; undefined = the number of cores. */
  readonly threads: number | undefined;
  readonly batchSize: number;
  readonly batchWindowMs: number;
  readonly retries: number;
  readonly timeoutMs: number;
  /** Bound on one item's output, in characters; 0 for none. */
  readonly maxOutputChars: number;
  /** `--max-failures`: stop once this many items failed; null for no limit. */
  readonly maxFailures?: FailureLimit | null;
  /** Stop starting items once the run's tokens reach this (`--budget`, `--budget-tokens`). */
  readonly budget?: BudgetLimits;
  readonly out: string | undefined;
  readonly resume: boolean;
  readonly retryFailed: boolean;
  /** `tui` falls back to plain lines when stdout is not a terminal. */
  readonly ui: UiMode;
  /** The submit command's own arguments, to print the resume command. */
  readonly argv: readonly string[];
  /** Run on Redis workers instead of the embedded pool. */
  readonly redis?: { readonly url: string; readonly queue: string; readonly keepMs?: number };
}

export interface SubmitIO {
  readonly stdin: NodeJS.ReadStream;
  readonly stdout: NodeJS.WriteStream;
  readonly stderr: NodeJS.WriteStream;
  readonly cwd: string;
  /** Where to listen for SIGINT/SIGTERM; the real process by default. */
  readonly signals?: NodeJS.EventEmitter;
}

export async function runSubmit(opts: SubmitOptions, io: SubmitIO, early: EarlyPool | null = startPool(opts, io.cwd)): Promise<number> {
  try {
    return await submit(opts, io, early);
  } finally {
    // Not handed over: a check failed before the run began.
    if (early && !early.handedOver) await early.broker.close();
  }
}

async function submit(opts: SubmitOptions, io: SubmitIO, early: EarlyPool | null): Promise<number> {
  const pipeline = await resolvePipeline(opts.processors, opts.params, io.cwd);
  if (opts.budget?.usd !== undefined && pricerFor(opts.params)(undefined) === null) {
    throw new UsageError(
      `--budget needs prices: give --param price_in=… --param price_out=… ($ per 1M tokens), or a --param model the built-in table knows (${knownModels().join(', ')}; list prices checked ${PRICES_CHECKED})`,
    );
  }
  if (opts.resume && !opts.out) {
    throw new UsageError('--resume needs --out FILE: the results file of the run to continue (the interrupted run printed it)');
  }
  let jobId = randomBytes(4).toString('hex');
  const outPath = opts.out ?? defaultResultsPath(jobId);
  refuseIfInUse(outPath);
  refuseExisting(outPath, opts.resume);
  const inputs = await prepareInputs({ files: [...opts.files], prompts: [...opts.prompts], stdin: io.stdin, format: opts.format });
  let lock: ResultsLock | null = null;
  try {
    // One run at a time per results file; checked again under the lock (a run may have ended meanwhile).
    lock = lockResults(outPath);
    refuseExisting(outPath, opts.resume);
    const ledger = opts.resume ? await Ledger.load(outPath) : null;
    const note = ledger?.skippedNote();
    if (note) io.stderr.write(`${note}\n`);
    const todo = ledger ? await countTodo(inputs, ledger, opts.retryFailed) : inputs.total;
    let broker: Broker;
    if (early) {
      broker = early.broker;
      early.handedOver = true;
    } else broker = await openBroker(opts);
    let writer: ResultsWriter | null = null;
    try {
      // A distributed job of the interrupted submit may still run: attach to it.
      if (opts.resume) jobId = (await broker.runningJobFor?.(outPath)) ?? jobId;
      writer = ResultsWriter.open(outPath, { append: opts.resume });
      return await runJob({ opts, io, jobId, inputs, ledger, todo, writer, broker, outPath, lock, pipeline: pipeline.stages });
    } finally {
      writer?.close();
      await closeInterruptibly(broker, io.signals ?? process);
    }
  } finally {
    lock?.release();
    await inputs.cleanup();
  }
}

function refuseExisting(outPath: string, resume: boolean): void {
  if (!resume && existsSync(outPath) && statSync(outPath).isFile() && statSync(outPath).size > 0) {
    throw new UsageError(`${outPath} already exists: add --resume to continue that run, or choose another --out`);
  }
}

interface JobContext {
  readonly opts: SubmitOptions;
  readonly io: SubmitIO;
  readonly jobId: string;
  readonly inputs: PreparedInputs;
  readonly ledger: Ledger | null;
  /** Items this run has to do (all of them, less those a previous run finished). */
  readonly todo: number;
  readonly writer: ResultsWriter;
  readonly broker: Broker;
  readonly outPath: string;
  /** Held for a results file (not for a device or pipe): the file is compacted when the run ends. */
  readonly lock: ResultsLock | null;
  readonly pipeline: Pipeline;
}

async function runJob(ctx: JobContext): Promise<number> {
  const { opts, io, writer } = ctx;
  const started = performance.now();
  let feedError: unknown = null;
  let cancelled: string | null = null;
  /** Why the job stopped itself (see core/fail-fast.ts): the same way out as one Ctrl+C. */
  let stopReason: string | null = null;
  const failFast = new FailFast({ sameCause: DEFAULT_SAME_CAUSE, maxFailures: opts.maxFailures ?? null }, ctx.todo);
  let run: JobRun | null = null;
  let reported = false;

  const interrupts = new SignalLadder({
    drain: () => {
      setPhase('draining');
      run?.drain('interrupted');
    },
    abort: () => {
      setPhase('aborting');
      run?.abort('aborted by a second Ctrl+C');
    },
    beyond: () => {
      // A third signal: leave now; everything finished is already on disk.
      writer.close();
      process.exit(ExitCode.interrupted);
    },
  });
  const reporter = await pickReporter(opts.ui, io, () => interrupts.climb());
  const log = processorLog(reporter.kind === 'tui' ? `${ctx.outPath}.log` : null, io.stderr);
  const setPhase = (phase: Phase): void => reporter.setPhase(phase);
  const signals = io.signals ?? process;
  // SIGTERM asks us to stop soon: skip the polite drain, abort in-flight items, write, exit.
  const unlisten = interrupts.listen(signals, { termAborts: true });
  // The terminal went away: a distributed job goes on without us (resume re-attaches); an
  // embedded one cannot, so it stops like on SIGTERM.
  const onHangup = (): void => {
    if (run?.detach) {
      interrupts.drained();
      run.detach();
    } else interrupts.abort();
  };
  signals.on('SIGHUP', onHangup);

  const spec: JobSpec = {
    jobId: ctx.jobId,
    pipeline: ctx.pipeline,
    params: opts.params,
    concurrency: opts.concurrency,
    batchSize: opts.batchSize,
    batchWindowMs: opts.batchWindowMs,
    retries: opts.retries,
    timeoutMs: opts.timeoutMs,
    maxOutputChars: opts.maxOutputChars,
    total: ctx.todo,
  };
  const skipped = ctx.inputs.total - ctx.todo;
  const pricer = pricerFor(opts.params);
  reporter.start({
    pricer,
    jobId: ctx.jobId,
    processors: ctx.pipeline.map((s) => s.name),
    broker: ctx.broker.describe(),
    concurrency: opts.concurrency,
    outPath: ctx.outPath,
    total: ctx.todo,
    skipped,
  });

  /** Every attempt's reported usage, for the summary (the reporters keep their own, for the live view). */
  const tokens = new TokenTally(pricer);
  /** Why the budget stopped the run, once it did. */
  let budgetStop: string | null = null;
  const quotaWatch = watchQuota(ctx.broker, reporter);
  try {
    run = ctx.broker.startJob(
      spec,
      (events) => {
        for (const e of events) {
          // Cancelled from elsewhere (`slowwork cancel`), not by our own Ctrl+C.
          if (e.type === 'job-cancelled' && interrupts.step === 0) cancelled = e.reason;
          tokens.addFrom(e);
          const record = resultRecordOf(e);
          if (!record) continue;
          writer.write(record);
        }
        reporter.onEvents(events);
        const spent = opts.budget && budgetStop === null ? budgetReached(opts.budget, tokens.totals()) : null;
        if (spent !== null) budgetStop = spent;
        const why = failFast.observe(events) ?? spent;
        if (why !== null && interrupts.step === 0) {
          // As one Ctrl+C (a Ctrl+C now aborts), but the run ends with the cause and exit code 3.
          stopReason = why;
          interrupts.drained();
          setPhase('draining');
          // Not from inside the run's own listener call.
          queueMicrotask(() => run?.drain(why));
        }
      },
      {
        onLog: log.write,
        onLink: (down) => reporter.setLink(down),
        outPath: ctx.outPath,
        recorded: ctx.ledger ? (id) => isRecorded(ctx.ledger!, id, opts.retryFailed) : undefined,
        retryFailed: opts.retryFailed,
      },
    );
    const feeding = feed(run, ctx, () => interrupts.step > 0).catch((err: unknown) => {
      feedError = err;
      run?.drain(describeError(err));
    });
    const counts = await run.finished;
    await feeding;
    clearInterval(quotaWatch);
    writer.close();
    // One line per item from here on (the last line per id won until now).
    const compacted = ctx.lock ? await compactResults(ctx.outPath) : null;

    // Stopped here (Ctrl+C) or elsewhere (`slowwork cancel`) with items left: exit 130, not 0.
    const left = counts.unfinished + (ctx.todo - counts.total) > 0;
    const interrupted = (interrupts.step > 0 || cancelled !== null) && left;
    const stopped = stopReason !== null && interrupts.step === 1 && cancelled === null && left;
    const final = compacted ? countsOfFile(compacted, ctx) : finalCounts(counts, ctx);
    setPhase('finished');
    reported = true;
    await reporter.finish({
      counts: final,
      elapsedMs: performance.now() - started,
      outPath: ctx.outPath,
      resumeCommand: whatNext(final, opts.argv, ctx.outPath, opts.retryFailed),
      interrupted,
      cancelReason: cancelled,
      stopReason: stopped ? stopReason : null,
      tokens: tokens.totals(),
    });
    if (log.lines > 0 && log.path) io.stdout.write(`logs:    ${log.path} (${log.lines} lines from the processors)\n`);
    if (feedError) throw feedError;
    if (stopped) return stopReason === budgetStop ? ExitCode.budget : ExitCode.stopped;
    if (interrupted) return ExitCode.interrupted;
    return final.failed > 0 ? ExitCode.itemsFailed : ExitCode.ok;
  } catch (err) {
    clearInterval(quotaWatch);
    run?.abort(describeError(err));
    if (reported) throw err;
    // Give the terminal back (the live view holds it) and say what was saved, then the error:
    // the lines that reached the file, not the items that finished.
    try {
      writer.flush();
    } catch {
      // The error in hand is reported; `landed` counts what got through.
    }
    const { done, failed } = writer.landed;
    const counts = { total: ctx.todo, done, failed, unfinished: Math.max(0, ctx.todo - done - failed) };
    await reporter
      .finish({
        counts: finalCounts(counts, ctx),
        elapsedMs: performance.now() - started,
        outPath: ctx.outPath,
        resumeCommand: resumeCommand(opts.argv, ctx.outPath, { retryFailed: opts.retryFailed }),
        interrupted: false,
        // Not "finished": the run stopped on this error (which follows on stderr).
        stopReason: describeError(err),
        tokens: tokens.totals(),
      })
      .catch(() => undefined);
    throw err;
  } finally {
    unlisten();
    signals.off('SIGHUP', onHangup);
  }
}

/**
 * Shutting the pool down can take a moment (processors' `close`). The results are closed by
 * then, so a Ctrl+C here just leaves at once.
 */
async function closeInterruptibly(broker: Broker, signals: NodeJS.EventEmitter): Promise<void> {
  const unlisten = onStopSignals(signals, () => process.exit(ExitCode.interrupted));
  try {
    await broker.close();
  } finally {
    unlisten();
  }
}

function isRecorded(ledger: Ledger, id: string, retryFailed: boolean): boolean {
  const entry = ledger.get(id);
  return entry !== undefined && (entry.status === 'done' || !retryFailed);
}

/** Streams the inputs into the run, skipping what the ledger says is finished. */
async function feed(run: JobRun, ctx: JobContext, stopped: () => boolean): Promise<void> {
  try {
    for await (const chunk of ctx.inputs.items()) {
      if (stopped()) return;
      const todo = ctx.ledger ? chunk.filter((item) => !ctx.ledger!.isFinished(item, { retryFailed: ctx.opts.retryFailed })) : chunk;
      if (todo.length > 0) await run.add(todo);
    }
  } finally {
    run.end();
  }
}

/** One streaming pass to learn how many items are left (and to check the ledger matches). */
async function countTodo(inputs: PreparedInputs, ledger: Ledger, retryFailed: boolean): Promise<number> {
  let todo = 0;
  for await (const chunk of inputs.items()) {
    for (const item of chunk) if (!ledger.isFinished(item, { retryFailed })) todo++;
  }
  return todo;
}

/**
 * The command that finishes the job: resume what is left (still retrying failures if this run
 * was), or retry what failed; null when all is done.
 */
function whatNext(final: JobCounts, argv: readonly string[], outPath: string, retryingFailed: boolean): string | null {
  if (final.unfinished > 0) return resumeCommand(argv, outPath, { retryFailed: retryingFailed });
  if (final.failed > 0) return resumeCommand(argv, outPath, { retryFailed: true });
  return null;
}

/** Counts over the whole input from the compacted results file: each item's last word. */
function countsOfFile(file: { readonly done: number; readonly failed: number }, ctx: JobContext): JobCounts {
  const total = ctx.inputs.total;
  return { total, done: file.done, failed: file.failed, unfinished: Math.max(0, total - file.done - file.failed) };
}

/** Counts over the whole input, the earlier runs' results included. */
function finalCounts(counts: JobCounts, ctx: JobContext): JobCounts {
  const previous = ctx.ledger?.counts() ?? { done: 0, failed: 0 };
  const previouslyFailedKept = ctx.opts.retryFailed ? 0 : previous.failed;
  const done = previous.done + counts.done;
  const failed = previouslyFailedKept + counts.failed;
  return { total: ctx.inputs.total, done, failed, unfinished: Math.max(0, ctx.inputs.total - done - failed) };
}

/**
 * Where `ctx.log` lines go: stderr, unless the live view owns the terminal; then a file beside
 * the results, named at the end.
 */
function processorLog(path: string | null, stderr: NodeJS.WritableStream) {
  const sink = {
    path,
    lines: 0,
    write: (line: string): void => {
      sink.lines++;
      if (path) appendFileSync(path, `${line}\n`);
      else stderr.write(`${line}\n`);
    },
  };
  return sink;
}

/** How often the live view hears what the rate limiters are doing. */
const QUOTA_SAMPLE_MS = 1000;

/** Hands the broker's quota activity to the reporter once a second, once any processor limited anything. */
function watchQuota(broker: Broker, reporter: Reporter): NodeJS.Timeout | undefined {
  if (!broker.quotaActivity || !reporter.setQuota) return undefined;
  const timer = setInterval(() => {
    const keys = broker.quotaActivity!();
    if (keys.length > 0) reporter.setQuota!(keys);
  }, QUOTA_SAMPLE_MS);
  timer.unref();
  return timer;
}
