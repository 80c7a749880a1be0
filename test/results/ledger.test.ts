import { createHash } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ResultsError } from '../../src/core/errors.js';
import type { ItemInput, ItemSpec } from '../../src/core/types.js';
import { fingerprint, Ledger } from '../../src/results/ledger.js';
import { ResultsWriter, serializeRecord } from '../../src/results/writer.js';
import { record, tempDir } from './helpers.js';

let dir: string;
let file: string;

beforeEach(async () => {
  dir = await tempDir();
  file = path.join(dir, 'out.jsonl');
});

afterEach(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

function item(i: number, input: ItemInput = `prompt number ${i + 1}`): ItemSpec {
  return { id: String(i + 1), index: i, input };
}

const line = (i: number, status: 'done' | 'failed' = 'done', input?: ItemInput): string =>
  serializeRecord(
    record(i, {
      status,
      output: status === 'done' ? 'ok' : null,
      error: status === 'failed' ? 'boom' : null,
      ...(input === undefined ? {} : { input }),
    }),
  );

describe('Ledger', () => {
  it('a missing file is an empty ledger', async () => {
    const l = await Ledger.load(path.join(dir, 'nope', 'missing.jsonl'));
    expect(l.size).toBe(0);
    expect(l.skippedLines).toBe(0);
    expect(l.skippedNote()).toBeNull();
    expect(l.counts()).toEqual({ done: 0, failed: 0 });
    expect(l.isFinished(item(0), { retryFailed: false })).toBe(false);
  });

  it('skips done items; reruns failed ones only with retryFailed', async () => {
    fs.writeFileSync(file, [line(0), line(1, 'failed')].join('\n') + '\n');
    const l = await Ledger.load(file);
    expect(l.size).toBe(2);
    expect(l.counts()).toEqual({ done: 1, failed: 1 });
    expect(l.isFinished(item(0), { retryFailed: false })).toBe(true);
    expect(l.isFinished(item(0), { retryFailed: true })).toBe(true);
    expect(l.isFinished(item(1), { retryFailed: false })).toBe(true);
    expect(l.isFinished(item(1), { retryFailed: true })).toBe(false);
    expect(l.isFinished(item(2), { retryFailed: false })).toBe(false); // never recorded
    expect(l.get('1')).toEqual({ status: 'done', fingerprint: fingerprint('prompt number 1') });
  });

  it('later lines win for the same id', async () => {
    fs.writeFileSync(
      file,
      [line(0, 'failed'), line(1), line(2, 'failed'), line(0), line(1, 'failed'), line(2, 'failed')].join('\n') +
        '\n',
    );
    const l = await Ledger.load(file);
    expect(l.size).toBe(3);
    expect(l.counts()).toEqual({ done: 1, failed: 2 });
    expect(l.get('1')?.status).toBe('done');
    expect(l.get('2')?.status).toBe('failed');
    expect(l.isFinished(item(0), { retryFailed: true })).toBe(true);
    expect(l.isFinished(item(1), { retryFailed: true })).toBe(false);
  });

  it('counts a truncated last line, garbage and records without id/status as skipped lines', async () => {
    const lines = [
      line(0),
      'not json at all',
      '{"id":"x","index":3}', // no status
      '{"status":"done","input":"p"}', // no id
      '{"id":7,"status":"done","input":"p"}', // id not a string
      '{"id":"y","status":"running","input":"p"}', // unknown status
      '{"id":"z","status":"done"}', // no input to check against
      '[1,2,3]',
      'null',
      '', // blank lines are not counted
      '   ',
      line(1),
    ];
    const truncated = line(2).slice(0, 30);
    fs.writeFileSync(file, lines.join('\n') + '\n' + truncated);
    const l = await Ledger.load(file);
    expect(l.size).toBe(2);
    expect(l.skippedLines).toBe(9);
    expect(l.skippedNote()).toMatch(/^note: 9 lines are not a whole record in .*out\.jsonl \(cut by a crash\?\): ignored/);
    expect(l.isFinished(item(2), { retryFailed: false })).toBe(false); // the crash victim reruns
  });

  it('accepts CRLF line ends', async () => {
    fs.writeFileSync(file, `${line(0)}\r\n${line(1, 'failed')}\r\n`);
    const l = await Ledger.load(file);
    expect(l.size).toBe(2);
    expect(l.skippedLines).toBe(0);
    expect(l.counts()).toEqual({ done: 1, failed: 1 });
  });

  it('treats a last line without its newline as not recorded, even if it parses (as the writer does)', async () => {
    // A kill between the JSON and its newline: the writer cuts this line off on append, so the
    // ledger must not skip the item, or its record would be lost.
    fs.writeFileSync(file, `${line(0)}\n${line(1)}`);
    const l = await Ledger.load(file);
    expect(l.size).toBe(1);
    expect(l.skippedLines).toBe(1);
    expect(l.isFinished(item(1), { retryFailed: false })).toBe(false);

    const w = ResultsWriter.open(file, { append: true });
    expect(w.repairedBytes).toBe(line(1).length);
    w.write(record(1, { output: 'ok' }));
    w.close();
    const after = await Ledger.load(file);
    expect(after.size).toBe(2);
    expect(after.skippedLines).toBe(0);
  });

  it('ignores trailing blank space after the last newline', async () => {
    fs.writeFileSync(file, `${line(0)}\n\n  `);
    const l = await Ledger.load(file);
    expect(l.size).toBe(1);
    expect(l.skippedLines).toBe(0);
  });

  it('throws ResultsError when the file records a different input for an id', async () => {
    fs.writeFileSync(file, `${line(0, 'done', { prompt: 'a' })}\n${line(1, 'failed', 'b')}\n`);
    const l = await Ledger.load(file);
    expect(l.isFinished(item(0, { prompt: 'a' }), { retryFailed: false })).toBe(true);
    expect(() => l.isFinished(item(0, { prompt: 'other' }), { retryFailed: false })).toThrow(
      new ResultsError(
        `results file ${file} records a different input for item "1"; it belongs to other inputs — choose another --out`,
      ),
    );
    // Failed ones are checked too, whatever retryFailed says.
    expect(() => l.isFinished(item(1, 'c'), { retryFailed: true })).toThrow(ResultsError);
    expect(() => l.isFinished(item(1, 'c'), { retryFailed: false })).toThrow(ResultsError);
  });

  it('reads what the writer wrote, including inputs that need escaping', async () => {
    const inputs: ItemInput[] = [
      'plain',
      'multi\nline\u2028 \ud800 lone',
      { prompt: 'x', nested: { a: [1, 2.5, -0, 1e21], b: null, c: true }, '10': 'int-like key' },
      ['a', 1],
      42,
      null,
      false,
    ];
    const w = ResultsWriter.open(file, { append: false });
    inputs.forEach((input, i) => w.write(record(i, { input })));
    w.close();
    const l = await Ledger.load(file);
    expect(l.size).toBe(inputs.length);
    expect(l.skippedLines).toBe(0);
    inputs.forEach((input, i) => expect(l.isFinished(item(i, input), { retryFailed: false })).toBe(true));
  });

  it('handles lines far longer than one read chunk, and multi-byte characters across chunks', async () => {
    const big = '😀é'.repeat(700_000); // ~4.2 MB of UTF-8 per line
    const w = ResultsWriter.open(file, { append: false });
    w.write(record(0, { output: big }));
    w.write(record(1, { output: 'small' }));
    w.write(record(2, { output: big, input: big }));
    w.close();
    const l = await Ledger.load(file);
    expect(l.size).toBe(3);
    expect(l.skippedLines).toBe(0);
    expect(l.isFinished(item(2, big), { retryFailed: false })).toBe(true);
  });

  it('a directory is a ResultsError naming the path', async () => {
    await expect(Ledger.load(dir)).rejects.toThrow(new ResultsError(`cannot read results file ${dir}: it is a directory`));
  });

  // 20k lines of ~350 bytes: 7 MB, many read chunks. Its speed is a benchmark's figure, not a
  // test's: the 200k lines this once loaded served a time bound and took over 12 s on a busy machine.
  it('loads 20k lines: every one counted and findable', async () => {
    const n = 20_000;
    const parts: string[] = [];
    for (let i = 0; i < n; i++) {
      parts.push(
        serializeRecord(
          record(i, {
            input: { prompt: `write a short story about the number ${i}`, temperature: 0.7 },
            output: 'Once upon a time '.repeat(8),
            status: i % 10 === 0 ? 'failed' : 'done',
          }),
        ),
      );
    }
    fs.writeFileSync(file, parts.join('\n') + '\n');
    const l = await Ledger.load(file);
    expect(l.size).toBe(n);
    expect(l.counts()).toEqual({ done: n - n / 10, failed: n / 10 });
    expect(l.isFinished(item(12_345, { prompt: 'write a short story about the number 12345', temperature: 0.7 }), {
      retryFailed: false,
    })).toBe(true);
  });
});

describe('fingerprint', () => {
  it('is 16 hex chars of sha1 over JSON.stringify(input), stable and input-sensitive', () => {
    expect(fingerprint('hello')).toMatch(/^[0-9a-f]{16}$/);
    expect(fingerprint('hello')).toBe(createHash('sha1').update('"hello"').digest('hex').slice(0, 16));
    expect(fingerprint({ a: 1, b: [2] })).toBe(fingerprint({ a: 1, b: [2] }));
    expect(fingerprint('1')).not.toBe(fingerprint(1));
    expect(fingerprint({ a: 1 })).not.toBe(fingerprint({ a: 2 }));
  });
});
