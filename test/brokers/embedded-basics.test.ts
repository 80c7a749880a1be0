/**
 * The embedded broker on a real piscina pool: outputs, event order, pipelines, module errors.
 * The thread runs from dist/ (see src/brokers/embedded/broker.ts): build before testing.
 */
import { describe, expect, it } from 'vitest';
import { demoSettings, demoTokens } from '../../src/processors/demo.js';
import { Recorder, builtinUrl, chunkText, fixtureUrl, itemsOf, outcomes, runAll, spec, type EventOf, poolPerTest } from './helpers.js';

const open = poolPerTest();

const demoParams = { first_token_ms: '0', tokens_per_s: '0', length: '5', seed: '7' };

describe('embedded broker: happy path', () => {
  it('an item that keeps its thread busy while it streams gets its real durations, measured on the thread', async () => {
    const b = open([fixtureUrl('busy-chunks')]);
    const { rec } = await runAll(b, ['300'], { concurrency: 1 });
    const done = outcomes(rec).get(0) as EventOf<'item-done'>;
    expect(done.type).toBe('item-done');
    expect(done.output.length).toBeGreaterThan(0);
    // A lower bound holds on any machine, however busy: the item ran for 300 ms at least.
    expect(done.durations.totalMs).toBeGreaterThanOrEqual(300);
    expect(done.durations.firstChunkMs).not.toBeNull();
    expect(done.durations.firstChunkMs!).toBeLessThan(done.durations.totalMs);
  });

  it('runs 50 demo items: each done once, outputs and chunks match the seeded demo text', async () => {
    const b = open([builtinUrl('demo')]);
    expect(b.kind).toBe('embedded');
    expect(b.describe()).toBe('embedded: 2 threads');
    const inputs = Array.from({ length: 50 }, (_, k) => `prompt number ${k}`);
    const { rec, counts, ms } = await runAll(b, inputs, { params: demoParams, concurrency: 8, batchSize: 4 });

    const settings = demoSettings(demoParams);
    const ends = outcomes(rec);
    expect(ends.size).toBe(50);
    expect(rec.count('item-failed')).toBe(0);
    expect(rec.count('item-retry')).toBe(0);
    for (let k = 0; k < 50; k++) {
      const done = ends.get(k) as EventOf<'item-done'>;
      expect(done.type).toBe('item-done');
      const tokens = demoTokens(inputs[k]!, settings);
      expect(tokens).toHaveLength(5);
      expect(done.output).toBe(tokens.join(''));
      expect(done.id).toBe(`item-${k + 1}`);
      expect(done.attempt).toBe(1);
      expect(done.input).toBe(inputs[k]);
      expect(done.worker).toMatch(/^thread-\d+$/);

      // Chunks: concatenated text is the output; `n` counts every token, coalesced or not.
      expect(chunkText(rec, k)).toBe(done.output);
      const chunks = rec.of('chunk').filter((c) => c.index === k);
      expect(chunks.reduce((sum, c) => sum + c.n, 0)).toBe(tokens.length);
      for (const c of chunks) {
        expect(c.n).toBeGreaterThanOrEqual(1);
        expect(c.attempt).toBe(1);
        expect(c.stage).toBeUndefined();
      }

      // Per item: one start, then chunks, then done, in delivery order.
      const mine = rec.forItem(k).map((e) => e.type);
      expect(mine[0]).toBe('item-start');
      expect(mine[mine.length - 1]).toBe('item-done');
      expect(mine.filter((t) => t === 'item-start')).toHaveLength(1);
      expect(mine.slice(1, -1).every((t) => t === 'chunk')).toBe(true);
      const start = rec.of('item-start').find((e) => e.index === k)!;
      expect(start.worker).toBe(done.worker);
      expect(start.attempt).toBe(1);
      expect(start.stage).toBeUndefined();

      // Durations: present, non-negative, consistent.
      const d = done.durations;
      expect(d.queuedMs).toBeGreaterThanOrEqual(0);
      expect(d.totalMs).toBeGreaterThanOrEqual(0);
      expect(d.firstChunkMs).not.toBeNull();
      expect(d.firstChunkMs!).toBeGreaterThanOrEqual(0);
      expect(d.firstChunkMs!).toBeLessThanOrEqual(d.totalMs);
      // In ms, and within the job: queued then run, inside the job's own span (each rounded).
      expect(d.queuedMs + d.totalMs).toBeLessThanOrEqual(ms + 1);
    }

    // The job's last event is job-done with the counts, and nothing follows it.
    const last = rec.events[rec.events.length - 1]!;
    expect(last).toEqual({ type: 'job-done', counts: { total: 50, done: 50, failed: 0, unfinished: 0 } });
    expect(counts).toEqual({ total: 50, done: 50, failed: 0, unfinished: 0 });
    expect(rec.count('job-done')).toBe(1);
    expect(rec.count('job-cancelled')).toBe(0);
    // Both threads took part.
    const workers = new Set(rec.of('item-done').map((e) => e.worker));
    expect(workers.size).toBeGreaterThanOrEqual(1);
    expect(workers.size).toBeLessThanOrEqual(2);
  });

  it('demo durations reflect its first-token latency', async () => {
    const b = open([builtinUrl('demo')]);
    const params = { first_token_ms: '120', tokens_per_s: '0', length: '3', seed: '1' };
    const { rec } = await runAll(b, ['a', 'b', 'c'], { params, concurrency: 3, batchSize: 3 });
    for (const done of rec.of('item-done')) {
      const d = done.durations;
      // Measured on the main thread from message arrivals, so a late 'start' (a busy machine) moves
      // time from firstChunkMs to queuedMs; their sum runs from the add(), before the processor's
      // 120 ms wait began, to the first chunk's arrival, after it ended (each rounded: -1).
      expect(d.queuedMs + d.firstChunkMs!).toBeGreaterThanOrEqual(119);
      expect(d.totalMs).toBeGreaterThanOrEqual(d.firstChunkMs!);
    }
    expect(rec.count('item-done')).toBe(3);
  });

  it('accepts JSON inputs and items added in several calls, across batch windows', async () => {
    const b = open([fixtureUrl('echo')]);
    const rec = new Recorder();
    const run = b.startJob(spec({ concurrency: 4, batchSize: 8, batchWindowMs: 20 }), rec.listener);
    await run.add(itemsOf(['one two', { a: 1 }]));
    await rec.until(() => rec.count('item-done') === 2, 'first two items (held by the window, then cut)');
    await run.add(itemsOf([[1, 2], 'three four five'], 2));
    run.end();
    await expect(run.add(itemsOf(['late'], 4))).rejects.toThrow(/after end/);
    const counts = await run.finished;
    expect(counts).toEqual({ total: 4, done: 4, failed: 0, unfinished: 0 });
    const ends = outcomes(rec);
    expect((ends.get(0) as EventOf<'item-done'>).output).toBe('ONE TWO');
    expect((ends.get(1) as EventOf<'item-done'>).output).toBe('{"A":1}');
    expect((ends.get(2) as EventOf<'item-done'>).output).toBe('[1,2]');
    expect((ends.get(3) as EventOf<'item-done'>).output).toBe('THREE FOUR FIVE');
  });

  it('an empty job ends at once with job-done', async () => {
    const b = open([fixtureUrl('noop')]);
    const { rec, counts } = await runAll(b, []);
    expect(counts).toEqual({ total: 0, done: 0, failed: 0, unfinished: 0 });
    expect(rec.events).toEqual([{ type: 'job-done', counts }]);
  });

  it('runs several jobs on one broker at once, each with its own events', async () => {
    const b = open([fixtureUrl('echo')]);
    const [x, y] = await Promise.all([
      runAll(b, Array.from({ length: 30 }, (_, k) => `x ${k}`), { jobId: 'x', concurrency: 4 }),
      runAll(b, Array.from({ length: 30 }, (_, k) => `y ${k}`), { jobId: 'y', concurrency: 4 }),
    ]);
    for (const [r, p] of [[x, 'X'], [y, 'Y']] as const) {
      expect(r.counts.done).toBe(30);
      for (const done of r.rec.of('item-done')) expect(done.output).toBe(`${p} ${done.index}`);
    }
  });
});

