/** Pure parts of the Redis broker: the events wire format, report coalescing, URL checks. */
import { describe, expect, it } from 'vitest';
import { parseRedisUrl } from '../../src/brokers/redis/connection.js';
import { failedForGood, ReportBuffer, ReportRecord, reportArgs, reportParts, retryLater } from '../../src/brokers/redis/worker/report-buffer.js';
import { decodeEntry, wireChunk, wireDone, wireFailed, wireOutcome, wireRetry, wireStart } from '../../src/brokers/redis/wire.js';
import { delayedMember, parseWorkEntry } from '../../src/brokers/redis/work-entry.js';
import { UsageError } from '../../src/core/errors.js';

describe('wire events', () => {
  it('round-trips every item event as the JobEvent the embedded pool would emit', () => {
    const d = { queuedMs: 5, firstChunkMs: null, totalMs: 9 };
    const field = `[${[
      wireStart(3, 'id3', 2, 'w1', 0),
      wireChunk(3, 2, 'héllo "x"', 4, 1),
      wireDone(3, 'id3', 2, 'out', 'w1', d),
      wireRetry(4, 'id4', 1, 'boom', 250, true),
      wireFailed(4, 'id4', 3, 'boom', null, { queuedMs: 1, firstChunkMs: 2, totalMs: 3 }, '"p4"'),
    ].join(',')}]`;
    expect(decodeEntry(field)).toEqual([
      { type: 'item-start', index: 3, id: 'id3', attempt: 2, worker: 'w1' },
      { type: 'chunk', index: 3, attempt: 2, text: 'héllo "x"', n: 4, stage: 1 },
      { type: 'item-done', index: 3, id: 'id3', attempt: 2, output: 'out', worker: 'w1', durations: d },
      { type: 'item-retry', index: 4, id: 'id4', attempt: 1, error: 'boom', delayMs: 250, charged: true },
      { type: 'item-failed', index: 4, id: 'id4', attempts: 3, error: 'boom', worker: null, durations: { queuedMs: 1, firstChunkMs: 2, totalMs: 3 }, input: 'p4' },
    ]);
  });

  it("carries a processor's systemic cause on retries and failures to the submitter (its fail-fast)", () => {
    const d = { queuedMs: 1, firstChunkMs: null, totalMs: 3 };
    const field = `[${[wireRetry(4, 'id4', 1, 'refused', 250, true, 'openai: POST u failed: ECONNREFUSED'), wireFailed(5, 'id5', 2, 'denied', 'w1', d, '"p5"', 'openai: HTTP 401 from POST u')].join(',')}]`;
    expect(decodeEntry(field)).toEqual([
      { type: 'item-retry', index: 4, id: 'id4', attempt: 1, error: 'refused', delayMs: 250, charged: true, cause: 'openai: POST u failed: ECONNREFUSED' },
      { type: 'item-failed', index: 5, id: 'id5', attempts: 2, error: 'denied', worker: 'w1', durations: d, input: 'p5', cause: 'openai: HTTP 401 from POST u' },
    ]);
  });

  it('decodes the job-level events the scripts write, and skips what it cannot read', () => {
    expect(decodeEntry('[["J","cancelled","stop",5,2,1],["T",5],["X","aborting","why"],["?"],7]')).toEqual([
      { type: 'job-cancelled', reason: 'stop', counts: { total: 5, done: 2, failed: 1, unfinished: 2 } },
      { type: 'job-total', total: 5 },
      { type: 'stopping', status: 'aborting', reason: 'why' },
    ]);
    expect(decodeEntry('not json')).toEqual([]);
  });
});

