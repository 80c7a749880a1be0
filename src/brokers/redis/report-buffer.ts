/**
 * What a worker has to tell Redis about each job, gathered between two reports: one `report`
 * script call per job then carries every start, chunk and result of that interval. Consecutive
 * chunks of one item attempt merge into one event, so a fast stream costs one entry per report,
 * not one per token.
 */
export type RecordKind = 'S' | 'C' | 'D' | 'R' | 'F' | 'X';

export interface ReportRecord {
  readonly kind: RecordKind;
  readonly entryId: string;
  readonly i: number;
  /** The wire event (JSON), or a chunk still being merged. */
  event: string;
  readonly x1: string;
  readonly x2: string;
  /** For chunks: merged text, pieces and stage, encoded when the report is sent. */
  chunk?: { a: number; text: string; n: number; stage: number };
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
    if (last?.kind === 'C' && last.entryId === entryId && last.chunk!.a === a && last.chunk!.stage === stage) {
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

/** The script's ARGV tail for a job's records. */
export function reportArgs(records: readonly ReportRecord[]): string[] {
  const args: string[] = [];
  for (const r of records) {
    const event = r.chunk ? JSON.stringify(['c', r.i, r.chunk.a, r.chunk.text, r.chunk.n, r.chunk.stage]) : r.event;
    args.push(r.kind, r.entryId, String(r.i), event, r.x1, r.x2);
  }
  return args;
}
