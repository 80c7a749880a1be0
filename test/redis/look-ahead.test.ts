/**
 * How far a submitter runs ahead of its workers, against a real redis-server: bounded in items
 * and in payload bytes, so long prompts are not piled up in Redis by the thousand.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { RedisBroker } from '../../src/brokers/redis/broker.js';
import { openRedis, parseRedisUrl } from '../../src/brokers/redis/connection.js';
import { queueKeys } from '../../src/brokers/redis/keys.js';
import { LookAhead } from '../../src/brokers/redis/look-ahead.js';
import { RedisWorker } from '../../src/brokers/redis/worker.js';
import type { JobSpec } from '../../src/core/types.js';
import { fixtureUrl, pipelineOf } from '../brokers/helpers.js';
import { redisPerFile } from './server.js';

const server = redisPerFile();
const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

const MiB = 1024 * 1024;

describe('the look-ahead of a submit on Redis', () => {
  it('holds at most 64 MiB of inputs in Redis ahead of the workers, whatever the item count allows', async () => {
    const queue = 'ahead1';
    const target = parseRedisUrl(server().url);
    const broker = await RedisBroker.connect({ target, queue });
    closers.push(() => broker.close());
    const probe = await openRedis(target, 'command', { name: 'probe' });
    closers.push(async () => probe.disconnect());
    const spec: JobSpec = { jobId: 'big', pipeline: pipelineOf([fixtureUrl('sleep')]), params: {}, concurrency: 4, batchSize: 1, batchWindowMs: 0, retries: 0, timeoutMs: 0, total: 100 };
    const run = broker.startJob(spec, () => undefined);
    // 100 prompts of 1 MiB each ("0" and padding: the sleep fixture answers at once), far fewer
    // than the 1000 items the item bound lets through: 100 MiB in Redis without a byte bound.
    const prompt = '0' + ' '.repeat(MiB - 1);
    const fed = run.add(Array.from({ length: 100 }, (_, i) => ({ id: String(i), index: i, input: prompt }))).then(() => run.end());
    const inputs = queueKeys(queue).job('big').input;
    let most = 0;
    const held = async () => {
      const n = await probe.hlen(inputs);
      most = Math.max(most, n);
      return n;
    };
    // No worker yet: the submit enqueues as far ahead as it may.
    while ((await held()) < 48) await new Promise((r) => setTimeout(r, 5));
    const worker = await RedisWorker.start({ target, queue, slots: 2, threads: 1, processors: new Map(), heartbeatMs: 200, log: () => undefined });
    closers.push(() => worker.stop());
    let ended = false;
    void fed.then(() => run.finished).then(() => (ended = true));
    while (!ended) {
      await held();
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(await run.finished).toMatchObject({ total: 100, done: 100, failed: 0 });
    // Inputs wait in the job's input hash from enqueue to their result: never more than 64 MiB.
    expect(most).toBeGreaterThanOrEqual(48);
    expect(most).toBeLessThanOrEqual(64);
  }, 60_000);
});

describe('LookAhead (the bookkeeping alone)', () => {
  const settledNow = async (p: Promise<void>): Promise<boolean> => {
    let done = false;
    void p.then(() => (done = true));
    await new Promise((resolve) => setImmediate(resolve));
    return done;
  };

  it('never holds back the items the concurrency needs, however big; past them, waits for bytes to free', async () => {
    const ahead = new LookAhead(1000, 10 * MiB, 3);
    for (let i = 0; i < 3; i++) {
      expect(await settledNow(ahead.roomForBytes(8 * MiB))).toBe(true);
      ahead.sent(i, 8 * MiB);
    }
    // 24 MiB held, over the bound: the fourth waits until one of them is final.
    const fourth = ahead.roomForBytes(8 * MiB);
    expect(await settledNow(fourth)).toBe(false);
    // One is final: 16 + 8 MiB is still over the bound, but two items held are fewer than the
    // three the concurrency needs, so it goes.
    ahead.settled(0);
    expect(await settledNow(fourth)).toBe(true);
    ahead.sent(3, 8 * MiB);
    // Three held again, 24 MiB: a small call past the bound waits too.
    expect(await settledNow(ahead.roomForBytes(1))).toBe(false);
    ahead.release();
  });
});
