import { execFileSync } from 'node:child_process';
import { chmod, mkdir, readdir } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InputError, UsageError } from '../../src/core/errors.js';
import { prepareInputs, type InputArgs } from '../../src/inputs/index.js';
import { allItems, failure, tempDir, type TempDir } from './helpers.js';

let tmp: TempDir;
beforeEach(async () => {
  tmp = await tempDir();
});
afterEach(async () => {
  await tmp.remove();
});

const prepare = (args: Partial<InputArgs>) => prepareInputs({ files: [], prompts: [], ...args });

async function inputError(args: Partial<InputArgs>): Promise<InputError> {
  const err = await failure(prepare(args));
  expect(err).toBeInstanceOf(InputError);
  return err as InputError;
}

describe('txt files', () => {
  it('one prompt per line: blank lines skipped, CRLF stripped, last line without newline kept', async () => {
    const path = await tmp.file('p.txt', 'first\r\n\r\n   \nsecond  \n\n  third\r\nlast');
    const prepared = await prepare({ files: [path] });
    expect(prepared.total).toBe(4);
    expect(await allItems(prepared)).toEqual([
      { id: '1', index: 0, input: 'first', source: `${path}:1` },
      { id: '2', index: 1, input: 'second  ', source: `${path}:4` },
      { id: '3', index: 2, input: '  third', source: `${path}:6` },
      { id: '4', index: 3, input: 'last', source: `${path}:7` },
    ]);
  });

  it('any extension but .jsonl/.ndjson is txt, even when lines look like JSON', async () => {
    const path = await tmp.file('p.json', '{"prompt":"hi"}\n');
    expect(await allItems(await prepare({ files: [path] }))).toMatchObject([{ input: '{"prompt":"hi"}' }]);
  });

  it("format 'jsonl' forces JSONL parsing of a .txt file", async () => {
    const path = await tmp.file('p.txt', '{"prompt":"hi"}\n');
    expect(await allItems(await prepare({ files: [path], format: 'jsonl' }))).toMatchObject([{ input: 'hi' }]);
  });
});

describe('jsonl files', () => {
  it('maps {prompt}, any other object, and ids from string or number', async () => {
    const path = await tmp.file(
      'p.jsonl',
      [
        '{"id":"a","prompt":"hello"}',
        '',
        '{"prompt":"no id"}',
        '{"id":10,"question":"q","n":1}\r',
        '{"text":"plain object"}',
      ].join('\n'),
    );
    const prepared = await prepare({ files: [path] });
    expect(prepared.total).toBe(4);
    expect(await allItems(prepared)).toEqual([
      { id: 'a', index: 0, input: 'hello', source: `${path}:1` },
      { id: '2', index: 1, input: 'no id', source: `${path}:3` },
      { id: '10', index: 2, input: { id: 10, question: 'q', n: 1 }, source: `${path}:4` },
      { id: '4', index: 3, input: { text: 'plain object' }, source: `${path}:5` },
    ]);
  });

  it('reads an OpenAI batch-input file: custom_id as id, body as input', async () => {
    const lines = [1, 2].map((n) =>
      JSON.stringify({
        custom_id: `request-${n}`,
        method: 'POST',
        url: '/v1/chat/completions',
        body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: `question ${n}` }], max_tokens: 100 },
      }),
    );
    const path = await tmp.file('batch.ndjson', `${lines.join('\n')}\n`);
    const items = await allItems(await prepare({ files: [path] }));
    expect(items.map((i) => i.id)).toEqual(['request-1', 'request-2']);
    expect(items[1]?.input).toEqual({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'question 2' }],
      max_tokens: 100,
    });
  });

  it("format 'txt' forces plain lines from a .jsonl file", async () => {
    const path = await tmp.file('p.jsonl', '{"prompt":"hi"}\nnot json\n');
    expect((await allItems(await prepare({ files: [path], format: 'txt' }))).map((i) => i.input)).toEqual([
      '{"prompt":"hi"}',
      'not json',
    ]);
  });
});

