/** The item runner in-process (no threads): messages, timeouts, aborts, pipelines, probes. */
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { Chunks, ProcessContext, Processor } from '../../src/processors/contract.js';
import { AbortedByUser, ItemControl, PipelineCache, itemScope, runBatch } from '../../src/runtime/item-runner.js';
import { Outbox } from '../../src/runtime/outbox.js';
import { PROBE_BUSY, PROBE_CALLS, newProbe, type BatchItem, type ThreadMessage } from '../../src/runtime/protocol.js';
import { resolveProcessorRef } from '../../src/processors/registry.js';

const fixture = (name: string) => resolveProcessorRef(fileURLToPath(new URL(`../fixtures/processors/${name}.mjs`, import.meta.url)));

interface Ran {
  messages: ThreadMessage[];
  controls: Map<number, ItemControl>;
}

async function run(
  pipeline: Processor[],
  inputs: unknown[],
  opts: { timeoutMs?: number; maxOutputChars?: number; probe?: Int32Array; params?: Record<string, string>; scoped?: boolean; onStart?: (controls: Map<number, ItemControl>) => void } = {},
): Promise<Ran> {
  const messages: ThreadMessage[] = [];
  // Outcome messages (start, chunks and result of one tick) are read as the three they stand for.
  const outbox = new Outbox((m) => messages.push(...m.flatMap(unfold)));
  const items: BatchItem[] = inputs.map((input, k) => ({ i: k, id: `id-${k}`, a: 1, input: input as BatchItem['input'] }));
  const controls = new Map<number, ItemControl>();
  const done = runBatch({ batchId: 9, params: opts.params ?? {}, timeoutMs: opts.timeoutMs ?? 0, maxOutputChars: opts.maxOutputChars ?? 0, items, outbox, probe: opts.probe, scoped: opts.scoped }, pipeline, controls);
  opts.onStart?.(controls);
  await done;
  outbox.flush();
  return { messages, controls };
}

function unfold(m: ThreadMessage): ThreadMessage[] {
  if (m.t !== 'outcome') return [{ ...m }];
  const start: ThreadMessage = { t: 'start', i: m.i, a: m.a, s: 0 };
  const done: ThreadMessage = { t: 'done', i: m.i, a: m.a, out: m.out, ...(m.meta ? { meta: m.meta } : {}) };
  return m.n > 0 ? [start, { t: 'chunk', i: m.i, a: m.a, s: 0, text: m.text, n: m.n }, done] : [start, done];
}

const finals = (messages: ThreadMessage[]) =>
  Object.fromEntries(
    messages
      .filter((m): m is Extract<ThreadMessage, { t: 'done' | 'error' }> => m.t === 'done' || m.t === 'error')
      .map((m) => [m.i, m.t === 'done' ? { out: m.out } : { err: m.err, aborted: m.aborted }]),
  );

const proc = (process: Processor['process'], extra: Partial<Processor> = {}): Processor => ({ name: 'test', process, ...extra });

