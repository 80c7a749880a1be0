/**
 * The results file: one JSONL line per finished item, appended as items finish.
 *
 * Durability model:
 * - `write()` only serializes and buffers; one `fs.writeSync` per event-loop tick (setImmediate)
 *   hands everything buffered to the OS. A `kill -9` therefore loses only records written in
 *   the current tick (and the items still in flight, which were never recorded).
 * - An fsync "checkpoint" guards against power loss: automatically at most once per second
 *   while records are flowing (an unref'd timer), and on `checkpoint()` / `close()`.
 * - A crash in the middle of a write can leave a partial last line; opening with `append`
 *   cuts it off so the next record starts on a fresh line (that item was not recorded and
 *   will be rerun on resume; the ledger ignores such a line as well).
 *
 * Write errors (ENOSPC, EIO, ...) become a ResultsWriteError naming the path (exit code 74). An
 * error found by a background flush or fsync is kept and thrown by the next `write()`,
 * `flush()`, `checkpoint()` or `close()`, so it always reaches the caller and never crashes the
 * process from a timer. A write cut short (a disk that fills up mid-write) counts the lines that
 * landed whole in `landed`, and cuts the partial one off a regular file, so the file stays
 * parseable and a summary can say exactly what it holds.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ResultsError } from '../core/errors.js';
import type { ResultRecord } from '../core/types.js';
import { errnoCode, resultsFsError, resultsWriteError } from './fs-errors.js';

/** Automatic fsync happens at most this often while writing. */
const CHECKPOINT_INTERVAL_MS = 1000;
/** How much of the file's tail is read at a time when looking for the last newline. */
const TAIL_CHUNK = 64 * 1024;
const NEWLINE = 0x0a;

export interface ResultsWriterOptions {
  /** Keep existing lines and add to them (resume); false truncates the file. */
  readonly append: boolean;
}

export class ResultsWriter {
  /** The path as given to `open`, as shown in messages. */
  readonly path: string;
  /** Bytes of a partial last line cut off when opening with `append` (0 if none). */
  readonly repairedBytes: number;

  #fd: number;
  #lines: string[] = [];
  /** The status of each buffered line, to count what landed. */
  #statuses: ResultRecord['status'][] = [];
  #landed = { done: 0, failed: 0 };
  #flushScheduled = false;
  #written = 0;
  #unsynced = false;
  #syncTimer: NodeJS.Timeout | undefined;
  #failure: ResultsError | undefined;
  #closed = false;

  private constructor(filePath: string, fd: number, repairedBytes: number) {
    this.path = filePath;
    this.#fd = fd;
    this.repairedBytes = repairedBytes;
  }

  /**
   * Opens (creating parent directories) synchronously, so a bad `--out` fails before any work
   * starts. Throws ResultsError: `cannot write results to out/x.jsonl: permission denied`.
   */
  static open(filePath: string, opts: ResultsWriterOptions): ResultsWriter {
    try {
      makeParentDir(filePath);
      const repaired = opts.append ? cutPartialLastLine(filePath) : 0;
      const fd = fs.openSync(filePath, opts.append ? 'a' : 'w');
      return new ResultsWriter(filePath, fd, repaired);
    } catch (err) {
      throw resultsFsError('write results to', filePath, err);
    }
  }

  /** Records handed to the OS so far (buffered ones count once their tick's flush ran). */
  get written(): number {
    return this.#written;
  }