describe('embedded broker: pipelines', () => {
  it('[echo, echo]: the second stage runs on the first one\'s output; stage-1 starts carry stage 1', async () => {
    const b = open([fixtureUrl('echo'), fixtureUrl('echo')]);
    const inputs = ['hello there world', 'a b', 'x'];
    const { rec, counts } = await runAll(b, inputs, { concurrency: 4 });
    expect(counts.done).toBe(3);
    for (let k = 0; k < inputs.length; k++) {
      const done = outcomes(rec).get(k) as EventOf<'item-done'>;
      expect(done.output).toBe(inputs[k]!.toUpperCase());
      const starts = rec.of('item-start').filter((e) => e.index === k);
      expect(starts.map((s) => s.stage ?? 0)).toEqual([0, 1]);
      expect(starts[0]!.stage).toBeUndefined();
      expect(starts[1]!.stage).toBe(1);
      expect(chunkText(rec, k, 1, 0)).toBe(inputs[k]!.toUpperCase());
      expect(chunkText(rec, k, 1, 1)).toBe(inputs[k]!.toUpperCase());
      for (const c of rec.of('chunk').filter((e) => e.index === k && (e.stage ?? 0) === 1)) expect(c.stage).toBe(1);
    }
  });

  it('[demo, echo]: the final output is the demo text upper-cased word by word', async () => {
    const b = open([builtinUrl('demo'), fixtureUrl('echo')]);
    const inputs = Array.from({ length: 12 }, (_, k) => `pipeline prompt ${k}`);
    const { rec, counts } = await runAll(b, inputs, { params: demoParams, concurrency: 6, batchSize: 3 });
    expect(counts).toEqual({ total: 12, done: 12, failed: 0, unfinished: 0 });
    const settings = demoSettings(demoParams);
    for (let k = 0; k < inputs.length; k++) {
      const demoText = demoTokens(inputs[k]!, settings).join('');
      const done = outcomes(rec).get(k) as EventOf<'item-done'>;
      expect(done.output).toBe(demoText.toUpperCase());
      expect(chunkText(rec, k, 1, 0)).toBe(demoText);
      expect(chunkText(rec, k, 1, 1)).toBe(demoText.toUpperCase());
      // Order: stage 0 start, its chunks, stage 1 start, its chunks, done.
      const seq = rec.forItem(k).map((e) => `${e.type}:${e.type === 'item-start' || e.type === 'chunk' ? (e.stage ?? 0) : '-'}`);
      const firstStage1 = seq.indexOf('item-start:1');
      expect(seq[0]).toBe('item-start:0');
      expect(firstStage1).toBeGreaterThan(1);
      expect(seq.slice(1, firstStage1).every((s) => s === 'chunk:0')).toBe(true);
      expect(seq.slice(firstStage1 + 1, -1).every((s) => s === 'chunk:1')).toBe(true);
      expect(seq[seq.length - 1]).toBe('item-done:-');
    }
  });
});

