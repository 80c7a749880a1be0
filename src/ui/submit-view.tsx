/**
 * The live submit view: pure components, everything arrives as props. Finished items go above
 * through one <Static> (always the first child of the root, so it is never remounted by a
 * branch change); below it the live area: header, phase notice, one row per in-flight item and
 * a footer, together at most `rows - 1` lines and every line at most `columns` wide.
 */
import { Component, memo, useMemo, type ReactNode } from 'react';
import { Box, Static, Text, Transform } from 'ink';
import chalk from 'chalk';
import type { FinishedLine, JobSnapshot } from '../core/job-state.js';
import { sanitizeForLine, truncateEnd, truncateStart } from '../core/text.js';
import type { Phase, RunInfo } from './reporter.js';
import {
  finishedLineSegs,
  layoutRows,
  omittedLineSegs,
  phaseNotice,
  plural,
  rowTexts,
  statsLine,
  titleLine,
  type RowLayout,
  type Seg,
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
  readonly columns: number;
  readonly rows: number;
  readonly finished?: FinishedBatch;
}

/**
 * Root: <Static> for finished lines first, then the live area. Lines are fitted to `columns`;
 * the boxes take ink's width, so a terminal narrower than `columns` truncates, never wraps.
 */
export function SubmitView(props: SubmitViewProps): ReactNode {
  const columns = Math.max(1, Math.floor(props.columns));
  return (
    <Box flexDirection="column">
      <FinishedStatic batch={props.finished ?? EMPTY_BATCH} columns={columns} />
      <ViewErrorBoundary columns={columns}>
        <LiveArea {...props} columns={columns} />
      </ViewErrorBoundary>
    </Box>
  );
}

type StaticEntry =
  | { readonly kind: 'line'; readonly key: string; readonly line: FinishedLine }
  | { readonly kind: 'omitted'; readonly key: string; readonly count: number };

/**
 * Memoized so that a refresh without new finished lines does not touch <Static> at all (a
 * re-rendered <Static> forces an unthrottled frame). Keyed by batch: a new batch mounts a
 * fresh <Static> holding only that batch, which prints it once; nothing older stays in React.
 */
export const FinishedStatic = memo(function FinishedStatic({
  batch,
  columns,
}: {
  readonly batch: FinishedBatch;
  readonly columns: number;
}): ReactNode {
  const items = useMemo(() => {
    const entries: StaticEntry[] = batch.lines.map((line, i) => ({ kind: 'line', key: `${batch.key}:${i}`, line }));
    if (batch.omitted > 0) entries.push({ kind: 'omitted', key: `${batch.key}:more`, count: batch.omitted });
    return entries;
  }, [batch]);
  return (
    <Static key={batch.key} items={items}>
      {(entry) => (
        <Box key={entry.key}>
          <SegText segs={entry.kind === 'line' ? finishedLineSegs(entry.line, columns) : omittedLineSegs(entry.count, columns)} />
        </Box>
      )}
    </Static>
  );
});

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
export function LiveArea({ info, snapshot, phase, columns, rows }: SubmitViewProps): ReactNode {
  const notice = phaseNotice(phase, snapshot, columns);
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
    footer = [{ text: truncateEnd('Ctrl+C: stop taking new items (twice: abort)', columns), dim: true }];
  }
  return (
    <Box flexDirection="column">
      {plan.title ? <SegText segs={titleLine(info, snapshot, columns)} /> : null}
      {snapshot ? (
        <SegText segs={statsLine(snapshot, columns, finished)} />
      ) : (
        <Text dimColor wrap="truncate-end">
          {truncateEnd('starting…', columns)}
        </Text>
      )}
      {plan.notice && notice ? <SegText segs={notice} /> : null}
      {visible.map((row) => {
        const t = rowTexts(row, layout, now);
        return (
          <ItemRow
            key={row.index}
            layout={layout}
            id={t.id}
            attempt={t.attempt}
            worker={t.worker}
            count={t.count}
            tail={t.tail}
            waiting={t.waiting}
          />
        );
      })}
      {footer ? <SegText segs={footer} /> : null}
    </Box>
  );
}

interface ItemRowProps {
  readonly layout: RowLayout;
  readonly id: string;
  readonly attempt: string;
  readonly worker: string;
  readonly count: string;
  readonly tail: string;
  readonly waiting: boolean;
}

/** One in-flight item: fixed cells that never shrink, then the stream tail (newest text visible). */
const ItemRow = memo(function ItemRow({ layout, id, attempt, worker, count, tail, waiting }: ItemRowProps): ReactNode {
  return (
    <Box flexDirection="row" height={1}>
      <Box width={layout.idW} flexShrink={0} marginRight={1}>
        <Text color="cyan" wrap="truncate-end">
          {id}
        </Text>
      </Box>
      {layout.attemptW > 0 ? (
        <Box width={layout.attemptW} flexShrink={0} marginRight={1}>
          <Text color="yellow" wrap="truncate-end">
            {attempt}
          </Text>
        </Box>
      ) : null}
      {layout.workerW > 0 ? (
        <Box width={layout.workerW} flexShrink={0} marginRight={1}>
          <Text dimColor wrap="truncate-end">
            {worker}
          </Text>
        </Box>
      ) : null}
      <Box width={layout.countW} flexShrink={0}>
        <Text color={waiting ? 'yellow' : 'green'} wrap="truncate-end">
          {count}
        </Text>
      </Box>
      <Box flexGrow={1} flexShrink={1} flexBasis={0} minWidth={0}>
        <StreamTail tail={tail} width={layout.tailW} waiting={waiting} />
      </Box>
    </Box>
  );
}, sameRow);

/**
 * The stream tail, already cut to `width` (newest text kept, by display width and code points).
 * ink measures and caches every distinct string it lays out (it never forgets them, issue
 * #986), and a stream makes a new one every frame. So ink lays out a constant placeholder of
 * `width` spaces, measured once, and the tail replaces it at output time through <Transform>.
 * Should the box be narrower than the placeholder (a resize not yet seen), the line ink hands
 * over is narrower too and the tail is cut again to it; extra wrapped lines stay empty.
 */
function StreamTail({ tail, width, waiting }: { readonly tail: string; readonly width: number; readonly waiting: boolean }): ReactNode {
  const transform = (line: string, index: number): string => {
    if (index > 0) return '';
    const text = line.length < width ? truncateStart(tail, line.length, '') : tail;
    return waiting ? chalk.dim(text) : text;
  };
  return <Transform transform={transform}>{placeholder(width)}</Transform>;
}

let placeholderCache = '';
/** `width` spaces (one shared string per width). */
function placeholder(width: number): string {
  if (placeholderCache.length !== width) placeholderCache = ' '.repeat(Math.max(0, width));
  return placeholderCache;
}

function sameRow(a: ItemRowProps, b: ItemRowProps): boolean {
  return (
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

/** One line of styled segments (already fitted to the width; ink truncates as a safety net). */
export function SegText({ segs }: { readonly segs: readonly Seg[] }): ReactNode {
  return (
    <Text wrap="truncate-end">
      {segs.map((s, i) => (
        <Text key={i} {...(s.color ? { color: s.color } : {})} bold={s.bold === true} dimColor={s.dim === true}>
          {s.text}
        </Text>
      ))}
    </Text>
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
        <Text color="red" wrap="truncate-end">
          {truncateEnd(`display error: ${this.state.message} (the job keeps running)`, this.props.columns)}
        </Text>
      );
    }
    return this.props.children;
  }
}
