/**
 * What a worker has to tell Redis about each job, gathered between two reports: one `report`
 * script call per job then carries every start, chunk and result of that interval. Consecutive
 * chunks of one item attempt merge into one event, so a fast stream costs one entry per report,
 * not one per token; an item that starts and ends within one report goes as one record (its
 * start, text and result folded into one wire event), which is what short items mostly do.
 */
import type { ItemDurations } from '../../core/types.js';
import { wireDone, wireOutcome, wireStart } from './wire.js';

/** Start, chunk, done, retry, failed; E: an entry is finished (every item taken from it settled). */
export type RecordKind = 'S' | 'C' | 'D' | 'R' | 'F' | 'E';

export interface ReportRecord {
  readonly kind: RecordKind;
  readonly entryId: string;
  readonly i: number;
  /** The wire event (JSON) of R and F records, and of an S record without `start` (a local rerun's
   * retry notice); S, C and D are encoded when the report is sent. */
  readonly event: string;
  readonly x1: string;
  readonly x2: string;
  /** C: merged text, pieces and stage. */
  chunk?: { a: number; text: string; n: number; stage: number };
  /** S: the attempt starting (stage > 0: a later processor of the pipeline). */
  readonly start?: { id: string; a: number; worker: string; stage: number };
  /** D: the result. */
  readonly done?: { id: string; a: number; output: string; worker: string; durations: ItemDurations };
}

export class ReportBuffer {
  private jobs = new Map<string, ReportRecord[]>();
  /** Whether anything but chunks waits: such records are sent at once, chunks may wait a little. */
  private urgent = false;

  get size(): number {
    return this.jobs.size;
  }

  get hasUrgent(): boolean {
    return this.urgent;
  }

  add(jobId: string, record: ReportRecord): void {
    let list = this.jobs.get(jobId);
    if (!list) this.jobs.set(jobId, (list = []));
    list.push(record);
    if (record.kind !== 'C') this.urgent = true;
  }

  chunk(jobId: string, entryId: string, i: number, a: number, text: string, n: number, stage: number): void {
    let list = this.jobs.get(jobId);
    if (!list) this.jobs.set(jobId, (list = []));
    const last = list[list.length - 1];
    if (last?.kind === 'C' && last.entryId === entryId && last.i === i && last.chunk!.a === a && last.chunk!.stage === stage) {
      last.chunk!.text += text;
      last.chunk!.n += n;
      return;
    }
    list.push({ kind: 'C', entryId, i, event: '', x1: '', x2: '', chunk: { a, text, n, stage } });
  }

  /** Takes everything gathered so far, per job. */
  take(): Map<string, ReportRecord[]> {
    const jobs = this.jobs;
    this.jobs = new Map();
    this.urgent = false;
    return jobs;
  }

  /** Puts records back in front (a report that could not be sent). */
  restore(jobId: string, records: ReportRecord[]): void {
    const later = this.jobs.get(jobId) ?? [];
    this.jobs.set(jobId, [...records, ...later]);
    if (records.some((r) => r.kind !== 'C')) this.urgent = true;
  }
}

/** Fields per record in the script's ARGV: E names its entry only; R and F carry two more. */
const arity = (kind: RecordKind): number => (kind === 'E' ? 2 : kind === 'R' || kind === 'F' ? 6 : 4);

/**
 * The script's ARGV tail for a job's records: kind, entry id, then (but for E) item index and
 * event, then (R and F) x1 and x2. An item whose start (first stage) and result are both here,
 * with nothing but its first stage's chunks between, goes as one D record.
 */
export function reportArgs(records: readonly ReportRecord[]): string[] {
  const folded = foldable(records);
  const args: string[] = [];
  for (let k = 0; k < records.length; k++) {
    const r = records[k]!;
    if (folded.skip.has(k)) continue;
    if (r.kind === 'E') {
      args.push('E', r.entryId);
      continue;
    }
    let event = r.event;
    if (r.chunk) event = JSON.stringify(['c', r.i, r.chunk.a, r.chunk.text, r.chunk.n, r.chunk.stage]);
    else if (r.start) event = wireStart(r.i, r.start.id, r.start.a, r.start.worker, r.start.stage);
    else if (r.done) {
      const fold = folded.text.get(k);
      event = fold ? wireOutcome(r.i, r.done.id, r.done.a, r.done.worker, fold.text, fold.n, r.done.output, r.done.durations) : wireDone(r.i, r.done.id, r.done.a, r.done.output, r.done.worker, r.done.durations);
    }
    args.push(r.kind, r.entryId, String(r.i), event);
    if (arity(r.kind) === 6) args.push(r.x1, r.x2);
  }
  return args;
}

/** Which D records take their item's start and chunks in (by position), and which records go. */
function foldable(records: readonly ReportRecord[]): { text: Map<number, { text: string; n: number }>; skip: Set<number> } {
  const text = new Map<number, { text: string; n: number }>();
  const skip = new Set<number>();
  // Per item attempt: the position of its first-stage start and of its chunks since, while foldable.
  const open = new Map<string, { start: number; chunks: number[] } | null>();
  for (let k = 0; k < records.length; k++) {
    const r = records[k]!;
    if (r.kind === 'E') continue;
    const key = `${r.entryId} ${r.i}`;
    if (r.kind === 'S' && r.start?.stage === 0) {
      open.set(key, { start: k, chunks: [] });
      continue;
    }
    const o = open.get(key);
    if (!o) continue;
    if (r.kind === 'C' && r.chunk!.stage === 0 && r.chunk!.a === records[o.start]!.start!.a) {
      o.chunks.push(k);
      continue;
    }
    if (r.kind === 'D' && r.done!.a === records[o.start]!.start!.a) {
      let t = '';
      let n = 0;
      for (const c of o.chunks) {
        t += records[c]!.chunk!.text;
        n += records[c]!.chunk!.n;
        skip.add(c);
      }
      skip.add(o.start);
      text.set(k, { text: t, n });
    }
    open.set(key, null); // anything else (a later stage, a retry): sent as it is
  }
  return { text, skip };
}
