/**
 * Pure text layout for the submit view: which segments of the header fit a width, how wide the
 * cells of a live row are, what a finished line says. Every function returns text that fits
 * the given width (display width, string-width), so the ink components only arrange it.
 */
import type { TokenTotals } from '../core/token-tally.js';
import type { KeyActivity } from '../core/quota/ledger.js';
import type { FinishedLine, JobSnapshot, LiveRow } from '../core/job-state.js';
import { linkDownText, type LinkDown } from '../core/link.js';
import {
  formatCompact,
  formatCount,
  formatDuration,
  formatEta,
  formatPercent,
  formatUsd,
  progressBar,
} from '../core/format.js';
import { displayWidth, fitWidth, sanitizeForLine, truncateEnd, truncateMiddle, truncateStart } from '../core/text.js';
import type { Phase, RunInfo } from './reporter.js';
import { oneLine, plural, summaryLines } from './summary.js';

export { oneLine, plural, summaryLines };

export type SegColor = 'green' | 'red' | 'yellow' | 'cyan' | 'magenta' | 'gray' | 'blue';

/** A piece of one line with its style. */
export interface Seg {
  readonly text: string;
  readonly color?: SegColor;
  readonly bold?: boolean;
  readonly dim?: boolean;
}

export type SegLine = readonly Seg[];

export interface Group {
  readonly segs: readonly Seg[];
  /** Higher is kept longer when the width is short. */
  readonly priority: number;
}

const SEP: Seg = { text: ' · ', dim: true };

/** The text of a styled line, without the styles. */
export const segsText = (segs: readonly Seg[]): string => segs.map((s) => s.text).join('');

export function segWidth(segs: readonly Seg[]): number {
  let w = 0;
  for (const s of segs) w += displayWidth(s.text);
  return w;
}

/**
 * Joins groups with " · ", dropping the lowest-priority groups (the later one among equals)
 * until the line fits `width`; the last survivor is truncated if it alone is too wide.
 */
export function fitGroups(groups: readonly Group[], width: number): Seg[] {
  const kept = groups.filter((g) => g.segs.length > 0);
  const widths = kept.map((g) => segWidth(g.segs));
  const sepW = displayWidth(SEP.text);
  const total = (): number => widths.reduce((a, b) => a + b, 0) + Math.max(0, kept.length - 1) * sepW;
  while (kept.length > 1 && total() > width) {
    let drop = 0;
    for (let i = 1; i < kept.length; i++) if (kept[i]!.priority <= kept[drop]!.priority) drop = i;
    kept.splice(drop, 1);
    widths.splice(drop, 1);
  }
  const out: Seg[] = [];
  kept.forEach((g, i) => {
    if (i > 0) out.push(SEP);
    out.push(...g.segs);
  });
  return truncateSegs(out, width);
}

/** Cuts a styled line to `width` columns, ending in "…" when cut. */
export function truncateSegs(segs: readonly Seg[], width: number): Seg[] {
  if (segWidth(segs) <= width) return [...segs];
  const out: Seg[] = [];
  let left = width;
  for (const s of segs) {
    const w = displayWidth(s.text);
    if (w < left) {
      out.push(s);
      left -= w;
      continue;
    }
    const cut = truncateEnd(s.text, left);
    if (cut.length > 0) out.push({ ...s, text: cut });
    break;
  }
  return out;
}


/** Line 1: who and where. */
export function titleLine(info: RunInfo, snapshot: JobSnapshot | null, columns: number): Seg[] {
  const idW = Math.max(8, Math.floor(columns / 4));
  const groups: Group[] = [
    {
      priority: 100,
      segs: [
        { text: 'slowwork', bold: true, color: 'magenta' },
        { text: ' job ' },
        { text: truncateMiddle(oneLine(info.jobId), idW), bold: true },
      ],
    },
    { priority: 70, segs: snapshot ? [{ text: `elapsed ${formatDuration(snapshot.elapsedMs)}`, dim: true }] : [] },
    { priority: 60, segs: [{ text: truncateEnd(oneLine(info.processors.join(' → ')), 32), color: 'cyan' }] },
    { priority: 50, segs: [{ text: truncateEnd(oneLine(info.broker), 32) }] },
    { priority: 30, segs: info.skipped > 0 ? [{ text: `${formatCount(info.skipped)} skipped (resume)`, dim: true }] : [] },
    { priority: 20, segs: [{ text: `concurrency ${info.concurrency}`, dim: true }] },
  ];
  return fitGroups(groups, columns);
}

const MIN_BAR = 8;
const MAX_BAR = 40;

