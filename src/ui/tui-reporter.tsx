/**
 * The live ink view on a TTY. Events go into a JobState outside React; ONE timer takes a
 * snapshot and the newly finished lines and hands them to the view as props of the root
 * (`instance.rerender`, synchronous), so the frame rate is the timer's, never the event rate.
 */
import { useCallback, type ReactNode } from 'react';
import { render, useInput, useStdin, type Instance } from 'ink';
import type { JobEvent } from '../core/events.js';
import type { LinkDown } from '../core/link.js';
import type { KeyActivity } from '../core/quota/ledger.js';
import { JobState, type FinishedLine, type JobSnapshot } from '../core/job-state.js';
import { summaryLines } from './layout.js';
import type { FinalSummary, Phase, Reporter, RunInfo } from './reporter.js';
import { EMPTY_BATCH, SubmitView, type FinishedBatch } from './submit-view.js';
import { DashboardState, type DashboardView } from '../core/dashboard-state.js';
import { SubmitPanels } from './submit-panels.js';

export interface TuiReporterOptions {
  readonly stdout: NodeJS.WriteStream;
  readonly stdin: NodeJS.ReadStream;
  /**
   * Ctrl+C pressed (stdin is in raw mode while the view runs, so no SIGINT is raised for it).
   * The flow decides between draining and aborting and calls setPhase.
   */
  readonly onInterrupt: () => void;
  /** Esc does what Ctrl+C does (a view attached from the dashboard: Esc goes back). */
  readonly escapeInterrupts?: boolean;
  /** The refresh period of the view. Default 150 ms. */
  readonly refreshMs?: number;
  /** Finished lines printed per batch at most; the rest is summed up in one line. Default 200. */
  readonly maxFinishedPerRefresh?: number;
  /**
   * Finished lines go to <Static> at most this often (each batch costs ink an extra full
   * render). Default 450 ms; finish() always drains what is left.
   */
  readonly finishedEveryMs?: number;
  /** Clock, for tests. Default Date.now. */
  readonly now?: () => number;
  /**
   * Finished lines kept to print again when ink clears the terminal (see inkStdout). Default
   * 500: memory stays bounded however many items finish.
   */
  readonly keepFinishedLines?: number;
}

interface ViewState {
  readonly info: RunInfo;
  readonly snapshot: JobSnapshot | null;
  readonly phase: Phase;
  /** The broker's server is unreachable since then (null: up). */
  readonly link: LinkDown | null;
  /** The run's rate limiters, busiest first; shown at the next refresh. */
  readonly quota: readonly KeyActivity[];
  readonly columns: number;
  readonly rows: number;
  readonly finished: FinishedBatch;
  /** The dashboard panels (the `d` key), instead of the live rows; null: the rows. */
  readonly panels: DashboardView | null;
}

function TuiApp({
  view,
  onInterrupt,
  onPrinted,
  escapeInterrupts,
  onTogglePanels,
}: {
  readonly view: ViewState;
  readonly onInterrupt: () => void;
  readonly onPrinted: (text: string) => void;
  readonly escapeInterrupts: boolean;
  readonly onTogglePanels: () => void;
}): ReactNode {
  const { isRawModeSupported } = useStdin();
  const onKey = useCallback(
    (input: string, key: { ctrl: boolean; escape: boolean }) => {
      if (input === 'd' && !key.ctrl) {
        onTogglePanels();
        return;
      }
      if ((key.ctrl && input === 'c') || (escapeInterrupts && key.escape)) {
        try {
          onInterrupt();
        } catch {
          // The flow's problem; never let it tear the view down.
        }
      }
    },
    [onInterrupt, escapeInterrupts, onTogglePanels],
  );
  // Without a TTY on stdin (prompts piped in) there is no raw mode: Ctrl+C arrives as SIGINT.
  useInput(onKey, { isActive: isRawModeSupported === true });
  return (
    <SubmitView
      info={view.info}
      snapshot={view.snapshot}
      phase={view.phase}
      link={view.link}
      quota={view.quota}
      columns={view.columns}
      rows={view.rows}
      finished={view.finished}
      onPrinted={onPrinted}
      panels={view.panels}
    />
  );
}

const PLACEHOLDER_INFO: RunInfo = {
  jobId: '',
  processors: [],
  broker: '',
  concurrency: 0,
  outPath: '',
  total: null,
  skipped: 0,
};