describe('item meta on the wire', () => {
  const d = { queuedMs: 5, firstChunkMs: 1, totalMs: 9 };
  const meta = { usage: { prompt_tokens: 12, completion_tokens: 34 }, model: 'gpt-x', finish_reason: 'stop', request_id: 'req-1' };
  const failedMeta = { usage: { prompt_tokens: 3, completion_tokens: 1, estimated: true as const } };
  const entry = (...events: string[]) => `[${events.join(',')}]`;

  it("rides each outcome ('d', 'o', 'r', 'f') as an 'm' event before it, and decodes onto that outcome", () => {
    const got = decodeEntry(
      entry(
        wireDone(0, 'id0', 1, 'out', 'w1', d, meta),
        wireOutcome(1, 'id1', 2, 'w1', 'text', 1, 'out1', d, meta),
        wireRetry(2, 'id2', 1, 'boom', 250, true, 'the cause', failedMeta),
        wireFailed(3, 'id3', 2, 'boom', 'w1', d, '"p3"', undefined, failedMeta),
      ),
    );
    expect(got).toEqual([
      { type: 'item-done', index: 0, id: 'id0', attempt: 1, output: 'out', worker: 'w1', durations: d, meta },
      { type: 'item-start', index: 1, id: 'id1', attempt: 2, worker: 'w1' },
      { type: 'chunk', index: 1, attempt: 2, text: 'text', n: 1 },
      { type: 'item-done', index: 1, id: 'id1', attempt: 2, output: 'out1', worker: 'w1', durations: d, meta },
      { type: 'item-retry', index: 2, id: 'id2', attempt: 1, error: 'boom', delayMs: 250, charged: true, cause: 'the cause', meta: failedMeta },
      { type: 'item-failed', index: 3, id: 'id3', attempts: 2, error: 'boom', worker: 'w1', durations: d, input: 'p3', meta: failedMeta },
    ]);
    // Without meta nothing changes: no 'm', no field.
    expect(wireDone(0, 'id0', 1, 'out', 'w1', d, undefined)).toBe(wireDone(0, 'id0', 1, 'out', 'w1', d));
    expect(decodeEntry(entry(wireDone(0, 'id0', 1, 'out', 'w1', d)))[0]).not.toHaveProperty('meta');
  });

  it("leaves every existing field where it was: an older reader skips the 'm' (an unknown kind) and reads the rest as before", () => {
    const [m, done] = JSON.parse(entry(wireDone(0, 'id0', 1, 'out', 'w1', d, meta))) as unknown[][];
    expect(m).toEqual(['m', 0, 1, meta]);
    expect(done).toEqual(JSON.parse(wireDone(0, 'id0', 1, 'out', 'w1', d)));
    // The outcome with its text, and the optional cause, keep their places and lengths too.
    expect(JSON.parse(entry(wireOutcome(1, 'id1', 2, 'w1', 'text', 1, 'out1', d, meta)))[1]).toHaveLength(11);
    expect(JSON.parse(entry(wireRetry(2, 'id2', 1, 'boom', 250, true, undefined, meta)))[1]).toHaveLength(7);
  });

  it("reads an older version's entry: a 'd' with the payload at position 9, and no 'm'", () => {
    expect(decodeEntry('[["d",4,"id4",1,"out","w1",1,false,3,"\\"p4\\""]]')).toEqual([
      { type: 'item-done', index: 4, id: 'id4', attempt: 1, output: 'out', worker: 'w1', durations: { queuedMs: 1, firstChunkMs: null, totalMs: 3 }, input: 'p4' },
    ]);
  });

  it("drops a malformed meta (a buggy or hostile worker), and an 'm' that is not its outcome's, keeping the outcome", () => {
    const done = wireDone(0, 'id0', 1, 'out', 'w1', d);
    const bad = [
      ['m', 0, 1, { usage: { prompt_tokens: -1, completion_tokens: 2 } }],
      ['m', 0, 1, 'not an object'],
      ['m', 0, 1, { model: 42 }],
      ['m', 0, 1, {}],
      ['m', 0, 2, meta], // another attempt
      ['m', 9, 1, meta], // another item
    ];
    for (const m of bad) expect(decodeEntry(entry(JSON.stringify(m), done)), JSON.stringify(m)).toEqual([{ type: 'item-done', index: 0, id: 'id0', attempt: 1, output: 'out', worker: 'w1', durations: d }]);
    // An 'm' goes with the event right after it only; a label past 256 characters is cut.
    const start = wireStart(0, 'id0', 1, 'w1', 0);
    expect(decodeEntry(entry(JSON.stringify(['m', 0, 1, meta]), start, done))[1]).not.toHaveProperty('meta');
    const long = decodeEntry(entry(JSON.stringify(['m', 0, 1, { model: 'x'.repeat(1000), extra: 'ignored' }]), done))[0];
    expect(long).toMatchObject({ meta: { model: 'x'.repeat(256) } });
    expect((long as { meta: object }).meta).not.toHaveProperty('extra');
  });

  it("a worker's report sends the meta with each outcome and a U record of its completion tokens after it", () => {
    const b = new ReportBuffer();
    b.done('j', 'e1', 0, 'id0', 1, 'out', 'w', d, null, meta);
    b.done('j', 'e1', 1, 'id1', 1, 'out', 'w', d, null, { usage: { prompt_tokens: 5, completion_tokens: 0 } });
    b.add('j', retryLater('e1', 2, wireRetry(2, 'id2', 1, 'boom', 10, true, undefined, failedMeta), 10, '{}', failedMeta));
    b.add('j', failedForGood('e1', 3, wireFailed(3, 'id3', 2, 'boom', 'w', d, '"p"', undefined, failedMeta), '"p"', 'boom', failedMeta));
    expect(reportArgs(b.take().get('j')!)).toEqual([
      'D', 'e1', '0', wireDone(0, 'id0', 1, 'out', 'w', d, meta),
      'U', 'e1', '0', '34',
      // No completion tokens, no U.
      'D', 'e1', '1', wireDone(1, 'id1', 1, 'out', 'w', d, { usage: { prompt_tokens: 5, completion_tokens: 0 } }),
      'R', 'e1', '2', wireRetry(2, 'id2', 1, 'boom', 10, true, undefined, failedMeta), '10', '{}',
      'U', 'e1', '2', '1',
      'F', 'e1', '3', wireFailed(3, 'id3', 2, 'boom', 'w', d, '"p"', undefined, failedMeta), '"p"', 'boom',
      'U', 'e1', '3', '1',
    ]);
  });
});

