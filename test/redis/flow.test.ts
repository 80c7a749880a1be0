/**
 * The Redis broker and workers in one process, against a real redis-server: a job's events as
 * the submitter sees them, cancellation reaching running items at once, a worker that lacks a
 * job's processor, and a late reader replaying a finished job.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { RedisBroker } from '../../src/brokers/redis/broker.js';
import { openRedis, parseRedisUrl } from '../../src/brokers/redis/connection.js';
import { EventsReader } from '../../src/brokers/redis/events-reader.js';
import { queueKeys } from '../../src/brokers/redis/keys.js';
import { RedisWorker } from '../../src/brokers/redis/worker.js';
import type { DecodedEvent } from '../../src/brokers/redis/wire.js';
import type { JobSpec } from '../../src/core/types.js';
import { Recorder, fixtureUrl, pipelineOf } from '../brokers/helpers.js';
import { redisPerFile } from './server.js';

const server = redisPerFile();
const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});
let queueN = 0;

async function setup(workers = 1, slots = 4) {
  const queue = `flow${++queueN}`;
  const target = parseRedisUrl(server().url);
  const started: RedisWorker[] = [];
  for (let k = 0; k < workers; k++) {
    const w = await RedisWorker.start({ target, queue, slots, threads: 1, processors: new Map(), heartbeatMs: 200, log: () => undefined });
    started.push(w);
    closers.push(() => w.stop());
  }
  const broker = await RedisBroker.connect({ target, queue });
  closers.push(() => broker.close());
  return { broker, workers: started, queue, target };
}

/** A job of one processor module, named after its file. */
const spec = (jobId: string, url: string, over: Partial<JobSpec> = {}): JobSpec => ({
  jobId,
  pipeline: pipelineOf([url]),
  params: {},
  concurrency: 16,
  batchSize: 16,
  batchWindowMs: 0,
  retries: 0,
  timeoutMs: 0,
  ...over,
});

