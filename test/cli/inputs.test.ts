/**
 * Every input kind through the built CLI: each item lands in the results file once, done, with
 * its id, index and input, and the demo's deterministic text for that input.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import type { ItemInput } from '../../src/core/types.js';
import { FAST, WORKER, demoOutput, paramsOf, processorFixture, readResults, run, type RunResult, tempDirsPerFile } from './run.js';

const newDir = tempDirsPerFile();

async function dir(files: Record<string, string> = {}): Promise<string> {
  const d = await newDir();
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(d, name), text);
  return d;
}

interface Expected {
  readonly id: string;
  readonly index: number;
  readonly input: ItemInput;
}

/** Exit 0, one done line per item with the demo's text, a clean plain summary on stdout. */
function expectAllDone(res: RunResult, outFile: string, expected: readonly Expected[], args: readonly string[]): void {
  expect(res.stderr).toBe('');
  expect(res.code, res.stdout).toBe(0);
  const records = readResults(outFile);
  expect(records).toHaveLength(expected.length);
  const byIndex = [...records].sort((a, b) => a.index - b.index);
  const params = paramsOf(args);
  byIndex.forEach((r, k) => {
    const want = expected[k]!;
    expect(Object.keys(r)).toEqual(['id', 'index', 'input', 'output', 'status', 'error', 'attempts', 'durations', 'worker']);
    expect({ id: r.id, index: r.index, input: r.input }).toEqual(want);
    expect(r.status).toBe('done');
    expect(r.error).toBeNull();
    expect(r.output).toBe(demoOutput(want.input, params));
    expect(r.attempts).toBe(1);
    expect(typeof r.durations.queuedMs).toBe('number');
    expect(typeof r.durations.totalMs).toBe('number');
    expect(typeof r.durations.firstChunkMs).toBe('number');
    expect(r.durations.totalMs).toBeGreaterThanOrEqual(0);
    expect(r.worker).toMatch(WORKER);
  });
  expect(new Set(records.map((r) => r.id)).size).toBe(expected.length);
  // Plain output (stdout is a pipe): a final summary and no escape codes at all.
  expect(res.stdout).not.toContain('\x1b[');
  const n = expected.length;
  expect(res.stdout).toMatch(new RegExp(`^finished: ${n} done, 0 failed of ${n} in `, 'm'));
  expect(res.stdout).toMatch(/^results: .*out\.jsonl$/m);
  expect(res.stdout).not.toMatch(/^resume:/m);
}

