/**
 * The resume ledger: what an existing results file says about each item id.
 *
 * `submit --resume --out FILE` loads it before opening the writer in append mode, skips items
 * recorded as `done`, and reruns `failed` ones only with `--retry-failed`. Later lines win for
 * the same id (a resumed run appends a `done` line after an earlier `failed` one).
 *
 * The file is read as a stream and only a status letter and an input fingerprint are kept per
 * id, so a results file far larger than memory (long outputs) still loads.
 */
import crypto from 'node:crypto';
import { ResultsError } from '../core/errors.js';
import type { ItemInput, ItemSpec } from '../core/types.js';
import { errnoCode, resultsFsError } from './fs-errors.js';
import { forEachLine, parseRecordLine } from './lines.js';

export interface LedgerEntry {
  readonly status: 'done' | 'failed';
  readonly fingerprint: string;
}

export interface IsFinishedOptions {
  /** Failed items need a new run (`--retry-failed`). */
  readonly retryFailed: boolean;
}

/**
 * Per id the map holds one flat 17-char string: a status letter, then the 16-char fingerprint
 * (about 40 bytes; a concatenated or sliced string would pin its 40-char parent digest).
 */
const DONE = 'd';
const FAILED = 'f';
const scratch = Buffer.alloc(17);

function pack(letter: string, fp: string): string {
  scratch.write(letter, 0, 1, 'latin1');
  scratch.write(fp, 1, 16, 'latin1');
  return scratch.toString('latin1', 0, 17);
}

export class Ledger {
  /** The results file path as given to `load`. */
  readonly path: string;
  #entries = new Map<string, string>();
  #skipped = 0;
  #done = 0;
  #failed = 0;

  private constructor(filePath: string) {
    this.path = filePath;
  }

  /** Reads a results file line by line; a missing file is an empty ledger. */
  static async load(filePath: string): Promise<Ledger> {
    const ledger = new Ledger(filePath);
    try {
      const { partialTail } = await forEachLine(filePath, (line) => ledger.#addLine(line.toString('utf8')));
      // A last line without its newline was cut by a crash mid-write, even when it happens to
      // parse: the writer cuts it off on append, so it must not count as recorded here either.
      if (partialTail) ledger.#skipped++;
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return new Ledger(filePath);
      throw resultsFsError('read results file', filePath, err);
    }
    return ledger;
  }

  /** Distinct ids recorded. */
  get size(): number {
    return this.#entries.size;
  }

  /** Lines that could not be used: a truncated last line after a crash, garbage, no id/status. */
  get skippedLines(): number {
    return this.#skipped;
  }

  /** A line for the user when some lines were not records, else null: never skipped silently. */
  skippedNote(): string | null {
    const n = this.#skipped;
    if (n === 0) return null;
    const lines = n === 1 ? '1 line is' : `${n} lines are`;
    return `note: ${lines} not a whole record in ${this.path} (cut by a crash?): ignored, an item recorded only there runs again; the file is cleaned up when this run ends`;
  }

  /** The latest record for an id, if any. */
  get(id: string): LedgerEntry | undefined {
    const packed = this.#entries.get(id);
    if (packed === undefined) return undefined;
    return { status: packed[0] === DONE ? 'done' : 'failed', fingerprint: packed.slice(1) };
  }

  /**
   * True if the item needs no new run: recorded `done`, or `failed` without `retryFailed`.
   * Throws ResultsError if the file records a different input for this id.
   */
  isFinished(item: ItemSpec, opts: IsFinishedOptions): boolean {
    const packed = this.#entries.get(item.id);
    if (packed === undefined) return false;
    if (packed.slice(1) !== fingerprint(item.input)) {
      throw new ResultsError(
        `results file ${this.path} records a different input for item ${JSON.stringify(item.id)}; ` +
          'it belongs to other inputs — choose another --out',
      );
    }
    return packed[0] === DONE || !opts.retryFailed;
  }

  counts(): { done: number; failed: number } {
    return { done: this.#done, failed: this.#failed };
  }

  #addLine(line: string): void {
    if (line.trim() === '') return;
    const rec = parseRecordLine(line);
    if (rec === null) {
      this.#skipped++;
      return;
    }
    const { id, status, input } = rec;
    const letter = status === 'done' ? DONE : FAILED;
    const previous = this.#entries.get(id);
    if (previous !== undefined) {
      if (previous[0] === DONE) this.#done--;
      else this.#failed--;
    }
    if (letter === DONE) this.#done++;
    else this.#failed++;
    this.#entries.set(id, pack(letter, fingerprint(input as ItemInput)));
  }
}

/** Short stable hash of an input: the first 16 hex chars of sha1(JSON.stringify(input)). */
export function fingerprint(input: ItemInput): string {
  const text = JSON.stringify(input) ?? 'undefined';
  // crypto.hash (Node >= 20.12) is about 3x cheaper than createHash for one short string.
  const hex = typeof crypto.hash === 'function' ? crypto.hash('sha1', text, 'hex') : sha1Hex(text);
  return hex.slice(0, 16);
}

function sha1Hex(text: string): string {
  return crypto.createHash('sha1').update(text).digest('hex');
}
