/**
 * The Lua scripts' contracts, against a real redis-server: each guarantee of the distributed
 * mode that lives in a script is driven here step by step, with the worker's part played by
 * hand (XREADGROUP, then the scripts), so a zombie, a duplicate or a lost entry can be staged
 * exactly.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openRedis, parseRedisUrl } from '../../src/brokers/redis/connection.js';
import { GROUP, queueKeys, type QueueKeys } from '../../src/brokers/redis/keys.js';
import type { ScriptedRedis } from '../../src/brokers/redis/scripts.js';
import * as scripts from '../../src/brokers/redis/script-calls.js';
import { ensureGroup } from '../../src/brokers/redis/group.js';
import { INLINE_INPUT_BYTES, delayedMember, itemHeader, parseReadReply, type ReadEntry } from '../../src/brokers/redis/work-entry.js';
import { decodeEntry, wireDone, wireStart, type DecodedEvent } from '../../src/brokers/redis/wire.js';
import { Reaper } from '../../src/brokers/redis/reaper.js';
import { redisPerFile } from './server.js';

const server = redisPerFile();
let redis: ScriptedRedis;
let keys: QueueKeys;
let queueN = 0;

beforeAll(async () => {
  redis = await openRedis(parseRedisUrl(server().url), 'command', { name: 'test', checkVersion: true });
});
afterAll(() => redis?.disconnect());
beforeEach(async () => {
  keys = queueKeys(`q${++queueN}`);
  await ensureGroup(redis, keys);
});

const spec = JSON.stringify({ processors: [{ name: 'demo', url: 'demo' }], params: {}, timeoutMs: 0, retries: 1, batchSize: 16 });

async function createJob(id: string, total: number, ttlMs = 0): Promise<void> {
  expect(await scripts.createJob(redis, keys, { id, now: Date.now(), total, ttlMs, retries: 1, spec, submitter: 'test', out: '/tmp/out.jsonl' })).toBe('created');
}

/** A short input (carried in its entry): "prompt i" as JSON text. */
const short = (i: number) => JSON.stringify(`prompt ${i}`);

async function enqueue(id: string, items: number[], perEntry = 1, payload: (i: number) => string = short): Promise<void> {
  const call = items.map((i) => ({ index: i, header: itemHeader(i, 1, 0, 0, String(i + 1)), payload: payload(i) }));
  await scripts.enqueue(redis, keys, id, { now: Date.now(), entryItems: perEntry, items: call });
}

async function read(consumer: string, count = 100): Promise<ReadEntry[]> {
  return parseReadReply(await redis.xreadgroup('GROUP', GROUP, consumer, 'COUNT', count, 'STREAMS', keys.items, '>'));
}

/** Claims the items of these entries, at most `free`; returns each claimed entry as "id:flags". */
async function claim(jobId: string, consumer: string, entries: ReadEntry[], free = 1000, bytes = 1 << 30): Promise<string[]> {
  return (await claimWithPayloads(jobId, consumer, entries, free, bytes)).map((c) => `${c.id}:${c.flags}`);
}

/** Claims as `claim` does; returns each claimed entry with the payloads of the items taken. */
async function claimWithPayloads(jobId: string, consumer: string, entries: ReadEntry[], free = 1000, bytes = 1 << 30) {
  const reply = await scripts.claim(redis, keys, jobId, { worker: consumer, wantSpec: false, freeSlots: free, maxBytes: bytes, entries: entries.map((e) => e.entry!) });
  return [...reply.claimed].map(([id, c]) => ({ id, flags: c.taken, payloads: c.payloads }));
}

let reportSeq = 0;
/** A record: [kind, entry id] for E; [kind, entry id, item index, event] for S, C, D; plus x1, x2 for R and F. */
type Rec = [kind: string, entryId: string, i?: number, event?: string, x1?: string, x2?: string];
async function report(jobId: string, consumer: string, records: Rec[]): Promise<{ status: string | null; stale: string[] }> {
  const args: string[] = [];
  for (const [kind, entryId, i, event = '', x1 = '', x2 = ''] of records) {
    args.push(kind, entryId);
    if (kind !== 'E') args.push(String(i), event);
    if (kind === 'R' || kind === 'F') args.push(x1, x2);
  }
  return scripts.report(redis, keys, jobId, { worker: consumer, now: Date.now(), seq: ++reportSeq, records: args });
}