/** Line 2: progress bar and counts, rates, ETA (not once `final`); `quota`: the run's rate limiters, busiest first. */
export function statsLine(snapshot: JobSnapshot, columns: number, final = false, quota: readonly KeyActivity[] = []): Seg[] {
  const s = snapshot;
  const finished = s.done + s.failed;
  const totalText = s.total === null ? '?' : formatCount(s.total);
  const lead: Seg[] = [];
  if (s.total !== null && s.total > 0) lead.push({ text: `${formatPercent(finished / s.total)} `, bold: true });
  lead.push({ text: `${formatCount(s.done)}/${totalText} done`, color: 'green' });
  const groups: Group[] = [
    { priority: 100, segs: lead },
    { priority: 90, segs: [{ text: `${formatCount(s.failed)} failed`, ...(s.failed > 0 ? { color: 'red' as const } : { dim: true }) }] },
    { priority: 85, segs: [{ text: `${formatCount(s.inFlight)} in flight`, color: 'yellow' }] },
    { priority: 60, segs: s.retrying > 0 ? [{ text: `${formatCount(s.retrying)} retrying`, color: 'yellow' }] : [] },
    { priority: 70, segs: [{ text: `${formatCompact(s.itemsPerSec)} items/s` }] },
    { priority: 50, segs: [{ text: `${formatCompact(s.chunksPerSec)} chunks/s`, dim: true }] },
    { priority: 65, segs: s.tokens ? tokenSegs(s.tokens, s.tokensPerSec) : [] },
    { priority: 75, segs: final ? [] : quotaSegs(quota) },
    { priority: 80, segs: s.etaMs !== null && s.ended === null && !final ? [{ text: `ETA ${formatEta(s.etaMs)}`, bold: true }] : [] },
  ];
  if (s.total === null || s.total === 0 || columns < 40) return fitGroups(groups, columns);
  const withRoom = fitGroups(groups, columns - MIN_BAR - 1);
  const barW = Math.min(MAX_BAR, columns - segWidth(withRoom) - 1);
  if (barW < MIN_BAR) return fitGroups(groups, columns);
  // Filled part green, the empty track dim.
  const bar = progressBar(finished / s.total, barW, 'blocks', '\u0000');
  const filled = bar.replace(/\u0000+$/, '');
  const empty = '░'.repeat(bar.length - filled.length);
  return [{ text: filled, color: 'green' }, { text: empty, dim: true }, { text: ' ' }, ...withRoom];
}

/** `tokens 12.3k in · 45.6k out · 890/s`; a `~` before the counts when some are slowwork's estimate. */
function tokenSegs(t: TokenTotals, perSec: number): Seg[] {
  const about = t.estimated ? '~' : '';
  const cost = t.costUsd === undefined ? '' : ` · ${formatUsd(t.costUsd)}`;
  return [{ text: `tokens ${about}${formatCompact(t.prompt)} in · ${about}${formatCompact(t.completion)} out · ${formatCompact(perSec)}/s${cost}`, color: 'cyan' }];
}

/**
 * `quota: 18 waiting · 1190/1200 rpm` for the busiest limiter (`paused 2.1s` while a server's
 * retry-after holds it; `+2 endpoints` when there are more); yellow while items wait for it.
 */
export function quotaSegs(keys: readonly KeyActivity[]): Seg[] {
  const k = keys[0];
  if (!k) return [];
  const parts: string[] = [];
  if (k.pausedMs > 0) parts.push(`paused ${formatDuration(k.pausedMs)}`);
  parts.push(`${formatCount(k.waiting)} waiting`);
  const rate = formatCount(Math.round(k.perMinute));
  parts.push(k.rpm > 0 ? `${rate}/${formatCount(k.rpm)} rpm` : `${rate} rpm`);
  if (keys.length > 1) parts.push(`+${plural(keys.length - 1, 'endpoint')}`);
  const busy = k.waiting > 0 || k.pausedMs > 0;
  return [{ text: `quota: ${parts.join(' · ')}`, ...(busy ? { color: 'yellow' as const } : { dim: true }) }];
}

/** The phase notice, or null while running normally. A shorter wording when narrow. */
export function phaseNotice(phase: Phase, snapshot: JobSnapshot | null, columns: number): Seg[] | null {
  const n = snapshot?.inFlight ?? 0;
  const pick = (label: string, color: SegColor, long: string, short: string): Seg[] => {
    const head: Seg = { text: `${label}: `, bold: true, color };
    const text = displayWidth(head.text + long) <= columns ? long : short;
    return truncateSegs([head, { text, color }], columns);
  };
  if (phase === 'draining') {
    return pick(
      'draining',
      'yellow',
      `finishing ${plural(n, 'in-flight item')} — Ctrl+C again to abort`,
      `${formatCount(n)} in flight — Ctrl+C again to abort`,
    );
  }
  if (phase === 'aborting') {
    return pick(
      'aborting',
      'red',
      `stopping ${plural(n, 'in-flight item')}; finished results are kept`,
      `stopping ${formatCount(n)} in flight; results kept`,
    );
  }
  return null;
}

/**
 * The notice line: an unreachable server first (nothing moves until it is back, so it explains
 * the `0 items/s`), then the phase notice when both apply.
 */
export function noticeLine(link: LinkDown | null, phase: Seg[] | null, columns: number): Seg[] | null {
  if (link === null) return phase;
  const down: Seg[] = [{ text: linkDownText(link), bold: true, color: 'red' }];
  return truncateSegs(phase ? [...down, SEP, ...phase] : down, columns);
}

