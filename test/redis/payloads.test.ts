/**
 * Where a job's inputs live, end to end through real workers: short ones ride in their work
 * stream entries, long ones wait in the job's input hash. Either way each item runs with its own
 * input, a retry and a dead letter get it back, and nothing of the inputs is left after the job.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { RedisBroker } from '../../src/brokers/redis/broker.js';
import { openRedis, parseRedisUrl } from '../../src/brokers/redis/connection.js';
import { queueKeys } from '../../src/brokers/redis/keys.js';
import { RedisWorker } from '../../src/brokers/redis/worker.js';
import { INLINE_INPUT_BYTES } from '../../src/brokers/redis/work-entry.js';
import type { JobSpec } from '../../src/core/types.js';
import { Recorder, fixtureUrl, pipelineOf } from '../brokers/helpers.js';
import { redisPerFile } from './server.js';

const server = redisPerFile();
const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

/** Past the entry's bound once JSON-quoted: it goes to the input hash. */
const pad = (c: string) => ` ${c.repeat(INLINE_INPUT_BYTES)}`;

// faulty.mjs answers "ok:<prompt>." (so each output shows the input it ran with); "flaky 1"
// fails attempt 1 only, "throw" every attempt (dead-lettered after its one retry).
const PROMPTS = [
  'alpha',
  `beta${pad('b')}`,
  'flaky 1',
  `flaky 1${pad('f')}`,
  'throw',
  `throw${pad('t')}`,
  ...Array.from({ length: 14 }, (_, k) => (k % 2 === 0 ? `short ${k}` : `long ${k}${pad(String(k % 10))}`)),
];
const isLong = (p: string) => JSON.stringify(p).length > INLINE_INPUT_BYTES;

const spec = (jobId: string): JobSpec => ({
  jobId,
  pipeline: pipelineOf([fixtureUrl('faulty')]),
  params: {},
  concurrency: 32,
  batchSize: 4,
  batchWindowMs: 0,
  retries: 1,
  timeoutMs: 0,
  total: PROMPTS.length,
});

describe('inputs short and long through Redis', () => {
  it('each item runs once with its own input (twice for a retry), failures carry theirs, and no key of the inputs is left', async () => {
    const target = parseRedisUrl(server().url);
    const queue = 'payloads';
    const keys = queueKeys(queue);
    const jk = keys.job('p1');
    const redis = await openRedis(target, 'command', { name: 'probe' });
    closers.push(async () => redis.disconnect());
    const broker = await RedisBroker.connect({ target, queue });
    closers.push(() => broker.close());

    // Enqueued before any worker runs: where each input is can be seen.
    const rec = new Recorder();
    const run = broker.startJob(spec('p1'), rec.listener);
    await run.add(PROMPTS.map((input, index) => ({ id: `id${index}`, index, input })));
    run.end();
    const longOnes = PROMPTS.flatMap((p, i) => (isLong(p) ? [String(i)] : []));
    expect(longOnes.length).toBeGreaterThan(0);
    expect((await redis.hkeys(jk.input)).sort()).toEqual([...longOnes].sort());
    const carried = (await redis.xrange(keys.items, '-', '+')).flatMap(([, kv]) => kv.filter((_, k) => k >= 4 && k % 2 === 1));
    expect(carried).toEqual(PROMPTS.map((p) => (isLong(p) ? '' : JSON.stringify(p))));

    const workers: RedisWorker[] = [];
    for (let k = 0; k < 2; k++) {
      const w = await RedisWorker.start({ target, queue, slots: 4, threads: 1, processors: new Map(), heartbeatMs: 200, log: () => undefined });
      workers.push(w);
      closers.push(() => w.stop());
    }
    expect(await run.finished).toEqual({ total: 20, done: 18, failed: 2, unfinished: 0 });

    const expected = (p: string) => (p.startsWith('flaky') ? 'recovered on attempt 2' : `ok:${p}.`);
    const done = rec.of('item-done');
    expect(done.map((e) => e.index).sort((a, b) => a - b)).toEqual(PROMPTS.flatMap((p, i) => (p.startsWith('throw') ? [] : [i])));
    for (const e of done) expect(e.output).toBe(expected(PROMPTS[e.index]!));
    // Runs per item, as reported: one, two for a retried one.
    PROMPTS.forEach((p, i) => {
      const starts = rec.forItem(i).filter((e) => e.type === 'item-start');
      expect(starts.length).toBe(p.startsWith('flaky') || p.startsWith('throw') ? 2 : 1);
    });
    const failed = rec.of('item-failed');
    expect(failed.map((e) => [e.index, e.input])).toEqual(expect.arrayContaining([[4, PROMPTS[4]], [5, PROMPTS[5]]]));
    const dlq = await redis.xrange(keys.dlq, '-', '+');
    const dead = dlq.map(([, kv]) => [kv[kv.indexOf('i') + 1], kv[kv.indexOf('p') + 1]]).sort();
    expect(dead).toEqual([['4', JSON.stringify(PROMPTS[4])], ['5', JSON.stringify(PROMPTS[5])]]);

    // Stopped workers have sent every report: the entries are gone, and the inputs with them.
    for (const w of workers) await w.stop();
    expect(await redis.exists(jk.input)).toBe(0);
    expect(await redis.xlen(keys.items)).toBe(0);
    expect(await redis.zcard(keys.delayed)).toBe(0);
  });
});