async function events(jobId: string): Promise<DecodedEvent[]> {
  const entries = await redis.xrange(keys.job(jobId).events, '-', '+');
  return entries.flatMap(([, kv]) => decodeEntry(kv[1]!));
}

const durations = { queuedMs: 1, firstChunkMs: 2, totalMs: 3 };
const done = (i: number, a = 1, out = `out ${i}`, worker = 'w1') => wireDone(i, String(i + 1), a, out, worker, durations);

const items = (e: ReadEntry | undefined) => e!.entry!.items;

/** A reaper reaps a silent worker at its second look (the first only makes it a suspect). */
async function reapTwice(reaper: Reaper): Promise<void> {
  await reaper.tick();
  await reaper.tick();
}

describe('create and enqueue', () => {
  it('creating a job twice changes nothing, and enqueue skips indexes already enqueued (a resumed submit sends all again)', async () => {
    await createJob('j1', 3);
    const jk = keys.job('j1');
    expect(await scripts.createJob(redis, keys, { id: 'j1', now: Date.now(), total: 99, ttlMs: 0, retries: 1, spec, submitter: 'other', out: '' })).toBe('running');
    await enqueue('j1', [0, 1], 2);
    await enqueue('j1', [0, 1, 2], 2);
    expect(await redis.hmget(jk.hash, 'total', 'n', 'enq')).toEqual(['3', '3', '3']);
    // Items go as batches: entries of two at most, each item with its id, attempt 1 and payload.
    const entries = await read('w');
    expect(entries.map((e) => items(e).map((it) => it.index))).toEqual([[0, 1], [2]]);
    expect(items(entries[0])[1]).toEqual({ index: 1, id: '2', attempt: 1, charged: 0, reclaims: 0, payload: '"prompt 1"' });
    expect(entries[0]!.entry!.jobId).toBe('j1');
    // Short payloads ride in their entries (no input hash); a claim hands them out with the items it takes.
    expect(await redis.exists(jk.input)).toBe(0);
    expect((await claimWithPayloads('j1', 'w', entries)).map((c) => c.payloads)).toEqual([['"prompt 0"', '"prompt 1"'], ['"prompt 2"']]);
  });

  it('an item id with commas and newlines survives the entry layout', async () => {
    await createJob('j', 1);
    await scripts.enqueue(redis, keys, 'j', { now: Date.now(), entryItems: 4, items: [{ index: 0, header: itemHeader(0, 1, 0, 0, 'a,b\nc'), payload: '{"x":[1,2]}' }] });
    const entries = await read('w');
    expect(items(entries[0])).toEqual([{ index: 0, id: 'a,b\nc', attempt: 1, charged: 0, reclaims: 0, payload: '{"x":[1,2]}' }]);
    expect((await claimWithPayloads('j', 'w', entries))[0]!.payloads).toEqual(['{"x":[1,2]}']);
  });
});

