/**
 * Compaction: when a run ends, its results file keeps one line per item. While runs append
 * (a resume adds a `done` line after an earlier `failed` one), the last line per id wins; at the
 * end the superseded lines, and lines that are no record at all (garbage, a line cut by a
 * crash), are dropped.
 *
 * Crash-safe: the kept lines go to `FILE.compacting`, which is fsynced and renamed over FILE,
 * then the directory is fsynced. A crash before the rename leaves FILE as it was (the next
 * compaction overwrites the leftover); after it, the compacted file. Two streaming passes (ids
 * first, then the kept lines' bytes copied as they are) keep memory at one number per id.
 * The caller holds the file's lock, so nothing appends meanwhile.
 */
import fs from 'node:fs';
import path from 'node:path';
import { errnoCode, resultsWriteError } from './fs-errors.js';
import { forEachLine, parseRecordLine } from './lines.js';

export interface Compacted {
  /** Lines the file holds now: one per id. */
  readonly lines: number;
  readonly done: number;
  readonly failed: number;
  /** Lines removed: superseded by a later line of the same id, not a record, blank, or cut. */
  readonly dropped: number;
}

const OUT_CHUNK = 1024 * 1024;

/**
 * Rewrites `filePath` to hold the last line of each id, in file order. A file that already
 * does is left untouched. Throws ResultsWriteError (exit 74) if it cannot; FILE is then intact.
 */
export async function compactResults(filePath: string): Promise<Compacted> {
  // Pass 1: the last line of each id; the status rides in the low bit (line * 2 + failed).
  const last = new Map<string, number>();
  let total = 0;
  let partial = false;
  try {
    ({ partialTail: partial } = await forEachLine(filePath, (line) => {
      const rec = parseRecordLine(line.toString('utf8'));
      if (rec !== null) last.set(rec.id, total * 2 + (rec.status === 'failed' ? 1 : 0));
      total++;
    }));
  } catch (err) {
    throw resultsWriteError('compact results file', filePath, err);
  }
  const kept = Float64Array.from(last.values()).sort();
  let failed = 0;
  for (const v of kept) failed += v % 2;
  const counts = { lines: kept.length, done: kept.length - failed, failed, dropped: total - kept.length + (partial ? 1 : 0) };
  if (counts.dropped === 0) return counts;

  // Pass 2: copy the kept lines' bytes to a temp file, then put it in FILE's place (the file a
  // symlink points to, not the link).
  let target = filePath;
  let temp = '';
  let fd = -1;
  try {
    target = fs.realpathSync(filePath);
    temp = `${target}.compacting`;
    fd = fs.openSync(temp, 'w', fs.statSync(target).mode & 0o7777);
    const out = new LineSink(fd);
    let k = 0;
    let next = 0;
    await forEachLine(filePath, (line) => {
      if (next < kept.length && Math.floor(kept[next]! / 2) === k) {
        out.add(line);
        next++;
      }
      k++;
    });
    out.end();
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = -1;
    fs.renameSync(temp, target);
  } catch (err) {
    if (fd >= 0) fs.closeSync(fd);
    if (temp !== '') fs.rmSync(temp, { force: true });
    throw resultsWriteError('compact results file', filePath, err);
  }
  syncDir(path.dirname(target));
  return counts;
}

/** Buffers lines and writes them in large chunks. */
class LineSink {
  readonly #fd: number;
  #parts: Buffer[] = [];
  #size = 0;

  constructor(fd: number) {
    this.#fd = fd;
  }

  add(line: Buffer): void {
    // Copied: the reader reuses its chunk once the callback returns.
    this.#parts.push(Buffer.from(line), NEWLINE_BUF);
    this.#size += line.length + 1;
    if (this.#size >= OUT_CHUNK) this.end();
  }

  end(): void {
    if (this.#size === 0) return;
    const buf = Buffer.concat(this.#parts, this.#size);
    this.#parts = [];
    this.#size = 0;
    for (let off = 0; off < buf.length; ) off += fs.writeSync(this.#fd, buf, off, buf.length - off);
  }
}

const NEWLINE_BUF = Buffer.from('\n');

/** Makes the rename itself durable. Some file systems cannot fsync a directory: that is fine. */
function syncDir(dir: string): void {
  let fd = -1;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch (err) {
    const code = errnoCode(err);
    if (code !== 'EINVAL' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'EISDIR' && code !== 'EACCES') {
      throw resultsWriteError('compact results file', dir, err);
    }
  } finally {
    if (fd >= 0) fs.closeSync(fd);
  }
}