describe('several inputs', () => {
  it('-p prompts come first, then files in order, with global indexes and position ids', async () => {
    const txt = await tmp.file('a.txt', 'from txt 1\nfrom txt 2\n');
    const jsonl = await tmp.file('b.jsonl', '{"prompt":"from jsonl"}\n{"id":"named","prompt":"x"}\n');
    const prepared = await prepare({ prompts: ['p one', 'p two'], files: [txt, jsonl] });
    expect(prepared.total).toBe(6);
    const items = await allItems(prepared);
    expect(items.map((i) => [i.id, i.index, i.input, i.source])).toEqual([
      ['1', 0, 'p one', 'prompt #1'],
      ['2', 1, 'p two', 'prompt #2'],
      ['3', 2, 'from txt 1', `${txt}:1`],
      ['4', 3, 'from txt 2', `${txt}:2`],
      ['5', 4, 'from jsonl', `${jsonl}:1`],
      ['named', 5, 'x', `${jsonl}:2`],
    ]);
  });

  it('prompts alone are enough', async () => {
    const prepared = await prepare({ prompts: ['only'] });
    expect(await allItems(prepared)).toEqual([{ id: '1', index: 0, input: 'only', source: 'prompt #1' }]);
  });

  it('items() can be read more than once with the same result', async () => {
    const path = await tmp.file('a.txt', 'x\ny\n');
    const prepared = await prepare({ files: [path] });
    expect(await allItems(prepared)).toEqual(await allItems(prepared));
  });
});

describe('items(chunk)', () => {
  it('yields arrays of up to chunk items, in order', async () => {
    const path = await tmp.file('a.txt', Array.from({ length: 10 }, (_, i) => `p${i}`).join('\n'));
    const prepared = await prepare({ files: [path] });
    const sizes: number[] = [];
    const ids: string[] = [];
    for await (const batch of prepared.items(3)) {
      sizes.push(batch.length);
      ids.push(...batch.map((i) => i.id));
    }
    expect(sizes).toEqual([3, 3, 3, 1]);
    expect(ids).toEqual(['1', '2', '3', '4', '5', '6', '7', '8', '9', '10']);
  });

  it('defaults to 256 per chunk', async () => {
    const path = await tmp.file('a.txt', 'p\n'.repeat(600));
    const sizes: number[] = [];
    for await (const batch of (await prepare({ files: [path] })).items()) sizes.push(batch.length);
    expect(sizes).toEqual([256, 256, 88]);
  });

  it('rejects a chunk size that is not a positive integer', async () => {
    const prepared = await prepare({ prompts: ['a'] });
    expect(() => prepared.items(0)).toThrow(RangeError);
    expect(() => prepared.items(1.5)).toThrow(RangeError);
  });
});

