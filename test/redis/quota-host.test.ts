/**
 * The Redis worker's quota host (src/brokers/redis/quota-host.ts) against a real redis-server: two
 * hosts, each with its own connections, stand for two worker processes; each thread is a
 * MessageChannel whose replies the test reads. A 429 one host hears moves the permits the other
 * holds and sleeps on. Due times are bounded below by the time the test sent the 429: the hosts'
 * clock is the test's (process.hrtime), the server's clock only ever counts intervals.
 */
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { openRedis, parseRedisUrl } from '../../src/brokers/redis/connection.js';
import { queueKeys, type QueueKeys } from '../../src/brokers/redis/keys.js';
import { RedisQuotaHost } from '../../src/brokers/redis/quota-host.js';
import type { ScriptedRedis } from '../../src/brokers/redis/scripts.js';
import type { QuotaReply } from '../../src/core/quota/ledger.js';
import { monotonicMs } from '../../src/runtime/quota/clock.js';
import { redisPerFile } from './server.js';

const server = redisPerFile();
let queueN = 0;
const opened: { disconnect(): void }[] = [];
const ports: MessagePort[] = [];

afterEach(() => {
  for (const p of ports.splice(0)) p.close();
});
afterAll(() => {
  for (const c of opened) c.disconnect();
});

/** A host as a worker process has it: a command connection, and its pause messages from a subscriber. */
async function host(keys: QueueKeys, log: string[] = []): Promise<RedisQuotaHost> {
  const target = parseRedisUrl(server().url);
  const cmd: ScriptedRedis = await openRedis(target, 'command', { name: 'quota-test' });
  const sub: Redis = await openRedis(target, 'subscriber', { name: 'quota-test-sub' });
  opened.push(cmd, sub);
  const h = new RedisQuotaHost(keys, 8, (line) => log.push(line));
  h.connect(cmd);
  await sub.subscribe(keys.quotaChannel);
  sub.on('message', (_c: string, m: string) => h.onPause(m));
  return h;
}

/** A thread of `h`: its replies as they come, and a wait for the nth. */
function thread(h: RedisQuotaHost, id: number) {
  const { port1, port2 } = new MessageChannel();
  ports.push(port1, port2);
  h.attach(id, port2);
  const replies: QuotaReply[] = [];
  const waiters: (() => void)[] = [];
  port1.on('message', (r: QuotaReply) => {
    replies.push(r);
    for (const w of waiters.splice(0)) w();
  });
  return {
    replies,
    async count(n: number): Promise<QuotaReply[]> {
      while (replies.length < n) await new Promise<void>((resolve) => waiters.push(resolve));
      return replies;
    },
  };
}

const one = { requests: 1, tokens: 0 };
const limits = { rpm: 60, windowSeconds: 1, jitterMs: 0 };

describe('RedisQuotaHost', () => {
  let keys: QueueKeys;

  it('one limiter for two processes: the second is spaced after the first', async () => {
    keys = queueKeys(`qh${++queueN}`);
    const [a, b] = await Promise.all([host(keys), host(keys)]);
    const ta = thread(a, 1);
    const tb = thread(b, 1);
    const before = monotonicMs();
    a.handle(1, { t: 'acquire', id: 1, key: 'api', cost: one, limits });
    await ta.count(1);
    b.handle(1, { t: 'acquire', id: 1, key: 'api', cost: one, limits });
    const [grant] = await tb.count(1);
    // A bucket of one request refilled each second: b's is due a second after a's at least.
    expect(grant).toMatchObject({ t: 'grant', id: 1 });
    expect((grant as { dueAtMs: number }).dueAtMs).toBeGreaterThanOrEqual(before + 1000 - 1);
  });

  it('a 429 heard by one process moves the permits the other holds behind its retry-after, in their order', async () => {
    keys = queueKeys(`qh${++queueN}`);
    const [a, b] = await Promise.all([host(keys), host(keys)]);
    const ta = thread(a, 1);
    const tb = thread(b, 7);
    a.handle(1, { t: 'acquire', id: 1, key: 'api', cost: one, limits });
    await ta.count(1);
    b.handle(7, { t: 'acquire', id: 1, key: 'api', cost: one, limits });
    b.handle(7, { t: 'acquire', id: 2, key: 'api', cost: one, limits });
    await tb.count(2);
    // a's request was sent and refused: the server asks for 5 s.
    const sent = monotonicMs();
    a.handle(1, { t: 'learn', id: 1, status: 429, obs: { retryAfterMs: 5000 } });
    const replies = await tb.count(4);
    const moved = replies.slice(2) as { t: string; id: number; dueAtMs: number }[];
    expect(moved.map((r) => [r.t, r.id])).toEqual([
      ['grant', 1],
      ['grant', 2],
    ]);
    expect(moved[0]!.dueAtMs).toBeGreaterThanOrEqual(sent + 5000);
    expect(moved[1]!.dueAtMs).toBeGreaterThan(moved[0]!.dueAtMs);
    // a's own next permit waits for the pause too.
    a.handle(1, { t: 'acquire', id: 2, key: 'api', cost: one, limits });
    const [, next] = await ta.count(2);
    expect((next as { dueAtMs: number }).dueAtMs).toBeGreaterThanOrEqual(sent + 5000);
  });

  it('a cost larger than the bucket is denied with what to lower; a cancelled permit gives its slot to the next', async () => {
    keys = queueKeys(`qh${++queueN}`);
    const log: string[] = [];
    const h = new RedisQuotaHost(keys, 1, (line) => log.push(line));
    const cmd: ScriptedRedis = await openRedis(parseRedisUrl(server().url), 'command', { name: 'quota-test' });
    opened.push(cmd);
    h.connect(cmd);
    const t = thread(h, 1);
    h.handle(1, { t: 'acquire', id: 1, key: 'api', cost: { requests: 1, tokens: 11 }, limits: { tpm: 600, windowSeconds: 1 } });
    const [deny] = await t.count(1);
    expect(deny).toMatchObject({ t: 'deny', id: 1 });
    expect((deny as { err: string }).err).toMatch(/costs 11 tokens but the limit holds at most 10.*lower max_tokens/);
    // One slot (ceiling 1): the second waits for the first to end.
    h.handle(1, { t: 'acquire', id: 2, key: 'api', cost: one, limits: { tpm: 600, windowSeconds: 1 } });
    h.handle(1, { t: 'acquire', id: 3, key: 'api', cost: one });
    await t.count(2);
    expect(t.replies.map((r) => r.id)).toEqual([1, 2]);
    h.handle(1, { t: 'cancel', id: 2 });
    await t.count(3);
    expect(t.replies[2]).toMatchObject({ t: 'grant', id: 3 });
    expect(log).toEqual([]);
  });
});
