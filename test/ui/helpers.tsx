import { EventEmitter } from 'node:events';
import type { ReactElement } from 'react';
import { render, type Instance } from 'ink';
import type { JobEvent } from '../../src/core/events.js';
import type { RunInfo } from '../../src/ui/reporter.js';

/** A stdout for ink with a given size; keeps every write. */
export class FakeStdout extends EventEmitter {
  isTTY = true;
  writes: string[] = [];
  constructor(
    public columns: number,
    public rows: number,
  ) {
    super();
  }
  write = (chunk: string, cb?: (() => void) | string, cb2?: () => void): boolean => {
    this.writes.push(String(chunk));
    const done = typeof cb === 'function' ? cb : cb2;
    if (done) setImmediate(done);
    return true;
  };
  get output(): string {
    return this.writes.join('');
  }
  lastFrame(): string {
    return this.writes.at(-1) ?? '';
  }
  resize(columns: number, rows: number): void {
    this.columns = columns;
    this.rows = rows;
    this.emit('resize');
  }
}

/** A stdin for ink like ink-testing-library's: raw mode is a no-op. */
export class FakeStdin extends EventEmitter {
  isTTY = true;
  private data: string | null = null;
  write(data: string): void {
    this.data = data;
    this.emit('readable');
    this.emit('data', data);
  }
  read = (): string | null => {
    const d = this.data;
    this.data = null;
    return d;
  };
  setEncoding(): void {}
  setRawMode(): void {}
  resume(): void {}
  pause(): void {}
  ref(): void {}
  unref(): void {}
}

/** Renders in ink's debug mode (every frame written whole, static output first) at a size. */
export function renderAt(tree: ReactElement, columns: number, rows: number): { stdout: FakeStdout; instance: Instance } {
  const stdout = new FakeStdout(columns, rows);
  const stdin = new FakeStdin();
  const instance = render(tree, {
    stdout: stdout as unknown as NodeJS.WriteStream,
    stdin: stdin as unknown as NodeJS.ReadStream,
    stderr: stdout as unknown as NodeJS.WriteStream,
    debug: true,
    exitOnCtrlC: false,
    patchConsole: false,
  });
  return { stdout, instance };
}

// eslint-disable-next-line no-control-regex
export const stripAnsi = (s: string): string => s.replace(/\u001b\[[0-9;?]*[ -/]*[@-~]|\u001b\][^\u0007]*\u0007/g, '');

export const INFO: RunInfo = {
  jobId: '7f3a9c',
  processors: ['demo'],
  broker: 'embedded: 2 threads',
  concurrency: 64,
  outPath: './slowwork-results/7f3a9c.jsonl',
  total: 1000,
  skipped: 0,
};

const durations = { queuedMs: 0, firstChunkMs: 5, totalMs: 1200 };
export const ev = {
  start: (index: number, id = `item-${index}`, attempt = 1, worker = 'thread-1'): JobEvent => ({
    type: 'item-start',
    index,
    id,
    attempt,
    worker,
  }),
  chunk: (index: number, text: string, attempt = 1, n = 1): JobEvent => ({ type: 'chunk', index, attempt, text, n }),
  done: (index: number, output = 'the output', id = `item-${index}`, attempt = 1): JobEvent => ({
    type: 'item-done',
    index,
    id,
    attempt,
    output,
    worker: 'thread-1',
    durations,
  }),
  failed: (index: number, error = 'boom', id = `item-${index}`): JobEvent => ({
    type: 'item-failed',
    index,
    id,
    attempts: 3,
    error,
    worker: 'thread-1',
    durations,
  }),
  retry: (index: number, id = `item-${index}`, attempt = 1): JobEvent => ({
    type: 'item-retry',
    index,
    id,
    attempt,
    error: 'flaky backend',
    delayMs: 2000,
    charged: true,
  }),
};

export const tick = (): Promise<void> => new Promise((r) => setImmediate(r));
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `cond` every 5 ms until it holds; throws after `timeoutMs`. */
export async function waitFor(cond: () => boolean, timeoutMs = 2000, what = 'the condition'): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}
