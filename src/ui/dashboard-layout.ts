/**
 * The dashboard screen as lines of styled segments: title, throughput sparklines, queues,
 * workers, jobs and a key line. Pure: a view, a size and the selection in, at most `rows - 1`
 * lines of at most `columns` columns out. Short terminals collapse panels (a panel of one line
 * is its summary; of two, its summary and one row; more adds the column header), narrow ones
 * drop columns by priority.
 */
import type { DashQueue } from '../core/dashboard-sample.js';
import type { DashboardView, JobView, WorkerView } from '../core/dashboard-state.js';
import { formatCompact, formatCount, formatDuration, formatEta, formatPercent, progressBar } from '../core/format.js';
import { downsample, sparkline } from '../core/sparkline.js';
import { sanitizeForLine, truncateEnd } from '../core/text.js';
import { fitGroups, plural, truncateSegs, type Group, type Seg } from './layout.js';
import { fitTable, headerLine, rowLine, text, type Column } from './table.js';

export interface DashboardScreen {
  readonly view: DashboardView;
  readonly columns: number;
  readonly rows: number;
  /** The selected job's id (null: none). */
  readonly selected: string | null;
  /** Shown instead of the key line: a question or a message. */
  readonly prompt?: readonly Seg[] | null;
  /** The key line's keys; empty for no key line (a snapshot printed without a TTY). */
  readonly keys?: readonly KeyHint[];
  /** The clock for the title (ms since the epoch); default: the view's time. */
  readonly now?: number;
}

export interface KeyHint {
  readonly key: string;
  readonly what: string;
}

export const DASHBOARD_KEYS: readonly KeyHint[] = [
  { key: '↑↓/jk', what: 'select' },
  { key: 'Enter', what: 'attach' },
  { key: 'c', what: 'cancel' },
  { key: 'q', what: 'quit' },
];

/** How many lines each panel gets. */
export interface PanelPlan {
  readonly throughput: number;
  readonly queues: number;
  readonly workers: number;
  readonly jobs: number;
}

/** Full heights: a panel shows its summary, the column header and every row. */
function fullHeights(view: DashboardView): PanelPlan {
  return {
    throughput: 2,
    queues: view.queues.length === 0 ? 1 : 2 + view.queues.length,
    workers: view.workers.length === 0 ? 1 : 2 + view.workers.length,
    jobs: view.jobs.length === 0 ? 1 : 2 + view.jobs.length,
  };
}

/**
 * Splits `budget` lines: first one line each (two for jobs, so the selection shows), then the
 * queues and the second sparkline when there is room to spare, then jobs and workers a line
 * at a time in turn.
 */
export function planPanels(view: DashboardView, budget: number): PanelPlan {
  const full = fullHeights(view);
  const plan = { throughput: 0, queues: 0, workers: 0, jobs: 0 };
  let left = Math.max(0, budget);
  const give = (panel: keyof PanelPlan, n: number): void => {
    const add = Math.min(n, left, full[panel] - plan[panel]);
    if (add > 0) {
      plan[panel] += add;
      left -= add;
    }
  };
  give('jobs', Math.min(2, full.jobs));
  give('workers', 1);
  give('throughput', 1);
  give('queues', 1);
  if (left - (full.queues - plan.queues) >= 6) give('queues', full.queues);
  if (left >= 8) give('throughput', 1);
  for (let progress = true; progress && left > 0; ) {
    const before = left;
    give('jobs', 1);
    give('workers', 1);
    progress = left < before;
  }
  return plan;
}

/** The whole screen: at most `rows - 1` lines. */
export function dashboardLines(screen: DashboardScreen): Seg[][] {
  const { view } = screen;
  const columns = Math.max(1, Math.floor(screen.columns));
  const keys = screen.keys ?? DASHBOARD_KEYS;
  const bottom = screen.prompt ? [fit([...screen.prompt], columns)] : keys.length > 0 ? [keyLine(keys, columns)] : [];
  const maxLines = Math.max(1, Math.floor(screen.rows) - 1);
  const budget = Math.max(0, maxLines - 1 - bottom.length);
  const plan = planPanels(view, budget);
  const lines: Seg[][] = [titleLine(view, columns, screen.now ?? view.now ?? view.at)];
  lines.push(...throughputLines(view, columns, plan.throughput));
  lines.push(...queueLines(view, columns, plan.queues));
  lines.push(...workerLines(view, columns, plan.workers));
  lines.push(...jobLines(view, columns, plan.jobs, screen.selected));
  lines.push(...bottom);
  return lines.slice(0, maxLines);
}