describe('fencing and idempotent commit', () => {
  it('a zombie whose entry was reclaimed has its chunks and result rejected; the new owner commits exactly once', async () => {
    await createJob('j', 1);
    await enqueue('j', [0]);
    const [first] = await read('zombie');
    expect(await claim('j', 'zombie', [first!])).toEqual([`${first!.id}:1`]);
    expect((await report('j', 'zombie', [['S', first!.id, 0, wireStart(0, '1', 1, 'zombie', 0)]])).stale).toEqual([]);

    // The zombie's heartbeat is gone: the reaper hands its entry on.
    const reaper = new Reaper(redis, keys, { self: 'reaper', ttlMs: 1000, maxReclaims: 5, log: () => undefined });
    await reapTwice(reaper);
    const [second] = await read('alive');
    expect(items(second)[0]!.attempt).toBe(2);
    expect(await claim('j', 'alive', [second!])).toEqual([`${second!.id}:1`]);

    const late = await report('j', 'zombie', [['C', first!.id, 0, JSON.stringify(['c', 0, 1, 'zombie text', 1, 0])], ['D', first!.id, 0, done(0, 1, 'zombie result', 'zombie')]]);
    expect(late.stale).toEqual([first!.id]);
    const ok = await report('j', 'alive', [['D', second!.id, 0, done(0, 2, 'real result', 'alive')], ['E', second!.id]]);
    expect(ok).toEqual({ status: 'done', stale: [] });
    // A duplicate commit of the same entry (a report retried after a lost reply) changes nothing.
    expect((await report('j', 'alive', [['D', second!.id, 0, done(0, 2, 'again', 'alive')]])).stale).toEqual([second!.id]);

    const ev = await events('j');
    const results = ev.filter((e) => e.type === 'item-done');
    expect(results).toHaveLength(1);
    expect(results[0]).toMatchObject({ output: 'real result', attempt: 2, worker: 'alive' });
    expect(ev.some((e) => e.type === 'chunk' && e.text === 'zombie text')).toBe(false);
    // Watchers saw the lost attempt retried before the new one began: the stream restarts cleanly.
    const retry = ev.findIndex((e) => e.type === 'item-retry');
    expect(retry).toBeGreaterThan(-1);
    expect(ev.at(-1)).toMatchObject({ type: 'job-done', counts: { total: 1, done: 1, failed: 0 } });
    expect(await redis.hget(keys.job('j').hash, 'done')).toBe('1');
    // Finished entries are acknowledged and deleted: the work stream is empty and nothing is pending.
    expect(await redis.xlen(keys.items)).toBe(0);
    expect((await redis.xpending(keys.items, GROUP))[0]).toBe(0);
  });

  it('a report sent again after a lost reply is applied once: no chunk appears twice', async () => {
    await createJob('j', 1);
    await enqueue('j', [0]);
    const [entry] = await read('w');
    await claim('j', 'w', [entry!]);
    const records = ['S', entry!.id, '0', wireStart(0, '1', 1, 'w', 0), 'C', entry!.id, '0', JSON.stringify(['c', 0, 1, 'piece', 1, 0])];
    const send = () => scripts.report(redis, keys, 'j', { worker: 'w', now: Date.now(), seq: 41, records });
    await send();
    await send();
    expect((await events('j')).filter((e) => e.type === 'chunk')).toHaveLength(1);
  });

  it('an entry reclaimed before it was claimed cannot be claimed by its old reader', async () => {
    await createJob('j', 2);
    await enqueue('j', [0, 1], 2);
    const [entry] = await read('slow');
    await reapTwice(new Reaper(redis, keys, { self: 'r', ttlMs: 1000, maxReclaims: 5, log: () => undefined }));
    expect(await claim('j', 'slow', [entry!])).toEqual([]);
    const [again] = await read('other');
    // Never started, so the attempt numbers are unchanged and no retry event was written.
    expect(items(again).map((it) => [it.index, it.attempt, it.reclaims])).toEqual([[0, 1, 0], [1, 1, 0]]);
    expect((await events('j')).filter((e) => e.type === 'item-retry')).toEqual([]);
  });
});

