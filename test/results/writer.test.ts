import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ExitCode, ResultsError, ResultsWriteError } from '../../src/core/errors.js';
import type { ResultRecord } from '../../src/core/types.js';
import { resultsFsError } from '../../src/results/fs-errors.js';
import { defaultResultsPath, ResultsWriter, serializeRecord } from '../../src/results/writer.js';
import { KEY_ORDER, readLines, record, tempDir, tick } from './helpers.js';

let dir: string;
const open: ResultsWriter[] = [];

function openWriter(file: string, append = false): ResultsWriter {
  const w = ResultsWriter.open(file, { append });
  open.push(w);
  return w;
}

beforeEach(async () => {
  dir = await tempDir();
});

afterEach(async () => {
  vi.restoreAllMocks();
  vi.useRealTimers();
  for (const w of open.splice(0)) {
    try {
      w.close();
    } catch {
      // tests of failing writers
    }
  }
  await fsp.rm(dir, { recursive: true, force: true });
});

describe('ResultsWriter: lines', () => {
  it('writes one line per record, in order, with the documented key order', async () => {
    const file = path.join(dir, 'out.jsonl');
    const w = openWriter(file);
    for (let i = 0; i < 5; i++) w.write(record(i, i === 3 ? { status: 'failed', output: null, error: 'boom' } : {}));
    w.close();
    const { lines, tail } = await readLines(file);
    expect(tail).toBe('');
    expect(lines).toHaveLength(5);
    lines.forEach((line, i) => {
      const obj = JSON.parse(line) as Record<string, unknown>;
      expect(Object.keys(obj)).toEqual(KEY_ORDER);
      expect(Object.keys(obj.durations as object)).toEqual(['queuedMs', 'firstChunkMs', 'totalMs']);
      expect(obj.id).toBe(String(i + 1));
      expect(obj.index).toBe(i);
    });
    expect(JSON.parse(lines[3]!)).toMatchObject({ status: 'failed', output: null, error: 'boom' });
    expect(w.written).toBe(5);
  });

  it('orders keys even when the record object has them in another order', () => {
    const scrambled = {
      worker: null,
      durations: { totalMs: 9, firstChunkMs: null, queuedMs: 1 },
      attempts: 2,
      error: null,
      status: 'done',
      output: 'x',
      input: { b: 1, a: [1, 2] },
      index: 7,
      id: 'abc',
    } as ResultRecord;
    expect(serializeRecord(scrambled)).toBe(
      '{"id":"abc","index":7,"input":{"b":1,"a":[1,2]},"output":"x","status":"done","error":null,' +
        '"attempts":2,"durations":{"queuedMs":1,"firstChunkMs":null,"totalMs":9},"worker":null}',
    );
  });

  it('never drops a key when a nullable field is missing', () => {
    const r = { ...record(0) } as Record<string, unknown>;
    delete r.worker;
    delete r.error;
    const obj = JSON.parse(serializeRecord(r as unknown as ResultRecord)) as Record<string, unknown>;
    expect(Object.keys(obj)).toEqual(KEY_ORDER);
    expect(obj.worker).toBeNull();
    expect(obj.error).toBeNull();
  });

  it('keeps newlines, U+2028 and lone surrogates inside one valid line', async () => {
    const file = path.join(dir, 'out.jsonl');
    const w = openWriter(file);
    const nasty = 'a\nb\r\nc\u2028d\u2029e\ud800f\udc00g😀\u0000';
    w.write(record(0, { output: nasty, input: { prompt: '\ud83d' } }));
    w.close();
    const raw = await fsp.readFile(file);
    // Valid UTF-8 (a lone surrogate written raw would become EF BF BD and not round-trip).
    expect(new TextDecoder('utf-8', { fatal: true }).decode(raw)).toBeTypeOf('string');
    const { lines } = await readLines(file);
    expect(lines).toHaveLength(1);
    const obj = JSON.parse(lines[0]!) as ResultRecord;
    expect(obj.output).toBe(nasty);
    expect(obj.input).toEqual({ prompt: '\ud83d' });
  });
});

