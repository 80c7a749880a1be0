/**
 * Crash simulation: a separate node process writes through the real writer and is killed with
 * SIGKILL. A plain node child cannot import the TypeScript sources, so the test transpiles
 * src/core and src/results (no bundling, same relative layout) into a temp dir first.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResultRecord } from '../../src/core/types.js';
import { Ledger } from '../../src/results/ledger.js';
import { ResultsWriter } from '../../src/results/writer.js';
import { readLines, record, tempDir } from './helpers.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
let dir: string;
let child: string;

const CHILD = `
import { ResultsWriter } from './results/writer.js';
const [out, mode] = process.argv.slice(2);
const rec = (i) => ({
  id: String(i + 1), index: i, input: 'prompt ' + (i + 1), output: 'output '.repeat(20) + i,
  status: 'done', error: null, attempts: 1,
  durations: { queuedMs: 1, firstChunkMs: 2, totalMs: 3 }, worker: 'thread-1',
});
const w = ResultsWriter.open(out, { append: false });
if (mode === 'exit-without-close') {
  // Write one record and let the event loop run dry: the flush must still happen, and the
  // checkpoint timer must not hold the process (Node lists only ref'd timers as 'Timeout').
  w.write(rec(0));
  await new Promise((resolve) => setImmediate(resolve));
  process.stdout.write(String(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length));
} else {
  // Finish 50 items per tick forever; report what the writer has handed to the OS.
  let i = 0;
  for (;;) {
    for (let k = 0; k < 50; k++) w.write(rec(i++));
    await new Promise((resolve) => setImmediate(resolve));
    process.stdout.write(w.written + '\\n');
  }
}
`;

beforeAll(async () => {
  dir = await tempDir();
  const build = path.join(dir, 'build');
  for (const sub of ['core', 'results']) {
    await fsp.mkdir(path.join(build, sub), { recursive: true });
    for (const name of await fsp.readdir(path.join(root, 'src', sub))) {
      if (!name.endsWith('.ts')) continue;
      const source = await fsp.readFile(path.join(root, 'src', sub, name), 'utf8');
      const { outputText } = ts.transpileModule(source, {
        compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
      });
      await fsp.writeFile(path.join(build, sub, name.replace(/\.ts$/, '.js')), outputText);
    }
  }
  await fsp.writeFile(path.join(build, 'package.json'), '{"type":"module"}');
  child = path.join(build, 'child.mjs');
  await fsp.writeFile(child, CHILD);
});

afterAll(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

describe('kill -9', () => {
  it('loses nothing the writer had flushed, and a resume repairs and continues the file', async () => {
    const out = path.join(dir, 'crash', 'out.jsonl');
    const proc = spawn(process.execPath, [child, out, 'loop'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let reported = 0;
    let buffered = '';
    const exited = new Promise<NodeJS.Signals | null>((resolve) => proc.on('exit', (_code, sig) => resolve(sig)));
    await new Promise<void>((resolve) => {
      proc.stdout.on('data', (data: Buffer) => {
        buffered += data.toString();
        const parts = buffered.split('\n');
        buffered = parts.pop() ?? '';
        for (const p of parts) reported = Math.max(reported, Number(p));
        if (reported >= 1000 && !proc.killed) {
          proc.kill('SIGKILL');
          resolve();
        }
      });
    });
    expect(await exited).toBe('SIGKILL');

    // Every complete line parses, in order, and everything reported as written is there.
    const { lines, tail } = await readLines(out);
    expect(lines.length).toBeGreaterThanOrEqual(reported);
    lines.forEach((l, i) => expect((JSON.parse(l) as ResultRecord).index).toBe(i));

    const ledger = await Ledger.load(out);
    expect(ledger.size).toBe(lines.length);
    expect(ledger.skippedLines).toBe(tail === '' ? 0 : 1);

    // Resume: append repairs a partial tail (if the kill hit mid-write) and adds the rest.
    const w = ResultsWriter.open(out, { append: true });
    expect(w.repairedBytes).toBe(Buffer.byteLength(tail));
    const total = lines.length + 100;
    for (let i = 0; i < total; i++) {
      const input = `prompt ${i + 1}`;
      if (!ledger.isFinished({ id: String(i + 1), index: i, input }, { retryFailed: false })) {
        w.write(record(i, { input }));
      }
    }
    w.close();
    expect(w.written).toBe(100);
    const after = await Ledger.load(out);
    expect(after.size).toBe(total);
    expect(after.skippedLines).toBe(0);
    expect((await readLines(out)).tail).toBe('');
  });

  it('a process that ends without close() still flushes, and the checkpoint timer does not hold it', () => {
    const out = path.join(dir, 'noclose', 'out.jsonl');
    const r = spawnSync(process.execPath, [child, out, 'exit-without-close'], { encoding: 'utf8', timeout: 10_000 });
    expect(r.status).toBe(0);
    expect(fs.readFileSync(out, 'utf8').split('\n')).toHaveLength(2);
    // No timer holds the process once the record is written (a ref'd checkpoint timer would).
    expect(r.stdout).toBe('0');
  });
});
