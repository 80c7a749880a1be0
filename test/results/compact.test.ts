import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ExitCode, ResultsWriteError } from '../../src/core/errors.js';
import type { ResultRecord } from '../../src/core/types.js';
import { compactResults } from '../../src/results/compact.js';
import { Ledger } from '../../src/results/ledger.js';
import { serializeRecord } from '../../src/results/writer.js';
import { readLines, record, tempDir } from './helpers.js';

let dir: string;
let file: string;

beforeEach(async () => {
  dir = await tempDir();
  file = path.join(dir, 'out.jsonl');
});

afterEach(async () => {
  vi.restoreAllMocks();
  await fsp.rm(dir, { recursive: true, force: true });
});

const line = (i: number, status: 'done' | 'failed', over: Partial<ResultRecord> = {}): string =>
  serializeRecord(record(i, { status, output: status === 'done' ? `out ${i}` : null, error: status === 'failed' ? 'boom' : null, ...over }));

describe('compactResults', () => {
  it('keeps the last line of each id, in file order, and drops garbage, blank and cut lines', async () => {
    const lines = [
      line(0, 'failed'), // superseded by the later done line of id 1
      line(1, 'done'),
      '{"id":"3","index":2,"inp', // cut mid-record by a crash
      line(2, 'failed'),
      '',
      line(0, 'done', { attempts: 3 }),
      'garbage',
      line(3, 'failed'),
      line(2, 'failed', { attempts: 2 }),
    ];
    fs.writeFileSync(file, `${lines.join('\n')}\n{"id":"9","st`);
    const ledgerBefore = await Ledger.load(file);

    const result = await compactResults(file);

    const { lines: after, tail } = await readLines(file);
    expect(tail).toBe('');
    expect(after).toEqual([lines[1], lines[5], lines[7], lines[8]]);
    expect(result).toEqual({ lines: 4, done: 2, failed: 2, dropped: 6 });
    // What resume reads is the same before and after.
    const ledgerAfter = await Ledger.load(file);
    expect(ledgerAfter.counts()).toEqual(ledgerBefore.counts());
    expect(ledgerAfter.skippedLines).toBe(0);
    expect(fs.readdirSync(dir)).toEqual(['out.jsonl']);
  });

  it('leaves a file that already holds one line per id untouched (same inode)', async () => {
    fs.writeFileSync(file, `${[line(0, 'done'), line(1, 'failed')].join('\n')}\n`);
    const ino = fs.statSync(file).ino;
    expect(await compactResults(file)).toEqual({ lines: 2, done: 1, failed: 1, dropped: 0 });
    expect(fs.statSync(file).ino).toBe(ino);
  });

  it('copies long lines byte for byte across read chunks, and keeps the file mode', async () => {
    const long = line(0, 'done', { output: `ünï ${'x'.repeat(3 * 1024 * 1024)} 😀` });
    fs.writeFileSync(file, `${line(0, 'failed')}\n${long}\n${line(1, 'done')}\n${line(1, 'done')}\n`);
    fs.chmodSync(file, 0o640);
    await compactResults(file);
    expect(fs.readFileSync(file, 'utf8')).toBe(`${long}\n${line(1, 'done')}\n`);
    expect(fs.statSync(file).mode & 0o777).toBe(0o640);
  });

  it('compacts the file a symlink points to; the link stays a link', async () => {
    const real = path.join(dir, 'real.jsonl');
    fs.writeFileSync(real, `${line(0, 'failed')}\n${line(0, 'done')}\n`);
    fs.symlinkSync(real, file);
    await compactResults(file);
    expect(fs.lstatSync(file).isSymbolicLink()).toBe(true);
    expect(fs.readFileSync(real, 'utf8')).toBe(`${line(0, 'done')}\n`);
  });

  it('a failure while compacting (disk full) leaves the file as it was, with no temp file (exit 74)', async () => {
    const text = `${line(0, 'failed')}\n${line(0, 'done')}\n`;
    fs.writeFileSync(file, text);
    vi.spyOn(fs, 'writeSync').mockImplementation(() => {
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    });
    const err = await compactResults(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ResultsWriteError);
    expect((err as ResultsWriteError).exitCode).toBe(ExitCode.ioFailure);
    expect((err as Error).message).toBe(`cannot compact results file ${file}: no space left on device`);
    expect(fs.readFileSync(file, 'utf8')).toBe(text);
    expect(fs.readdirSync(dir)).toEqual(['out.jsonl']);
  });
});