describe('ResultsWriter: flushing and durability', () => {
  it('flushes once per tick, before close()', async () => {
    const file = path.join(dir, 'out.jsonl');
    const w = openWriter(file);
    const writeSync = vi.spyOn(fs, 'writeSync');
    for (let i = 0; i < 1000; i++) w.write(record(i));
    expect(fs.statSync(file).size).toBe(0); // buffered, not yet written
    expect(w.written).toBe(0);
    await tick();
    expect(writeSync).toHaveBeenCalledTimes(1);
    expect(w.written).toBe(1000);
    const { lines, tail } = await readLines(file);
    expect(lines).toHaveLength(1000);
    expect(tail).toBe('');
    expect((JSON.parse(lines[999]!) as ResultRecord).id).toBe('1000');

    w.write(record(1000));
    await tick();
    expect(writeSync).toHaveBeenCalledTimes(2);
    expect((await readLines(file)).lines).toHaveLength(1001);
  });

  it('flush() writes at once; the data is in the file while it is still open', async () => {
    const file = path.join(dir, 'out.jsonl');
    const w = openWriter(file);
    for (let i = 0; i < 3; i++) w.write(record(i));
    w.flush();
    // Another reader sees everything without close(): a kill -9 now would lose nothing.
    expect(fs.readFileSync(file, 'utf8').split('\n')).toHaveLength(4);
    expect(w.written).toBe(3);
    await tick(); // the scheduled flush finds nothing left to do
    expect(fs.readFileSync(file, 'utf8').split('\n')).toHaveLength(4);
  });

  it('completes partial writes in a loop', async () => {
    const file = path.join(dir, 'out.jsonl');
    const w = openWriter(file);
    const real = fs.writeSync.bind(fs) as (fd: number, b: Buffer, o: number, l: number) => number;
    const spy = vi
      .spyOn(fs, 'writeSync')
      .mockImplementation(((fd: number, buf: Buffer, off: number, len: number) =>
        real(fd, buf, off, Math.min(len, 7))) as unknown as typeof fs.writeSync);
    for (let i = 0; i < 20; i++) w.write(record(i, { output: `ünïcødé ${i} 😀` }));
    w.flush();
    expect(spy.mock.calls.length).toBeGreaterThan(20);
    spy.mockRestore();
    w.close();
    const { lines } = await readLines(file);
    expect(lines.map((l) => (JSON.parse(l) as ResultRecord).output)).toEqual(
      Array.from({ length: 20 }, (_, i) => `ünïcødé ${i} 😀`),
    );
  });

  it('checkpoint() and close() fsync; close() is idempotent', () => {
    const file = path.join(dir, 'out.jsonl');
    const w = openWriter(file);
    const fsync = vi.spyOn(fs, 'fsyncSync');
    w.write(record(0));
    w.checkpoint();
    expect(fsync).toHaveBeenCalledTimes(1);
    expect(fs.readFileSync(file, 'utf8')).toContain('"id":"1"');
    w.checkpoint(); // nothing new: no second fsync
    expect(fsync).toHaveBeenCalledTimes(1);
    w.write(record(1));
    w.close();
    expect(fsync).toHaveBeenCalledTimes(2);
    expect(() => w.close()).not.toThrow();
    expect(() => w.write(record(2))).toThrow(ResultsError);
    expect(w.written).toBe(2);
  });

  it('fsyncs automatically at most once per second while writing', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const file = path.join(dir, 'out.jsonl');
    const w = openWriter(file);
    const fsync = vi.spyOn(fs, 'fsyncSync');
    vi.advanceTimersByTime(5000);
    expect(fsync).not.toHaveBeenCalled(); // idle: no timer work
    for (let t = 0; t < 10; t++) {
      w.write(record(t));
      await tick(); // real setImmediate: flushed
      vi.advanceTimersByTime(95);
    }
    // 10 flushes over 950 ms: not yet a second since the first one.
    expect(fsync).not.toHaveBeenCalled();
    vi.advanceTimersByTime(50);
    expect(fsync).toHaveBeenCalledTimes(1);
    for (let t = 10; t < 20; t++) {
      w.write(record(t));
      await tick();
      vi.advanceTimersByTime(95);
    }
    expect(fsync).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(1000);
    expect(fsync).toHaveBeenCalledTimes(2);
    vi.advanceTimersByTime(10_000);
    expect(fsync).toHaveBeenCalledTimes(2); // nothing new written
  });

  // Its speed is a benchmark's figure, not a test's (a busy machine fails any wall-clock bound).
  it('writes 100k records, every one whole and in order', async () => {
    const file = path.join(dir, 'big.jsonl');
    const w = openWriter(file);
    const recs = Array.from({ length: 100_000 }, (_, i) =>
      record(i, { input: { prompt: `write about ${i}`, n: i }, output: 'lorem ipsum '.repeat(20) }),
    );
    for (let i = 0; i < recs.length; i++) {
      w.write(recs[i]!);
      if (i % 1000 === 999) await tick();
    }
    w.close();
    expect(w.written).toBe(100_000);
    const { lines } = await readLines(file);
    expect(lines).toHaveLength(100_000);
    lines.forEach((line, i) => {
      if ((JSON.parse(line) as { index: number }).index !== i) throw new Error(`line ${i + 1}: ${line.slice(0, 200)}`);
    });
  });
});