describe('a job through Redis', () => {
  it('attached to again while it runs, replayed results wait for the inputs this submit reads again, and the end comes after them', async () => {
    const { broker } = await setup(1);
    const first = broker.startJob(spec('r1', fixtureUrl('echo'), { total: 6 }), () => undefined);
    await first.add(Array.from({ length: 6 }, (_, i) => ({ id: `id${i}`, index: i, input: `hello ${i}` })));
    first.end();
    await first.finished;
    // A second submit of the same job: the replay arrives before it has read its inputs.
    const rec = new Recorder();
    const again = broker.startJob(spec('r1', fixtureUrl('echo'), { total: 6 }), rec.listener);
    await new Promise((r) => setTimeout(r, 300));
    expect(rec.count('item-done')).toBe(0);
    expect(rec.count('job-done')).toBe(0);
    await again.add(Array.from({ length: 3 }, (_, i) => ({ id: `id${i}`, index: i, input: `hello ${i}` })));
    await rec.until(() => rec.count('item-done') === 3, 'the three results whose inputs are known');
    expect(rec.count('job-done')).toBe(0);
    await again.add(Array.from({ length: 3 }, (_, i) => ({ id: `id${i + 3}`, index: i + 3, input: `hello ${i + 3}` })));
    again.end();
    expect(await again.finished).toMatchObject({ total: 6, done: 6, failed: 0 });
    const done = rec.of('item-done');
    expect(done.map((e) => e.input).sort()).toEqual(Array.from({ length: 6 }, (_, i) => `hello ${i}`));
    expect(rec.events.at(-1)).toMatchObject({ type: 'job-done' });
  });

  it('delivers every item once, in the same events as the embedded pool, and ends with job-done', async () => {
    const { broker, workers } = await setup(2);
    const rec = new Recorder();
    const run = broker.startJob(spec('e1', fixtureUrl('echo'), { total: 20 }), rec.listener);
    await run.add(Array.from({ length: 20 }, (_, i) => ({ id: `id${i}`, index: i, input: `hello ${i}` })));
    run.end();
    const counts = await run.finished;
    expect(counts).toEqual({ total: 20, done: 20, failed: 0, unfinished: 0 });
    const done = rec.of('item-done');
    expect(new Set(done.map((e) => e.index)).size).toBe(20);
    for (const e of done) {
      expect(e.id).toBe(`id${e.index}`);
      expect(e.input).toBe(`hello ${e.index}`);
      expect(workers.map((w) => w.name)).toContain(e.worker);
    }
    // Each item's chunks come between its start and its result.
    const e3 = rec.forItem(3).map((e) => e.type);
    expect(e3[0]).toBe('item-start');
    expect(e3.at(-1)).toBe('item-done');
    expect(rec.events.at(-1)).toMatchObject({ type: 'job-done' });
  });

  it('abort reaches running items at once, even ones that send nothing, and the job ends cancelled', async () => {
    const { broker } = await setup(1, 4);
    const rec = new Recorder();
    const run = broker.startJob(spec('c1', fixtureUrl('sleep'), { total: 10 }), rec.listener);
    await run.add(Array.from({ length: 10 }, (_, i) => ({ id: String(i + 1), index: i, input: 'sleep 60000' })));
    run.end();
    await rec.until(() => rec.count('item-start') === 4, 'four items running');
    // Their 60 s outlast the test's time limit: an abort that waited for them fails it.
    run.abort('test abort');
    const counts = await run.finished;
    expect(counts).toMatchObject({ total: 10, done: 0, failed: 0, unfinished: 10 });
    expect(rec.events.at(-1)).toMatchObject({ type: 'job-cancelled', reason: 'test abort' });
  });

  it('an item given up that finishes anyway frees its slot and its entry: a drained job still ends', async () => {
    const { broker, workers, queue, target } = await setup(1, 2);
    const redis = await openRedis(target, 'command', { name: 'probe' });
    closers.push(async () => redis.disconnect());
    const rec = new Recorder();
    const run = broker.startJob(spec('given-up', fixtureUrl('sleep'), { total: 4, batchSize: 2, batchWindowMs: 0 }), rec.listener);
    // Item 0 blocks its thread: the abort that follows its cancel arrives after its result.
    await run.add(['block 1500', 'sleep 2000', 'sleep 10', 'sleep 10'].map((input, index) => ({ id: String(index + 1), index, input })));
    run.end();
    await new Promise((r) => setTimeout(r, 300));
    expect(run.cancelItem!(0, 'client went away')).toBe(true);
    // Drained at once, while item 0 still blocks (a fixed wait here let item 0's freed slot start
    // item 2 on a busy machine).
    run.drain('test drain');
    const counts = await run.finished;
    expect(counts).toMatchObject({ done: 1 });
    const k = queueKeys(queue);
    const jk = k.job('given-up');
    expect(await redis.hget(jk.hash, 'status')).toBe('cancelled');
    expect(await redis.hlen(jk.run)).toBe(0);
    expect((await redis.xpending(k.items, 'workers'))[0]).toBe(0);
    // The worker's slots are all free again (at its next heartbeat: polled for, not slept for).
    let busy: string | null = null;
    for (let i = 0; i < 200 && busy !== '0'; i++) {
      busy = await redis.hget(k.worker(workers[0]!.name), 'busy');
      if (busy !== '0') await new Promise((r) => setTimeout(r, 50));
    }
    expect(busy).toBe('0');
  }, 20_000);

  it('a worker without the job\'s processor fails its items with a line that says what to do', async () => {
    const { broker } = await setup();
    const rec = new Recorder();
    const run = broker.startJob(spec('g1', 'file:///nowhere/ghost.mjs', { total: 2 }), rec.listener);
    await run.add([
      { id: 'a', index: 0, input: 'x' },
      { id: 'b', index: 1, input: 'y' },
    ]);
    run.end();
    const counts = await run.finished;
    expect(counts).toMatchObject({ total: 2, failed: 2 });
    expect(rec.of('item-failed')[0]!.error).toMatch(/no processor "ghost".*--processor PATH/);
  });

  it('a reader attaching after the end replays the whole job from its first event', async () => {
    const { broker, queue, target } = await setup();
    const run = broker.startJob(spec('r1', fixtureUrl('echo'), { total: 3 }), () => undefined);
    await run.add([0, 1, 2].map((i) => ({ id: String(i + 1), index: i, input: `p${i}` })));
    run.end();
    await run.finished;
    const conn = await openRedis(target, 'blocking', { name: 'late-reader' });
    const seen: DecodedEvent[] = [];
    const reader = new EventsReader(conn, queueKeys(queue).job('r1').events, { onEvents: (e) => seen.push(...e) });
    await reader.done;
    conn.disconnect();
    expect(seen[0]).toEqual({ type: 'job-total', total: 3 });
    expect(seen.filter((e) => e.type === 'item-done').map((e) => (e as { index: number }).index).sort()).toEqual([0, 1, 2]);
    expect(seen.at(-1)).toMatchObject({ type: 'job-done', counts: { total: 3, done: 3 } });
  });
});