describe('runBatch', () => {
  it('runs every item: start, chunks, done; async and sync iterables; non-string chunks become text', async () => {
    const p = proc((input) => {
      if (input === 'sync') return ['a', 'b'];
      if (input === 'bytes') return [new TextEncoder().encode('by'), new TextEncoder().encode('tes')] as unknown as Chunks;
      if (input === 'mixed') return [1, null, '', undefined, 'x', true] as unknown as Chunks;
      return (async function* () {
        yield 'as';
        await sleep(1);
        yield 'ync';
      })();
    });
    const { messages } = await run([p], ['sync', 'bytes', 'mixed', 'async']);
    expect(finals(messages)).toEqual({ 0: { out: 'ab' }, 1: { out: 'bytes' }, 2: { out: '1xtrue' }, 3: { out: 'async' } });
    for (let i = 0; i < 4; i++) {
      const mine = messages.filter((m) => 'i' in m && m.i === i);
      expect(mine[0]).toEqual({ t: 'start', i, a: 1, s: 0 });
      expect(mine[mine.length - 1]!.t).toBe('done');
    }
    // Empty pieces are not chunks.
    const mixed = messages.filter((m) => m.t === 'chunk' && m.i === 2);
    expect(mixed.reduce((n, m) => n + (m.t === 'chunk' ? m.n : 0), 0)).toBe(3);
  });

  it('a process() that returns a promise of chunks works', async () => {
    const p = proc(async (input) => {
      await sleep(1);
      return [`got ${String(input)}`];
    });
    expect(finals((await run([p], ['a'])).messages)).toEqual({ 0: { out: 'got a' } });
  });

  it('a throwing processor fails only its own item, with a one-line message', async () => {
    const p = proc(async function* (input) {
      if (input === 'bad') throw new Error('it broke\nstack line');
      yield 'fine';
    });
    expect(finals((await run([p], ['ok', 'bad', 'ok'])).messages)).toEqual({
      0: { out: 'fine' },
      1: { err: 'it broke', aborted: false },
      2: { out: 'fine' },
    });
  });

  it('a process() that throws synchronously fails its item', async () => {
    const p = proc(() => {
      throw new TypeError('sync throw');
    });
    expect(finals((await run([p], ['x'])).messages)).toEqual({ 0: { err: 'sync throw', aborted: false } });
  });

  it('times out an item that honours its signal, and one that ignores it', async () => {
    let sawAbort = false;
    const p = proc(async function* (input, ctx) {
      if (input === 'polite') {
        try {
          await sleep(10_000, undefined, { signal: ctx.signal });
        } catch (err) {
          sawAbort = ctx.signal.aborted;
          throw err;
        }
      }
      if (input === 'deaf') await new Promise(() => {});
      yield 'quick';
    });
    // Not waited out: the polite one would answer 'quick' after 10 s, the deaf one never (the
    // test's time limit catches that).
    const { messages } = await run([p], ['polite', 'deaf', 'fast'], { timeoutMs: 80 });
    expect(finals(messages)).toEqual({
      0: { err: 'timed out after 80 ms', aborted: false },
      1: { err: 'timed out after 80 ms', aborted: false },
      2: { out: 'quick' },
    });
    expect(sawAbort).toBe(true);
  });

  it('a never-settling process() promise is cut by the timeout too', async () => {
    const p = proc(() => new Promise<Chunks>(() => {}));
    expect(finals((await run([p], ['x'], { timeoutMs: 50 })).messages)).toEqual({ 0: { err: 'timed out after 50 ms', aborted: false } });
  });

  it('the timeout covers a slow stream between chunks and keeps what came before out of the output', async () => {
    const p = proc(async function* () {
      yield 'first ';
      await sleep(10_000);
      yield 'never';
    });
    const { messages } = await run([p], ['x'], { timeoutMs: 60 });
    expect(finals(messages)).toEqual({ 0: { err: 'timed out after 60 ms', aborted: false } });
    expect(messages.some((m) => m.t === 'chunk' && m.text === 'first ')).toBe(true);
  });

  it('an abort by the user marks the error as aborted (not the item\'s fault) and ends the stream', async () => {
    let returned = false;
    const p = proc(async function* (input, ctx) {
      if (input === 'y') {
        yield 'untouched';
        return;
      }
      try {
        yield 'a';
        await sleep(10_000, undefined, { signal: ctx.signal });
        yield 'b';
      } finally {
        returned = true;
      }
    });
    const { messages } = await run([p], ['x', 'y'], {
      onStart: (controls) => setTimeout(() => controls.get(0)!.abort(new AbortedByUser('user pressed Ctrl+C')), 20),
    });
    expect(finals(messages)).toEqual({
      0: { err: 'user pressed Ctrl+C', aborted: true },
      1: { out: 'untouched' },
    });
    expect(returned).toBe(true);
  });

  it('runs a pipeline: each stage gets the previous output, with a start per stage', async () => {
    const upper = proc(async function* (input) {
      yield String(input).toUpperCase();
    });
    const twice = proc(function* (input: unknown, ctx: ProcessContext) {
      yield `${ctx.stage}:`;
      yield String(input);
      yield String(input);
    });
    const { messages } = await run([upper, twice], ['ab']);
    expect(finals(messages)).toEqual({ 0: { out: '1:ABAB' } });
    expect(messages.filter((m) => m.t === 'start').map((m) => (m.t === 'start' ? m.s : -1))).toEqual([0, 1]);
  });

  it('gives processors their context: attempt, itemId, params, stage, a lazily made signal', async () => {
    const seen: Array<Omit<ProcessContext, 'signal' | 'log' | 'report' | 'limit'> & { aborted: boolean }> = [];
    const p = proc((input, ctx) => {
      seen.push({ attempt: ctx.attempt, itemId: ctx.itemId, params: ctx.params, stage: ctx.stage, aborted: ctx.signal.aborted });
      return [String(input)];
    });
    await run([p], ['x'], { params: { k: 'v' } });
    expect(seen).toEqual([{ attempt: 1, itemId: 'id-0', params: { k: 'v' }, stage: 0, aborted: false }]);
  });

  it('runs each item of a scoped batch in its own async scope (for naming a culprit), and no item of another in any', async () => {
    const scopes: Array<unknown> = [];
    const p = proc(async function* (input) {
      await sleep(Number(input));
      scopes.push({ input, scope: itemScope.getStore() });
      yield 'x';
    });
    // Which item wakes first is the timers' business (on a loaded machine, either): compare as sets.
    const byInput = (list: Array<unknown>) => [...list].sort((x, y) => String((x as { input: string }).input).localeCompare(String((y as { input: string }).input)));
    await run([p], ['5', '1'], { scoped: true });
    expect(byInput(scopes)).toEqual([
      { input: '1', scope: { batchId: 9, i: 1 } },
      { input: '5', scope: { batchId: 9, i: 0 } },
    ]);
    scopes.length = 0;
    await run([p], ['5', '1']);
    expect(byInput(scopes)).toEqual([
      { input: '1', scope: undefined },
      { input: '5', scope: undefined },
    ]);
  });

  it('marks the item busy in the probe while the runner is inside its processor code', async () => {
    const probe = newProbe();
    const busyInside: number[] = [];
    const p = proc(async function* (input) {
      busyInside.push(Atomics.load(probe, PROBE_BUSY)); // synchronous part of the first next()
      yield 'a';
      busyInside.push(Atomics.load(probe, PROBE_BUSY)); // resumed by the second next()
      await sleep(1);
      busyInside.push(Atomics.load(probe, PROBE_BUSY)); // resumed by a timer: outside the runner's calls
      yield 'b';
    });
    const sync = proc((input) => {
      busyInside.push(100 + Atomics.load(probe, PROBE_BUSY));
      return [String(input)];
    });
    await run([p, sync], ['x', 'y'], { probe });
    expect(busyInside.filter((v) => v < 100).slice(0, 4)).toEqual([1, 2, 1, 2]);
    expect(busyInside.filter((v) => v < 100).slice(4)).toEqual([0, 0]);
    expect(busyInside.filter((v) => v >= 100).sort()).toEqual([101, 102]);
    expect(Atomics.load(probe, PROBE_BUSY)).toBe(0);
    expect(Atomics.load(probe, PROBE_CALLS)).toBeGreaterThan(6);
  });

  it('fails an item whose output passes maxOutputChars, finally (no retry), and stops pulling its stream', async () => {
    let pulled = 0;
    const p = proc((input) =>
      (function* () {
        const n = input === 'long' ? Infinity : 2;
        for (let k = 0; k < n; k++) {
          pulled++;
          yield 'abcd';
        }
      })(),
    );
    const { messages } = await run([p], ['long', 'short'], { maxOutputChars: 10 });
    const errors = messages.filter((m) => m.t === 'error');
    expect(errors).toEqual([{ t: 'error', i: 0, a: 1, err: 'output passed 10 characters (--max-output-chars); not retried', aborted: false, final: true }]);
    expect(finals(messages)[1]).toEqual({ out: 'abcdabcd' });
    // The third piece of 'long' passed the bound: nothing after it was asked for.
    expect(pulled).toBe(3 + 2);
  });

  it('a long stream that never lets the thread loop turn is posted in parts as it goes, and is whole at the end', async () => {
    const N = 5000;
    const posts: ThreadMessage[][] = [];
    const outbox = new Outbox((m) => posts.push(m));
    const p = proc(() =>
      (async function* () {
        for (let k = 0; k < N; k++) yield `${k % 10}`;
      })(),
    );
    await runBatch({ batchId: 1, params: {}, timeoutMs: 0, maxOutputChars: 0, items: [{ i: 0, id: 'x', a: 1, input: 'x' }], outbox }, [p], new Map());
    outbox.flush();
    const chunkPosts = posts.filter((batch) => batch.some((m) => m.t === 'chunk' || (m.t === 'outcome' && m.n > 0)));
    expect(chunkPosts.length).toBeGreaterThan(2);
    const text = posts.flat().map((m) => (m.t === 'chunk' || m.t === 'outcome' ? m.text : '')).join('');
    const expected = Array.from({ length: N }, (_, k) => `${k % 10}`).join('');
    expect(text).toBe(expected);
    const done = posts.flat().find((m) => m.t === 'done' || m.t === 'outcome');
    expect(done && 'out' in done ? done.out : null).toBe(expected);
  });

  it('processBatch: one call for the batch, one stream per input', async () => {
    const calls: number[] = [];
    const p = proc(() => ['single'], {
      processBatch(inputs) {
        calls.push(inputs.length);
        return inputs.map((input) => [`batched ${String(input)}`]);
      },
    });
    expect(finals((await run([p], ['a', 'b', 'c'])).messages)).toEqual({
      0: { out: 'batched a' },
      1: { out: 'batched b' },
      2: { out: 'batched c' },
    });
    expect(calls).toEqual([3]);
    // One item alone uses process().
    expect(finals((await run([p], ['a'])).messages)).toEqual({ 0: { out: 'single' } });
  });

  it('processBatch returning the wrong number of streams fails the batch\'s items clearly', async () => {
    const p = proc(() => [], { processBatch: () => [['only one']] });
    const res = finals((await run([p], ['a', 'b'])).messages);
    expect(res[0]).toEqual({ err: 'processBatch returned 1 streams for 2 inputs', aborted: false });
    expect(res[1]).toEqual(res[0]);
  });
});