describe('ResultsWriter: open modes', () => {
  it('creates parent directories', () => {
    const file = path.join(dir, 'a', 'b', 'out.jsonl');
    const w = openWriter(file);
    w.write(record(0));
    w.close();
    expect(fs.readFileSync(file, 'utf8')).toContain('"id":"1"');
    expect(w.path).toBe(file);
  });

  it('append=false truncates, append=true keeps existing lines', async () => {
    const file = path.join(dir, 'out.jsonl');
    fs.writeFileSync(file, `${serializeRecord(record(0))}\n`);
    const a = openWriter(file, true);
    a.write(record(1));
    a.close();
    expect((await readLines(file)).lines).toHaveLength(2);
    const t = openWriter(file, false);
    expect(fs.statSync(file).size).toBe(0);
    t.write(record(2));
    t.close();
    const { lines } = await readLines(file);
    expect(lines.map((l) => (JSON.parse(l) as ResultRecord).id)).toEqual(['3']);
  });

  it('append after a partial last line cuts it off and starts on a fresh line', async () => {
    const file = path.join(dir, 'out.jsonl');
    const good = `${serializeRecord(record(0))}\n${serializeRecord(record(1))}\n`;
    const partial = serializeRecord(record(2)).slice(0, 25);
    fs.writeFileSync(file, good + partial);
    const w = openWriter(file, true);
    expect(w.repairedBytes).toBe(Buffer.byteLength(partial));
    expect(fs.readFileSync(file, 'utf8')).toBe(good);
    w.write(record(2));
    w.close();
    const { lines, tail } = await readLines(file);
    expect(tail).toBe('');
    expect(lines.map((l) => (JSON.parse(l) as ResultRecord).id)).toEqual(['1', '2', '3']);
  });

  it('repairs a partial tail longer than one read chunk, and a file that is only a partial line', () => {
    const file = path.join(dir, 'out.jsonl');
    const good = `${serializeRecord(record(0))}\n`;
    const longPartial = serializeRecord(record(1, { output: 'x'.repeat(300_000) })).slice(0, 200_000);
    fs.writeFileSync(file, good + longPartial);
    const w = openWriter(file, true);
    expect(w.repairedBytes).toBe(200_000);
    w.close();
    expect(fs.readFileSync(file, 'utf8')).toBe(good);

    fs.writeFileSync(file, '{"id":"1","ind');
    const w2 = openWriter(file, true);
    expect(w2.repairedBytes).toBe(14);
    w2.write(record(0));
    w2.close();
    expect(fs.readFileSync(file, 'utf8')).toBe(good);
  });

  it('append to a missing or complete file repairs nothing', () => {
    const file = path.join(dir, 'new.jsonl');
    const w = openWriter(file, true);
    expect(w.repairedBytes).toBe(0);
    w.write(record(0));
    w.close();
    const w2 = openWriter(file, true);
    expect(w2.repairedBytes).toBe(0);
    w2.close();
    expect(fs.readFileSync(file, 'utf8')).toBe(`${serializeRecord(record(0))}\n`);
  });
});

