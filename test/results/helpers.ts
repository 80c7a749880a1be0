import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ResultRecord } from '../../src/core/types.js';

export const KEY_ORDER = ['id', 'index', 'input', 'output', 'status', 'error', 'attempts', 'durations', 'worker'];

/** A plausible record for item `i` (0-based index, 1-based id). */
export function record(i: number, over: Partial<ResultRecord> = {}): ResultRecord {
  return {
    id: String(i + 1),
    index: i,
    input: `prompt number ${i + 1}`,
    output: `output ${i + 1}`,
    status: 'done',
    error: null,
    attempts: 1,
    durations: { queuedMs: 1, firstChunkMs: 2, totalMs: 3 },
    worker: 'thread-1',
    ...over,
  };
}

export async function tempDir(): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), 'slowwork-results-test-'));
}

export const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Complete lines of a file (the text up to its last newline), and any partial tail. */
export async function readLines(file: string): Promise<{ lines: string[]; tail: string }> {
  const text = await fs.readFile(file, 'utf8');
  const end = text.lastIndexOf('\n') + 1;
  const lines = text.slice(0, end).split('\n');
  lines.pop();
  return { lines, tail: text.slice(end) };
}
