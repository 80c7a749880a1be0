/**
 * The job-state reducer: folds JobEvents into counts, rates, ETA and one live row per in-flight
 * item. Pure (time is passed in) and cheap: O(1) per event with mutable internals, the snapshot
 * is O(items in flight). It keeps only a bounded tail of each stream, never the whole text.
 */
import type { JobEvent } from './events.js';
import type { ItemStatus } from './types.js';
import { TokenTally, type TokenTotals } from './token-tally.js';
import type { Pricer } from './pricing.js';
import { headCodePoints, sanitizeForLine, tailCodePoints, toOneLine, toWellFormed } from './code-points.js';

/** How many code points of each stream's newest text a live row keeps. */
export const TAIL_CODE_POINTS = 400;
/** How many code points of output a finished line's preview keeps. */
export const PREVIEW_CODE_POINTS = 100;
/** How many code points of an error message a finished line keeps. */
export const ERROR_CODE_POINTS = 300;

const BUCKET_MS = 250;
const WINDOW_BUCKETS = 20; // 5 s
/** Rates over less than this span are not trusted (first moments of a run). */
const MIN_RATE_SPAN_MS = 1000;

export interface LiveRow {
  readonly index: number;
  readonly id: string;
  readonly attempt: number;
  readonly worker: string;
  readonly stage: number | null;
  /** Processor chunks received in this attempt (the `n` of chunk events summed). */
  readonly chunks: number;
  readonly startedAt: number;
  /** Time of the newest chunk of this attempt; null before the first. */
  readonly lastChunkAt: number | null;
  /** The newest text of the stream: at most TAIL_CODE_POINTS code points, one line. */
  readonly tail: string;
}

export interface FinishedLine {
  readonly index: number;
  readonly id: string;
  readonly status: ItemStatus;
  readonly attempts: number;
  /** Duration of the final attempt. */
  readonly durationMs: number;
  /** Chunks of the final attempt, as seen by this reducer. */
  readonly chunks: number;
  /** First PREVIEW_CODE_POINTS code points of the output, one line; null when failed. */
  readonly preview: string | null;
  /** First line of the error, one line; null when done. */
  readonly error: string | null;
  readonly worker: string | null;
}

export type JobEnd = 'done' | 'cancelled';
export type { TokenTotals };

export interface JobSnapshot {
  /** The time the snapshot was taken at. */
  readonly now: number;
  /** Items of this run (skipped ones excluded); null until known. */
  readonly total: number | null;
  readonly done: number;
  readonly failed: number;
  readonly inFlight: number;
  /** Items waiting for their next attempt. */
  readonly retrying: number;
  /** Items a previous run already finished (`--resume`), not part of `total`. */
  readonly skipped: number;
  /** total - done - failed; null while total is unknown. */
  readonly remaining: number | null;
  /** Finished items (done + failed) per second over the recent window. */
  readonly itemsPerSec: number;
  /** Processor chunks per second over the recent window. */
  readonly chunksPerSec: number;
  /** Processor chunks received over the whole run. */
  readonly chunksTotal: number;
  /**
   * Tokens the processors reported (`ctx.report`) over the whole run, failed attempts included
   * (they were billed); null until one reported any.
   */
  readonly tokens: TokenTotals | null;
  /** Completion tokens per second over the recent window. */
  readonly tokensPerSec: number;
  /** Estimated time to finish the remaining items; null when unknown. */
  readonly etaMs: number | null;
  readonly elapsedMs: number;
  /** Set once `job-done` or `job-cancelled` arrived. */
  readonly ended: JobEnd | null;
  /** One per in-flight item, in start order. */
  readonly rows: readonly LiveRow[];
}

export interface JobStateOptions {
  /** Known total of this run's items (e.g. RunInfo.total); `job-total` overrides it. */
  readonly total?: number | null;
  /** Items skipped by `--resume`. */
  readonly skipped?: number;
  /** Start of the run (defaults to the time of the first apply/snapshot). */
  readonly startedAt?: number;
  /**
   * Finished lines kept until `takeFinished()` drains them; beyond this the oldest are dropped
   * (counted in `droppedFinished`). Default 10 000.
   */
  readonly maxPendingFinished?: number;
  /** What tokens cost, for `tokens.costUsd` (core/pricing.ts). */
  readonly pricer?: Pricer;
}

