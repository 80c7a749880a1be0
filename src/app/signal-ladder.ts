/**
 * How the long-running commands (submit, serve, workers) stop: the first signal drains (no new
 * work; what runs finishes), the second aborts what runs, and a later one may leave at once.
 * `onStopSignals` is the one place that listens for SIGINT and SIGTERM, for commands with a
 * single way to stop too.
 */

/** Calls `handler` on every SIGINT and SIGTERM `signals` emits, until the returned function is called. */
export function onStopSignals(signals: NodeJS.EventEmitter, handler: (signal: 'SIGINT' | 'SIGTERM') => void): () => void {
  const onInt = (): void => handler('SIGINT');
  const onTerm = (): void => handler('SIGTERM');
  signals.on('SIGINT', onInt);
  signals.on('SIGTERM', onTerm);
  return () => {
    signals.off('SIGINT', onInt);
    signals.off('SIGTERM', onTerm);
  };
}

export interface LadderSteps {
  /** The first step: stop taking work; what runs finishes. */
  drain(): void;
  /** The second step: stop what runs too. */
  abort(): void;
  /** Every step past the second (submit leaves at once); nothing when absent. */
  beyond?(): void;
}

export class SignalLadder {
  private rung = 0;

  constructor(private readonly steps: LadderSteps) {}

  /** Steps taken: 0 none, 1 draining, 2 aborting, more past that. */
  get step(): number {
    return this.rung;
  }

  /** One signal (or a key that means one, such as Ctrl+C in raw mode): the next step. */
  climb(): void {
    this.rung++;
    if (this.rung === 1) this.steps.drain();
    else if (this.rung === 2) this.steps.abort();
    else this.steps.beyond?.();
  }

  /** Straight to the abort, draining first if not yet (SIGTERM asks to stop soon). */
  abort(): void {
    while (this.rung < 2) this.climb();
  }

  /**
   * Counts as drained without calling `drain`: the caller stopped taking work another way (a
   * fail-fast stop, a detach), so the next signal aborts.
   */
  drained(): void {
    this.rung = Math.max(this.rung, 1);
  }

  /**
   * Climbs on SIGINT, and on SIGTERM too unless `termAborts` (then SIGTERM aborts at once),
   * until the returned function is called.
   */
  listen(signals: NodeJS.EventEmitter, opts: { readonly termAborts?: boolean } = {}): () => void {
    return onStopSignals(signals, (signal) => (signal === 'SIGTERM' && opts.termAborts ? this.abort() : this.climb()));
  }
}
