/**
 * `--json` (NDJSON events for scripts), `--help` / `--version`, and a large input through the
 * whole path (20k items, noop processor, concurrency 64).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import type { ResultRecord } from '../../src/core/types.js';
import { REPO, demoOutput, paramsOf, processorFixture, readResults, run, tempDirsPerFile } from './run.js';

const dir = tempDirsPerFile();

type Ev = { type: string; index?: number; id?: string; text?: string; attempt?: number; [k: string]: unknown };

function parseNdjson(stdout: string): Ev[] {
  expect(stdout.endsWith('\n')).toBe(true);
  return stdout
    .slice(0, -1)
    .split('\n')
    .map((line, k) => {
      try {
        return JSON.parse(line) as Ev;
      } catch {
        throw new Error(`stdout line ${k + 1} is not JSON: ${line}`);
      }
    });
}

describe.concurrent('slowwork submit --json', () => {
  test('every stdout line is a JSON event; start, chunk and done for each item; a summary last', async () => {
    const cwd = await dir();
    const inputs = ['json one', 'json two', 'json three'];
    const args = ['submit', ...inputs.flatMap((p) => ['-p', p]), '--param', 'first_token_ms=0', '--param', 'tokens_per_s=500', '--json', '--out', 'out.jsonl'];
    const res = await run(args, { cwd });
    expect(res.code, res.stderr).toBe(0);
    expect(res.stderr).toBe('');
    expect(res.stdout).not.toContain('\x1b[');
    const events = parseNdjson(res.stdout);
    const params = paramsOf(args);

    for (const [index, input] of inputs.entries()) {
      const mine = events.filter((e) => e.index === index);
      const types = mine.map((e) => e.type);
      expect(types[0], JSON.stringify(mine)).toBe('item-start');
      expect(types).toContain('chunk');
      expect(types.at(-1)).toBe('item-done');
      const start = mine[0]!;
      expect(start).toMatchObject({ id: String(index + 1), attempt: 1 });
      expect(start.worker).toMatch(/^thread-\d+$/);
      // The chunks, in order, are the whole answer.
      const text = mine.filter((e) => e.type === 'chunk').map((e) => e.text).join('');
      expect(text).toBe(demoOutput(input, params));
      expect(mine.at(-1)).toMatchObject({ type: 'item-done', id: String(index + 1), output: demoOutput(input, params) });
    }

    const last = events.at(-1)!;
    expect(last.type).toBe('summary');
    expect(last.counts).toEqual({ total: 3, done: 3, failed: 0, unfinished: 0 });
    expect(last.outPath).toBe('out.jsonl');
    expect(last.interrupted).toBe(false);
    expect(events.filter((e) => e.type === 'summary')).toHaveLength(1);

    // The results file is written as usual.
    const records = readResults(path.join(cwd, 'out.jsonl'));
    expect(records.map((r) => r.id).sort()).toEqual(['1', '2', '3']);
    for (const r of records) expect(r.output).toBe(demoOutput(inputs[r.index]!, params));
  });

  test('--json with a failing item: item-retry and item-failed events, summary counts, exit 1', async () => {
    const cwd = await dir();
    const res = await run(
      ['submit', '-p', 'good', '-p', 'throw', '--processor', processorFixture('faulty.mjs'), '--retries', '1', '--json', '--out', 'out.jsonl'],
      { cwd },
    );
    expect(res.code, res.stderr).toBe(1);
    const events = parseNdjson(res.stdout);
    expect(events.some((e) => e.type === 'item-retry' && e.index === 1 && e.attempt === 1)).toBe(true);
    const failed = events.find((e) => e.type === 'item-failed');
    expect(failed).toMatchObject({ index: 1, id: '2', attempts: 2, error: 'boom: processor failed on purpose' });
    expect(events.at(-1)).toMatchObject({ type: 'summary', counts: { total: 2, done: 1, failed: 1, unfinished: 0 } });
    expect(readResults(path.join(cwd, 'out.jsonl'))).toHaveLength(2);
  });
});

describe.concurrent('slowwork --help and --version', () => {
  const { version } = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string };

  test('--version prints the package version, exit 0', async () => {
    const cwd = await dir();
    for (const flag of ['--version', '-V']) {
      const res = await run([flag], { cwd });
      expect(res.code, res.stderr).toBe(0);
      expect(res.stdout.trim()).toBe(version);
    }
  });

  test('--help lists the commands, exit 0', async () => {
    const cwd = await dir();
    const res = await run(['--help'], { cwd });
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toMatch(/Usage: slowwork/);
    expect(res.stdout).toMatch(/submit/);
  });

  test('submit --help lists its options, exit 0, and runs nothing', async () => {
    const cwd = await dir();
    const res = await run(['submit', '--help'], { cwd });
    expect(res.code, res.stderr).toBe(0);
    for (const opt of ['--processor', '--param', '--concurrency', '--retries', '--timeout', '--out', '--resume', '--retry-failed', '--no-tui', '--json']) {
      expect(res.stdout).toContain(opt);
    }
    expect(res.stdout).not.toMatch(/^start /m);
  });

  test('--help of every command: every built-in processor named, defaults as a user types them (16, not "16")', async () => {
    const cwd = await dir();
    const submit = await run(['submit', '--help'], { cwd });
    expect(submit.stdout.replace(/\s+/g, ' ')).toContain('a built-in (demo, openai) or a module path');
    expect(submit.stdout).toMatch(/\(default:\s+16\)/);
    for (const args of [['submit'], ['workers'], ['serve'], ['jobs'], ['watch', 'dashboard'], ['processor', 'serve']]) {
      const res = await run([...args, '--help'], { cwd });
      expect(res.code, res.stderr).toBe(0);
      expect(res.stdout, args.join(' ')).not.toMatch(/\(default:\s+"/);
    }
  });
});

describe('a large input', () => {
  // Speeds are `make bench`'s (no-op items/s: bench/dispatch.mjs; the CLI end to end: bench/slow-cli.mjs).
  test('20k prompts with the noop processor at concurrency 64: all done, distinct ids', async () => {
    const cwd = await dir();
    const n = 20_000;
    const text = Array.from({ length: n }, (_, k) => `prompt ${k + 1}`).join('\n') + '\n';
    writeFileSync(path.join(cwd, 'big.txt'), text);
    const res = await run(['submit', 'big.txt', '--processor', processorFixture('noop.mjs'), '--concurrency', '64', '--out', 'out.jsonl'], {
      cwd,
      timeoutMs: 25_000,
    });
    expect(res.code, res.stderr).toBe(0);
    expect(res.stderr).toBe('');
    const records: ResultRecord[] = readResults(path.join(cwd, 'out.jsonl'));
    expect(records).toHaveLength(n);
    const ids = new Set<string>();
    const indexes = new Set<number>();
    for (const r of records) {
      ids.add(r.id);
      indexes.add(r.index);
      if (r.status !== 'done' || r.output !== 'ok' || r.input !== `prompt ${r.index + 1}` || r.id !== String(r.index + 1)) {
        throw new Error(`unexpected record: ${JSON.stringify(r)}`);
      }
    }
    expect(ids.size).toBe(n);
    expect(indexes.size).toBe(n);
    expect(res.stdout).toMatch(/^finished: 20,?000 done, 0 failed of 20,?000 in /m);
  });
});