interface MutableRow {
  index: number;
  id: string;
  attempt: number;
  worker: string;
  stage: number | null;
  chunks: number;
  startedAt: number;
  lastChunkAt: number | null;
  /** Sanitised, spaces collapsed; trimmed back to TAIL_CODE_POINTS when it grows past twice that. */
  tail: string;
}

export class JobState {
  private total: number | null;
  private readonly skipped: number;
  private startedAt: number | null;
  private readonly maxPending: number;

  private done = 0;
  private failed = 0;
  private chunksTotal = 0;
  private readonly tokens: TokenTally;
  private ended: JobEnd | null = null;
  private readonly rows = new Map<number, MutableRow>();
  private readonly retrying = new Set<number>();
  private finished: FinishedLine[] = [];
  private dropped = 0;

  // Sliding window: ring of per-250 ms buckets.
  /** One slot more than the window: where events older than the window go (never read). */
  private readonly itemBuckets = new Float64Array(WINDOW_BUCKETS + 1);
  private readonly chunkBuckets = new Float64Array(WINDOW_BUCKETS + 1);
  private readonly tokenBuckets = new Float64Array(WINDOW_BUCKETS + 1);
  /** Absolute bucket number (floor(t / BUCKET_MS)) of the newest bucket; -1 before any. */
  private currentBucket = -1;

  constructor(options: JobStateOptions = {}) {
    this.total = options.total ?? null;
    this.skipped = options.skipped ?? 0;
    this.startedAt = options.startedAt ?? null;
    this.maxPending = Math.max(1, options.maxPendingFinished ?? 10_000);
    this.tokens = new TokenTally(options.pricer);
  }

  /** Finished lines dropped because nobody drained them in time. */
  get droppedFinished(): number {
    return this.dropped;
  }