/**
 * Widths of a live row's cells; with one-space gaps after id, attempt and worker (the count
 * cell carries its own trailing space) they sum to exactly `columns`.
 */
export interface RowLayout {
  readonly idW: number;
  /** 0 when no visible row is on a retry. */
  readonly attemptW: number;
  /** 0 when hidden (narrow terminal). */
  readonly workerW: number;
  readonly countW: number;
  readonly tailW: number;
}

/** Count (5) + space + cut marker. */
const COUNT_W = 7;
const MIN_TAIL = 12;

export function layoutRows(rows: readonly LiveRow[], columns: number): RowLayout {
  let idMax = 2;
  let workerMax = 0;
  let attemptMax = 1;
  for (const r of rows) {
    idMax = Math.max(idMax, displayWidth(oneLine(r.id)));
    workerMax = Math.max(workerMax, displayWidth(oneLine(r.worker)));
    attemptMax = Math.max(attemptMax, r.attempt);
  }
  let idW = Math.min(idMax, columns >= 100 ? 24 : 16);
  const attemptW = attemptMax > 1 ? Math.min(4, 1 + String(attemptMax).length) : 0;
  let workerW = columns >= 80 ? Math.min(workerMax, 12) : 0;
  const fixed = (): number =>
    idW + 1 + (attemptW > 0 ? attemptW + 1 : 0) + (workerW > 0 ? workerW + 1 : 0) + COUNT_W;
  if (columns - fixed() < MIN_TAIL) workerW = 0;
  if (columns - fixed() < MIN_TAIL) idW = Math.max(3, idW - (MIN_TAIL - (columns - fixed())));
  const tailW = Math.max(0, columns - fixed());
  return { idW, attemptW, workerW, countW: COUNT_W, tailW };
}

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'] as const;

/** The frame of the one shared spinner at time `now`. */
export function spinnerFrame(now: number): string {
  return SPINNER[Math.floor(now / 100) % SPINNER.length]!;
}

export interface RowTexts {
  readonly id: string;
  readonly attempt: string;
  readonly worker: string;
  /**
   * Chunk count (or the spinner before the first chunk), a space and the "…" marker when the
   * tail was cut: exactly countW columns. The marker lives here, not in the tail, so the long
   * tail of an ASCII stream stays ASCII (ink measures pure ASCII strings on a fast path).
   */
  readonly count: string;
  /** The newest text of the stream, at most tailW columns. */
  readonly tail: string;
  /** True while no chunk arrived: the tail is a dim placeholder. */
  readonly waiting: boolean;
}

/** The cell texts of one row, each exactly its cell's width (the tail at most). */
export function rowTexts(row: LiveRow, layout: RowLayout, now: number): RowTexts {
  const waiting = row.chunks === 0;
  const tailSource = waiting ? `waiting for the first chunk (${formatDuration(now - row.startedAt)})` : row.tail;
  const tail = waiting ? truncateEnd(tailSource, layout.tailW) : truncateStart(tailSource, layout.tailW, '');
  const cut = !waiting && tail.length < tailSource.length;
  return {
    id: fitWidth(truncateMiddle(oneLine(row.id), layout.idW), layout.idW),
    attempt: layout.attemptW > 0 ? fitWidth(row.attempt > 1 ? `↻${row.attempt}` : '', layout.attemptW) : '',
    worker: layout.workerW > 0 ? fitWidth(oneLine(row.worker), layout.workerW) : '',
    count: fitWidth(waiting ? spinnerFrame(now) : formatCompact(row.chunks), layout.countW - 2, 'right') + (cut ? ' …' : '  '),
    tail,
    waiting,
  };
}

/** One finished item as a styled line that fits `columns`. */
export function finishedLineSegs(line: FinishedLine, columns: number): Seg[] {
  const id = truncateMiddle(oneLine(line.id), Math.max(8, Math.floor(columns / 4)));
  const head: Seg[] =
    line.status === 'done'
      ? [
          { text: '✔ ', color: 'green' },
          { text: id, bold: true },
          { text: ` ${formatDuration(line.durationMs)} ${plural(line.chunks, 'chunk')}`, dim: true },
        ]
      : [
          { text: '✖ ', color: 'red' },
          { text: id, bold: true },
          { text: ` after ${plural(line.attempts, 'attempt')}`, dim: true },
        ];
  if (line.attempts > 1 && line.status === 'done') head.push({ text: ` (${line.attempts} attempts)`, color: 'yellow' });
  const room = columns - segWidth(head) - 2;
  if (room < 4) return truncateSegs(head, columns);
  if (line.status === 'done') {
    if (!line.preview) return head;
    return [...head, { text: ' "' }, { text: truncateEnd(line.preview, room - 1) }, { text: '"' }];
  }
  return [...head, { text: ': ' }, { text: truncateEnd(line.error ?? 'failed', room), color: 'red' }];
}

/** "+12 more finished" when a batch was too large to print line by line. */
export function omittedLineSegs(count: number, columns: number): Seg[] {
  return truncateSegs([{ text: `… ${plural(count, 'more item')} finished (see the results file)`, dim: true }], columns);
}


