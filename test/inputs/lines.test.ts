import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InputError } from '../../src/core/errors.js';
import { MAX_LINE_BYTES, readError, readLines, type Line } from '../../src/inputs/lines.js';
import { eventually, failure, fdsOpenOn, hasProcFd, tempDir, type TempDir } from './helpers.js';

let tmp: TempDir;
beforeEach(async () => {
  tmp = await tempDir();
});
afterEach(async () => {
  await tmp.remove();
});

async function lines(path: string, opts: { maxLineBytes?: number; highWaterMark?: number } = {}): Promise<Line[]> {
  const out: Line[] = [];
  for await (const line of readLines(path, { label: 'in.txt', ...opts })) out.push(line);
  return out;
}

describe('readLines', () => {
  it('splits LF and CRLF, keeps blank lines with their numbers, reads a last line without newline', async () => {
    const path = await tmp.file('a.txt', 'one\r\ntwo\n\n  \r\nlast');
    expect(await lines(path)).toEqual([
      { text: 'one', lineNo: 1 },
      { text: 'two', lineNo: 2 },
      { text: '', lineNo: 3 },
      { text: '  ', lineNo: 4 },
      { text: 'last', lineNo: 5 },
    ]);
  });

  it('does not invent an empty line after a trailing newline, and strips only one trailing CR', async () => {
    const path = await tmp.file('a.txt', 'a\r\r\nb\n');
    expect(await lines(path)).toEqual([
      { text: 'a\r', lineNo: 1 },
      { text: 'b', lineNo: 2 },
    ]);
  });

  it('joins lines and multi-byte characters split across chunk boundaries', async () => {
    const text = 'héllo wörld ✓ 日本語\r\nsecond line 🎉\nthird';
    const path = await tmp.file('a.txt', text);
    expect((await lines(path, { highWaterMark: 3 })).map((l) => l.text)).toEqual([
      'héllo wörld ✓ 日本語',
      'second line 🎉',
      'third',
    ]);
  });

  it('drops a UTF-8 BOM at the start of the file only', async () => {
    const path = await tmp.file('a.txt', '\uFEFFfirst\n\uFEFFsecond\n');
    expect((await lines(path)).map((l) => l.text)).toEqual(['first', '\uFEFFsecond']);
  });

  it('rejects a NUL byte and names its line', async () => {
    const path = await tmp.file('a.bin', Buffer.from('ok\nfine\nbad\u0000byte\n'));
    const err = await failure(lines(path));
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toBe('in.txt: looks like a binary file (NUL byte at line 3), not text prompts');
  });

  it('rejects a NUL byte in a last line that has no newline', async () => {
    const path = await tmp.file('a.bin', Buffer.from([0x61, 0x0a, 0x62, 0x00]));
    const err = await failure(lines(path, { highWaterMark: 1 }));
    expect(err.message).toBe('in.txt: looks like a binary file (NUL byte at line 2), not text prompts');
  });

  it('rejects invalid UTF-8 and names its line', async () => {
    const path = await tmp.file('a.bin', Buffer.concat([Buffer.from('ok\n'), Buffer.from([0xc3, 0x28, 0x0a])]));
    const err = await failure(lines(path));
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toBe('in.txt: looks like a binary file (invalid UTF-8 at line 2), not text prompts');
  });

  it('rejects a UTF-8 sequence truncated at end of file', async () => {
    const path = await tmp.file('a.bin', Buffer.from([0x61, 0x0a, 0xe2, 0x9c]));
    const err = await failure(lines(path));
    expect(err.message).toContain('invalid UTF-8 at line 2');
  });

  it('rejects a line over the limit while it is still being read', async () => {
    const path = await tmp.file('a.txt', `short\n${'x'.repeat(101)}\nafter\n`);
    const err = await failure(lines(path, { maxLineBytes: 100, highWaterMark: 16 }));
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toBe('in.txt: line 2 is longer than 100 bytes');
  });

  it('accepts a line exactly at the limit, its CRLF not counted', async () => {
    const path = await tmp.file('a.txt', `${'x'.repeat(100)}\r\n`);
    expect((await lines(path, { maxLineBytes: 100 }))[0]?.text.length).toBe(100);
  });

  it('defaults to an 8 MiB limit', async () => {
    const path = await tmp.file('big.txt', Buffer.alloc(MAX_LINE_BYTES + 1, 0x61));
    const err = await failure(lines(path));
    expect(err.message).toBe('in.txt: line 1 is longer than 8 MiB');
  });

  it.skipIf(!hasProcFd)('closes the file when the consumer breaks early', async () => {
    const path = await tmp.file('a.txt', 'line\n'.repeat(100_000));
    let seen = 0;
    for await (const line of readLines(path, { label: 'a.txt' })) {
      seen = line.lineNo;
      expect(await fdsOpenOn(path)).toHaveLength(1);
      break;
    }
    expect(seen).toBe(1);
    expect(await eventually(async () => (await fdsOpenOn(path)).length === 0)).toBe(true);
  });
});

describe('readError', () => {
  const errno = (code: string): NodeJS.ErrnoException => Object.assign(new Error(`${code}: boom`), { code });

  it.each([
    ['ENOENT', 'f.txt: cannot read: no such file'],
    ['EACCES', 'f.txt: cannot read: permission denied'],
    ['EISDIR', 'f.txt: is a directory, not a file'],
    ['EIO', 'f.txt: cannot read: EIO: boom'],
  ])('maps %s to one line naming the file', (code, message) => {
    const err = readError(errno(code), 'f.txt');
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).message).toBe(message);
    expect((err as InputError).where).toBe('f.txt');
  });

  it('passes InputErrors through untouched', () => {
    const original = new InputError('x', 'y:1');
    expect(readError(original, 'other')).toBe(original);
  });
});
