/**
 * What a worker has to tell Redis about each job, gathered between two reports: one `report`
 * script call per job then carries every start, chunk and result of that interval. Consecutive
 * chunks of one item attempt merge into one event, so a fast stream costs one entry per report,
 * not one per token; and an item that starts and ends within one report goes as one record (its
 * start, text and result folded into one wire event), which is what short items mostly do.
 *
 * Folding happens as events arrive: an item's start record of this interval takes its first
 * stage's chunks in, and becomes the item's outcome when its result comes before the report is
 * sent. Records all have one shape, so the hot path stays monomorphic.
 */
import type { ItemMeta } from '../../../core/item-meta.js';
import type { ItemDurations } from '../../../core/types.js';
import { wireChunk, wireDone, wireOutcome, wireStart } from '../wire.js';

/**
 * Start, chunk, done, retry, failed; E: an entry is finished (every item taken from it settled).
 * (U, tokens, is not a record of its own: reportArgs adds it after a record whose meta has usage.)
 */
export type RecordKind = 'S' | 'C' | 'D' | 'R' | 'F' | 'E';

export class ReportRecord {
  /** Which report this record goes with: an item's start folds later events only within it. */
  gen = 0;
  /** The item's id, attempt and worker (S and D). */
  id = '';
  attempt = 0;
  worker = '';
  /** The pipeline stage (S and C; > 0: a later processor). */
  stage = 0;
  /** Text and pieces: a C record's merged chunks, or the chunks an S record took in. */
  text = '';
  n = 0;
  /** D: the result (an S record that took its item's result in is sent as one outcome). */
  output = '';
  durations: ItemDurations | null = null;
  /** A start record that took its item's result in: sent as one outcome event. */
  folded = false;
  /** What the attempt reported (D, R, F, and a rerun notice): its completion tokens count in the job hash. */
  meta: ItemMeta | undefined = undefined;

  constructor(
    public kind: RecordKind,
    readonly entryId: string,
    readonly index: number,
    /** The wire event of R and F records, and of an S record that is a local rerun's retry notice. */
    readonly event = '',
    readonly x1 = '',
    readonly x2 = '',
  ) {}
}

/** The entry is finished: every item taken from it is settled (or let go). */
export const entryFinished = (entryId: string): ReportRecord => new ReportRecord('E', entryId, -1);

/** A charged failure tried again later: its delay and its next attempt's delayed-set member. */
export const retryLater = (entryId: string, index: number, event: string, delayMs: number, next: string, meta?: ItemMeta): ReportRecord =>
  withMeta(new ReportRecord('R', entryId, index, event, String(delayMs), next), meta);

/** A failure for good: dead-lettered with its input and error. */
export const failedForGood = (entryId: string, index: number, event: string, payload: string, error: string, meta?: ItemMeta): ReportRecord =>
  withMeta(new ReportRecord('F', entryId, index, event, payload, error), meta);

/** A local rerun through no fault of the item (an `item-retry` event, sent as a start record). */
export const rerunNotice = (entryId: string, index: number, event: string, meta?: ItemMeta): ReportRecord => withMeta(new ReportRecord('S', entryId, index, event), meta);

function withMeta(r: ReportRecord, meta: ItemMeta | undefined): ReportRecord {
  r.meta = meta;
  return r;
}

export class ReportBuffer {
  private jobs = new Map<string, ReportRecord[]>();
  /** Whether anything but chunks waits: such records are sent at once, chunks may wait a little. */
  private urgent = false;
  /** Counts the reports taken: records of an earlier one are gone, never folded into. */
  private gen = 1;

  get size(): number {
    return this.jobs.size;
  }

  get hasUrgent(): boolean {
    return this.urgent;
  }

  add(jobId: string, record: ReportRecord): ReportRecord {
    record.gen = this.gen;
    this.listOf(jobId).push(record);
    if (record.kind !== 'C') this.urgent = true;
    return record;
  }

  /** An item attempt begins a stage; returns the record (kept to fold the item's next events into). */
  start(jobId: string, entryId: string, index: number, id: string, attempt: number, worker: string, stage: number): ReportRecord {
    const r = new ReportRecord('S', entryId, index);
    r.id = id;
    r.attempt = attempt;
    r.worker = worker;
    r.stage = stage;
    return this.add(jobId, r);
  }

