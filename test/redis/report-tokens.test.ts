/**
 * report.lua and item meta, against a real redis-server: the worker's records (report-buffer.ts)
 * bring each outcome's meta into the job's events stream, where the submitter's decoder finds it,
 * and their U records add the completion tokens to the job hash's `tokens_out` (the dashboard's
 * TOKENS/S), fenced like every other record: a zombie's tokens do not count.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRedis, parseRedisUrl } from '../../src/brokers/redis/connection.js';
import { queueKeys } from '../../src/brokers/redis/keys.js';
import type { ScriptedRedis } from '../../src/brokers/redis/scripts.js';
import * as scripts from '../../src/brokers/redis/script-calls.js';
import { decodeEntry, wireFailed, wireRetry } from '../../src/brokers/redis/wire.js';
import { failedForGood, ReportBuffer, reportArgs, retryLater } from '../../src/brokers/redis/worker/report-buffer.js';
import { redisPerFile } from './server.js';

const server = redisPerFile();
let redis: ScriptedRedis;

beforeAll(async () => {
  redis = await openRedis(parseRedisUrl(server().url), 'command', { name: 'test', checkVersion: true });
});
afterAll(() => redis?.disconnect());

describe('report: meta and the job token count', () => {
  it("carries each outcome's meta into the events and counts completion tokens of the records it accepts", async () => {
    const keys = queueKeys('tokens');
    const jk = keys.job('j');
    const spec = JSON.stringify({ processors: [{ name: 'metered', url: 'metered' }], params: {}, timeoutMs: 0, retries: 1, batchSize: 16 });
    expect(await scripts.createJob(redis, keys, { id: 'j', now: Date.now(), total: 3, ttlMs: 0, retries: 1, spec, submitter: 'test', out: '/tmp/out.jsonl' })).toBe('created');
    // The fence a claim would set: worker w holds items 0, 1 and 2 of entry e1.
    await redis.hset(jk.run, 'e1', '3:0,1,2');

    const d = { queuedMs: 1, firstChunkMs: null, totalMs: 2 };
    const meta = (completion: number) => ({ usage: { prompt_tokens: 10, completion_tokens: completion }, model: 'm' });
    const b = new ReportBuffer();
    b.done('j', 'e1', 0, '1', 1, 'answer', 'w', d, null, meta(7));
    b.add('j', retryLater('e1', 1, wireRetry(1, '2', 1, 'boom', 60_000, true, undefined, meta(3)), 60_000, '{"j":"j"}', meta(3)));
    b.add('j', failedForGood('e1', 2, wireFailed(2, '3', 2, 'boom', 'w', d, '"p"', undefined, meta(1)), '"p"', 'boom', meta(1)));
    const reply = await scripts.report(redis, keys, 'j', { worker: 'w', now: Date.now(), seq: 1, records: reportArgs(b.take().get('j')!) });
    expect(reply.stale).toEqual([]);
    expect(await redis.hget(jk.hash, 'tokens_out')).toBe('11');

    const events = (await redis.xrange(jk.events, '-', '+')).flatMap(([, kv]) => decodeEntry(kv[1]!));
    const outcomes = events.filter((e) => e.type === 'item-done' || e.type === 'item-retry' || e.type === 'item-failed');
    expect(outcomes.map((e) => [e.type, 'meta' in e ? e.meta : null])).toEqual([
      ['item-done', meta(7)],
      ['item-retry', meta(3)],
      ['item-failed', meta(1)],
    ]);

    // A zombie (no fence for its entry): its records, tokens included, are refused.
    const zombie = new ReportBuffer();
    zombie.done('j', 'e0', 1, '2', 1, 'late', 'z', d, null, meta(50));
    const late = await scripts.report(redis, keys, 'j', { worker: 'z', now: Date.now(), seq: 1, records: reportArgs(zombie.take().get('j')!) });
    expect(late.stale).toEqual(['e0']);
    expect(await redis.hget(jk.hash, 'tokens_out')).toBe('11');
  });
});