describe('ItemControl', () => {
  it('race() rejects with the abort reason; a late abort rejects a pending race', async () => {
    const c = new ItemControl();
    await expect(c.race(Promise.resolve(1))).resolves.toBe(1);
    const pending = c.race(new Promise(() => {}));
    c.abort(new Error('stop'));
    await expect(pending).rejects.toThrow('stop');
    await expect(c.race(Promise.resolve(2))).rejects.toThrow('stop');
    expect(() => c.throwIfAborted()).toThrow('stop');
  });

  it('a signal asked for after the abort is already aborted, with the reason', () => {
    const c = new ItemControl();
    c.abort('why');
    expect(c.aborted).toBe(true);
    expect(c.signal.aborted).toBe(true);
    expect(c.signal.reason).toBe('why');
    c.abort('again'); // the first reason stays
    expect(c.reason).toBe('why');
  });

  it('a signal asked for before the abort fires its event', () => {
    const c = new ItemControl();
    const signal = c.signal;
    let fired = 0;
    signal.addEventListener('abort', () => fired++);
    c.abort(new Error('x'));
    expect(fired).toBe(1);
  });
});

describe('PipelineCache', () => {
  it('loads and inits once per urls and params', async () => {
    const cache = new PipelineCache();
    const a = await cache.get([fixture('echo')], { x: '1' });
    const b = await cache.get([fixture('echo')], { x: '1' });
    const c = await cache.get([fixture('echo')], { x: '2' });
    expect(a).toBe(b);
    expect(c).not.toBe(a);
    expect(a[0]!.name).toBe('echo');
  });

  it('a failed load is not cached, and says what is wrong', async () => {
    const cache = new PipelineCache();
    await expect(cache.get([fixture('not-a-processor')], {})).rejects.toThrow(/must export default/);
    await expect(cache.get([fixture('init-throws')], {})).rejects.toThrow('init failed: no model here');
    // The entry was dropped: a second try loads again (and fails again, rather than hanging).
    await expect(cache.get([fixture('init-throws')], {})).rejects.toThrow('init failed');
  });

  it('closeAll calls close once per loaded processor and forgets them', async () => {
    const cache = new PipelineCache();
    const [p] = await cache.get([fixture('echo')], {});
    let closed = 0;
    (p as { close?: () => void }).close = () => void closed++;
    try {
      await cache.closeAll();
      expect(closed).toBe(1);
      await cache.closeAll();
      expect(closed).toBe(1);
    } finally {
      delete (p as { close?: () => void }).close;
    }
  });
});