describe('work stream and delayed set layout', () => {
  it('a retry\'s delayed-set member keeps the one-letter names and string values promote.lua and older versions read', () => {
    // The input in the input hash: the member has the form older versions wrote.
    const member = delayedMember({ jobId: 'j', item: { index: 3, id: 'a,b', attempt: 2, charged: 1, reclaims: 0, payload: '' }, enqueuedAt: 1700000000000 });
    expect(member).toBe('{"j":"j","i":"3","k":"a,b","a":"2","c":"1","r":"0","q":"1700000000000"}');
    // A short input its entry carried goes along as `p`.
    const inline = delayedMember({ jobId: 'j', item: { index: 3, id: 'a,b', attempt: 2, charged: 1, reclaims: 0, payload: '"hi"' }, enqueuedAt: 1700000000000 });
    expect(JSON.parse(inline)).toEqual({ ...JSON.parse(member), p: '"hi"' });
  });

  it('an entry of either layout reads into the named fields: payloads carried, or \'\' (in the input hash)', () => {
    const entry = parseWorkEntry('1-0', ['j', 'job', 'q', '42', '0,1,0,0,x', '', '5,3,2,1,id,with,commas', '{"a":1}']);
    expect(entry).toEqual({
      id: '1-0',
      jobId: 'job',
      enqueuedAt: 42,
      items: [
        { index: 0, id: 'x', attempt: 1, charged: 0, reclaims: 0, payload: '' },
        { index: 5, id: 'id,with,commas', attempt: 3, charged: 2, reclaims: 1, payload: '{"a":1}' },
      ],
    });
  });
});

