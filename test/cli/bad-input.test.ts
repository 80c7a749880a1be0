/**
 * Every usage or input mistake: exit 2, one line on stderr that starts with `slowwork: ` and
 * names what is wrong (file and line when there is one), no stack trace, nothing on stdout, and
 * no results file.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { FAST, processorFixture, run, tempDirsPerFile } from './run.js';

const newDir = tempDirsPerFile();

type Setup = Record<string, string | Buffer | null>; // null: a directory

interface Case {
  readonly name: string;
  readonly files?: Setup;
  readonly args: readonly string[];
  /** Each must match the one stderr line. */
  readonly message: readonly (RegExp | string)[];
  readonly stdin?: string;
}

const GOOD = 'a good prompt\nanother good prompt\n';

const cases: Case[] = [
  { name: 'missing file', args: ['missing.txt'], message: ['missing.txt', /no such file/] },
  { name: 'a directory', files: { somedir: null }, args: ['somedir'], message: ['somedir', /directory/] },
  { name: 'empty file', files: { 'empty.txt': '' }, args: ['empty.txt'], message: ['empty.txt', /empty/] },
  { name: 'blank-only file', files: { 'blank.txt': '\n   \n\t\n\n' }, args: ['blank.txt'], message: ['blank.txt', /blank|empty/] },
  {
    name: 'binary file (NUL bytes)',
    files: { 'image.txt': Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48]) },
    args: ['image.txt'],
    message: ['image.txt', /binary/],
  },
  {
    name: 'invalid UTF-8 (no NUL)',
    files: { 'latin1.txt': Buffer.concat([Buffer.from('fine\nalso fine\ncaf'), Buffer.from([0xe9, 0x20, 0xff]), Buffer.from('\n')]) },
    args: ['latin1.txt'],
    message: ['latin1.txt', /UTF-8/, /line 3/],
  },
  {
    name: 'invalid JSON line in .jsonl',
    files: { 'in.jsonl': '{"id":"a","prompt":"x"}\n\n{"id":"b","prompt":"y"}\n{"id": "c", prompt: nope}\n' },
    args: ['in.jsonl'],
    message: ['in.jsonl:4', /JSON/],
  },
  {
    name: 'non-object JSON line in .jsonl',
    files: { 'in.jsonl': '{"prompt":"x"}\n"just a string"\n' },
    args: ['in.jsonl'],
    message: ['in.jsonl:2', /object/],
  },
  {
    name: 'duplicate ids in one file',
    files: { 'in.jsonl': '{"id":"x","prompt":"1"}\n{"id":"y","prompt":"2"}\n{"id":"x","prompt":"3"}\n' },
    args: ['in.jsonl'],
    message: ['in.jsonl:3', /duplicate id "x"/, 'in.jsonl:1'],
  },
  {
    name: 'duplicate ids across inputs (a named id equal to a position id)',
    files: { 'a.txt': 'one\ntwo\n', 'b.jsonl': '{"id":"2","prompt":"clash"}\n' },
    args: ['a.txt', 'b.jsonl'],
    message: ['b.jsonl:1', /duplicate id "2"/, 'a.txt:2'],
  },
  { name: 'no inputs at all', args: [], message: [/no inputs/] },
  { name: 'empty -p', args: ['-p', ''], message: [/-p/] },
  { name: 'empty stdin', args: ['-'], stdin: '', message: [/stdin/] },
  { name: 'unknown processor name', files: { 'p.txt': GOOD }, args: ['p.txt', '--processor', 'nope'], message: [/nope/] },
  {
    name: 'processor path that does not exist',
    files: { 'p.txt': GOOD },
    args: ['p.txt', '--processor', './procs/missing.mjs'],
    message: ['missing.mjs', /not found/],
  },
  {
    name: 'a module that is not a processor',
    files: { 'p.txt': GOOD },
    args: ['p.txt', '--processor', processorFixture('not-a-processor.mjs')],
    message: ['not-a-processor.mjs'],
  },
  {
    name: 'a processor module that throws on import',
    files: { 'p.txt': GOOD },
    args: ['p.txt', '--processor', processorFixture('throws-on-import.mjs')],
    message: ['throws-on-import.mjs', /refuses to load/],
  },
  {
    name: 'a processor module that calls process.exit on import',
    files: { 'p.txt': GOOD },
    args: ['p.txt', '--processor', processorFixture('exits-on-import.mjs')],
    message: ['exits-on-import.mjs', /called process\.exit\(3\) while loading/],
  },
  {
    name: 'bad --param for demo',
    files: { 'p.txt': GOOD },
    args: ['p.txt', '--param', 'tokens_per_s=abc'],
    // The processor named once, not `processor demo: demo: --param …`.
    message: [/^slowwork: processor demo: --param tokens_per_s=abc must be a number/],
  },
  { name: 'a mistyped --param of demo (lenght)', files: { 'p.txt': GOOD }, args: ['p.txt', '--param', 'lenght=3'], message: [/unknown param lenght: did you mean length\?/] },
  {
    name: 'a --param no processor of the pipeline declares',
    files: { 'p.txt': GOOD },
    args: ['p.txt', '--processor', 'demo', '--processor', 'openai', '--param', 'base_url=http://127.0.0.1:9/v1', '--param', 'model=m', '--param', 'colour=red'],
    message: [/unknown param colour \(demo, openai take tokens_per_s, .*max_tokens/],
  },
  {
    name: 'a processor module with a syntax error',
    files: { 'p.txt': GOOD, 'broken.mjs': 'export default {\n  name: "broken",\n  process(input) { return [input +; ] },\n};\n' },
    args: ['p.txt', '--processor', './broken.mjs'],
    message: [/^slowwork: syntax error in processor \/.*\/broken\.mjs:3:35: Unexpected token ';'$/],
  },
  {
    name: 'a processor whose params declaration is malformed',
    files: { 'p.txt': GOOD, 'decl.mjs': 'export default { name: "decl", params: { "bad key": { description: "x" } }, process: (i) => [i] };\n' },
    args: ['p.txt', '--processor', './decl.mjs'],
    message: [/^slowwork: processor decl: params: "bad key" is not a param name/],
  },
  { name: '--concurrency 0', files: { 'p.txt': GOOD }, args: ['p.txt', '--concurrency', '0'], message: [/--concurrency/] },
  { name: '--concurrency abc', files: { 'p.txt': GOOD }, args: ['p.txt', '--concurrency', 'abc'], message: [/--concurrency/, /abc/] },
  { name: '--timeout -1', files: { 'p.txt': GOOD }, args: ['p.txt', '--timeout', '-1'], message: [/--timeout/] },
  { name: '--format xml', files: { 'p.txt': GOOD }, args: ['p.txt', '--format', 'xml'], message: [/--format/, /xml/] },
  { name: 'unknown flag', files: { 'p.txt': GOOD }, args: ['p.txt', '--bogus'], message: [/--bogus/] },
  { name: 'flag value missing', files: { 'p.txt': GOOD }, args: ['p.txt', '--concurrency'], message: [/--concurrency/] },
  {
    name: '--out naming a directory',
    files: { 'p.txt': GOOD, results: null },
    args: ['p.txt', '--out', 'results'],
    message: ['results', /directory/],
  },
  {
    name: '--out under a regular file',
    files: { 'p.txt': GOOD },
    args: ['p.txt', '--out', 'p.txt/out.jsonl'],
    message: ['p.txt/out.jsonl'],
  },
  { name: '--resume without --out', files: { 'p.txt': GOOD }, args: ['p.txt', '--resume'], message: [/--resume/, /--out/] },
  {
    name: '--retry-failed without --resume',
    files: { 'p.txt': GOOD },
    args: ['p.txt', '--retry-failed'],
    message: [/--retry-failed/, /--resume/],
  },
];