describe('stdin', () => {
  const spoolDir = () => join(tmp.dir, 'spool');
  const withSpoolDir = async () => {
    await mkdir(spoolDir());
    return spoolDir();
  };

  it('is spooled to a temp file, read as txt, and cleanup() removes the spool', async () => {
    const tmpDir = await withSpoolDir();
    const stdin = Readable.from(['alpha\r\n\nbe', 'ta\n', 'gamma']);
    const prepared = await prepare({ files: ['-'], stdin, tmpDir });
    expect(prepared.total).toBe(3);
    expect(await readdir(tmpDir)).toHaveLength(1);
    // Read twice: the stream is long gone, so this proves the items come from the spool.
    for (let i = 0; i < 2; i++) {
      expect((await allItems(prepared)).map((it) => [it.input, it.source])).toEqual([
        ['alpha', 'stdin:1'],
        ['beta', 'stdin:3'],
        ['gamma', 'stdin:4'],
      ]);
    }
    await prepared.cleanup();
    expect(await readdir(tmpDir)).toEqual([]);
    await prepared.cleanup(); // idempotent
  });

  it('is detected as JSONL when its first non-blank line is a JSON object', async () => {
    const stdin = Readable.from(['\n  \n{"id":"s1","prompt":"from stdin"}\n', '{"custom_id":"c","body":{"m":1}}\n']);
    const prepared = await prepare({ files: ['-'], stdin, tmpDir: await withSpoolDir() });
    expect(await allItems(prepared)).toEqual([
      { id: 's1', index: 0, input: 'from stdin', source: 'stdin:3' },
      { id: 'c', index: 1, input: { m: 1 }, source: 'stdin:4' },
    ]);
    await prepared.cleanup();
  });

  it('stays txt when the first line is JSON but not an object', async () => {
    const stdin = Readable.from(['[1, 2]\n{"prompt":"x"}\n']);
    const prepared = await prepare({ files: ['-'], stdin, tmpDir: await withSpoolDir() });
    expect((await allItems(prepared)).map((i) => i.input)).toEqual(['[1, 2]', '{"prompt":"x"}']);
    await prepared.cleanup();
  });

  it('takes its place among the files', async () => {
    const a = await tmp.file('a.txt', 'from a\n');
    const stdin = Readable.from(['from stdin\n']);
    const prepared = await prepare({ prompts: ['p'], files: [a, '-'], stdin, tmpDir: await withSpoolDir() });
    expect((await allItems(prepared)).map((i) => `${i.id}:${i.source}`)).toEqual([
      '1:prompt #1',
      `2:${a}:1`,
      '3:stdin:1',
    ]);
    await prepared.cleanup();
  });

  it('removes the spool when validation fails', async () => {
    const tmpDir = await withSpoolDir();
    const stdin = Readable.from(['{"prompt":"ok"}\n{"prompt": oops}\n']);
    const err = await failure(prepare({ files: ['-'], stdin, tmpDir }));
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toMatch(/^stdin:2: invalid JSON: /);
    expect(await readdir(tmpDir)).toEqual([]);
  });

  it('empty stdin has no prompts', async () => {
    const err = await inputError({ files: ['-'], stdin: Readable.from([]), tmpDir: await withSpoolDir() });
    expect(err.message).toBe('stdin: no prompts on stdin (it is empty or only blank lines)');
  });
});