describe('ResultsWriter: errors', () => {
  function openError(file: string, append: boolean): ResultsError {
    try {
      openWriter(file, append);
    } catch (err) {
      expect(err).toBeInstanceOf(ResultsError);
      return err as ResultsError;
    }
    throw new Error('expected open to fail');
  }

  it.each([false, true])('a directory as the path (append=%s)', (append) => {
    const err = openError(dir, append);
    expect(err.message).toBe(`cannot write results to ${dir}: it is a directory`);
  });

  it.each([false, true])('a path under a regular file (append=%s)', (append) => {
    const file = path.join(dir, 'file.txt');
    fs.writeFileSync(file, 'x');
    const target = path.join(file, 'out.jsonl');
    expect(openError(target, append).message).toBe(
      `cannot write results to ${target}: a parent of it is not a directory`,
    );
    const deeper = path.join(file, 'sub', 'out.jsonl');
    expect(openError(deeper, append).message).toBe(
      `cannot write results to ${deeper}: a parent of it is not a directory`,
    );
  });

  it('permission denied names the path (the open is made to fail: tests run as root)', () => {
    vi.spyOn(fs, 'openSync').mockImplementation(() => {
      throw Object.assign(new Error("EACCES: permission denied, open 'out/x.jsonl'"), { code: 'EACCES' });
    });
    const err = openError(path.join(dir, 'out', 'x.jsonl'), false);
    expect(err.message).toBe(`cannot write results to ${path.join(dir, 'out', 'x.jsonl')}: permission denied`);
  });

  it('maps errno codes to one-line reasons', () => {
    const e = (code: string, message = `${code}: something, open 'x'`): Error =>
      Object.assign(new Error(message), { code });
    expect(resultsFsError('write results to', 'out/x.jsonl', e('EACCES')).message).toBe(
      'cannot write results to out/x.jsonl: permission denied',
    );
    expect(resultsFsError('write results to', 'o', e('ENOSPC')).message).toBe(
      'cannot write results to o: no space left on device',
    );
    expect(resultsFsError('write results to', 'o', e('EXDEV', "EXDEV: cross-device link, open 'o'")).message).toBe(
      'cannot write results to o: cross-device link',
    );
    expect(resultsFsError('write results to', 'o', new Error('weird\nsecond line')).message).toBe(
      'cannot write results to o: weird',
    );
  });

  it('a full disk (/dev/full) fails the flush with ENOSPC, and the error reaches the caller', () => {
    const w = openWriter('/dev/full', false);
    w.write(record(0));
    expect(() => w.flush()).toThrow(new ResultsWriteError('cannot write results to /dev/full: no space left on device'));
    // Sticky: every later call reports it.
    expect(() => w.write(record(1))).toThrow(/no space left on device/);
    expect(() => w.close()).toThrow(/no space left on device/);
    expect(() => w.close()).not.toThrow();
    expect(w.written).toBe(0);
  });

  it('a disk that fills mid-write: landed counts the whole lines, the cut one is removed, exit code 74', async () => {
    const file = path.join(dir, 'out.jsonl');
    const w = openWriter(file);
    for (let i = 0; i < 3; i++) w.write(record(i, { status: i === 1 ? 'failed' : 'done' }));
    w.flush();
    // Room for 2.5 more lines: the third write stops part way, then the disk is full.
    const lineBytes = Buffer.byteLength(serializeRecord(record(3))) + 1;
    let room = Math.floor(lineBytes * 2.5);
    const real = fs.writeSync.bind(fs) as (fd: number, b: Buffer, o: number, l: number) => number;
    vi.spyOn(fs, 'writeSync').mockImplementation(((fd: number, buf: Buffer, off: number, len: number) => {
      if (room === 0) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      const n = real(fd, buf, off, Math.min(len, room));
      room -= n;
      return n;
    }) as unknown as typeof fs.writeSync);
    for (let i = 3; i < 8; i++) w.write(record(i, { status: i === 4 ? 'failed' : 'done' }));
    let thrown: unknown;
    try {
      w.flush();
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(ResultsWriteError);
    expect((thrown as ResultsWriteError).exitCode).toBe(ExitCode.ioFailure);
    expect((thrown as Error).message).toBe(`cannot write results to ${file}: no space left on device`);
    expect(w.written).toBe(5);
    expect(w.landed).toEqual({ done: 3, failed: 2 });
    const { lines, tail } = await readLines(file);
    expect(tail).toBe('');
    expect(lines.map((l) => (JSON.parse(l) as ResultRecord).id)).toEqual(['1', '2', '3', '4', '5']);
  });

  it('an error in the background flush is thrown by the next write, not from the timer', async () => {
    const w = openWriter('/dev/full', true);
    w.write(record(0));
    await tick(); // the scheduled flush fails quietly...
    expect(() => w.write(record(1))).toThrow(ResultsError); // ...and the next call reports it
  });
});

describe('defaultResultsPath', () => {
  it('is slowwork-results/<YYYYMMDD-HHMMSS>-<jobId>.jsonl under the working directory', () => {
    const p = defaultResultsPath('7f3a', new Date(2024, 0, 2, 3, 4, 5));
    expect(p).toBe(path.join('slowwork-results', '20240102-030405-7f3a.jsonl'));
    expect(path.resolve(p)).toBe(path.join(process.cwd(), 'slowwork-results', '20240102-030405-7f3a.jsonl'));
  });

  it('keeps a job id from escaping the directory', () => {
    const p = defaultResultsPath('../../etc/x y', new Date(2024, 11, 31, 23, 59, 59));
    expect(path.dirname(p)).toBe('slowwork-results');
    expect(path.basename(p)).toBe('20241231-235959-..-..-etc-x-y.jsonl');
  });
});