describe('batches: claiming what fits, and reclaiming what was claimed', () => {
  it('a worker takes only as many items as it has free slots; the rest go back to the stream for others', async () => {
    await createJob('j', 4);
    await enqueue('j', [0, 1, 2, 3], 4);
    const [entry] = await read('w1');
    expect(await claim('j', 'w1', [entry!], 3)).toEqual([`${entry!.id}:1110`]);
    expect(await redis.hget(keys.job('j').run, entry!.id)).toBe('3:0,1,2');
    const [rest] = await read('w2');
    expect(items(rest).map((it) => it.index)).toEqual([3]);
    expect(await claim('j', 'w2', [rest!])).toEqual([`${rest!.id}:1`]);
    expect(await redis.hget(keys.job('j').run, rest!.id)).toBe('1:3');
  });

  it('a claim sent again (its reply lost) takes the same items and splits nothing twice', async () => {
    await createJob('j', 4);
    await enqueue('j', [0, 1, 2, 3], 4);
    const [entry] = await read('w1');
    expect(await claim('j', 'w1', [entry!], 3)).toEqual([`${entry!.id}:1110`]);
    expect(await claim('j', 'w1', [entry!], 3)).toEqual([`${entry!.id}:1110`]);
    expect(await redis.xlen(keys.items)).toBe(2); // the entry and one split-off copy of item 3
    // Once its items are finished, claiming it again gives nothing and lets it go.
    await report('j', 'w1', [0, 1, 2].map((i): Rec => ['D', entry!.id, i, done(i)]));
    expect(await claim('j', 'w1', [entry!], 3)).toEqual([]);
    expect(await redis.hexists(keys.job('j').run, entry!.id)).toBe(0);
    expect(await redis.xlen(keys.items)).toBe(1);
  });

  it('a dead worker\'s entry comes back with only the items it took and had not finished, as their next attempt', async () => {
    await createJob('j', 4);
    await enqueue('j', [0, 1, 2, 3], 4);
    const [entry] = await read('dead');
    await claim('j', 'dead', [entry!], 3); // items 0-2 taken, 3 split off
    await report('j', 'dead', [['D', entry!.id, 1, done(1)]]);
    await reapTwice(new Reaper(redis, keys, { self: 'r', ttlMs: 1000, maxReclaims: 5, log: () => undefined }));
    const back = await read('alive');
    const byI = back.flatMap((e) => items(e).map((it) => [it.index, it.attempt, it.reclaims]));
    expect(byI.sort()).toEqual([[0, 2, 1], [2, 2, 1], [3, 1, 0]]);
    const retried = (await events('j')).filter((e) => e.type === 'item-retry').map((e) => ('index' in e ? e.index : -1));
    expect(retried.sort()).toEqual([0, 2]);
    // The finished item stays finished; the others complete once each.
    for (const e of back) {
      await claim('j', 'alive', [e]);
      await report('j', 'alive', [...items(e).map((it): Rec => ['D', e.id, it.index, done(it.index, it.attempt)]), ['E', e.id]]);
    }
    expect(await redis.hmget(keys.job('j').hash, 'status', 'done')).toEqual(['done', '4']);
    expect((await events('j')).filter((e) => e.type === 'item-done')).toHaveLength(4);
    expect(await redis.xlen(keys.items)).toBe(0);
  });

  it('an item sent on for a retry leaves its entry: when the worker then dies, only the others come back', async () => {
    await createJob('j', 3);
    await enqueue('j', [0, 1, 2], 3);
    const [entry] = await read('dead');
    await claim('j', 'dead', [entry!]);
    const next = JSON.stringify({ j: 'j', i: '1', k: '2', a: '2', c: '1', r: '0', q: '0' });
    await report('j', 'dead', [['R', entry!.id, 1, JSON.stringify(['r', 1, '2', 1, 'boom', 60_000, true]), '60000', next]]);
    expect(await redis.hget(keys.job('j').run, entry!.id)).toBe('2:0,2');
    await reapTwice(new Reaper(redis, keys, { self: 'r', ttlMs: 1000, maxReclaims: 5, log: () => undefined }));
    const back = await read('alive');
    expect(back.flatMap((e) => items(e).map((it) => it.index))).toEqual([0, 2]);
    // Item 1 exists once: in the delayed set, as its second attempt.
    expect(await redis.zcard(keys.delayed)).toBe(1);
    // A retry of an item given up meanwhile is dropped, not delayed.
    await claim('j', 'alive', back);
    expect(await scripts.cancelItem(redis, keys, 'j', 0, Date.now())).toBe(true);
    const again = JSON.stringify({ j: 'j', i: '0', k: '1', a: '3', c: '1', r: '1', q: '0' });
    await report('j', 'alive', [['R', back[0]!.id, 0, JSON.stringify(['r', 0, '1', 2, 'boom', 10, true]), '10', again]]);
    expect(await redis.zcard(keys.delayed)).toBe(1);
  });

  it('an entry is acknowledged only when the worker says it is finished, and then even after its job ended', async () => {
    await createJob('j', 2, 60_000);
    await enqueue('j', [0, 1], 2);
    const [entry] = await read('w');
    await claim('j', 'w', [entry!]);
    await report('j', 'w', [['D', entry!.id, 0, done(0)], ['D', entry!.id, 1, done(1)]]);
    // The job is done (its fences dropped with it), the entry still pending to the worker.
    expect(await redis.hget(keys.job('j').hash, 'status')).toBe('done');
    expect((await redis.xpending(keys.items, GROUP))[0]).toBe(1);
    expect((await report('j', 'w', [['E', entry!.id]])).status).toBe('done');
    expect((await redis.xpending(keys.items, GROUP))[0]).toBe(0);
    expect(await redis.xlen(keys.items)).toBe(0);
  });
});