  /**
   * Folds events that happened at `now`. Events older than the newest seen (a job's history
   * replayed on attach) count towards the rates in their own time's bucket, or not at all once
   * older than the window: a replay is not a burst of speed.
   */
  apply(events: readonly JobEvent[], now: number): void {
    this.advance(now);
    const bucket = Math.floor(now / BUCKET_MS);
    const inWindow = this.currentBucket - bucket < WINDOW_BUCKETS;
    // Out of the window: a slot of its own that is never read (index WINDOW_BUCKETS).
    const slot = inWindow ? bucket % WINDOW_BUCKETS : WINDOW_BUCKETS;
    for (let i = 0; i < events.length; i++) {
      const ev = events[i]!;
      switch (ev.type) {
        case 'chunk': {
          const n = ev.n > 0 ? ev.n : 1;
          this.chunksTotal += n;
          this.chunkBuckets[slot]! += n;
          const row = this.rows.get(ev.index);
          if (row === undefined || ev.attempt < row.attempt) break; // stale or unknown attempt
          if (ev.attempt > row.attempt) {
            // The start of this attempt was not seen: restart the row from here.
            this.restart(row, ev.attempt, row.worker, ev.stage ?? null, now);
          } else if (ev.stage !== undefined && row.stage !== null && ev.stage !== row.stage) {
            row.stage = ev.stage;
            row.tail = '';
          }
          row.chunks += n;
          row.lastChunkAt = now;
          appendTail(row, ev.text);
          break;
        }
        case 'item-start': {
          this.retrying.delete(ev.index);
          const row = this.rows.get(ev.index);
          const stage = ev.stage ?? null;
          if (row === undefined) {
            this.rows.set(ev.index, {
              index: ev.index,
              id: ev.id,
              attempt: ev.attempt,
              worker: ev.worker,
              stage,
              chunks: 0,
              startedAt: now,
              lastChunkAt: null,
              tail: '',
            });
          } else if (ev.attempt > row.attempt) {
            row.id = ev.id;
            this.restart(row, ev.attempt, ev.worker, stage, now);
          } else if (ev.attempt === row.attempt && stage !== row.stage) {
            // Next stage of a pipeline: show the new stage's stream.
            row.stage = stage;
            row.worker = ev.worker;
            row.tail = '';
          }
          break;
        }
        case 'item-retry': {
          if (ev.meta?.usage) this.tokenBuckets[slot]! += this.tokens.addFrom(ev);
          this.rows.delete(ev.index);
          this.retrying.add(ev.index);
          break;
        }
        case 'item-done': {
          if (ev.meta?.usage) this.tokenBuckets[slot]! += this.tokens.addFrom(ev);
          const row = this.rows.get(ev.index);
          this.rows.delete(ev.index);
          this.retrying.delete(ev.index);
          this.done++;
          this.itemBuckets[slot]! += 1;
          this.pushFinished({
            index: ev.index,
            id: ev.id,
            status: 'done',
            attempts: ev.attempt,
            durationMs: ev.durations.totalMs,
            chunks: row !== undefined && row.attempt === ev.attempt ? row.chunks : 0,
            preview: makePreview(ev.output),
            error: null,
            worker: ev.worker,
          });
          break;
        }
        case 'item-failed': {
          if (ev.meta?.usage) this.tokenBuckets[slot]! += this.tokens.addFrom(ev);
          const row = this.rows.get(ev.index);
          this.rows.delete(ev.index);
          this.retrying.delete(ev.index);
          this.failed++;
          this.itemBuckets[slot]! += 1;
          this.pushFinished({
            index: ev.index,
            id: ev.id,
            status: 'failed',
            attempts: ev.attempts,
            durationMs: ev.durations.totalMs,
            chunks: row !== undefined ? row.chunks : 0,
            preview: null,
            error: errorLine(ev.error),
            worker: ev.worker,
          });
          break;
        }
        case 'job-total': {
          this.total = ev.total;
          break;
        }
        case 'job-done':
        case 'job-cancelled': {
          this.ended = ev.type === 'job-done' ? 'done' : 'cancelled';
          if (this.total === null) this.total = ev.counts.total;
          // Nothing runs any more once the job ended.
          this.rows.clear();
          this.retrying.clear();
          break;
        }
        default:
          break;
      }
    }
  }

  /** Drains the one-line summaries of items finished since the last call, in finish order. */
  takeFinished(): FinishedLine[] {
    if (this.finished.length === 0) return [];
    const out = this.finished;
    this.finished = [];
    return out;
  }

  snapshot(now: number): JobSnapshot {
    this.advance(now);
    const startedAt = this.startedAt ?? now;
    const elapsedMs = Math.max(0, now - startedAt);
    // The window covers the last WINDOW_BUCKETS buckets, the newest one partially.
    const windowStart = Math.max((this.currentBucket - WINDOW_BUCKETS + 1) * BUCKET_MS, startedAt);
    const span = Math.max(now - windowStart, MIN_RATE_SPAN_MS);
    let items = 0;
    let chunks = 0;
    let tokens = 0;
    for (let i = 0; i < WINDOW_BUCKETS; i++) {
      items += this.itemBuckets[i]!;
      chunks += this.chunkBuckets[i]!;
      tokens += this.tokenBuckets[i]!;
    }
    const itemsPerSec = (items * 1000) / span;
    const chunksPerSec = (chunks * 1000) / span;
    const remaining = this.total === null ? null : Math.max(0, this.total - this.done - this.failed);
    let etaMs: number | null = null;
    if (remaining === 0) etaMs = 0;
    else if (remaining !== null && itemsPerSec > 0 && this.ended === null) etaMs = (remaining / itemsPerSec) * 1000;

    const rows: LiveRow[] = [];
    for (const r of this.rows.values()) {
      rows.push({
        index: r.index,
        id: r.id,
        attempt: r.attempt,
        worker: r.worker,
        stage: r.stage,
        chunks: r.chunks,
        startedAt: r.startedAt,
        lastChunkAt: r.lastChunkAt,
        tail: toWellFormed(tailCodePoints(r.tail, TAIL_CODE_POINTS)),
      });
    }
    return {
      now,
      total: this.total,
      done: this.done,
      failed: this.failed,
      inFlight: this.rows.size,
      retrying: this.retrying.size,
      skipped: this.skipped,
      remaining,
      itemsPerSec,
      chunksPerSec,
      chunksTotal: this.chunksTotal,
      tokens: this.tokens.totals(),
      tokensPerSec: (tokens * 1000) / span,
      etaMs,
      elapsedMs,
      ended: this.ended,
      rows,
    };
  }