  /**
   * Chunks of an item attempt: into its first stage's start record if that goes with this
   * report, else merged with the previous record when that is a chunk of the same attempt.
   */
  chunk(jobId: string, entryId: string, index: number, attempt: number, text: string, n: number, stage: number, started: ReportRecord | null): void {
    if (started && this.foldable(started, attempt) && stage === 0) {
      started.text += text;
      started.n += n;
      return;
    }
    const list = this.listOf(jobId);
    const last = list[list.length - 1];
    if (last !== undefined && last.kind === 'C' && last.index === index && last.entryId === entryId && last.attempt === attempt && last.stage === stage) {
      last.text += text;
      last.n += n;
      return;
    }
    const r = new ReportRecord('C', entryId, index);
    r.attempt = attempt;
    r.text = text;
    r.n = n;
    r.stage = stage;
    this.add(jobId, r);
  }

  /** An item attempt's result: folded into its start record if that goes with this report. */
  done(jobId: string, entryId: string, index: number, id: string, attempt: number, output: string, worker: string, durations: ItemDurations, started: ReportRecord | null, meta?: ItemMeta): void {
    let r: ReportRecord;
    if (started && this.foldable(started, attempt)) {
      r = started;
      r.kind = 'D';
      r.folded = true;
      this.urgent = true;
    } else {
      r = this.add(jobId, new ReportRecord('D', entryId, index));
      r.id = id;
      r.attempt = attempt;
      r.worker = worker;
    }
    r.output = output;
    r.durations = durations;
    r.meta = meta;
  }

  private listOf(jobId: string): ReportRecord[] {
    let list = this.jobs.get(jobId);
    if (!list) this.jobs.set(jobId, (list = []));
    return list;
  }

  private foldable(started: ReportRecord, attempt: number): boolean {
    return started.gen === this.gen && started.kind === 'S' && started.stage === 0 && started.attempt === attempt && started.event === '';
  }

  /** Takes everything gathered so far, per job. */
  take(): Map<string, ReportRecord[]> {
    const jobs = this.jobs;
    this.jobs = new Map();
    this.urgent = false;
    this.gen++;
    return jobs;
  }

  /** Puts records back in front (a report that could not be sent). */
  restore(jobId: string, records: ReportRecord[]): void {
    const later = this.jobs.get(jobId) ?? [];
    this.jobs.set(jobId, [...records, ...later]);
    if (records.some((r) => r.kind !== 'C')) this.urgent = true;
  }
}

/**
 * The script's ARGV tail for a job's records: kind, entry id, then (but for E) item index and
 * event, then (R and F) x1 and x2. An S record that took its item's result in goes as one D
 * record with the folded event; one that took only chunks goes as S, then C. A record whose
 * meta has completion tokens is followed by `U <entry> <i> <tokens>` (the job hash's tokens_out).
 */
export function reportArgs(records: readonly ReportRecord[]): string[] {
  const args: string[] = [];
  for (const r of records) {
    switch (r.kind) {
      case 'E':
        args.push('E', r.entryId);
        break;
      case 'C':
        args.push('C', r.entryId, String(r.index), wireChunk(r.index, r.attempt, r.text, r.n, r.stage));
        break;
      case 'S':
        if (r.event !== '') {
          args.push('S', r.entryId, String(r.index), r.event);
          break;
        }
        args.push('S', r.entryId, String(r.index), wireStart(r.index, r.id, r.attempt, r.worker, r.stage));
        if (r.n > 0) args.push('C', r.entryId, String(r.index), wireChunk(r.index, r.attempt, r.text, r.n, r.stage));
        break;
      case 'D':
        args.push('D', r.entryId, String(r.index), r.folded ? wireOutcome(r.index, r.id, r.attempt, r.worker, r.text, r.n, r.output, r.durations!, r.meta) : wireDone(r.index, r.id, r.attempt, r.output, r.worker, r.durations!, r.meta));
        break;
      default:
        args.push(r.kind, r.entryId, String(r.index), r.event, r.x1, r.x2);
    }
    const tokens = r.meta?.usage?.completion_tokens;
    if (tokens) args.push('U', r.entryId, String(r.index), String(tokens));
  }
  return args;
}

/**
 * A job's records in order, cut into reports of `maxBytes` of text at most (one record at
 * least): Redis serves nobody else while a report script runs, so a burst of long outputs goes
 * as several short calls, one after the other, not as one long one.
 */
export function reportParts(records: ReportRecord[], maxBytes: number): ReportRecord[][] {
  const parts: ReportRecord[][] = [];
  let part: ReportRecord[] = [];
  let bytes = 0;
  for (const r of records) {
    const size = r.text.length + r.output.length + r.event.length + r.x1.length + r.x2.length;
    if (part.length > 0 && bytes + size > maxBytes) {
      parts.push(part);
      part = [];
      bytes = 0;
    }
    part.push(r);
    bytes += size;
  }
  if (part.length > 0) parts.push(part);
  return parts;
}
