/** Picks the reporter for a run: the live view on a terminal, plain lines when piped, NDJSON with --json. */
import { createJsonReporter } from '../ui/json-reporter.js';
import { createPlainReporter } from '../ui/plain-reporter.js';
import type { Reporter } from '../ui/reporter.js';

export type UiMode = 'tui' | 'plain' | 'json';

export interface ReporterIO {
  readonly stdin: NodeJS.ReadStream;
  readonly stdout: NodeJS.WriteStream;
}

export async function pickReporter(ui: UiMode, io: ReporterIO, onInterrupt: () => void, tui: { escapeInterrupts?: boolean } = {}): Promise<Reporter & { kind: UiMode }> {
  if (ui === 'json') return Object.assign(createJsonReporter(io.stdout), { kind: 'json' as const });
  if (ui === 'tui' && io.stdout.isTTY && !inCi()) {
    // ink and React cost ~0.6 s of start-up: load them only when there is a terminal to draw on.
    const { createTuiReporter } = await import('../ui/tui-reporter.js');
    return Object.assign(createTuiReporter({ stdout: io.stdout, stdin: io.stdin, onInterrupt, ...tui }), { kind: 'tui' as const });
  }
  return Object.assign(createPlainReporter(io.stdout), { kind: 'plain' as const });
}

/** ink draws only the last frame when CI is set (is-in-ci): plain lines serve better there. */
export function inCi(): boolean {
  return ['CI', 'CONTINUOUS_INTEGRATION'].some((key) => key in process.env && process.env[key] !== '0' && process.env[key] !== 'false');
}