describe.concurrent('slowwork submit: input kinds', () => {
  test('.txt: one prompt per line, blank lines skipped, ids are 1-based positions', async () => {
    // A UTF-8 BOM, blank and whitespace-only lines, CRLF, and no newline at the end.
    const cwd = await dir({ 'prompts.txt': '\uFEFFfirst prompt\n\n   \nsecond prompt\r\nthird prompt — ünïcödé 🌍' });
    const args = ['submit', 'prompts.txt', ...FAST, '--out', 'out.jsonl'];
    const res = await run(args, { cwd });
    expectAllDone(res, path.join(cwd, 'out.jsonl'), [
      { id: '1', index: 0, input: 'first prompt' },
      { id: '2', index: 1, input: 'second prompt' },
      { id: '3', index: 2, input: 'third prompt — ünïcödé 🌍' },
    ], args);
  });

  test('.jsonl with {id, prompt}: the id is kept and the prompt is the input', async () => {
    const lines = [{ id: 'alpha', prompt: 'Tell me a joke' }, { id: 7, prompt: 'And another' }, { id: 'gamma', prompt: 'x' }];
    const cwd = await dir({ 'in.jsonl': lines.map((l) => JSON.stringify(l)).join('\n') + '\n\n' });
    const args = ['submit', 'in.jsonl', ...FAST, '--param', 'seed=42', '--out', 'out.jsonl'];
    const res = await run(args, { cwd });
    expectAllDone(res, path.join(cwd, 'out.jsonl'), [
      { id: 'alpha', index: 0, input: 'Tell me a joke' },
      { id: '7', index: 1, input: 'And another' },
      { id: 'gamma', index: 2, input: 'x' },
    ], args);
  });

  test('.jsonl with arbitrary objects: each object is passed whole as the input', async () => {
    const objects = [
      { question: 'why?', n: 1, tags: ['a', 'b'] },
      { id: 'named', text: 'hello', nested: { deep: true } },
      { prompt: 42, other: null },
    ];
    const cwd = await dir({ 'data.ndjson': objects.map((o) => JSON.stringify(o)).join('\n') });
    const args = ['submit', 'data.ndjson', ...FAST, '--out', 'out.jsonl'];
    const res = await run(args, { cwd });
    expectAllDone(res, path.join(cwd, 'out.jsonl'), [
      { id: '1', index: 0, input: objects[0]! },
      { id: 'named', index: 1, input: objects[1]! },
      { id: '3', index: 2, input: objects[2]! },
    ], args);
  });

  test('OpenAI batch-input JSONL: custom_id is the id and body is the input', async () => {
    const req = (id: string, content: string) => ({
      custom_id: id,
      method: 'POST',
      url: '/v1/chat/completions',
      body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content }], max_tokens: 100 },
    });
    const lines = [req('request-1', 'What is 2+2?'), req('request-2', 'Name a colour.')];
    const cwd = await dir({ 'batch.jsonl': lines.map((l) => JSON.stringify(l)).join('\n') + '\n' });
    const args = ['submit', 'batch.jsonl', ...FAST, '--out', 'out.jsonl'];
    const res = await run(args, { cwd });
    expectAllDone(res, path.join(cwd, 'out.jsonl'), [
      { id: 'request-1', index: 0, input: lines[0]!.body },
      { id: 'request-2', index: 1, input: lines[1]!.body },
    ], args);
  });

  test('repeated -p: prompts inline, in order', async () => {
    const cwd = await dir();
    const args = ['submit', '-p', 'Tell me a joke', '-p', 'And another', '--prompt', 'a third, with "quotes"', ...FAST, '-o', 'out.jsonl'];
    const res = await run(args, { cwd });
    expectAllDone(res, path.join(cwd, 'out.jsonl'), [
      { id: '1', index: 0, input: 'Tell me a joke' },
      { id: '2', index: 1, input: 'And another' },
      { id: '3', index: 2, input: 'a third, with "quotes"' },
    ], args);
  });

  test("stdin '-' with text: one prompt per line", async () => {
    const cwd = await dir();
    const args = ['submit', '-', ...FAST, '--out', 'out.jsonl'];
    const res = await run(args, { cwd, input: 'from stdin one\n\nfrom stdin two\n' });
    expectAllDone(res, path.join(cwd, 'out.jsonl'), [
      { id: '1', index: 0, input: 'from stdin one' },
      { id: '2', index: 1, input: 'from stdin two' },
    ], args);
  });

  test("stdin '-' with JSONL: recognised by content", async () => {
    const cwd = await dir();
    const args = ['submit', '-', ...FAST, '--out', 'out.jsonl'];
    const input = '\n{"id":"s1","prompt":"piped one"}\n{"kind":"object","v":2}\n';
    const res = await run(args, { cwd, input });
    expectAllDone(res, path.join(cwd, 'out.jsonl'), [
      { id: 's1', index: 0, input: 'piped one' },
      { id: '2', index: 1, input: { kind: 'object', v: 2 } },
    ], args);
  });

  test('several inputs together: -p first, then files in order, ids and indexes global', async () => {
    const cwd = await dir({
      'a.txt': 'a one\na two\n',
      'b.jsonl': '{"prompt":"b one"}\n{"id":"b-named","prompt":"b two"}\n',
      'c.txt': 'c one\n',
    });
    const args = ['submit', 'a.txt', 'b.jsonl', '-', 'c.txt', '-p', 'inline', ...FAST, '--out', 'out.jsonl'];
    const res = await run(args, { cwd, input: 'stdin one\n' });
    expectAllDone(res, path.join(cwd, 'out.jsonl'), [
      { id: '1', index: 0, input: 'inline' },
      { id: '2', index: 1, input: 'a one' },
      { id: '3', index: 2, input: 'a two' },
      { id: '4', index: 3, input: 'b one' },
      { id: 'b-named', index: 4, input: 'b two' },
      { id: '6', index: 5, input: 'stdin one' },
      { id: '7', index: 6, input: 'c one' },
    ], args);
  });

  test('--format txt reads a .jsonl file as plain lines', async () => {
    const cwd = await dir({ 'lines.jsonl': '{"id":"a","prompt":"x"}\nnot json at all\n' });
    const args = ['submit', 'lines.jsonl', '--format', 'txt', ...FAST, '--out', 'out.jsonl'];
    const res = await run(args, { cwd });
    expectAllDone(res, path.join(cwd, 'out.jsonl'), [
      { id: '1', index: 0, input: '{"id":"a","prompt":"x"}' },
      { id: '2', index: 1, input: 'not json at all' },
    ], args);
  });

  test('a pipeline (--processor demo --processor echo.mjs): each stage gets the previous output', async () => {
    const cwd = await dir();
    const echo = processorFixture('echo.mjs');
    const res = await run(['submit', '-p', 'pipe me', '--processor', 'demo', '--processor', echo, ...FAST, '--out', 'out.jsonl'], { cwd });
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toMatch(/^start {2}job \S+: demo -> echo on /m);
    const records = readResults(path.join(cwd, 'out.jsonl'));
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ id: '1', input: 'pipe me', status: 'done', output: demoOutput('pipe me', paramsOf(FAST)).toUpperCase() });
  });

  test('the default results path is under ./slowwork-results/ and is printed', async () => {
    const cwd = await dir();
    const res = await run(['submit', '-p', 'hello', ...FAST], { cwd });
    expect(res.code).toBe(0);
    const m = /^results: (slowwork-results\/\d{8}-\d{6}-[0-9a-f]+\.jsonl)$/m.exec(res.stdout);
    expect(m, res.stdout).not.toBeNull();
    const records = readResults(path.join(cwd, m![1]!));
    expect(records.map((r) => [r.id, r.status, r.output])).toEqual([['1', 'done', demoOutput('hello', paramsOf(FAST))]]);
  });
});
