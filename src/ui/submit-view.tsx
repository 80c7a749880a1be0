/**
 * The live submit view: pure components, everything arrives as props. Finished items are
 * printed above the live area (FinishedLines, always the first child of the root); below it the
 * live area: header, phase notice, one row per in-flight item and a footer, together at most
 * `rows - 1` lines and every line at most `columns` wide.
 *
 * Memory: ink measures and wraps text through module-level caches that keep every distinct
 * string for good (issue #986), and ink keeps every line printed through <Static> in a string
 * that only grows. A live view whose lines change every frame would grow without bound. So
 * ink never sees our text: every live line is laid out as `columns` spaces (one string per
 * terminal width, measured once) and the styled text replaces them at output time through
 * <Transform>; finished lines are written past ink's layout with `useStdout().write`, which
 * clears the live area, writes them and restores it, keeping nothing.
 */
import { Component, memo, useLayoutEffect, useRef, type ReactNode } from 'react';
import { Box, useStdout } from 'ink';
import type { FinishedLine, JobSnapshot } from '../core/job-state.js';
import type { LinkDown } from '../core/link.js';
import type { KeyActivity } from '../core/quota/ledger.js';
import { sanitizeForLine, truncateEnd, truncateStart } from '../core/text.js';
import type { Phase, RunInfo } from './reporter.js';
import type { DashboardView as DashboardData } from '../core/dashboard-state.js';
import { DashboardView } from './dashboard-view.js';
import { PlaceholderLine, SegText, style, styleSegs } from './seg-text.js';
import {
  finishedLineSegs,
  layoutRows,
  omittedLineSegs,
  phaseNotice,
  noticeLine,
  plural,
  rowTexts,
  statsLine,
  titleLine,
  truncateSegs,
  type RowLayout,
  type Seg,
  type SegColor,
} from './layout.js';

/** Finished lines to print above the live area; each batch (by key) is printed once. */
export interface FinishedBatch {
  /** A new key for every new batch. */
  readonly key: number;
  readonly lines: readonly FinishedLine[];
  /** Items finished in this batch but left out to keep the output short. */
  readonly omitted: number;
}

export const EMPTY_BATCH: FinishedBatch = { key: 0, lines: [], omitted: 0 };

export interface SubmitViewProps {
  readonly info: RunInfo;
  /** Null before the first refresh. */
  readonly snapshot: JobSnapshot | null;
  readonly phase: Phase;
  /** The broker's server is unreachable since then; null or absent while it is up. */
  readonly link?: LinkDown | null;
  /** The run's rate limiters, busiest first (`ctx.limit`): a `quota:` part of the stats line. */
  readonly quota?: readonly KeyActivity[];
  readonly columns: number;
  readonly rows: number;
  readonly finished?: FinishedBatch;
  /** Called with the text of each batch of finished lines right after it was printed. */
  readonly onPrinted?: (text: string) => void;
  /** The dashboard panels of this job (the `d` key) instead of the live rows. */
  readonly panels?: DashboardData | null;
}

/** The keys of the panels view. */
const PANEL_KEYS = [
  { key: 'd', what: 'back to the streams' },
  { key: 'Ctrl+C', what: 'stop taking new items' },
];

/**
 * Root: finished lines first, then the live area. Lines are fitted to `columns`; should ink's
 * width be narrower (a resize not yet seen), each line is cut to it, never wrapped.
 */
export function SubmitView(props: SubmitViewProps): ReactNode {
  const columns = Math.max(1, Math.floor(props.columns));
  return (
    <Box flexDirection="column">
      <FinishedLines batch={props.finished ?? EMPTY_BATCH} columns={columns} onPrinted={props.onPrinted} />
      <ViewErrorBoundary columns={columns}>
        {props.panels ? (
          <DashboardView
            view={props.panels}
            columns={columns}
            rows={props.rows}
            selected={props.info.jobId}
            keys={PANEL_KEYS}
            // A broken link says so on the panels too, where the key line was.
            prompt={props.link ? noticeLine(props.link, null, columns) : null}
          />
        ) : (
          <LiveArea {...props} columns={columns} />
        )}
      </ViewErrorBoundary>
    </Box>
  );
}

/**
 * Writes each new batch of finished lines once, above the live area, through ink's
 * `useStdout().write` (it erases the live area, writes, and puts the live area back). Unlike
 * <Static>, nothing is laid out or kept: printing N lines leaves nothing behind in ink.
 * Memoized so that a refresh without a new batch does not even re-render it.
 */
