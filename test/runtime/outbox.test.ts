import { describe, expect, it } from 'vitest';
import { Outbox } from '../../src/runtime/outbox.js';
import type { ThreadMessage } from '../../src/runtime/protocol.js';

const tick = () => new Promise((resolve) => setImmediate(resolve));

function box() {
  const posts: ThreadMessage[][] = [];
  const outbox = new Outbox((messages) => posts.push(messages.map((m) => ({ ...m }))));
  return { outbox, posts };
}

describe('Outbox', () => {
  it('posts nothing synchronously, then everything of the tick in one post', async () => {
    const { outbox, posts } = box();
    outbox.push({ t: 'begin', thread: 3 });
    outbox.push({ t: 'start', i: 0, a: 1, s: 0 });
    outbox.push({ t: 'error', i: 0, a: 1, err: 'x', aborted: false });
    expect(posts).toEqual([]);
    await tick();
    expect(posts).toHaveLength(1);
    expect(posts[0]!.map((m) => m.t)).toEqual(['begin', 'start', 'error']);
    await tick();
    expect(posts).toHaveLength(1); // nothing new, nothing posted
  });

  it('merges consecutive chunks of an item, counting them in n', async () => {
    const { outbox, posts } = box();
    outbox.push({ t: 'start', i: 0, a: 1, s: 0 });
    for (const piece of ['a', 'b', 'c']) outbox.chunk(0, 1, 0, piece);
    await tick();
    expect(posts[0]).toEqual([
      { t: 'start', i: 0, a: 1, s: 0 },
      { t: 'chunk', i: 0, a: 1, s: 0, text: 'abc', n: 3 },
    ]);
  });

  it('keeps each item\'s order when items interleave, merging per item', async () => {
    const { outbox, posts } = box();
    outbox.chunk(0, 1, 0, 'a');
    outbox.chunk(1, 1, 0, 'x');
    outbox.chunk(0, 1, 0, 'b');
    outbox.chunk(1, 1, 0, 'y');
    outbox.push({ t: 'done', i: 0, a: 1, out: 'ab' });
    outbox.chunk(1, 1, 0, 'z');
    await tick();
    const msgs = posts[0]!;
    expect(msgs).toEqual([
      { t: 'chunk', i: 0, a: 1, s: 0, text: 'ab', n: 2 },
      { t: 'chunk', i: 1, a: 1, s: 0, text: 'xyz', n: 3 },
      { t: 'done', i: 0, a: 1, out: 'ab' },
    ]);
  });

  it('a non-chunk message of an item closes its merge window (chunks after it stay after it)', async () => {
    const { outbox, posts } = box();
    outbox.chunk(0, 1, 0, 'a');
    outbox.push({ t: 'start', i: 0, a: 1, s: 1 });
    outbox.chunk(0, 1, 1, 'B');
    outbox.chunk(0, 1, 1, 'C');
    await tick();
    expect(posts[0]).toEqual([
      { t: 'chunk', i: 0, a: 1, s: 0, text: 'a', n: 1 },
      { t: 'start', i: 0, a: 1, s: 1 },
      { t: 'chunk', i: 0, a: 1, s: 1, text: 'BC', n: 2 },
    ]);
  });

  it('never merges chunks of different attempts or stages', async () => {
    const { outbox, posts } = box();
    outbox.chunk(0, 1, 0, 'a');
    outbox.chunk(0, 2, 0, 'b');
    outbox.chunk(0, 2, 1, 'c');
    await tick();
    expect(posts[0]!.map((m) => (m.t === 'chunk' ? `${m.a}/${m.s}:${m.text}` : m.t))).toEqual(['1/0:a', '2/0:b', '2/1:c']);
  });

  it('an item that starts, streams and ends within one tick goes as one outcome message, in its start\'s place', async () => {
    const { outbox, posts } = box();
    outbox.push({ t: 'start', i: 0, a: 1, s: 0 });
    outbox.push({ t: 'start', i: 1, a: 1, s: 0 });
    outbox.chunk(0, 1, 0, 'he');
    outbox.chunk(1, 1, 0, 'x');
    outbox.chunk(0, 1, 0, 'llo');
    outbox.push({ t: 'done', i: 0, a: 1, out: 'hello' });
    outbox.push({ t: 'start', i: 2, a: 1, s: 0 });
    outbox.push({ t: 'done', i: 2, a: 1, out: '' });
    await tick();
    expect(posts[0]).toEqual([
      { t: 'outcome', i: 0, a: 1, text: 'hello', n: 2, out: 'hello' },
      { t: 'start', i: 1, a: 1, s: 0 },
      { t: 'outcome', i: 2, a: 1, text: '', n: 0, out: '' },
      // item 1 had not ended: its chunks follow its start, as they would have
      { t: 'chunk', i: 1, a: 1, s: 0, text: 'x', n: 1 },
    ]);
  });

  it('does not fold across a later stage, a log line, an error, another attempt or a tick', async () => {
    const { outbox, posts } = box();
    outbox.push({ t: 'start', i: 0, a: 1, s: 0 });
    outbox.chunk(0, 1, 0, 'a');
    outbox.push({ t: 'start', i: 0, a: 1, s: 1 }); // a second processor
    outbox.chunk(0, 1, 1, 'B');
    outbox.push({ t: 'done', i: 0, a: 1, out: 'B' });
    outbox.push({ t: 'start', i: 1, a: 1, s: 0 });
    outbox.chunk(1, 1, 0, 'p');
    outbox.push({ t: 'log', i: 1, line: 'note' });
    outbox.push({ t: 'done', i: 1, a: 1, out: 'p' });
    outbox.push({ t: 'start', i: 2, a: 1, s: 0 });
    outbox.push({ t: 'error', i: 2, a: 1, err: 'boom', aborted: false });
    outbox.push({ t: 'start', i: 3, a: 1, s: 0 });
    outbox.push({ t: 'done', i: 3, a: 2, out: 'late' });
    outbox.push({ t: 'start', i: 4, a: 1, s: 0 });
    outbox.chunk(4, 1, 0, 'q');
    await tick();
    outbox.push({ t: 'done', i: 4, a: 1, out: 'q' });
    await tick();
    expect(posts[0]!.map((m) => m.t)).toEqual(['start', 'chunk', 'start', 'chunk', 'done', 'start', 'chunk', 'log', 'done', 'start', 'error', 'start', 'done', 'start', 'chunk']);
    expect(posts[0]![1]).toEqual({ t: 'chunk', i: 0, a: 1, s: 0, text: 'a', n: 1 });
    expect(posts[1]).toEqual([{ t: 'done', i: 4, a: 1, out: 'q' }]);
  });

  it('chunks of the next tick are new messages (a posted message is never changed)', async () => {
    const { outbox, posts } = box();
    outbox.chunk(0, 1, 0, 'a');
    await tick();
    outbox.chunk(0, 1, 0, 'b');
    await tick();
    expect(posts).toEqual([[{ t: 'chunk', i: 0, a: 1, s: 0, text: 'a', n: 1 }], [{ t: 'chunk', i: 0, a: 1, s: 0, text: 'b', n: 1 }]]);
  });

  it('flush() posts at once, and the scheduled post then has nothing to send', async () => {
    const { outbox, posts } = box();
    outbox.chunk(0, 1, 0, 'a');
    outbox.flush();
    expect(posts).toHaveLength(1);
    outbox.chunk(0, 1, 0, 'b'); // a new message, not a change to the posted one
    outbox.flush();
    expect(posts).toHaveLength(2);
    expect(posts[1]).toEqual([{ t: 'chunk', i: 0, a: 1, s: 0, text: 'b', n: 1 }]);
    await tick();
    expect(posts).toHaveLength(2);
    outbox.flush();
    expect(posts).toHaveLength(2); // empty flush posts nothing
  });

  it('10 000 synchronous chunks of one item make one message', async () => {
    const { outbox, posts } = box();
    for (let k = 0; k < 10_000; k++) outbox.chunk(7, 1, 0, 'x');
    await tick();
    expect(posts).toHaveLength(1);
    expect(posts[0]).toHaveLength(1);
    const m = posts[0]![0]!;
    expect(m.t === 'chunk' && m.n === 10_000 && m.text.length === 10_000).toBe(true);
  });
});
