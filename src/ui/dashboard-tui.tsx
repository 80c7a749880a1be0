/**
 * The interactive dashboard on a TTY. It owns the terminal between `start` and `close`: the
 * alternate screen (like top: the user's scrollback is left as it was), raw keys, and an ink
 * instance fed with props on every `update` (once a second, from the sampling loop) or key.
 * Attaching to a job hands the screen to the submit view (through `attach`), then takes it back.
 */
import { useCallback, type ReactNode } from 'react';
import { render, useInput, type Instance } from 'ink';
import type { DashboardView as DashboardData } from '../core/dashboard-state.js';
import { describeError } from '../core/errors.js';
import { DashboardView } from './dashboard-view.js';
import { INITIAL_KEYS, onKey, promptOf, reconcileSelection, type Key, type KeyState } from './dashboard-keys.js';

export interface DashboardTuiOptions {
  readonly stdout: NodeJS.WriteStream;
  readonly stdin: NodeJS.ReadStream;
  /** q or Ctrl+C. */
  readonly onQuit: () => void;
  /** Shows the job's live streams on this terminal until the user comes back (Esc) or `signal` aborts. */
  readonly attach: (jobId: string, signal: AbortSignal) => Promise<void>;
  /** Cancels the job; resolves with what to tell the user. */
  readonly cancel: (jobId: string) => Promise<string>;
  /** Use the alternate screen. Default true. */
  readonly alternateScreen?: boolean;
}

export interface DashboardTui {
  start(view: DashboardData): void;
  update(view: DashboardData): void;
  close(): Promise<void>;
}

const ENTER_ALT = '\u001B[?1049h';
const LEAVE_ALT = '\u001B[?1049l';
const CLEAR = '\u001B[2J\u001B[H';

function App({ data, keys, columns, rows, onKeyPress }: { data: DashboardData; keys: KeyState; columns: number; rows: number; onKeyPress: (key: Key) => void }): ReactNode {
  const handler = useCallback(
    (input: string, key: { upArrow: boolean; downArrow: boolean; pageUp: boolean; pageDown: boolean; return: boolean; escape: boolean; ctrl: boolean }) =>
      onKeyPress({ input, upArrow: key.upArrow, downArrow: key.downArrow, pageUp: key.pageUp, pageDown: key.pageDown, return: key.return, escape: key.escape, ctrl: key.ctrl }),
    [onKeyPress],
  );
  useInput(handler);
  return <DashboardView view={data} columns={columns} rows={rows} selected={keys.selected} prompt={promptOf(keys, data.jobs)} />;
}

export function createDashboardTui(opts: DashboardTuiOptions): DashboardTui {
  const { stdout, stdin } = opts;
  const alt = opts.alternateScreen ?? true;
  let data: DashboardData | null = null;
  let keys: KeyState = INITIAL_KEYS;
  let instance: Instance | null = null;
  let exited: Promise<unknown> = Promise.resolve();
  let busy = false;
  let closed = false;
  /** The attached view, while one runs: close() ends it before giving the terminal back. */
  let attached: { readonly stop: AbortController; readonly done: Promise<void> } | null = null;
  // A crash must not leave the user's terminal on the alternate screen.
  const leaveAltOnExit = (): void => void stdout.write(LEAVE_ALT);

  const size = (): { columns: number; rows: number } => ({ columns: positive(stdout.columns, 80), rows: positive(stdout.rows, 24) });

  const element = (): ReactNode => {
    const { columns, rows } = size();
    return <App data={data!} keys={keys} columns={columns} rows={rows} onKeyPress={press} />;
  };

  const paint = (): void => {
    if (instance === null || data === null) return;
    try {
      instance.rerender(element());
    } catch {
      // A frame that fails is skipped; the next refresh draws again.
    }
  };

  const mount = (): void => {
    if (closed || instance !== null || data === null) return;
    instance = render(element(), { stdout, stdin, exitOnCtrlC: false, patchConsole: false, maxFps: 10 });
    exited = instance.waitUntilExit().catch(() => undefined);
  };

  const unmount = async (): Promise<void> => {
    if (instance === null) return;
    instance.unmount();
    await exited;
    instance = null;
  };

  const tell = (message: KeyState['message']): void => {
    keys = { ...keys, message };
    paint();
  };

  function press(key: Key): void {
    if (busy || data === null) return;
    const next = onKey(keys, key, data.jobs);
    keys = next.state;
    const effect = next.effect;
    paint();
    if (effect === null) return;
    if (effect.kind === 'quit') {
      opts.onQuit();
      return;
    }
    busy = true;
    void (async () => {
      try {
        if (effect.kind === 'cancel') {
          tell([{ text: `cancelling job ${effect.jobId}…`, color: 'yellow' }]);
          tell([{ text: await opts.cancel(effect.jobId), color: 'yellow' }]);
        } else {
          await unmount();
          stdout.write(CLEAR);
          const stop = new AbortController();
          const done = opts.attach(effect.jobId, stop.signal);
          attached = { stop, done: done.then(() => undefined, () => undefined) };
          try {
            await done;
          } finally {
            attached = null;
            if (!closed) {
              stdout.write(CLEAR);
              mount();
            }
          }
        }
      } catch (err) {
        if (!closed) {
          mount();
          tell([{ text: describeError(err), color: 'red' }]);
        }
      } finally {
        busy = false;
      }
    })();
  }

  const onResize = (): void => paint();

  return {
    start(view: DashboardData): void {
      data = view;
      keys = reconcileSelection(keys, view.jobs);
      if (alt) {
        stdout.write(ENTER_ALT + CLEAR);
        process.once('exit', leaveAltOnExit);
      }
      stdout.on('resize', onResize);
      mount();
    },
    update(view: DashboardData): void {
      data = view;
      keys = reconcileSelection(keys, view.jobs);
      paint(); // nothing while attached: no ink instance then
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      stdout.off('resize', onResize);
      // An attached view first finishes (bounded: it only has to unmount and say goodbye).
      if (attached) {
        const pending = attached;
        pending.stop.abort();
        await Promise.race([pending.done, new Promise((resolve) => setTimeout(resolve, 3000).unref())]);
      }
      await unmount();
      if (alt) {
        stdout.write(LEAVE_ALT);
        process.off('exit', leaveAltOnExit);
      }
    },
  };
}

function positive(v: number | undefined, fallback: number): number {
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.floor(v) : fallback;
}