export const FinishedLines = memo(function FinishedLines({
  batch,
  columns,
  onPrinted,
}: {
  readonly batch: FinishedBatch;
  readonly columns: number;
  readonly onPrinted?: ((text: string) => void) | undefined;
}): ReactNode {
  const { write } = useStdout();
  // The key of the batch printed last (the empty batch counts as printed).
  const printed = useRef(EMPTY_BATCH.key);
  useLayoutEffect(() => {
    if (printed.current === batch.key) return;
    printed.current = batch.key;
    const text = finishedBatchText(batch, columns);
    if (text === '') return;
    write(text);
    onPrinted?.(text);
  }, [batch, columns, write, onPrinted]);
  return null;
});

/** The batch as styled lines, each fitted to `columns`, newline-terminated ('' when empty). */
export function finishedBatchText(batch: FinishedBatch, columns: number): string {
  let text = '';
  for (const line of batch.lines) text += styleSegs(finishedLineSegs(line, columns)) + '\n';
  if (batch.omitted > 0) text += styleSegs(omittedLineSegs(batch.omitted, columns)) + '\n';
  return text;
}

/** How the live area spends its height. */
export interface HeightPlan {
  readonly title: boolean;
  readonly notice: boolean;
  /** Live rows shown. */
  readonly shown: number;
  /** In-flight items not shown. */
  readonly hidden: number;
  /** A last line: "+k more in flight" when items are hidden, else a hint while running. */
  readonly footer: boolean;
}

/**
 * Splits `rows - 1` lines between title, stats, notice, item rows and footer. The stats line
 * always shows; the title and the footer go first on very short terminals.
 */
export function planHeight(rows: number, inFlight: number, hasNotice: boolean, finished: boolean): HeightPlan {
  let budget = Math.max(1, Math.floor(rows) - 1) - 1; // minus the stats line
  const notice = hasNotice && budget > 0;
  if (notice) budget--;
  if (finished) {
    return { title: budget > 0, notice, shown: 0, hidden: 0, footer: false };
  }
  // Footer (hint or "+k more") and title only when at least two item rows still fit.
  const footer = budget >= 3;
  if (footer) budget--;
  const title = budget >= 3;
  if (title) budget--;
  let shown = Math.min(inFlight, budget);
  let hidden = inFlight - shown;
  let footerLine = footer;
  if (hidden > 0 && !footer && shown > 0) {
    // No footer line to say so: the last row becomes "+k more".
    shown--;
    hidden++;
    footerLine = true;
  }
  return { title, notice, shown, hidden, footer: footerLine };
}

/** Header, notice, rows, footer: at most `rows - 1` lines of at most `columns` columns. */
export function LiveArea({ info, snapshot, phase, link, quota, columns, rows }: SubmitViewProps): ReactNode {
  const notice = noticeLine(link ?? null, phaseNotice(phase, snapshot, columns), columns);
  const finished = phase === 'finished';
  const inFlight = snapshot?.rows.length ?? 0;
  const plan = planHeight(rows, inFlight, notice !== null, finished);
  const visible = snapshot && plan.shown > 0 ? snapshot.rows.slice(0, plan.shown) : [];
  const layout = layoutRows(visible, columns);
  const now = snapshot?.now ?? 0;
  let footer: Seg[] | null = null;
  if (plan.footer && plan.hidden > 0) {
    footer = [{ text: truncateEnd(`+${plural(plan.hidden, 'more item')} in flight`, columns), color: 'yellow' }];
  } else if (plan.footer && phase === 'running') {
    footer = [{ text: truncateEnd(info.hint ?? 'Ctrl+C: stop taking new items (twice: abort) · d: dashboard panels', columns), dim: true }];
  }
  return (
    <Box flexDirection="column">
      {plan.title ? <SegText segs={titleLine(info, snapshot, columns)} columns={columns} /> : null}
      <SegText
        segs={snapshot ? statsLine(snapshot, columns, finished, quota) : [{ text: truncateEnd('starting…', columns), dim: true }]}
        columns={columns}
      />
      {plan.notice && notice ? <SegText segs={notice} columns={columns} /> : null}
      {visible.map((row) => {
        const t = rowTexts(row, layout, now);
        return (
          <ItemRow
            key={row.index}
            layout={layout}
            columns={columns}
            id={t.id}
            attempt={t.attempt}
            worker={t.worker}
            count={t.count}
            tail={t.tail}
            waiting={t.waiting}
          />
        );
      })}
      {footer ? <SegText segs={footer} columns={columns} /> : null}
    </Box>
  );
}

