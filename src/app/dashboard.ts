/**
 * `slowwork watch dashboard`: one screen for the whole system, from Redis (`--redis`) or a
 * running `slowwork serve` (`--url`). On a TTY the interactive view; without one a compact
 * text snapshot every few seconds; `--once` (with `--json` for scripts) one snapshot and out.
 */
import { DashboardState, type DashboardView } from '../core/dashboard-state.js';
import { ExitCode } from '../core/errors.js';
import { dashboardLines } from '../ui/dashboard-layout.js';
import { segsText } from '../ui/layout.js';
import { Sampler, type DashboardSource } from './dashboard-source.js';
import { inCi } from './reporters.js';
import { onStopSignals } from './signal-ladder.js';

export interface DashboardOptions {
  readonly source: () => Promise<DashboardSource>;
  readonly once: boolean;
  readonly json: boolean;
  /** The interactive view (when stdout is a TTY); false: text snapshots. */
  readonly tui: boolean;
  /** Between samples; default 1 s on a TTY, 5 s for text snapshots. */
  readonly intervalMs: number | null;
}

export interface DashboardIO {
  readonly stdin: NodeJS.ReadStream;
  readonly stdout: NodeJS.WriteStream;
  readonly signals?: NodeJS.EventEmitter;
}

/** The span `--once` measures its speeds over. */
const ONCE_RATE_SPAN_MS = 1000;

export async function runDashboard(opts: DashboardOptions, io: DashboardIO): Promise<number> {
  const source = await opts.source();
  try {
    const state = new DashboardState();
    // The first sample: a source that answered the connection but not this fails the run.
    state.apply(await source.sample());
    if (opts.once) {
      // Speeds are differences between two samples: one more, a moment later, or every rate
      // of the snapshot would read 0 items/s.
      await new Promise((resolve) => setTimeout(resolve, ONCE_RATE_SPAN_MS));
      state.apply(await source.sample());
      io.stdout.write(opts.json ? `${JSON.stringify(snapshotJson(state.view(Date.now()), source.lastCost))}\n` : textSnapshot(state.view(Date.now()), io.stdout.columns));
      return ExitCode.ok;
    }
    const interactive = opts.tui && io.stdout.isTTY === true && !inCi();
    const intervalMs = opts.intervalMs ?? (interactive ? 1000 : 5000);
    return interactive ? await runInteractive(source, state, intervalMs, io) : await runSnapshots(source, state, intervalMs, opts.json, io);
  } finally {
    await source.close();
  }
}

async function runInteractive(source: DashboardSource, state: DashboardState, intervalMs: number, io: DashboardIO): Promise<number> {
  const { createDashboardTui } = await import('../ui/dashboard-tui.js');
  let quit!: () => void;
  const quitting = new Promise<void>((resolve) => (quit = resolve));
  const tui = createDashboardTui({
    stdout: io.stdout,
    stdin: io.stdin,
    onQuit: () => quit(),
    attach: (jobId, signal) => source.attach(jobId, { stdin: io.stdin, stdout: io.stdout }, signal),
    cancel: (jobId) => source.cancel(jobId),
  });
  const sampler = new Sampler(source, intervalMs, {
    onSample: (s) => {
      state.apply(s);
      tui.update(state.view(Date.now()));
    },
    onLost: (error) => {
      state.lost(error, Date.now());
      tui.update(state.view(Date.now()));
    },
  });
  const signals = io.signals ?? process;
  const unlisten = onStopSignals(signals, () => quit());
  // While no sample lands (reconnecting), the time in the title still moves; otherwise each
  // sample is the one repaint of its interval.
  const clock = setInterval(() => {
    if (state.connectionState !== 'ok') tui.update(state.view(Date.now()));
  }, intervalMs);
  try {
    tui.start(state.view(Date.now()));
    sampler.start();
    await quitting;
  } finally {
    clearInterval(clock);
    sampler.stop();
    unlisten();
    await tui.close();
  }
  return ExitCode.ok;
}

/** Without a TTY: a snapshot every interval (NDJSON with --json) until a signal. */
async function runSnapshots(source: DashboardSource, state: DashboardState, intervalMs: number, json: boolean, io: DashboardIO): Promise<number> {
  const write = (): void => {
    const view = state.view(Date.now());
    io.stdout.write(json ? `${JSON.stringify(snapshotJson(view, source.lastCost))}\n` : textSnapshot(view, io.stdout.columns));
  };
  write();
  const sampler = new Sampler(source, intervalMs, {
    onSample: (s) => {
      state.apply(s);
      write();
    },
    onLost: (error) => {
      const wasOk = state.connectionState === 'ok';
      state.lost(error, Date.now());
      if (wasOk) write();
    },
  });
  const signals = io.signals ?? process;
  await new Promise<void>((resolve) => {
    const unlisten = onStopSignals(signals, () => {
      unlisten();
      resolve();
    });
    sampler.start();
  });
  sampler.stop();
  return ExitCode.ok;
}

/** The snapshot as plain text lines (no escape codes), then a blank line. */
export function textSnapshot(view: DashboardView, columns: number | undefined): string {
  const width = Math.max(60, Math.min(160, columns && columns > 0 ? columns : 120));
  const lines = dashboardLines({ view, columns: width, rows: 1000, selected: null, keys: [] });
  return `${lines.map(segsText).join('\n')}\n\n`;
}

/** What `--once --json` prints: the view without the sparkline history. */
export function snapshotJson(view: DashboardView, cost: number): Record<string, unknown> {
  const { series: _series, ...rest } = view;
  return { ...rest, cost };
}