export function createTuiReporter(opts: TuiReporterOptions): Reporter {
  const { stdout, stdin, onInterrupt } = opts;
  const escapeInterrupts = opts.escapeInterrupts ?? false;
  const now = opts.now ?? Date.now;
  const refreshMs = Math.max(16, opts.refreshMs ?? 150);
  const maxPerRefresh = Math.max(1, opts.maxFinishedPerRefresh ?? 200);
  const finishedEveryMs = Math.max(0, opts.finishedEveryMs ?? 450);
  let lastBatchAt = Number.NEGATIVE_INFINITY;
  let droppedSeen = 0;
  const recent = new RecentLines(Math.max(0, opts.keepFinishedLines ?? 500));
  const onPrinted = (text: string): void => recent.add(text);

  let state: JobState | null = null;
  let info: RunInfo | null = null;
  let instance: Instance | null = null;
  let exited: Promise<unknown> = Promise.resolve();
  let timer: NodeJS.Timeout | null = null;
  let batchKey = 0;
  let finishing: Promise<void> | null = null;
  let view: ViewState = {
    info: PLACEHOLDER_INFO,
    snapshot: null,
    phase: 'running',
    link: null,
    quota: [],
    columns: size(stdout.columns, 80),
    rows: size(stdout.rows, 24),
    finished: EMPTY_BATCH,
    panels: null,
  };
  // The `d` key's dashboard panels: fed every event, sampled about once a second.
  const panels = new SubmitPanels();
  const dashboard = new DashboardState();
  let panelsOn = false;
  let panelSampledAt = Number.NEGATIVE_INFINITY;
  let startedAt = now();
  // The panels' view changes only with a sample: built then (when shown), kept between.
  let panelsView: DashboardView | null = null;
  const samplePanels = (snapshot: JobSnapshot, force: boolean): DashboardView | null => {
    if (snapshot.now - panelSampledAt >= 1000 || force) {
      panelSampledAt = snapshot.now;
      dashboard.apply(panels.sample(info ?? PLACEHOLDER_INFO, snapshot, view.phase, startedAt));
      panelsView = null;
    }
    if (!panelsOn) return null;
    panelsView ??= dashboard.view();
    return panelsView;
  };

  const getState = (): JobState => (state ??= new JobState({ startedAt: now() }));

  /** Hands the view state to React; rerender is synchronous (legacy root). */
  const paint = (patch: Partial<ViewState>): void => {
    view = { ...view, ...patch };
    instance?.rerender(<TuiApp view={view} onInterrupt={onInterrupt} onPrinted={onPrinted} escapeInterrupts={escapeInterrupts} onTogglePanels={togglePanels} />);
  };

  /** The one refresh: snapshot + newly finished lines into the view. */
  const refresh = (patch: Partial<ViewState> = {}, drain = false): void => {
    const st = getState();
    const t = now();
    const snapshot = st.snapshot(t);
    patch = { panels: samplePanels(snapshot, false), ...patch };
    const due = drain || t - lastBatchAt >= finishedEveryMs;
    const lines = due ? st.takeFinished() : [];
    // Lines the reducer had to drop (nobody drained them in time) are counted, not lost.
    const dropped = due ? st.droppedFinished - droppedSeen : 0;
    droppedSeen += dropped;
    if (lines.length === 0 && dropped === 0) {
      paint({ ...patch, snapshot });
      return;
    }
    lastBatchAt = t;
    batchKey++;
    const batch = makeBatch(batchKey, lines, maxPerRefresh);
    paint({ ...patch, snapshot, finished: { ...batch, omitted: batch.omitted + dropped } });
  };

  /** A frame that fails is skipped: the job goes on, and no stack trace reaches the terminal. */
  const safely = (fn: () => void): void => {
    try {
      fn();
    } catch {
      // Skip this frame.
    }
  };

  const togglePanels = (): void => {
    panelsOn = !panelsOn;
    safely(() => {
      const snapshot = getState().snapshot(now());
      paint({ snapshot, panels: samplePanels(snapshot, true) });
    });
  };

  const onResize = (): void => {
    safely(() => paint({ columns: size(stdout.columns, 80), rows: size(stdout.rows, 24) }));
  };

  return {
    start(runInfo: RunInfo): void {
      if (instance !== null || finishing !== null) return;
      info = runInfo;
      startedAt = runInfo.startedAt ?? now();
      state ??= new JobState({ total: runInfo.total, skipped: runInfo.skipped, startedAt, pricer: runInfo.pricer });
      view = { ...view, info: runInfo, snapshot: state.snapshot(now()) };
      // Before ink's own listener: its resize frame then already has the new size.
      stdout.on('resize', onResize);
      instance = render(<TuiApp view={view} onInterrupt={onInterrupt} onPrinted={onPrinted} escapeInterrupts={escapeInterrupts} onTogglePanels={togglePanels} />, {
        stdout: inkStdout(stdout, () => recent.text()),
        stdin,
        exitOnCtrlC: false,
        patchConsole: false,
        maxFps: 10,
      });
      // Must be asked for before unmount() to be resolved by it.
      exited = instance.waitUntilExit().catch(() => undefined);
      timer = setInterval(() => safely(() => refresh()), refreshMs);
      timer.unref();
    },

    onEvents(events: readonly JobEvent[], at?: number): void {
      if (finishing !== null) return;
      const t = at ?? now();
      getState().apply(events, t);
      panels.observe(events, t);
    },

    setPhase(phase: Phase): void {
      if (finishing !== null || view.phase === phase) return;
      // Show the notice now, not at the next tick.
      if (instance !== null) safely(() => refresh({ phase }));
      else view = { ...view, phase };
    },

    setQuota(quota: readonly KeyActivity[]): void {
      if (finishing === null) view = { ...view, quota };
    },

    setLink(link: LinkDown | null): void {
      if (finishing !== null) return;
      if (instance !== null) safely(() => refresh({ link }));
      else view = { ...view, link };
    },

    finish(summary: FinalSummary): Promise<void> {
      finishing ??= (async () => {
        if (timer !== null) {
          clearInterval(timer);
          timer = null;
        }
        if (instance !== null) {
          // Last frame: final counts, the remaining finished lines into <Static>, no live rows.
          safely(() => refresh({ phase: 'finished' }, true));
          safely(() => instance?.unmount()); // flushes the throttled last frame
          await exited;
          instance = null;
        }
        stdout.off('resize', onResize);
        const text = summaryLines(summary, info?.skipped ?? 0).join('\n') + '\n';
        await new Promise<void>((resolve) => {
          stdout.write(text, () => resolve());
        });
      })();
      return finishing;
    },
  };
}

