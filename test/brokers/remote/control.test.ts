/** cancelItem, abort and drain on a remote run: the processor server sees its requests closed. */
import { describe, expect, it } from 'vitest';
import { Recorder, itemsOf, outcomes } from '../helpers.js';
import { demoOutput, listenProcessorApp, spec, startManager, waitFor } from './helpers.js';

/** A demo that streams for about 10 s: always mid-stream when a test acts. */
const SLOW = { first_token_ms: '0', tokens_per_s: '20', length: '200' };

async function slowSetup(params: Record<string, string> = SLOW) {
  const manager = await startManager();
  const proc = await listenProcessorApp({ id: 'slow', params });
  await manager.registry.register({ name: 'demo', id: 'slow', url: proc.url });
  return { manager, proc };
}

describe('stopping remote items', () => {
  it('cancelItem aborts the running request; the item ends unfinished with no more events', async () => {
    const { manager, proc } = await slowSetup();
    const rec = new Recorder();
    const run = manager.broker.startJob(spec({ concurrency: 1 }), rec.listener);
    await run.add(itemsOf(['running', 'waiting']));
    run.end();
    await rec.until(() => rec.count('chunk') > 0, 'the first chunk');
    expect(run.cancelItem(1, 'client went away')).toBe(true); // still waiting: dropped
    expect(run.cancelItem(0, 'client went away')).toBe(true); // running: its request aborted
    expect(run.cancelItem(0, 'again')).toBe(false);
    expect(run.cancelItem(7, 'unknown')).toBe(false);
    await waitFor(() => proc.stats().aborted === 1, 'the processor server seeing its request closed');
    expect(await run.finished).toEqual({ total: 2, done: 0, failed: 0, unfinished: 2 });
    const after = rec.events.filter((e) => e.type === 'item-done' || e.type === 'item-failed' || e.type === 'item-retry');
    expect(after).toEqual([]);
    expect(rec.events.at(-1)).toMatchObject({ type: 'job-done' });
    expect(manager.registry.list()[0]).toMatchObject({ inflight: 0, failed: 0 });
  });

  it('abort closes every request and ends with job-cancelled', async () => {
    const { manager, proc } = await slowSetup();
    const rec = new Recorder();
    const run = manager.broker.startJob(spec({ concurrency: 3 }), rec.listener);
    await run.add(itemsOf(['a', 'b', 'c', 'd']));
    await rec.until(() => rec.count('item-start') === 3 && rec.count('chunk') >= 3, 'three items streaming');
    run.abort('second Ctrl+C');
    expect(await run.finished).toEqual({ total: 4, done: 0, failed: 0, unfinished: 4 });
    expect(rec.events.at(-1)).toMatchObject({ type: 'job-cancelled', reason: 'aborted' });
    await waitFor(() => proc.stats().aborted === 3, 'three requests closed on the processor server');
  });

  it('drain lets running items finish and starts no more', async () => {
    const params = { first_token_ms: '0', tokens_per_s: '50', length: '10' };
    const { manager } = await slowSetup(params);
    const rec = new Recorder();
    const run = manager.broker.startJob(spec({ concurrency: 2 }), rec.listener);
    await run.add(itemsOf(['one', 'two', 'three', 'four']));
    await rec.until(() => rec.count('item-start') === 2, 'two items started');
    run.drain('first Ctrl+C');
    expect(await run.finished).toEqual({ total: 4, done: 2, failed: 0, unfinished: 2 });
    expect(rec.count('item-start')).toBe(2);
    for (const [index, e] of outcomes(rec)) expect(e).toMatchObject({ type: 'item-done', output: demoOutput(['one', 'two'][index]!, params) });
    expect(rec.events.at(-1)).toMatchObject({ type: 'job-cancelled', reason: 'interrupted' });
  });

  it('the job time limit fails an attempt that runs too long, charged, and closes its request', async () => {
    const { manager, proc } = await slowSetup();
    const rec = new Recorder();
    const run = manager.broker.startJob(spec({ timeoutMs: 300 }), rec.listener);
    await run.add(itemsOf(['too slow']));
    run.end();
    expect(await run.finished).toMatchObject({ failed: 1 });
    expect(rec.of('item-failed')[0]).toMatchObject({ error: 'timed out after 300 ms', attempts: 1, worker: 'slow' });
    await waitFor(() => proc.stats().aborted === 1, 'the request closed');
  });
});

describe('quiet streams', () => {
  const late = { first_token_ms: '1500', tokens_per_s: '0', length: '3' };

  it('a stream silent past the idle timeout is the endpoint failing: re-sent, not charged', async () => {
    const manager = await startManager({ idleTimeoutMs: 300 });
    const proc = await listenProcessorApp({ id: 'quiet', params: late, keepAliveMs: 60_000 });
    await manager.registry.register({ name: 'demo', id: 'quiet', url: proc.url });
    const rec = new Recorder();
    const run = manager.broker.startJob(spec(), rec.listener);
    await run.add(itemsOf(['late']));
    run.end();
    await rec.until(() => rec.count('item-retry') > 0, 'the idle timeout');
    expect(rec.of('item-retry')[0]).toMatchObject({ charged: false, error: 'endpoint quiet: no answer for 300 ms', delayMs: 0 });
    run.abort('done looking');
    expect(await run.finished).toMatchObject({ done: 0, failed: 0, unfinished: 1 });
  });

  it('keep-alive lines hold a slow first token past the idle timeout', async () => {
    const manager = await startManager({ idleTimeoutMs: 300 });
    const proc = await listenProcessorApp({ id: 'patient', params: late, keepAliveMs: 50 });
    await manager.registry.register({ name: 'demo', id: 'patient', url: proc.url });
    const rec = new Recorder();
    const run = manager.broker.startJob(spec(), rec.listener);
    await run.add(itemsOf(['late']));
    run.end();
    expect(await run.finished).toEqual({ total: 1, done: 1, failed: 0, unfinished: 0 });
    expect(rec.count('item-retry')).toBe(0);
    expect(outcomes(rec).get(0)).toMatchObject({ output: demoOutput('late', late) });
  });
});