// ---- title -------------------------------------------------------------------------------

function titleLine(view: DashboardView, columns: number, now: number): Seg[] {
  const groups: Group[] = [
    { priority: 100, segs: [{ text: 'slowwork', bold: true, color: 'magenta' }, { text: ' dashboard' }] },
    { priority: 60, segs: view.source ? [{ text: truncateEnd(sanitizeForLine(view.source), Math.max(20, columns - 40)) }] : [] },
    { priority: 30, segs: view.at > 0 ? [{ text: clock(now), dim: true }] : [] },
  ];
  if (view.connection === 'reconnecting') {
    const since = view.lostSince === null ? '' : ` for ${formatDuration(Math.max(0, now - view.lostSince))}`;
    groups.push({ priority: 90, segs: [{ text: `reconnecting${since}`, color: 'red', bold: true }] });
    if (view.connectionError) groups.push({ priority: 40, segs: [{ text: truncateEnd(sanitizeForLine(view.connectionError), 60), color: 'red' }] });
  } else if (view.connection === 'connecting') {
    groups.push({ priority: 90, segs: [{ text: 'connecting…', color: 'yellow' }] });
    if (view.connectionError) groups.push({ priority: 40, segs: [{ text: truncateEnd(sanitizeForLine(view.connectionError), 60), color: 'red' }] });
  }
  return fitGroups(groups, columns);
}

function clock(ms: number): string {
  const d = new Date(ms);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
}

// ---- throughput ----------------------------------------------------------------------------

function throughputLines(view: DashboardView, columns: number, height: number): Seg[][] {
  if (height <= 0) return [];
  const { items, chunks } = view.series;
  const figure = (v: number): string => formatCompact(v).padStart(6);
  if (height === 1) {
    // Both on one line, each half: label, figure, sparkline.
    const half = Math.floor((columns - 2) / 2);
    const w = Math.max(0, Math.min(60, half - 16));
    return [
      fit(
        [
          ...sparkSegs('items/s ', figure(view.totals.itemsPerSec), items, w, 'green'),
          { text: '  ' },
          ...sparkSegs('chunks/s', figure(view.totals.chunksPerSec), chunks, w, 'cyan'),
        ],
        columns,
      ),
    ];
  }
  const w = Math.max(0, columns - 16);
  return [
    fit(sparkSegs('items/s ', figure(view.totals.itemsPerSec), items, w, 'green'), columns),
    fit(sparkSegs('chunks/s', figure(view.totals.chunksPerSec), chunks, w, 'cyan'), columns),
  ];
}

/** Samples per column so the whole history fits `width`. */
function per(n: number, width: number): number {
  return width > 0 ? Math.max(1, Math.ceil(n / width)) : 1;
}

/** `items/s   12.3 ▁▂▃▅▇` in 16 + `width` columns. */
function sparkSegs(label: string, figure: string, series: readonly number[], width: number, color: 'green' | 'cyan'): Seg[] {
  const points = width > 0 ? downsample(series, per(series.length, width)) : [];
  const line = sparkline(points, points.length);
  return [{ text: label, bold: true }, { text: `${figure} ` }, ...(line ? [{ text: line, color }] : [])];
}

// ---- queues ------------------------------------------------------------------------------

const QUEUE_COLUMNS: readonly Column<DashQueue>[] = [
  { header: 'QUEUE', priority: 10, max: 24, cell: (q) => text(q.name, { color: 'cyan' }), cut: 'middle' },
  { header: 'WAITING', priority: 9, align: 'right', cell: (q) => text(formatCount(q.waiting)) },
  { header: 'IN FLIGHT', priority: 8, align: 'right', cell: (q) => text(formatCount(q.inFlight), { color: 'yellow' }) },
  { header: 'DELAYED', priority: 6, align: 'right', cell: (q) => text(formatCount(q.delayed)) },
  { header: 'DEAD', priority: 7, align: 'right', cell: (q) => text(formatCount(q.dead), q.dead > 0 ? { color: 'red' } : { dim: true }) },
  { header: 'LAG', priority: 5, align: 'right', cell: (q) => text(q.oldestWaitingMs === null ? '-' : formatDuration(q.oldestWaitingMs), lagStyle(q)) },
];