/** At most `max` lines: failed ones first, then done ones, in finish order; the rest counted. */
export function makeBatch(key: number, lines: readonly FinishedLine[], max: number): FinishedBatch {
  if (lines.length <= max) return { key, lines, omitted: 0 };
  let failed = 0;
  for (const l of lines) if (l.status === 'failed') failed++;
  let doneRoom = Math.max(0, max - failed);
  let failedRoom = Math.min(failed, max);
  const kept: FinishedLine[] = [];
  for (const l of lines) {
    if (l.status === 'failed') {
      if (failedRoom > 0) {
        kept.push(l);
        failedRoom--;
      }
    } else if (doneRoom > 0) {
      kept.push(l);
      doneRoom--;
    }
  }
  return { key, lines: kept, omitted: lines.length - kept.length };
}

/**
 * The newest finished lines, as printed (styled, newline-terminated), at most `max` lines plus
 * one batch: a bounded stand-in for the scrollback ink would otherwise keep whole.
 */
export class RecentLines {
  private readonly batches: { readonly text: string; readonly lines: number }[] = [];
  private lines = 0;
  constructor(private readonly max: number) {}

  add(text: string): void {
    if (this.max === 0 || text === '') return;
    const lines = countLines(text);
    this.batches.push({ text, lines });
    this.lines += lines;
    while (this.batches.length > 1 && this.lines - this.batches[0]!.lines >= this.max) {
      this.lines -= this.batches.shift()!.lines;
    }
  }

  text(): string {
    let out = '';
    for (const b of this.batches) out += b.text;
    if (this.lines <= this.max) return out;
    // Drop the oldest lines beyond `max`.
    let cut = 0;
    for (let extra = this.lines - this.max; extra > 0; extra--) cut = out.indexOf('\n', cut) + 1;
    return out.slice(cut);
  }
}

function countLines(text: string): number {
  let n = 0;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

/** ink's clearTerminal (ansi-escapes): erase the screen, the scrollback (not on old Windows), home. */
// eslint-disable-next-line no-control-regex
const CLEAR_TERMINAL_RE = /^\u001B\[2J(?:\u001B\[3J\u001B\[H|\u001B\[0f)/;

/**
 * The stdout handed to ink: `stdout` itself in every respect but one. When the live area was
 * as tall as the terminal (a resize to fewer rows), ink clears the screen and the scrollback
 * and writes the whole history of <Static> output again, which it keeps for that in a string
 * that only grows. The view prints finished lines past ink (nothing kept), so the history ink
 * writes after the clear is empty; this puts the newest finished lines there instead.
 */
export function inkStdout(stdout: NodeJS.WriteStream, recentText: () => string): NodeJS.WriteStream {
  const bound = new Map<PropertyKey, unknown>();
  const write = (chunk: unknown, ...rest: unknown[]): boolean => {
    if (typeof chunk === 'string') {
      const m = CLEAR_TERMINAL_RE.exec(chunk);
      if (m) chunk = m[0] + recentText() + chunk.slice(m[0].length);
    }
    return (stdout.write as (...args: unknown[]) => boolean)(chunk, ...rest);
  };
  return new Proxy(stdout, {
    get(target, prop) {
      if (prop === 'write') return write;
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== 'function') return value;
      // Methods run on the real stream (same listeners for on/off); one bound copy each.
      let fn = bound.get(prop);
      if (fn === undefined || (fn as { original?: unknown }).original !== value) {
        const b = (value as (...args: unknown[]) => unknown).bind(target) as ((...args: unknown[]) => unknown) & { original?: unknown };
        b.original = value;
        bound.set(prop, b);
        fn = b;
      }
      return fn;
    },
  });
}

function size(value: number | undefined, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? Math.floor(value) : fallback;
}
