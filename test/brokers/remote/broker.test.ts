/** The RemoteBroker against real processor servers running the demo, over real sockets. */
import { describe, expect, it } from 'vitest';
import { Recorder, itemsOf, outcomes } from '../helpers.js';
import { FAST, LiveText, demoOutput, inputsOf, listenProcessorApp, spec, startManager, startProcessor, waitFor } from './helpers.js';

describe('RemoteBroker', () => {
  it('runs 50 items across two processor servers with the demo output', async () => {
    const manager = await startManager();
    const a = await startProcessor(manager.url, { id: 'proc-a' });
    const b = await startProcessor(manager.url, { id: 'proc-b' });
    expect(a.out()).toMatch(/^processor demo \(id proc-a\) listening on http:\/\/127\.0\.0\.1:\d+, registered with http:\/\/127\.0\.0\.1:\d+\n$/);
    const rec = new Recorder();
    const live = new LiveText();
    const run = manager.broker.startJob(spec({ concurrency: 8 }), (events) => {
      rec.listener(events);
      events.forEach(live.onEvent);
    });
    const inputs = inputsOf(50);
    await run.add(itemsOf(inputs));
    run.end();
    const counts = await run.finished;
    expect(counts).toEqual({ total: 50, done: 50, failed: 0, unfinished: 0 });
    const done = outcomes(rec);
    expect(done.size).toBe(50);
    for (const [index, e] of done) {
      expect(e.type).toBe('item-done');
      if (e.type !== 'item-done') continue;
      expect(e.output).toBe(demoOutput(inputs[index]!, FAST));
      expect(live.text.get(index)).toBe(e.output);
      expect(e.durations.totalMs).toBeGreaterThanOrEqual(0);
    }
    // Every chunk event counts its pieces; the demo streams one token per piece.
    const tokens = rec.of('chunk').reduce((n, c) => n + c.n, 0);
    expect(tokens).toBe(inputs.reduce((n, input) => n + demoOutput(input, FAST).split(' ').length, 0));
    const workers = new Set(rec.of('item-start').map((e) => e.worker));
    expect(workers).toEqual(new Set(['proc-a', 'proc-b']));
    expect(rec.of('job-done')).toHaveLength(1);
    expect(rec.events.at(-1)?.type).toBe('job-done');
    expect(rec.count('item-retry')).toBe(0);
    const stats = manager.registry.list();
    expect(stats.reduce((n, ep) => n + ep.processed, 0)).toBe(50);
    expect(stats.every((ep) => ep.inflight === 0)).toBe(true);
    expect(a.stats().processed + b.stats().processed).toBe(50);
  });

  it('takes 202 answers and the results posted to /complete', async () => {
    const manager = await startManager();
    await startProcessor(manager.url, { id: 'async-a', async: true });
    const rec = new Recorder();
    const run = manager.broker.startJob(spec({ concurrency: 4 }), rec.listener);
    const inputs = inputsOf(10, 'async');
    await run.add(itemsOf(inputs));
    run.end();
    expect(await run.finished).toEqual({ total: 10, done: 10, failed: 0, unfinished: 0 });
    for (const [index, e] of outcomes(rec)) {
      expect(e.type === 'item-done' && e.output).toBe(demoOutput(inputs[index]!, FAST));
      // The whole output arrives as one chunk, before item-done.
      const chunks = rec.of('chunk').filter((c) => c.index === index);
      expect(chunks.map((c) => c.text)).toEqual([demoOutput(inputs[index]!, FAST)]);
    }
    expect(manager.registry.list()[0]).toMatchObject({ processed: 10, inflight: 0 });
  });

  it.each([false, true])('keeps to the capacity an endpoint announces: no item is turned away busy (async %s)', async (async) => {
    const manager = await startManager();
    const server = await startProcessor(manager.url, { id: 'small', concurrency: 2, async });
    const rec = new Recorder();
    const run = manager.broker.startJob(spec({ concurrency: 8 }), rec.listener);
    await run.add(itemsOf(inputsOf(40, 'cap')));
    run.end();
    expect(await run.finished).toEqual({ total: 40, done: 40, failed: 0, unfinished: 0 });
    expect(rec.of('item-retry')).toEqual([]);
    expect(server.stats()).toMatchObject({ processed: 40, failed: 0 });
  });

  it.each([false, true])('fails an item whose output passes maxOutputChars at once, without its retries (async %s)', async (async) => {
    const manager = await startManager();
    await startProcessor(manager.url, { id: async ? 'long-async' : 'long', async });
    const rec = new Recorder();
    // The demo answers with 12-40 tokens: more than 40 characters, fewer than 4000.
    const inputs = inputsOf(6, 'bound');
    const run = manager.broker.startJob(spec({ retries: 2, maxOutputChars: 40 }), rec.listener);
    await run.add(itemsOf(inputs));
    run.end();
    expect(await run.finished).toEqual({ total: 6, done: 0, failed: 6, unfinished: 0 });
    expect(rec.of('item-retry')).toEqual([]);
    for (const e of rec.of('item-failed')) expect(e).toMatchObject({ attempts: 1, error: 'output passed 40 characters (--max-output-chars); not retried', final: true });

    const roomy = manager.broker.startJob(spec({ jobId: 'roomy', maxOutputChars: 4000 }), rec.listener);
    await roomy.add(itemsOf(inputs));
    roomy.end();
    expect(await roomy.finished).toEqual({ total: 6, done: 6, failed: 0, unfinished: 0 });
  });

  it('charges {"error"} lines and 4xx answers to the item, with backoff, up to its retries', async () => {
    const manager = await startManager();
    await startProcessor(manager.url, { id: 'flaky', params: { ...FAST, failure_rate: '1' } });
    const rec = new Recorder();
    const run = manager.broker.startJob(spec({ retries: 1 }), rec.listener);
    await run.add(itemsOf(['will fail']));
    run.end();
    expect(await run.finished).toEqual({ total: 1, done: 0, failed: 1, unfinished: 0 });
    const [retry] = rec.of('item-retry');
    expect(retry).toMatchObject({ attempt: 1, charged: true, error: expect.stringMatching(/^demo: simulated failure/) });
    expect(retry!.delayMs).toBeGreaterThan(0);
    expect(rec.of('item-failed')[0]).toMatchObject({ attempts: 2, worker: 'flaky', error: expect.stringMatching(/^demo: simulated failure/) });

    // A param the processor server rejects: 400, the item's fault, no retry left.
    const bad = new Recorder();
    const run2 = manager.broker.startJob(spec({ jobId: 'bad-param', params: { length: 'lots' } }), bad.listener);
    await run2.add(itemsOf(['x']));
    run2.end();
    expect(await run2.finished).toMatchObject({ failed: 1 });
    expect(bad.of('item-failed')[0]!.error).toMatch(/^endpoint flaky: answered HTTP 400: processor demo: --param length=lots/);
  });

  it('fails items at once when no endpoint has the processor name', async () => {
    const manager = await startManager();
    await startProcessor(manager.url, { id: 'p', name: 'demo' });
    const rec = new Recorder();
    const run = manager.broker.startJob(spec({ pipeline: [{ name: 'summarize', url: '' }] }), rec.listener);
    await run.add(itemsOf(['a', 'b']));
    run.end();
    expect(await run.finished).toEqual({ total: 2, done: 0, failed: 2, unfinished: 0 });
    expect(rec.of('item-failed')[0]!.error).toBe('no remote processor named "summarize" is registered (registered: demo)');
    expect(() => manager.broker.startJob(spec({ pipeline: [{ name: 'demo', url: '' }, { name: 'demo', url: '' }] }), () => undefined)).toThrow(/one processor, not a pipeline of 2/);
  });

  it('re-sends the items of a server killed mid-stream to the other one, uncharged, nothing lost or doubled', async () => {
    const manager = await startManager({ healthIntervalMs: 100 });
    const slow = { first_token_ms: '0', tokens_per_s: '100', length: '20' };
    const a = await listenProcessorApp({ id: 'victim', params: slow });
    const b = await listenProcessorApp({ id: 'survivor', params: slow });
    await manager.registry.register({ name: 'demo', id: 'victim', url: a.url });
    await manager.registry.register({ name: 'demo', id: 'survivor', url: b.url });
    const rec = new Recorder();
    const live = new LiveText();
    const run = manager.broker.startJob(spec({ concurrency: 8, retries: 0 }), (events) => {
      rec.listener(events);
      events.forEach(live.onEvent);
    });
    const inputs = inputsOf(24, 'kill');
    await run.add(itemsOf(inputs));
    run.end();
    const onVictim = (): number[] => rec.of('item-start').filter((e) => e.worker === 'victim').map((e) => e.index);
    await rec.until(() => rec.of('chunk').some((c) => onVictim().includes(c.index)), 'a chunk streamed from the victim');
    a.kill();
    expect(await run.finished).toEqual({ total: 24, done: 24, failed: 0, unfinished: 0 });
    for (const [index, e] of outcomes(rec)) {
      expect(e.type === 'item-done' && e.output).toBe(demoOutput(inputs[index]!, slow));
      expect(live.text.get(index)).toBe(demoOutput(inputs[index]!, slow));
    }
    expect(live.lateChunks).toEqual([]);
    const retries = rec.of('item-retry');
    expect(retries.length).toBeGreaterThan(0);
    for (const r of retries) expect(r).toMatchObject({ charged: false, error: expect.stringMatching(/^endpoint victim: /) });
    // Each re-sent item finished on the survivor.
    for (const r of retries) expect(outcomes(rec).get(r.index)).toMatchObject({ worker: 'survivor' });
    const victim = manager.registry.list().find((ep) => ep.id === 'victim')!;
    expect(victim.healthy).toBe(false);
    expect(victim.lastError).not.toBeNull();
  });

  it('re-sends a 202 item whose endpoint goes out of rotation before it completes', async () => {
    const manager = await startManager({ healthIntervalMs: 50, checkTimeoutMs: 500 });
    // `stuck` accepts every item and would complete none within the test.
    const stuck = await listenProcessorApp({ id: 'stuck', async: true, params: { first_token_ms: '60000', tokens_per_s: '0' } });
    await manager.registry.register({ name: 'demo', id: 'stuck', url: stuck.url });
    const rec = new Recorder();
    const run = manager.broker.startJob(spec({ concurrency: 4 }), rec.listener);
    const inputs = inputsOf(4, 'lost');
    await run.add(itemsOf(inputs));
    run.end();
    await waitFor(() => stuck.stats().inflight === 4, 'the stuck processor holding all four items');
    const fast = await listenProcessorApp({ id: 'fast', async: true });
    await manager.registry.register({ name: 'demo', id: 'fast', url: fast.url });
    expect(rec.count('item-retry')).toBe(0);
    stuck.kill();
    expect(await run.finished).toEqual({ total: 4, done: 4, failed: 0, unfinished: 0 });
    for (const [index, e] of outcomes(rec)) {
      expect(e).toMatchObject({ type: 'item-done', worker: 'fast', output: demoOutput(inputs[index]!, FAST) });
    }
    expect(rec.of('item-retry').every((r) => !r.charged)).toBe(true);
    expect(rec.of('item-retry').filter((r) => /went out of rotation/.test(r.error))).toHaveLength(4);
  });
});