function lagStyle(q: DashQueue): Omit<Seg, 'text'> {
  if (q.oldestWaitingMs === null) return { dim: true };
  return q.oldestWaitingMs > 60_000 ? { color: 'red' } : q.oldestWaitingMs > 10_000 ? { color: 'yellow' } : {};
}

function queueLines(view: DashboardView, columns: number, height: number): Seg[][] {
  if (height <= 0) return [];
  const qs = view.queues;
  const sum = (f: (q: DashQueue) => number): number => qs.reduce((s, q) => s + f(q), 0);
  const lag = qs.reduce<number | null>((m, q) => (q.oldestWaitingMs === null ? m : Math.max(m ?? 0, q.oldestWaitingMs)), null);
  const summary: Group[] = [
    { priority: 100, segs: [{ text: qs.length === 1 ? 'QUEUE ' : 'QUEUES ', bold: true }, { text: qs.length === 1 ? qs[0]!.name : String(qs.length), color: 'cyan' }] },
    { priority: 90, segs: [{ text: `${formatCount(sum((q) => q.waiting))} waiting` }] },
    { priority: 80, segs: [{ text: `${formatCount(sum((q) => q.inFlight))} in flight`, color: 'yellow' }] },
    { priority: 60, segs: [{ text: `${formatCount(sum((q) => q.delayed))} delayed` }] },
    { priority: 70, segs: [{ text: `${formatCount(sum((q) => q.dead))} dead`, ...(sum((q) => q.dead) > 0 ? { color: 'red' as const } : { dim: true }) }] },
    { priority: 50, segs: [{ text: lag === null ? 'no lag' : `oldest waiting ${formatDuration(lag)}`, dim: lag === null }] },
  ];
  if (qs.length === 0) summary.splice(1, summary.length - 1, { priority: 90, segs: [{ text: 'none', dim: true }] });
  if (height === 1 || qs.length === 0) return [fitGroups(summary, columns)];
  return tablePanel(QUEUE_COLUMNS, qs, columns, height, [{ text: qs.length === 1 ? 'QUEUE' : `QUEUES ${qs.length}`, bold: true }], null);
}

// ---- workers -----------------------------------------------------------------------------

const HEALTH_GLYPH: Record<WorkerView['health'], Seg> = {
  ok: { text: '●', color: 'green' },
  silent: { text: '◌', color: 'yellow' },
  dead: { text: '✗', color: 'red' },
};

const WORKER_COLUMNS: readonly Column<WorkerView>[] = [
  { header: ' ', priority: 11, cell: (w) => [HEALTH_GLYPH[w.health]] },
  { header: 'WORKER', priority: 10, max: 40, min: 10, flex: true, cut: 'middle', cell: (w) => text(sanitizeForLine(w.name), w.health === 'dead' ? { dim: true } : {}) },
  { header: 'HOST', priority: 1, optional: true, max: 16, cut: 'middle', cell: (w) => text(sanitizeForLine(w.host), { dim: true }) },
  { header: 'PID', priority: 0, optional: true, align: 'right', cell: (w) => text(w.pid > 0 ? String(w.pid) : '-', { dim: true }) },
  { header: 'BUSY', priority: 9, align: 'right', cell: (w) => text(w.health === 'dead' ? '-' : w.slots > 0 ? `${w.busy}/${w.slots}` : String(w.busy), w.busy > 0 ? { color: 'yellow' } : { dim: true }) },
  { header: 'CPU', priority: 5, optional: true, align: 'right', cell: (w) => text(w.cpu === null ? '-' : `${Math.round(w.cpu)}%`) },
  { header: 'MEM', priority: 4, optional: true, align: 'right', cell: (w) => text(w.rssBytes === null ? '-' : formatBytes(w.rssBytes)) },
  { header: 'DONE', priority: 7, align: 'right', cell: (w) => text(formatCount(w.processed), { color: 'green' }) },
  { header: 'FAILED', priority: 6, align: 'right', cell: (w) => text(formatCount(w.failed), w.failed > 0 ? { color: 'red' } : { dim: true }) },
  { header: 'AVG', priority: 3, align: 'right', cell: (w) => text(w.avgMs === null ? '-' : formatDuration(w.avgMs)) },
  { header: 'HEARTBEAT', priority: 8, align: 'right', cell: (w) => beatCell(w) },
];

function beatCell(w: WorkerView): Seg[] {
  const age = w.beatAgeMs === null ? '' : formatDuration(w.beatAgeMs);
  if (w.health === 'dead') return text(age ? `dead ${age}` : 'dead', { color: 'red' });
  if (w.health === 'silent') return text(`silent ${age}`, { color: 'yellow' });
  return text(age ? `${age} ago` : '-', { dim: true });
}