describe.skipIf(process.platform === 'win32')('pipes', () => {
  it('a FIFO (as from <(cmd)) is spooled so it can be read twice', async () => {
    const fifo = join(tmp.dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    createWriteStream(fifo).end('one\ntwo\n');
    const tmpDir = join(tmp.dir, 'spool');
    await mkdir(tmpDir);
    const prepared = await prepare({ files: [fifo], tmpDir });
    expect(prepared.total).toBe(2);
    expect((await allItems(prepared)).map((i) => i.input)).toEqual(['one', 'two']);
    await prepared.cleanup();
    expect(await readdir(tmpDir)).toEqual([]);
  });
});

describe('usage errors', () => {
  it('no inputs at all', async () => {
    const err = await failure(prepare({}));
    expect(err).toBeInstanceOf(UsageError);
    expect(err.message).toBe('no inputs: give prompt files, -p PROMPT, or - for stdin');
  });

  it.each([[''], ['   ']])('a blank -p %j', async (prompt) => {
    const err = await failure(prepare({ prompts: ['ok', prompt] }));
    expect(err).toBeInstanceOf(UsageError);
    expect(err.message).toBe('-p needs a non-empty prompt');
  });

  it('- given twice, before stdin is touched', async () => {
    const stdin = Readable.from(['x\n']);
    const err = await failure(prepare({ files: ['-', '-'], stdin }));
    expect(err).toBeInstanceOf(UsageError);
    expect(err.message).toContain('only once');
    expect(stdin.readableEnded).toBe(false);
  });
});

describe('bad files', () => {
  it('missing file', async () => {
    const path = join(tmp.dir, 'nope.txt');
    const err = await inputError({ files: [path] });
    expect(err.message).toBe(`${path}: cannot read: no such file`);
    expect(err.where).toBe(path);
  });

  it('a directory', async () => {
    const err = await inputError({ files: [tmp.dir] });
    expect(err.message).toBe(`${tmp.dir}: is a directory, not a file`);
  });

  it.skipIf(process.getuid?.() === 0)('an unreadable file', async () => {
    const path = await tmp.file('secret.txt', 'x\n');
    await chmod(path, 0o000);
    const err = await inputError({ files: [path] });
    expect(err.message).toBe(`${path}: cannot read: permission denied`);
  });

  it('a binary file (NUL byte)', async () => {
    const path = await tmp.file('img.png', Buffer.from([0x50, 0x4e, 0x47, 0x0a, 0x0a, 0x00, 0x01]));
    const err = await inputError({ files: [path] });
    expect(err.message).toBe(`${path}: looks like a binary file (NUL byte at line 3), not text prompts`);
  });

  it('invalid UTF-8', async () => {
    const path = await tmp.file('latin1.txt', Buffer.from('ok\ncaf\xe9\n', 'latin1'));
    const err = await inputError({ files: [path] });
    expect(err.message).toBe(`${path}: looks like a binary file (invalid UTF-8 at line 2), not text prompts`);
  });

  it.each([
    ['empty', ''],
    ['blank-only', '\n  \r\n\t\n'],
  ])('an %s file', async (_, content) => {
    const path = await tmp.file('e.txt', content);
    const err = await inputError({ files: [path] });
    expect(err.message).toBe(`${path}: no prompts in file (it is empty or only blank lines)`);
  });

  it('an empty jsonl file among good ones', async () => {
    const good = await tmp.file('good.txt', 'x\n');
    const empty = await tmp.file('empty.jsonl', '\n');
    const err = await inputError({ files: [good, empty] });
    expect(err.where).toBe(empty);
  });

  it('a line longer than 8 MiB', async () => {
    const path = await tmp.file('long.txt', Buffer.concat([Buffer.from('ok\n'), Buffer.alloc(8 * 1024 * 1024 + 1, 0x61)]));
    const err = await inputError({ files: [path] });
    expect(err.message).toBe(`${path}: line 2 is longer than 8 MiB`);
  });

  it('invalid JSON names file and line, and fails before any item is handed out', async () => {
    const good = await tmp.file('good.txt', 'fine\n');
    const path = await tmp.file('bad.jsonl', '{"prompt":"a"}\n\n{"prompt":"b",}\n');
    const err = await inputError({ files: [good, path] });
    expect(err.message).toMatch(new RegExp(`^${escape(path)}:3: invalid JSON: .+`));
    expect(err.where).toBe(`${path}:3`);
  });

  it('a JSON line that is not an object', async () => {
    const path = await tmp.file('bad.jsonl', '{"prompt":"a"}\n["a"]\n');
    const err = await inputError({ files: [path] });
    expect(err.message).toBe(`${path}:2: expected a JSON object, got an array`);
  });
});

describe('duplicate ids', () => {
  it('across files, naming both places', async () => {
    const a = await tmp.file('a.jsonl', '{"id":"x","prompt":"1"}\n{"id":"y","prompt":"2"}\n{"id":"z","prompt":"3"}\n');
    const b = await tmp.file('b.jsonl', '{"id":"w","prompt":"4"}\n\n{"id":"z","prompt":"5"}\n');
    const err = await inputError({ files: [a, b] });
    expect(err.message).toBe(`${b}:3: duplicate id "z" (first seen at ${a}:3)`);
    expect(err.where).toBe(`${b}:3`);
  });

  it('an explicit id that collides with a position id', async () => {
    const path = await tmp.file('a.jsonl', '{"id":2,"prompt":"a"}\n{"prompt":"b"}\n');
    const err = await inputError({ files: [path] });
    expect(err.message).toBe(`${path}:2: duplicate id "2" (first seen at ${path}:1)`);
  });

  it('between a -p prompt and a file', async () => {
    const path = await tmp.file('a.jsonl', '{"id":"1","prompt":"b"}\n');
    const err = await inputError({ prompts: ['a'], files: [path] });
    expect(err.message).toBe(`${path}:1: duplicate id "1" (first seen at prompt #1)`);
  });

  it('repeated OpenAI custom_id', async () => {
    const line = JSON.stringify({ custom_id: 'r', method: 'POST', url: '/v1/chat/completions', body: {} });
    const path = await tmp.file('batch.jsonl', `${line}\n${line}\n`);
    const err = await inputError({ files: [path] });
    expect(err.message).toBe(`${path}:2: duplicate id "r" (first seen at ${path}:1)`);
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