describe('ctx.report: what an item cost and how it ended', () => {
  const metaOf = (messages: ThreadMessage[], i: number) =>
    messages.find((m): m is Extract<ThreadMessage, { t: 'done' | 'error' }> => (m.t === 'done' || m.t === 'error') && m.i === i)?.meta;

  it('goes with the result; a later report replaces the fields it names; no report, no meta', async () => {
    const p = proc(async function* (input, ctx) {
      if (input === 'quiet') return yield 'q';
      ctx.report({ usage: { prompt_tokens: 1, completion_tokens: 0 }, model: 'early' });
      yield 'a';
      ctx.report({ usage: { prompt_tokens: 3, completion_tokens: 2 }, finish_reason: 'stop', request_id: 'r1' });
    });
    const { messages } = await run([p], ['x', 'quiet']);
    expect(metaOf(messages, 0)).toEqual({ usage: { prompt_tokens: 3, completion_tokens: 2 }, model: 'early', finish_reason: 'stop', request_id: 'r1' });
    expect(metaOf(messages, 1)).toBeUndefined();
  });

  it("adds up the usage of pipeline stages; other fields are the last stage's that said them", async () => {
    const first = proc(async function* (_input, ctx) {
      ctx.report({ usage: { prompt_tokens: 10, completion_tokens: 5 }, model: 'small', finish_reason: 'stop' });
      yield 'draft';
    });
    const second = proc(async function* (_input, ctx) {
      ctx.report({ usage: { prompt_tokens: 7, completion_tokens: 4, estimated: true }, model: 'big' });
      yield 'final';
    });
    const { messages } = await run([first, second], ['x']);
    expect(metaOf(messages, 0)).toEqual({ usage: { prompt_tokens: 17, completion_tokens: 9, estimated: true }, model: 'big', finish_reason: 'stop' });
  });

  it("goes with a failed attempt's error too: its tokens were billed", async () => {
    const p = proc(async function* (_input, ctx) {
      yield 'partial';
      ctx.report({ usage: { prompt_tokens: 4, completion_tokens: 1, estimated: true } });
      throw new Error('connection reset');
    });
    const { messages } = await run([p], ['x']);
    expect(finals(messages)[0]).toEqual({ err: 'connection reset', aborted: false });
    expect(metaOf(messages, 0)).toEqual({ usage: { prompt_tokens: 4, completion_tokens: 1, estimated: true } });
  });

  it("refuses a malformed report as the item's error, naming the field", async () => {
    const p = proc(async function* (_input, ctx) {
      ctx.report({ usage: { prompt_tokens: -1, completion_tokens: 2 } });
      yield 'never';
    });
    const { messages } = await run([p], ['x']);
    expect(finals(messages)[0]).toMatchObject({ err: expect.stringMatching(/ctx\.report: usage must be \{prompt_tokens, completion_tokens\}/) });
  });

  it('works from processBatch contexts', async () => {
    const p = proc(() => [], {
      processBatch: (inputs, ctxs) =>
        inputs.map((input, k) => {
          ctxs[k]!.report({ usage: { prompt_tokens: k + 1, completion_tokens: 1 } });
          return [String(input)];
        }),
    });
    const { messages } = await run([p], ['a', 'b']);
    expect(metaOf(messages, 0)?.usage).toEqual({ prompt_tokens: 1, completion_tokens: 1 });
    expect(metaOf(messages, 1)?.usage).toEqual({ prompt_tokens: 2, completion_tokens: 1 });
  });
});