  private restart(row: MutableRow, attempt: number, worker: string, stage: number | null, now: number): void {
    row.attempt = attempt;
    row.worker = worker;
    row.stage = stage;
    row.chunks = 0;
    row.startedAt = now;
    row.lastChunkAt = null;
    row.tail = '';
  }

  private pushFinished(line: FinishedLine): void {
    if (this.finished.length >= this.maxPending) {
      this.finished.shift();
      this.dropped++;
    }
    this.finished.push(line);
  }

  /** Moves the ring to `now`'s bucket, clearing the buckets skipped over. */
  private advance(now: number): void {
    if (this.startedAt === null) this.startedAt = now;
    const bucket = Math.floor(now / BUCKET_MS);
    if (this.currentBucket < 0) {
      this.currentBucket = bucket;
      return;
    }
    if (bucket <= this.currentBucket) return; // same bucket, or the clock went back
    const steps = Math.min(bucket - this.currentBucket, WINDOW_BUCKETS);
    for (let i = 1; i <= steps; i++) {
      const slot = (this.currentBucket + i) % WINDOW_BUCKETS;
      this.itemBuckets[slot] = 0;
      this.chunkBuckets[slot] = 0;
      this.tokenBuckets[slot] = 0;
    }
    this.currentBucket = bucket;
  }
}

/** Appends streamed text to a row's tail, keeping it one line and bounded. */
function appendTail(row: MutableRow, text: string): void {
  if (text.length === 0) return;
  // A huge chunk: only its end can ever be shown. (2 units per code point at most.)
  let piece = text.length > TAIL_CODE_POINTS * 2 ? tailCodePoints(text, TAIL_CODE_POINTS) : text;
  piece = sanitizeForLine(piece);
  if (piece.includes('  ')) piece = piece.replace(/ {2,}/g, ' ');
  if (piece.charCodeAt(0) === 32 && (row.tail.length === 0 || row.tail.charCodeAt(row.tail.length - 1) === 32)) {
    piece = piece.slice(1);
    if (piece.length === 0) return;
  }
  row.tail += piece;
  if (row.tail.length > TAIL_CODE_POINTS * 2) row.tail = tailCodePoints(row.tail, TAIL_CODE_POINTS);
}

function makePreview(output: string): string {
  // Look at a bounded prefix only: the output may be megabytes.
  const head = output.length > PREVIEW_CODE_POINTS * 4 ? headCodePoints(output, PREVIEW_CODE_POINTS * 4) : output;
  const one = toOneLine(head);
  const cut = headCodePoints(one, PREVIEW_CODE_POINTS);
  // Mark a cut preview with an ellipsis (within the same budget).
  return toWellFormed(cut.length < one.length ? headCodePoints(cut, PREVIEW_CODE_POINTS - 1) + '…' : cut);
}

/** The first meaningful line of an error message (never a stack trace), one line, bounded. */
export function errorLine(error: string): string {
  const head = error.length > ERROR_CODE_POINTS * 4 ? headCodePoints(error, ERROR_CODE_POINTS * 4) : error;
  let line = '';
  for (const candidate of head.split(/\r?\n/)) {
    const t = candidate.trim();
    if (t.length === 0) continue;
    if (/^at\s/.test(t)) break; // a stack frame: the message is over
    line = t;
    break;
  }
  const one = toOneLine(line);
  return toWellFormed(headCodePoints(one.length > 0 ? one : 'unknown error', ERROR_CODE_POINTS));
}