/** "512K", "120M", "1.5G". */
export function formatBytes(bytes: number): string {
  const units = ['B', 'K', 'M', 'G', 'T'];
  let v = Math.max(0, bytes);
  let u = 0;
  // The unit is chosen after rounding: 1048575 bytes is 1.0M, not 1024K.
  const shown = (x: number, unit: number): number => (x < 10 && unit > 0 ? Math.round(x * 10) / 10 : Math.round(x));
  while (shown(v, u) >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  const r = shown(v, u);
  return `${r < 10 && u > 0 ? r.toFixed(1) : r}${units[u]}`;
}

function workerLines(view: DashboardView, columns: number, height: number): Seg[][] {
  if (height <= 0) return [];
  const t = view.totals;
  const summary: Seg[] = [
    { text: 'WORKERS ', bold: true },
    { text: `${t.alive} alive`, color: t.alive > 0 ? 'green' : 'yellow' },
    ...(t.silent > 0 ? [{ text: ' · ', dim: true }, { text: `${t.silent} silent`, color: 'yellow' as const }] : []),
    ...(t.dead > 0 ? [{ text: ' · ', dim: true }, { text: `${t.dead} dead`, color: 'red' as const }] : []),
    { text: ' · ', dim: true },
    { text: t.slots > 0 ? `${formatCount(t.busy)}/${formatCount(t.slots)} slots busy` : `${formatCount(t.busy)} busy` },
  ];
  if (height === 1 || view.workers.length === 0) return [fit(summary, columns)];
  return tablePanel(WORKER_COLUMNS, view.workers, columns, height, summary, null, 'worker');
}

// ---- jobs --------------------------------------------------------------------------------

/** TOKENS/S shows only when some job has reported tokens (its processors meter them: ctx.report). */
function jobColumns(multiQueue: boolean, metered: boolean): Column<JobView>[] {
  return [
    { header: 'JOB', priority: 10, max: 12, cut: 'middle', cell: (j) => text(sanitizeForLine(j.id), j.history ? { dim: true } : { bold: true }) },
    ...(multiQueue ? [{ header: 'QUEUE', priority: 2, max: 14, cut: 'middle' as const, cell: (j: JobView) => text(j.queue, { color: 'cyan' as const }) }] : []),
    { header: 'PROGRESS', priority: 9, flex: true, min: 26, max: 40, cell: (j, w) => progressCell(j, w) },
    { header: 'DONE/FAILED/TOTAL', priority: 8, align: 'right', cell: (j) => countsCell(j) },
    { header: 'ITEMS/S', priority: 6, align: 'right', cell: (j) => text(j.history ? '-' : formatCompact(j.itemsPerSec), j.history ? { dim: true } : {}) },
    ...(metered ? [{ header: 'TOKENS/S', priority: 4, align: 'right' as const, cell: (j: JobView) => tokensCell(j) }] : []),
    { header: 'ETA', priority: 7, align: 'right', cell: (j) => text(j.history ? '-' : formatEta(j.etaMs), j.history ? { dim: true } : { bold: true }) },
    { header: 'AGE', priority: 5, align: 'right', cell: (j) => text(formatDuration(j.ageMs), { dim: true }) },
    { header: 'SUBMITTER', priority: 3, max: 22, cut: 'middle', cell: (j) => text(sanitizeForLine(j.submitter) || '-', { dim: true }) },
    { header: 'PROCESSORS', priority: 1, max: 24, cell: (j) => text(sanitizeForLine(j.processors.join(' → ')), { color: 'cyan', dim: j.history }) },
  ];
}

function tokensCell(j: JobView): Seg[] {
  return j.history || j.tokensPerSec === null ? text('-', { dim: true }) : text(formatCompact(j.tokensPerSec), { color: 'cyan' });
}

function progressCell(j: JobView, width: number): Seg[] {
  const finished = j.done + j.failed;
  const label = j.status === 'running' ? (j.total ? formatPercent(finished / j.total) : '?') : j.status;
  const labelW = 10;
  const barW = Math.max(0, width - labelW - 1);
  const fraction = j.total ? finished / j.total : 0;
  const bar = progressBar(fraction, barW, 'blocks', '\u0000');
  const filled = bar.replace(/\u0000+$/, '');
  const color = j.status === 'done' ? 'green' : j.status === 'cancelled' ? 'yellow' : j.status === 'running' ? 'green' : 'yellow';
  return [
    { text: filled, color, dim: j.history },
    { text: '░'.repeat(bar.length - filled.length), dim: true },
    ...(barW > 0 ? [{ text: ' ' }] : []),
    { text: label, ...(j.status === 'running' ? { bold: true } : { color, dim: j.history }) },
  ];
}

function countsCell(j: JobView): Seg[] {
  return [
    { text: formatCount(j.done), color: 'green', dim: j.history },
    { text: '/', dim: true },
    { text: formatCount(j.failed), ...(j.failed > 0 ? { color: 'red' as const } : { dim: true }) },
    { text: '/', dim: true },
    { text: j.total === null ? '?' : formatCount(j.total), dim: j.history },
  ];
}

function jobLines(view: DashboardView, columns: number, height: number, selected: string | null): Seg[][] {
  if (height <= 0) return [];
  const running = view.totals.running;
  const history = view.jobs.length - running;
  const summary: Seg[] = [
    { text: 'JOBS ', bold: true },
    { text: `${running} running`, color: running > 0 ? 'green' : undefined, dim: running === 0 },
    ...(history > 0 ? [{ text: ' · ', dim: true }, { text: `${history} finished`, dim: true }] : []),
  ];
  if (view.jobs.length === 0) return [fit([...summary, { text: ' · ', dim: true }, { text: 'no jobs', dim: true }], columns)];
  const multiQueue = view.queues.length > 1;
  const metered = view.jobs.some((j) => j.tokensPerSec !== null);
  return tablePanel(jobColumns(multiQueue, metered), view.jobs, columns, height, summary, (j) => j.id === selected, 'job');
}

// ---- shared ------------------------------------------------------------------------------

/**
 * A panel of `height` lines: its summary line, then (height >= 3) the column header, then as
 * many rows as fit. When rows are left out, a selected row stays in sight and the summary says
 * which rows show; without a selection the last line says how many more there are.
 */
function tablePanel<T>(
  columns: readonly Column<T>[],
  rows: readonly T[],
  width: number,
  height: number,
  summary: readonly Seg[],
  isSelected: ((row: T) => boolean) | null,
  noun?: string,
): Seg[][] {
  const marker = isSelected !== null ? 2 : 0;
  const header = height >= 3;
  let room = Math.max(0, height - 1 - (header ? 1 : 0));
  if (room === 0) return [fit([...summary], width)];
  let first = 0;
  let moreLine = false;
  if (rows.length > room) {
    if (isSelected) {
      const sel = Math.max(0, rows.findIndex(isSelected));
      first = Math.min(Math.max(0, sel - Math.floor(room / 2)), rows.length - room);
    } else if (room >= 2) {
      moreLine = true;
      room--;
    }
  }
  const shown = rows.slice(first, first + room);
  const t = fitTable(columns, shown, width - marker);
  const top: Seg[] = [...summary];
  if (rows.length > shown.length && isSelected) top.push({ text: ` (${first + 1}–${first + shown.length} of ${rows.length})`, dim: true });
  const out: Seg[][] = [fit(top, width)];
  if (header) out.push(fit([...(marker ? [{ text: '  ' }] : []), ...headerLine(t, width - marker)], width));
  for (const row of shown) {
    const sel = isSelected?.(row) ?? false;
    const line = rowLine(t, row, width - marker);
    out.push(fit(marker ? [sel ? { text: '› ', color: 'cyan', bold: true } : { text: '  ' }, ...(sel ? line.map(inverse) : line)] : line, width));
  }
  if (moreLine) out.push(fit([{ text: `+${plural(rows.length - shown.length, `more ${noun ?? 'row'}`)}`, color: 'yellow' }], width));
  return out;
}

/** A selected row: every segment bold cyan (a visible highlight that survives no-color terminals by the marker). */
function inverse(seg: Seg): Seg {
  return seg.text.trim() === '' ? seg : { ...seg, bold: true, dim: false, color: seg.color === 'red' || seg.color === 'green' ? seg.color : 'cyan' };
}

function keyLine(keys: readonly KeyHint[], columns: number): Seg[] {
  const groups: Group[] = keys.map((k, i) => ({ priority: 100 - i, segs: [{ text: k.key, bold: true }, { text: ` ${k.what}`, dim: true }] }));
  return fitGroups(groups, columns);
}

function fit(segs: readonly Seg[], columns: number): Seg[] {
  return truncateSegs(segs, columns);
}