describe('retries, dead letters, and the end of a job', () => {
  it('a retry waits in the delayed set, is promoted when due, and a final failure is dead-lettered and ends the job', async () => {
    await createJob('j', 2);
    await enqueue('j', [0, 1], 2);
    const [entry] = await read('w');
    await claim('j', 'w', [entry!]);
    // The next attempt's member carries the short payload its entry carried (as the worker's outcomes.ts makes it).
    const next = delayedMember({ jobId: 'j', item: { ...items(entry)[0]!, attempt: 2, charged: 1 }, enqueuedAt: 0 });
    await report('j', 'w', [
      ['R', entry!.id, 0, JSON.stringify(['r', 0, '1', 1, 'boom', 50, true]), '50', next],
      ['D', entry!.id, 1, done(1)],
      ['E', entry!.id],
    ]);
    expect(await redis.zcard(keys.delayed)).toBe(1);
    const early = await scripts.promote(redis, keys, Date.now(), 100);
    expect(early.moved).toBe(0);
    await new Promise((r) => setTimeout(r, 80));
    expect((await scripts.promote(redis, keys, Date.now(), 100)).moved).toBe(1);
    const [retry] = await read('w');
    expect(items(retry)).toEqual([{ index: 0, id: '1', attempt: 2, charged: 1, reclaims: 0, payload: '"prompt 0"' }]);
    expect((await claimWithPayloads('j', 'w', [retry!]))[0]!.payloads).toEqual(['"prompt 0"']);
    const failed = JSON.stringify(['f', 0, '1', 2, 'boom again', 'w', 0, false, 5, '"prompt 0"']);
    expect((await report('j', 'w', [['F', retry!.id, 0, failed, '"prompt 0"', 'boom again'], ['E', retry!.id]])).status).toBe('done');
    const dlq = await redis.xrange(keys.dlq, '-', '+');
    expect(dlq).toHaveLength(1);
    expect(dlq[0]![1]).toEqual(expect.arrayContaining(['e', 'boom again', 'j', 'j']));
    expect((await events('j')).at(-1)).toMatchObject({ type: 'job-done', counts: { total: 2, done: 1, failed: 1 } });
    expect(await redis.xlen(keys.items)).toBe(0);
  });

  it('an item whose workers keep dying is dead-lettered after the reclaim limit, and the job still ends', async () => {
    await createJob('j', 1);
    await enqueue('j', [0]);
    const reaper = new Reaper(redis, keys, { self: 'reaper', ttlMs: 1000, maxReclaims: 2, log: () => undefined });
    for (let k = 0; k < 3; k++) {
      const entries = await read(`dead${k}`);
      expect(entries).toHaveLength(1);
      await claim('j', `dead${k}`, entries);
      await reapTwice(reaper);
    }
    expect(await redis.xlen(keys.items)).toBe(0);
    const ev = await events('j');
    expect(ev.filter((e) => e.type === 'item-failed')).toHaveLength(1);
    expect(ev.at(-1)).toMatchObject({ type: 'job-done', counts: { failed: 1 } });
    // Dead consumers holding nothing are removed from the group.
    const consumers = (await redis.xinfo('CONSUMERS', keys.items, GROUP)) as unknown[];
    expect(consumers).toHaveLength(0);
  });

  it('finished jobs expire: every key of the job gets the configured TTL', async () => {
    await createJob('j', 1, 60_000);
    await enqueue('j', [0]);
    const entries = await read('w');
    await claim('j', 'w', entries);
    await report('j', 'w', [['D', entries[0]!.id, 0, done(0)], ['E', entries[0]!.id]]);
    const jk = keys.job('j');
    for (const key of [jk.hash, jk.events, jk.fin]) {
      const ttl = await redis.pttl(key);
      expect(ttl).toBeGreaterThan(50_000);
      expect(ttl).toBeLessThanOrEqual(60_000);
    }
    expect(await redis.exists(jk.run)).toBe(0);
  });
});

describe('cancel', () => {
  it('abort: the job ends once its running items are released; its queued items are dropped when claimed', async () => {
    await createJob('j', 3);
    await enqueue('j', [0, 1, 2]);
    const [running] = await read('w', 1);
    await claim('j', 'w', [running!]);
    expect(await scripts.cancel(redis, keys, 'j', { now: Date.now(), mode: 'abort', reason: 'test' })).toBe('aborting');
    // Reports from the worker now answer "aborting", so it aborts its items and finishes the entry.
    const { status } = await report('j', 'w', [['S', running!.id, 0, wireStart(0, '1', 1, 'w', 0)]]);
    expect(status).toBe('aborting');
    expect((await report('j', 'w', [['E', running!.id]])).status).toBe('cancelled');
    const queued = await read('w');
    expect(queued).toHaveLength(2);
    expect(await claim('j', 'w', queued)).toEqual([]);
    expect(await redis.xlen(keys.items)).toBe(0);
    expect((await events('j')).at(-1)).toMatchObject({ type: 'job-cancelled', reason: 'test', counts: { total: 3, done: 0, unfinished: 3 } });
  });

  it('drain with nothing running ends the job at once', async () => {
    await createJob('j', 2);
    expect(await scripts.cancel(redis, keys, 'j', { now: Date.now(), mode: 'drain', reason: 'interrupted' })).toBe('cancelled');
    expect(await scripts.cancel(redis, keys, 'nope', { now: Date.now(), mode: 'abort', reason: 'x' })).toBeNull();
  });
});