describe('report buffer', () => {
  const d = { queuedMs: 2, firstChunkMs: 1, totalMs: 3 };

  it('merges consecutive chunks of one item attempt, keeps order, and marks results urgent', () => {
    const b = new ReportBuffer();
    b.chunk('j', 'e1', 0, 1, 'a', 1, 0, null);
    b.chunk('j', 'e1', 0, 1, 'b', 2, 0, null);
    expect(b.hasUrgent).toBe(false);
    b.chunk('j', 'e1', 1, 1, 'x', 1, 0, null); // same entry, another item: not merged
    b.chunk('j', 'e1', 0, 1, 'c', 1, 0, null);
    b.done('j', 'e1', 0, 'id0', 1, 'abc', 'w', d, null);
    b.add('j', new ReportRecord('E', 'e1', -1));
    expect(b.hasUrgent).toBe(true);
    const records = b.take().get('j')!;
    expect(reportArgs(records)).toEqual([
      'C', 'e1', '0', wireChunk(0, 1, 'ab', 3, 0),
      'C', 'e1', '1', wireChunk(1, 1, 'x', 1, 0),
      'C', 'e1', '0', wireChunk(0, 1, 'c', 1, 0),
      'D', 'e1', '0', wireDone(0, 'id0', 1, 'abc', 'w', d),
      'E', 'e1',
    ]);
    expect(b.size).toBe(0);
  });

  it('folds an item that starts and ends within one report into one record, which decodes to the same events', () => {
    const b = new ReportBuffer();
    const s0 = b.start('j', 'e1', 0, 'id0', 1, 'w', 0);
    const s1 = b.start('j', 'e1', 1, 'id1', 1, 'w', 0);
    b.chunk('j', 'e1', 0, 1, 'he', 1, 0, s0);
    b.chunk('j', 'e1', 1, 1, 'x', 1, 0, s1);
    b.chunk('j', 'e1', 0, 1, 'llo', 1, 0, s0);
    b.done('j', 'e1', 0, 'id0', 1, 'hello', 'w', d, s0);
    const s2 = b.start('j', 'e1', 2, 'id2', 1, 'w', 0);
    b.start('j', 'e1', 2, 'id2', 1, 'w', 1); // a second processor: its chunks are not folded
    b.chunk('j', 'e1', 2, 1, 'y', 1, 1, s2);
    b.add('j', new ReportRecord('R', 'e1', 3, wireRetry(3, 'id3', 1, 'boom', 10, true), '10', '{}'));
    const args = reportArgs(b.take().get('j')!);
    expect(args).toEqual([
      'D', 'e1', '0', wireOutcome(0, 'id0', 1, 'w', 'hello', 2, 'hello', d),
      'S', 'e1', '1', wireStart(1, 'id1', 1, 'w', 0),
      'C', 'e1', '1', wireChunk(1, 1, 'x', 1, 0),
      'S', 'e1', '2', wireStart(2, 'id2', 1, 'w', 0),
      'S', 'e1', '2', wireStart(2, 'id2', 1, 'w', 1),
      'C', 'e1', '2', wireChunk(2, 1, 'y', 1, 1),
      'R', 'e1', '3', wireRetry(3, 'id3', 1, 'boom', 10, true), '10', '{}',
    ]);
    // The folded record leaves its text out when it is the output, and decodes to start, chunk, done.
    expect(JSON.parse(args[3]!)).toHaveLength(10);
    expect(decodeEntry(`[${args[3]}]`)).toEqual([
      { type: 'item-start', index: 0, id: 'id0', attempt: 1, worker: 'w' },
      { type: 'chunk', index: 0, attempt: 1, text: 'hello', n: 2 },
      { type: 'item-done', index: 0, id: 'id0', attempt: 1, output: 'hello', worker: 'w', durations: d },
    ]);
    // Text other than the output is carried; no chunks, no chunk event.
    expect(decodeEntry(`[${wireOutcome(5, 'id5', 2, 'w', 'part', 1, 'whole', d)}]`)[1]).toEqual({ type: 'chunk', index: 5, attempt: 2, text: 'part', n: 1 });
    expect(decodeEntry(`[${wireOutcome(5, 'id5', 2, 'w', '', 0, '', d)}]`).map((e) => e.type)).toEqual(['item-start', 'item-done']);
  });

  it('never folds into a record of a report already taken: the item then goes as chunk and result', () => {
    const b = new ReportBuffer();
    const s0 = b.start('j', 'e1', 0, 'id0', 1, 'w', 0);
    b.chunk('j', 'e1', 0, 1, 'a', 1, 0, s0);
    expect(reportArgs(b.take().get('j')!)).toEqual(['S', 'e1', '0', wireStart(0, 'id0', 1, 'w', 0), 'C', 'e1', '0', wireChunk(0, 1, 'a', 1, 0)]);
    b.chunk('j', 'e1', 0, 1, 'b', 1, 0, s0);
    b.done('j', 'e1', 0, 'id0', 1, 'ab', 'w', d, s0);
    expect(reportArgs(b.take().get('j')!)).toEqual(['C', 'e1', '0', wireChunk(0, 1, 'b', 1, 0), 'D', 'e1', '0', wireDone(0, 'id0', 1, 'ab', 'w', d)]);
    // A result of another attempt than the start's is not folded either.
    const s1 = b.start('j', 'e1', 1, 'id1', 1, 'w', 0);
    b.done('j', 'e1', 1, 'id1', 2, 'z', 'w', d, s1);
    expect(reportArgs(b.take().get('j')!).filter((a) => a === 'S' || a === 'D')).toEqual(['S', 'D']);
  });

  it('cuts a burst of long outputs into reports of bounded text, in order, one record at least each', () => {
    const b = new ReportBuffer();
    for (let i = 0; i < 5; i++) b.done('j', 'e1', i, `id${i}`, 1, 'x'.repeat(i === 2 ? 50 : 10), 'w', d, null);
    b.add('j', new ReportRecord('E', 'e1', -1));
    const parts = reportParts(b.take().get('j')!, 25);
    expect(parts.map((p) => p.map((r) => `${r.kind}${r.index}`))).toEqual([['D0', 'D1'], ['D2'], ['D3', 'D4', 'E-1']]);
  });
});

describe('Redis URLs', () => {
  it('accepts redis:// and rediss:// with credentials and db, and never shows the password', () => {
    expect(parseRedisUrl('redis://user:secret@example.com:6380/2').display).toBe('example.com:6380/2');
    expect(parseRedisUrl('rediss://:secret@h').display).toBe('rediss://h:6379');
  });
  it('refuses other schemes, non-URLs and a non-numeric db with a usage error', () => {
    for (const bad of ['http://h:6379', 'localhost:6379', 'redis://h/abc']) expect(() => parseRedisUrl(bad)).toThrow(UsageError);
  });
});
