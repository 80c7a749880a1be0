/** Typed errors with messages a user can act on, and the exit code each one maps to. */

export const ExitCode = {
  ok: 0,
  itemsFailed: 1,
  usage: 2,
  /** The job stopped itself: a non-item error ended several items, or --max-failures was reached. */
  stopped: 3,
  /** The job is gone from Redis (restarted without its data, deleted, expired): resume runs the rest. */
  jobLost: 4,
  /** The run's --budget or --budget-tokens was reached: no new item started; resume runs the rest. */
  budget: 5,
  /** The results file could not be written during the run (disk full, I/O error). */
  ioFailure: 74,
  interrupted: 130,
} as const;

export class SlowworkError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number = ExitCode.usage) {
    super(message);
    this.name = new.target.name;
    this.exitCode = exitCode;
  }
}

/** Bad flags or flag values. */
export class UsageError extends SlowworkError {}

/** An input file or stream that cannot be used; `where` is `file:line` when known. */
export class InputError extends SlowworkError {
  readonly where: string | undefined;
  constructor(message: string, where?: string) {
    super(where ? `${where}: ${message}` : message);
    this.where = where;
  }
}

/** A processor that cannot be found or loaded. */
export class ProcessorError extends SlowworkError {}

/** The results file cannot be used (unwritable, in use by another run, or it belongs to other inputs). */
export class ResultsError extends SlowworkError {}

/**
 * The results file failed while a run was writing it (disk full, quota, I/O error): not a usage
 * error, so it has its own exit code. The lines already written stay; a resume continues them.
 */
export class ResultsWriteError extends ResultsError {
  constructor(message: string) {
    super(message, ExitCode.ioFailure);
  }
}

/** An attempt that ran past `--timeout`. */
export class ItemTimeoutError extends Error {
  constructor(ms: number) {
    super(`timed out after ${ms} ms`);
    this.name = 'ItemTimeoutError';
  }
}

/**
 * An attempt whose output grew past the per-item bound (`--max-output-chars`): a runaway stream
 * would otherwise fill the memory of the thread, the server and the results file. Not retried:
 * the same input would most likely run away again, and each attempt is paid for.
 */
export class OutputTooLongError extends Error {
  constructor(limit: number) {
    super(`output passed ${limit} characters (--max-output-chars); not retried`);
    this.name = 'OutputTooLongError';
  }
}

/** One line for any thrown value: never a stack trace on a user's screen. */
export function describeError(err: unknown): string {
  if (err instanceof Error) {
    const msg = err.message || err.name;
    return msg.split('\n', 1)[0] ?? msg;
  }
  if (typeof err === 'string') return err.split('\n', 1)[0] ?? err;
  try {
    return JSON.stringify(err) ?? String(err);
  } catch {
    return String(err);
  }
}

/** Redis cannot be used: unreachable, refusing us, too old, or not Redis at all. */
export class RedisUnavailableError extends SlowworkError {}

/**
 * A Redis job vanished under a running submit: Redis restarted without its data (no AOF), or the
 * job was deleted or expired. What reached the results file stays; `--resume` runs the rest.
 */
export class JobLostError extends SlowworkError {
  constructor(message: string) {
    super(message, ExitCode.jobLost);
  }
}