  /** The records of `written`, by status: what this writer put in the file, line for line. */
  get landed(): { readonly done: number; readonly failed: number } {
    return { ...this.#landed };
  }

  /** Serializes and buffers one record; the flush follows on the next tick. */
  write(record: ResultRecord): void {
    if (this.#failure) throw this.#failure;
    if (this.#closed) throw new ResultsError(`results file ${this.path} is already closed`);
    this.#lines.push(serializeRecord(record));
    this.#statuses.push(record.status);
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(this.#onTick);
    }
  }

  /** Writes everything buffered with one write (looping over partial writes). */
  flush(): void {
    if (this.#failure) throw this.#failure;
    const lines = this.#lines;
    const statuses = this.#statuses;
    if (lines.length === 0 || this.#closed) return;
    this.#lines = [];
    this.#statuses = [];
    const text = lines.length === 1 ? `${lines[0]}\n` : `${lines.join('\n')}\n`;
    const buf = Buffer.from(text, 'utf8');
    const { written, error } = writeAll(this.#fd, buf);
    const whole = error === undefined ? lines.length : this.#keepWholeLines(buf.subarray(0, written));
    this.#written += whole;
    for (let k = 0; k < whole; k++) this.#landed[statuses[k]!]++;
    if (whole > 0 || written > 0) {
      this.#unsynced = true;
      this.#armCheckpoint();
    }
    if (error !== undefined) {
      this.#failure = resultsWriteError('write results to', this.path, error);
      throw this.#failure;
    }
  }

  /** Flush, then fsync: what is written survives a power loss. */
  checkpoint(): void {
    this.flush();
    this.#sync();
  }

  /** Flush, fsync and close the file. Idempotent; throws a pending write error once. */
  close(): void {
    if (this.#closed) return;
    let error: unknown;
    try {
      this.checkpoint();
    } catch (err) {
      error = err;
    }
    this.#closed = true;
    this.#lines = [];
    if (this.#syncTimer !== undefined) {
      clearTimeout(this.#syncTimer);
      this.#syncTimer = undefined;
    }
    try {
      fs.closeSync(this.#fd);
    } catch (err) {
      error ??= resultsWriteError('write results to', this.path, err);
    }
    this.#fd = -1;
    if (error !== undefined) throw error;
  }

  readonly #onTick = (): void => {
    this.#flushScheduled = false;
    try {
      this.flush();
    } catch {
      // Kept in #failure; the next call on the writer throws it.
    }
  };

  #armCheckpoint(): void {
    if (this.#syncTimer !== undefined) return;
    this.#syncTimer = setTimeout(this.#onCheckpointTimer, CHECKPOINT_INTERVAL_MS);
    this.#syncTimer.unref();
  }

  readonly #onCheckpointTimer = (): void => {
    this.#syncTimer = undefined;
    if (this.#closed || this.#failure) return;
    try {
      this.#sync();
    } catch {
      // Kept in #failure.
    }
  };

  #sync(): void {
    if (!this.#unsynced || this.#closed) return;
    this.#unsynced = false;
    try {
      fs.fsyncSync(this.#fd);
    } catch (err) {
      const code = errnoCode(err);
      // Pipes, terminals and character devices (`--out /dev/stdout`) cannot be synced.
      if (code === 'EINVAL' || code === 'ENOTSUP' || code === 'EOPNOTSUPP') return;
      this.#failure = resultsWriteError('write results to', this.path, err);
      throw this.#failure;
    }
  }

  /**
   * After a write that stopped part way (`prefix` reached the file): how many lines landed whole.
   * The cut line's bytes are truncated off a regular file (best effort: truncating needs no
   * space), so its tail never runs into a later line and the file parses to its end.
   */
  #keepWholeLines(prefix: Buffer): number {
    let whole = 0;
    for (let at = prefix.indexOf(NEWLINE); at >= 0; at = prefix.indexOf(NEWLINE, at + 1)) whole++;
    const torn = prefix.length - (prefix.lastIndexOf(NEWLINE) + 1);
    if (torn > 0) {
      try {
        const st = fs.fstatSync(this.#fd);
        if (st.isFile()) fs.ftruncateSync(this.#fd, st.size - torn);
      } catch {
        // Left for the next append to cut (`open` with `append` repairs a partial last line).
      }
    }
    return whole;
  }
}

/**
 * One JSONL line, keys in the documented order. Nullable fields are normalized to null so a
 * missing value never drops a key. JSON.stringify escapes newlines and (Node >= 12) lone
 * surrogates, so a line is always one line of valid UTF-8.
 */
export function serializeRecord(r: ResultRecord): string {
  const d = r.durations;
  return JSON.stringify({
    id: r.id,
    index: r.index,
    input: r.input ?? null,
    output: r.output ?? null,
    status: r.status,
    error: r.error ?? null,
    attempts: r.attempts,
    durations: { queuedMs: d.queuedMs, firstChunkMs: d.firstChunkMs ?? null, totalMs: d.totalMs },
    worker: r.worker ?? null,
    // what the processor reported (core/item-meta.ts); absent keys stay absent
    usage: r.usage,
    finish_reason: r.finish_reason,
    model: r.model,
    request_id: r.request_id,
  });
}

/** `slowwork-results/<YYYYMMDD-HHMMSS>-<jobId>.jsonl`, relative to the working directory (local time). */
export function defaultResultsPath(jobId: string, now: Date = new Date()): string {
  const p2 = (n: number): string => String(n).padStart(2, '0');
  const stamp =
    `${now.getFullYear()}${p2(now.getMonth() + 1)}${p2(now.getDate())}` +
    `-${p2(now.getHours())}${p2(now.getMinutes())}${p2(now.getSeconds())}`;
  const safeId = jobId.replace(/[^A-Za-z0-9._-]/g, '-') || 'job';
  return path.join('slowwork-results', `${stamp}-${safeId}.jsonl`);
}

function makeParentDir(filePath: string): void {
  const dir = path.dirname(filePath);
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (err) {
    // EEXIST: the parent exists but is not a directory; the open reports that as ENOTDIR.
    if (errnoCode(err) !== 'EEXIST') throw err;
  }
}

/** Writes all of `buf` (looping over partial writes); on an error, says how much got through. */
function writeAll(fd: number, buf: Buffer): { written: number; error?: unknown } {
  let offset = 0;
  try {
    while (offset < buf.length) {
      const n = fs.writeSync(fd, buf, offset, buf.length - offset);
      if (n <= 0) throw Object.assign(new Error('write made no progress'), { code: 'EIO' });
      offset += n;
    }
  } catch (error) {
    return { written: offset, error };
  }
  return { written: offset };
}

/**
 * If a regular file's last line has no newline (a crash mid-write), truncates it away.
 * Returns the number of bytes removed.
 */
function cutPartialLastLine(filePath: string): number {
  let size: number;
  try {
    const st = fs.statSync(filePath);
    if (!st.isFile()) return 0;
    size = st.size;
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return 0;
    throw err;
  }
  if (size === 0) return 0;
  const fd = fs.openSync(filePath, 'r+');
  try {
    const keep = endOfLastLine(fd, size);
    if (keep < size) fs.ftruncateSync(fd, keep);
    return size - keep;
  } finally {
    fs.closeSync(fd);
  }
}

/** Offset just past the last newline in the first `size` bytes of `fd` (0 if none). */
function endOfLastLine(fd: number, size: number): number {
  const buf = Buffer.allocUnsafe(Math.min(TAIL_CHUNK, size));
  let end = size;
  while (end > 0) {
    const len = Math.min(buf.length, end);
    const start = end - len;
    const got = fs.readSync(fd, buf, 0, len, start);
    const at = buf.subarray(0, got).lastIndexOf(NEWLINE);
    if (at >= 0) return start + at + 1;
    end = start;
  }
  return 0;
}