async function setup(files: Setup = {}): Promise<string> {
  const cwd = await newDir();
  for (const [name, content] of Object.entries(files)) {
    if (content === null) mkdirSync(path.join(cwd, name));
    else writeFileSync(path.join(cwd, name), content);
  }
  return cwd;
}

function expectOneErrorLine(stderr: string, message: readonly (RegExp | string)[]): void {
  expect(stderr).not.toContain('    at ');
  expect(stderr.endsWith('\n'), JSON.stringify(stderr)).toBe(true);
  const lines = stderr.slice(0, -1).split('\n');
  expect(lines, stderr).toHaveLength(1);
  const line = lines[0]!;
  expect(line.startsWith('slowwork: '), line).toBe(true);
  for (const m of message) {
    if (typeof m === 'string') expect(line).toContain(m);
    else expect(line).toMatch(m);
  }
}

describe.concurrent('slowwork submit: bad input exits 2 with one line', () => {
  test.for(cases)('$name', async (c) => {
    const cwd = await setup(c.files);
    const outArgs = c.name === '--resume without --out' ? [] : ['--out', 'out.jsonl'];
    // The case's own args last: a flag missing its value must really be the last word.
    const res = await run(['submit', ...FAST, ...outArgs, ...c.args], { cwd, input: c.stdin });
    expect(res.code, `stdout:\n${res.stdout}\nstderr:\n${res.stderr}`).toBe(2);
    expectOneErrorLine(res.stderr, c.message);
    expect(res.stdout).toBe('');
    expect(existsSync(path.join(cwd, 'out.jsonl'))).toBe(false);
    expect(existsSync(path.join(cwd, 'slowwork-results'))).toBe(false);
  });

  test('--out naming an existing non-empty file without --resume: refused, file untouched', async () => {
    const before = '{"id":"1","status":"done"}\nsomething the user cares about\n';
    const cwd = await setup({ 'p.txt': GOOD, 'old.jsonl': before });
    const res = await run(['submit', 'p.txt', ...FAST, '--out', 'old.jsonl'], { cwd });
    expect(res.code, res.stderr).toBe(2);
    expectOneErrorLine(res.stderr, ['old.jsonl', /--resume/]);
    expect(res.stdout).toBe('');
    expect(readFileSync(path.join(cwd, 'old.jsonl'), 'utf8')).toBe(before);
  });

  test('an existing but empty --out file is fine without --resume', async () => {
    const cwd = await setup({ 'p.txt': GOOD, 'empty.jsonl': '' });
    const res = await run(['submit', 'p.txt', ...FAST, '--out', 'empty.jsonl'], { cwd });
    expect(res.code, res.stderr).toBe(0);
    expect(readFileSync(path.join(cwd, 'empty.jsonl'), 'utf8').trim().split('\n')).toHaveLength(2);
  });
});