interface ItemRowProps {
  readonly layout: RowLayout;
  readonly columns: number;
  readonly id: string;
  readonly attempt: string;
  readonly worker: string;
  readonly count: string;
  readonly tail: string;
  readonly waiting: boolean;
}

/**
 * One in-flight item as one line: the fixed cells (id, attempt, worker, count, each exactly
 * its width, one space after id, attempt and worker) and the stream tail (newest text
 * visible), styled as the cells always were.
 */
const ItemRow = memo(function ItemRow(props: ItemRowProps): ReactNode {
  const { layout, columns, tail } = props;
  const fixedW = rowFixedWidth(layout);
  const text = fixedW + layout.tailW <= columns ? rowLine(props, tail) : cutRow(props, columns);
  return <PlaceholderLine columns={columns} text={text} cut={(w) => cutRow(props, w)} />;
}, sameRow);

function rowFixedWidth(layout: RowLayout): number {
  return (
    layout.idW + 1 + (layout.attemptW > 0 ? layout.attemptW + 1 : 0) + (layout.workerW > 0 ? layout.workerW + 1 : 0) + layout.countW
  );
}

function rowLine(p: ItemRowProps, tail: string): string {
  let out = style(p.id, 'cyan', false) + ' ';
  if (p.layout.attemptW > 0) out += style(p.attempt, 'yellow', false) + ' ';
  if (p.layout.workerW > 0) out += style(p.worker, undefined, true) + ' ';
  out += style(p.count, p.waiting ? 'yellow' : 'green', false);
  return out + style(tail, undefined, p.waiting);
}

/**
 * The row in `width` columns when that is less than its layout: the tail gives way first
 * (newest text kept); if the fixed cells alone do not fit either, the line is cut at the end.
 */
function cutRow(p: ItemRowProps, width: number): string {
  const fixedW = rowFixedWidth(p.layout);
  const room = Math.min(p.layout.tailW, width - fixedW);
  if (room >= 0) return rowLine(p, room < p.layout.tailW ? truncateStart(p.tail, room, '') : p.tail);
  const segs: Seg[] = [{ text: p.id, color: 'cyan' }, { text: ' ' }];
  if (p.layout.attemptW > 0) segs.push({ text: p.attempt, color: 'yellow' }, { text: ' ' });
  if (p.layout.workerW > 0) segs.push({ text: p.worker, dim: true }, { text: ' ' });
  segs.push({ text: p.count, color: p.waiting ? 'yellow' : 'green' });
  return styleSegs(truncateSegs(segs, width));
}

function sameRow(a: ItemRowProps, b: ItemRowProps): boolean {
  return (
    a.columns === b.columns &&
    a.id === b.id &&
    a.attempt === b.attempt &&
    a.worker === b.worker &&
    a.count === b.count &&
    a.tail === b.tail &&
    a.waiting === b.waiting &&
    a.layout.idW === b.layout.idW &&
    a.layout.attemptW === b.layout.attemptW &&
    a.layout.workerW === b.layout.workerW &&
    a.layout.countW === b.layout.countW &&
    a.layout.tailW === b.layout.tailW
  );
}

interface BoundaryProps {
  readonly columns: number;
  readonly children: ReactNode;
}

/** A rendering bug shows as one line, never as ink's stack-trace overview. */
class ViewErrorBoundary extends Component<BoundaryProps, { message: string | null }> {
  override state: { message: string | null } = { message: null };

  static getDerivedStateFromError(error: unknown): { message: string } {
    const raw = error instanceof Error ? error.message : String(error);
    return { message: sanitizeForLine(raw.split('\n')[0] ?? 'error') };
  }

  /** The children that failed; a retry happens once different ones (the next frame) arrive. */
  private failed: ReactNode | undefined = undefined;

  override componentDidMount(): void {
    if (this.state.message !== null) this.failed = this.props.children;
  }

  override componentDidUpdate(): void {
    if (this.state.message === null) {
      this.failed = undefined;
    } else if (this.failed === undefined) {
      this.failed = this.props.children;
    } else if (this.failed !== this.props.children) {
      this.failed = undefined;
      this.setState({ message: null });
    }
  }

  override render(): ReactNode {
    if (this.state.message !== null) {
      return (
        <SegText
          segs={[{ text: truncateEnd(`display error: ${this.state.message} (the job keeps running)`, this.props.columns), color: 'red' }]}
          columns={this.props.columns}
        />
      );
    }
    return this.props.children;
  }
}
