/**
 * How far a submitter runs ahead of its workers, against a real redis-server: bounded in items
 * and in payload bytes, so long prompts are not piled up in Redis by the thousand.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { RedisBroker } from '../../src/brokers/redis/broker.js';
import { openRedis, parseRedisUrl } from '../../src/brokers/redis/connection.js';
import { queueKeys } from '../../src/brokers/redis/keys.js';
import { RedisWorker } from '../../src/brokers/redis/worker.js';
import type { JobSpec } from '../../src/core/types.js';
import { fixtureUrl } from '../brokers/helpers.js';
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
    const broker = await RedisBroker.connect({ target, queue, processorUrls: [fixtureUrl('sleep')] });
    closers.push(() => broker.close());
    const probe = await openRedis(target, 'command', { name: 'probe' });
    closers.push(async () => probe.disconnect());
    const spec: JobSpec = { jobId: 'big', processors: [{ ref: 'sleep' }], params: {}, concurrency: 4, batchSize: 1, batchWindowMs: 0, retries: 0, timeoutMs: 0, total: 100 };
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