describe('trim', () => {
  it('trims deleted entries up to the oldest one still pending, never pending or undelivered work', async () => {
    await createJob('j', 10);
    await enqueue('j', [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const entries = await read('w', 6);
    await claim('j', 'w', entries);
    // Items 0-3 and 5 finish; 4 stays pending; 6-9 were never delivered.
    await report('j', 'w', [0, 1, 2, 3, 5].flatMap((i): Rec[] => [['D', entries[i]!.id, i, done(i)], ['E', entries[i]!.id]]));
    await scripts.trim(redis, keys);
    const left = (await redis.xrange(keys.items, '-', '+')).map(([id]) => id);
    expect(left).toContain(entries[4]!.id);
    expect(left).toHaveLength(5);
    expect(await read('w2')).toHaveLength(4);
  });
});

describe('cancel-item (a client that went away)', () => {
  const cancelItem = (jobId: string, i: number) => scripts.cancelItem(redis, keys, jobId, i, Date.now());

  it('a running item: its worker woken, its result refused; a waiting one dropped at claim; the job ends without them', async () => {
    await createJob('j', 3);
    await enqueue('j', [0, 1, 2], 3);
    const [entry] = await read('w1');
    // Items 0 and 1 run on w1; 2 went back to the stream.
    expect(await claim('j', 'w1', [entry!], 2)).toEqual([`${entry!.id}:110`]);
    const sub = redis.duplicate();
    const heard: string[] = [];
    await sub.subscribe(keys.ctl);
    sub.on('message', (_c: string, m: string) => heard.push(m));
    expect(await cancelItem('j', 0)).toBe(true);
    for (let k = 0; k < 50 && heard.length === 0; k++) await new Promise((r) => setTimeout(r, 10));
    expect(heard).toEqual(['item j 0']);
    sub.disconnect();
    // Its late result is not counted and not written.
    await report('j', 'w1', [['D', entry!.id, 0, done(0)], ['D', entry!.id, 1, done(1)], ['E', entry!.id]]);
    const jk = keys.job('j');
    expect(await redis.hmget(jk.hash, 'done', 'dropped')).toEqual(['1', '1']);

    // Item 2 is given up while it waits (read but not yet claimed): claim drops its entry.
    const [rest] = await read('w2');
    expect(await cancelItem('j', 2)).toBe(true);
    expect(await claim('j', 'w2', [rest!])).toEqual([]);
    expect(await redis.hmget(jk.hash, 'status', 'done', 'failed', 'dropped')).toEqual(['done', '1', '0', '2']);
    const ev = await events('j');
    expect(ev.filter((e) => e.type === 'item-done').map((e) => ('index' in e ? e.index : -1))).toEqual([1]);
    expect(ev.at(-1)).toMatchObject({ type: 'job-done', counts: { total: 3, done: 1, failed: 0, unfinished: 2 } });
    expect(await redis.xlen(keys.items)).toBe(0);
  });

  it('changes nothing for an item with its result, or a job that is over or gone', async () => {
    await createJob('j', 1);
    await enqueue('j', [0]);
    const [e0] = await read('w1');
    await claim('j', 'w1', [e0!]);
    await report('j', 'w1', [['D', e0!.id, 0, done(0)], ['E', e0!.id]]);
    expect(await cancelItem('j', 0)).toBe(false);
    expect(await redis.hget(keys.job('j').hash, 'dropped')).toBeNull();
    expect(await cancelItem('nosuchjob', 0)).toBe(false);
    expect(await redis.exists(keys.job('nosuchjob').hash, keys.job('nosuchjob').fin)).toBe(0);
  });
});

describe('payloads: short ones ride in their entries, long ones wait in the job input hash', () => {
  /** A payload too long for an entry. */
  const long = (i: number) => JSON.stringify(`prompt ${i} ${'x'.repeat(INLINE_INPUT_BYTES)}`);
  /** The entry's value per item, as stored. */
  const values = async (id: string) => (await redis.xrange(keys.items, id, id))[0]![1].filter((_, k) => k >= 4 && k % 2 === 1);

  it('a claim takes items up to its byte budget of hash payloads (one at least); the rest go back with their long payloads left where they are', async () => {
    await createJob('j', 4);
    await enqueue('j', [0, 1, 2, 3], 4, long);
    expect((await redis.hkeys(keys.job('j').input)).sort()).toEqual(['0', '1', '2', '3']);
    const [entry] = await read('w1');
    expect(await values(entry!.id)).toEqual(['', '', '', '']);
    const [got] = await claimWithPayloads('j', 'w1', [entry!], 1000, long(0).length + 1);
    // The budget is checked before each item: 0 fits and takes the first, one payload the second.
    expect(got).toEqual({ id: entry!.id, flags: '1100', payloads: [long(0), long(1)] });
    const [rest] = await read('w2');
    expect(await values(rest!.id)).toEqual(['', '']);
    expect(items(rest).map((it) => it.index)).toEqual([2, 3]);
    expect((await claimWithPayloads('j', 'w2', [rest!], 1000, 0))[0]).toEqual({ id: rest!.id, flags: '10', payloads: [long(2)] });
  });

  it('short and long payloads in one entry: each handed out from where it is, and a split copies only the short ones along', async () => {
    await createJob('j', 4);
    const mixed = (i: number) => (i % 2 === 0 ? short(i) : long(i));
    await enqueue('j', [0, 1, 2, 3], 4, mixed);
    expect((await redis.hkeys(keys.job('j').input)).sort()).toEqual(['1', '3']);
    const [entry] = await read('w1');
    expect(await values(entry!.id)).toEqual([short(0), '', short(2), '']);
    expect(await claimWithPayloads('j', 'w1', [entry!], 2)).toEqual([{ id: entry!.id, flags: '1100', payloads: [short(0), long(1)] }]);
    const [rest] = await read('w2');
    expect(await values(rest!.id)).toEqual([short(2), '']);
    expect(await claimWithPayloads('j', 'w2', [rest!])).toEqual([{ id: rest!.id, flags: '11', payloads: [short(2), long(3)] }]);
  });

  it('an item with its final result has its long payload deleted, and the job end deletes the rest: no key of its inputs is left', async () => {
    await createJob('j', 3);
    await enqueue('j', [0, 1, 2], 3, (i) => (i === 2 ? short(i) : long(i)));
    const jk = keys.job('j');
    const [entry] = await read('w');
    await claim('j', 'w', [entry!]);
    await report('j', 'w', [['D', entry!.id, 0, done(0)]]);
    expect(await redis.hkeys(jk.input)).toEqual(['1']);
    await report('j', 'w', [['D', entry!.id, 2, done(2)]]);
    expect(await redis.hkeys(jk.input)).toEqual(['1']);
    await report('j', 'w', [['F', entry!.id, 1, JSON.stringify(['f', 1, '2', 1, 'boom', 'w', 0, false, 1, long(1)]), long(1), 'boom'], ['E', entry!.id]]);
    expect(await redis.exists(jk.input)).toBe(0);
    expect(await redis.hget(jk.hash, 'status')).toBe('done');
    expect(await redis.xlen(keys.items)).toBe(0);
  });

  it('a job of short payloads never has an input hash, and its entries go with their last results', async () => {
    await createJob('j', 3);
    await enqueue('j', [0, 1, 2], 2);
    const jk = keys.job('j');
    const entries = await read('w');
    expect(await claimWithPayloads('j', 'w', entries)).toEqual(entries.map((e) => ({ id: e.id, flags: '1'.repeat(items(e).length), payloads: items(e).map((it) => short(it.index)) })));
    for (const e of entries) await report('j', 'w', [...items(e).map((it): Rec => ['D', e.id, it.index, done(it.index)]), ['E', e.id]]);
    expect(await redis.hget(jk.hash, 'status')).toBe('done');
    expect(await redis.exists(jk.input)).toBe(0);
    expect(await redis.xlen(keys.items)).toBe(0);
  });

  it('a retry of a long payload: its member names no payload, the promoted entry reads it from the hash, and the final result deletes it', async () => {
    await createJob('j', 1);
    await enqueue('j', [0], 1, long);
    const jk = keys.job('j');
    const [entry] = await read('w');
    await claim('j', 'w', [entry!]);
    const next = delayedMember({ jobId: 'j', item: { ...items(entry)[0]!, attempt: 2, charged: 1 }, enqueuedAt: 0 });
    expect(JSON.parse(next)).not.toHaveProperty('p');
    await report('j', 'w', [['R', entry!.id, 0, JSON.stringify(['r', 0, '1', 1, 'boom', 0, true]), '0', next], ['E', entry!.id]]);
    expect((await scripts.promote(redis, keys, Date.now() + 1, 100)).moved).toBe(1);
    const [retry] = await read('w');
    expect(items(retry)[0]).toMatchObject({ attempt: 2, payload: '' });
    expect((await claimWithPayloads('j', 'w', [retry!]))[0]!.payloads).toEqual([long(0)]);
    await report('j', 'w', [['D', retry!.id, 0, done(0, 2)], ['E', retry!.id]]);
    expect(await redis.hget(jk.hash, 'status')).toBe('done');
    expect(await redis.exists(jk.input)).toBe(0);
  });

  it('a reclaimed entry comes back with its short payloads; past the reclaim limit, the dead letter holds the payload from the entry or the hash', async () => {
    await createJob('j', 2);
    await enqueue('j', [0, 1], 2, (i) => (i === 0 ? short(i) : long(i)));
    const reaper = new Reaper(redis, keys, { self: 'reaper', ttlMs: 1000, maxReclaims: 1, log: () => undefined });
    const [first] = await read('dead0');
    await claim('j', 'dead0', [first!]);
    await reapTwice(reaper);
    const [back] = await read('dead1');
    expect(await values(back!.id)).toEqual([short(0), '']);
    expect(await claimWithPayloads('j', 'dead1', [back!])).toEqual([{ id: back!.id, flags: '11', payloads: [short(0), long(1)] }]);
    await reapTwice(reaper);
    const dlq = await redis.xrange(keys.dlq, '-', '+');
    const payloadOf = (kv: string[]) => kv[kv.indexOf('p') + 1];
    expect(dlq.map(([, kv]) => [kv[kv.indexOf('i') + 1], payloadOf(kv)])).toEqual([['0', short(0)], ['1', long(1)]]);
    expect(await redis.hget(keys.job('j').hash, 'status')).toBe('done');
    expect(await redis.exists(keys.job('j').input)).toBe(0);
    expect(await redis.xlen(keys.items)).toBe(0);
  });
});

describe('the reaper and a slow Redis', () => {
  it('a worker seen without its heartbeat once is not reaped if it beats before the second look', async () => {
    await createJob('j', 1);
    await enqueue('j', [0]);
    const [entry] = await read('slow');
    await claim('j', 'slow', [entry!]);
    const reaper = new Reaper(redis, keys, { self: 'r', ttlMs: 1000, maxReclaims: 5, log: () => undefined });
    await reaper.tick(); // no heartbeat key: a suspect only
    await scripts.heartbeat(redis, keys, 'slow', { now: Date.now(), ttlMs: 60_000, fields: ['slots', '1'] });
    await reaper.tick();
    expect(await redis.hlen(keys.job('j').run)).toBe(1);
    expect((await redis.xpending(keys.items, GROUP, '-', '+', 10, 'slow')) as unknown[]).toHaveLength(1);
  });

  it('a reclaim finds the worker alive inside the script (it beat between the look and the requeue): nothing moves', async () => {
    await createJob('j', 1);
    await enqueue('j', [0]);
    const [entry] = await read('w');
    await claim('j', 'w', [entry!]);
    await scripts.heartbeat(redis, keys, 'w', { now: Date.now(), ttlMs: 60_000, fields: ['slots', '1'] });
    const reaper = new Reaper(redis, keys, { self: 'r', ttlMs: 1000, maxReclaims: 5, log: () => undefined });
    expect(await reaper.requeue('w', [entry!.id], new Map([[entry!.id, 'j']]), 'reclaim', 'test')).toBe(-1);
    expect(await redis.hlen(keys.job('j').run)).toBe(1);
    expect(await redis.xlen(keys.items)).toBe(1);
  });
});