describe('embedded broker: processor modules that cannot be used', () => {
  it('a module that exports no processor fails its items with a clear message', async () => {
    const b = open([fixtureUrl('not-a-processor')]);
    const { rec, counts } = await runAll(b, ['a', 'b', 'c'], { retries: 0, concurrency: 4 });
    expect(counts).toEqual({ total: 3, done: 0, failed: 3, unfinished: 0 });
    for (const f of rec.of('item-failed')) {
      expect(f.error).toMatch(/not-a-processor\.mjs must export default \{ name: string, process\(input, ctx\) \}/);
      expect(f.attempts).toBe(1);
    }
  });

  it('a module that throws on import fails its items with the import error', async () => {
    const b = open([fixtureUrl('throws-on-import')]);
    const { rec, counts } = await runAll(b, ['a', 'b'], { retries: 0 });
    expect(counts.failed).toBe(2);
    for (const f of rec.of('item-failed')) expect(f.error).toMatch(/cannot load processor .*throws-on-import\.mjs: this module refuses to load/);
  });

  it('a processor whose init throws fails its items with the init error; retries are charged', async () => {
    const b = open([fixtureUrl('init-throws')]);
    const { rec, counts } = await runAll(b, ['a'], { retries: 1 });
    expect(counts.failed).toBe(1);
    const f = rec.of('item-failed')[0]!;
    expect(f.error).toBe('init failed: no model here');
    expect(f.attempts).toBe(2);
    expect(rec.of('item-retry')).toMatchObject([{ index: 0, charged: true, attempt: 1 }]);
  });

  it('the pool still works after such failures', async () => {
    const b = open([fixtureUrl('not-a-processor')]);
    await runAll(b, ['a']);
    const b2 = open([fixtureUrl('noop')]);
    const { counts } = await runAll(b2, ['a', 'b']);
    await b.close();
    expect(counts.done).toBe(2);
  });
});
