/** Turns Node's file-system errors into one-line ResultsErrors that name the path. */
import { describeError, ResultsError, ResultsWriteError } from '../core/errors.js';

const REASONS: Readonly<Record<string, string>> = {
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EFBIG: 'file too large',
  EISDIR: 'it is a directory',
  ENOTDIR: 'a parent of it is not a directory',
  ENOENT: 'no such file or directory',
  ENAMETOOLONG: 'file name too long',
  EMFILE: 'too many open files',
  ENFILE: 'too many open files',
  EIO: 'input/output error',
  ELOOP: 'too many symbolic links',
};

/** The errno code of a Node system error, if it is one. */
export function errnoCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = (err as { code: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

/** A short human reason for a file-system error: `permission denied`, or its first line. */
export function fsReason(err: unknown): string {
  const code = errnoCode(err);
  const known = code === undefined ? undefined : REASONS[code];
  if (known !== undefined) return known;
  // Node's messages look like `EXDEV: cross-device link not permitted, open 'x'`: keep the middle.
  const msg = describeError(err);
  const m = /^[A-Z0-9_]+: ([^,]+)/.exec(msg);
  return m?.[1] ?? msg;
}

/** Failures of the storage itself, whatever path was given: I/O failures, never a usage error. */
const STORAGE_FAILURES: ReadonlySet<string> = new Set(['ENOSPC', 'EDQUOT', 'EFBIG', 'EIO']);

/**
 * `cannot <verb> <path>: <reason>` as a ResultsError (exit 2: the path cannot be used), or a
 * ResultsWriteError when the storage failed (exit 74). Passes ResultsErrors through unchanged.
 */
export function resultsFsError(action: string, path: string, err: unknown): ResultsError {
  if (err instanceof ResultsError) return err;
  const message = `cannot ${action} ${path}: ${fsReason(err)}`;
  const code = errnoCode(err);
  return code !== undefined && STORAGE_FAILURES.has(code) ? new ResultsWriteError(message) : new ResultsError(message);
}

/** The same line as a ResultsWriteError whatever the cause: for failures while a run writes. */
export function resultsWriteError(action: string, path: string, err: unknown): ResultsWriteError {
  if (err instanceof ResultsWriteError) return err;
  return new ResultsWriteError(err instanceof ResultsError ? err.message : `cannot ${action} ${path}: ${fsReason(err)}`);
}
