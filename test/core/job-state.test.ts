import { describe, expect, it } from 'vitest';
import type { JobEvent } from '../../src/core/events.js';
import { JobState, TAIL_CODE_POINTS } from '../../src/core/job-state.js';
import { codePointLength } from '../../src/core/text.js';

const durations = { queuedMs: 0, firstChunkMs: 10, totalMs: 1234 };
const start = (index: number, attempt = 1, worker = 'thread-1'): JobEvent => ({
  type: 'item-start',
  index,
  id: `item-${index}`,
  attempt,
  worker,
});
const chunk = (index: number, text: string, attempt = 1, n = 1): JobEvent => ({ type: 'chunk', index, attempt, text, n });
const done = (index: number, output = 'out', attempt = 1): JobEvent => ({
  type: 'item-done',
  index,
  id: `item-${index}`,
  attempt,
  output,
  worker: 'thread-1',
  durations,
});
const failed = (index: number, error = 'boom', attempts = 3): JobEvent => ({
  type: 'item-failed',
  index,
  id: `item-${index}`,
  attempts,
  error,
  worker: 'thread-1',
  durations,
});
const retry = (index: number, attempt = 1): JobEvent => ({
  type: 'item-retry',
  index,
  id: `item-${index}`,
  attempt,
  error: 'flaky',
  delayMs: 100,
  charged: true,
});

describe('JobState counts', () => {
  it('counts done, failed, in flight, retrying, skipped and total', () => {
    const s = new JobState({ skipped: 5, startedAt: 0 });
    expect(s.snapshot(0).total).toBeNull();
    s.apply([start(0), start(1), start(2), start(3)], 10);
    let snap = s.snapshot(10);
    expect(snap.inFlight).toBe(4);
    expect(snap.rows.map((r) => r.index)).toEqual([0, 1, 2, 3]);
    s.apply([{ type: 'job-total', total: 10 }, done(0), failed(1), retry(2)], 20);
    snap = s.snapshot(20);
    expect(snap).toMatchObject({ total: 10, done: 1, failed: 1, inFlight: 1, retrying: 1, skipped: 5, remaining: 8 });
    s.apply([start(2, 2)], 30);
    snap = s.snapshot(30);
    expect(snap.retrying).toBe(0);
    expect(snap.inFlight).toBe(2);
  });

  it('takes the total from the constructor until job-total arrives', () => {
    const s = new JobState({ total: 3 });
    expect(s.snapshot(0).total).toBe(3);
    s.apply([{ type: 'job-total', total: 7 }], 1);
    expect(s.snapshot(1).total).toBe(7);
  });

  it('clears live rows when the job ends', () => {
    const s = new JobState();
    s.apply([start(0), start(1), retry(1)], 0);
    s.apply([{ type: 'job-cancelled', reason: 'ctrl-c', counts: { total: 4, done: 0, failed: 0, unfinished: 4 } }], 1);
    const snap = s.snapshot(1);
    expect(snap).toMatchObject({ inFlight: 0, retrying: 0, ended: 'cancelled', total: 4, etaMs: null });
    expect(snap.rows).toEqual([]);
  });
});

describe('JobState rates and ETA (fake clock)', () => {
  it('computes items/s and chunks/s over a sliding 5 s window', () => {
    const s = new JobState({ total: 100, startedAt: 0 });
    // 10 s at 4 items/s and 40 chunks/s (n = 2 per chunk event).
    let t = 0;
    let next = 0;
    for (; t < 10_000; t += 250) {
      const evs: JobEvent[] = [start(next), chunk(next, 'x', 1, 2), chunk(next, 'y', 1, 2), chunk(next, 'z', 1, 2)];
      evs.push(chunk(next, 'w', 1, 4), done(next));
      next++;
      s.apply(evs, t);
    }
    const snap = s.snapshot(t);
    expect(snap.itemsPerSec).toBeCloseTo(4, 0);
    expect(snap.chunksPerSec).toBeCloseTo(40, 0);
    expect(snap.chunksTotal).toBe(40 * 10);
    expect(snap.done).toBe(40);
    // 60 remaining at 4/s: 15 s.
    expect(snap.etaMs).not.toBeNull();
    expect(snap.etaMs!).toBeGreaterThan(13_000);
    expect(snap.etaMs!).toBeLessThan(17_000);
    expect(snap.elapsedMs).toBe(10_000);
  });

  it('decays to zero when nothing happens and ETA becomes unknown', () => {
    const s = new JobState({ total: 10, startedAt: 0 });
    s.apply([start(0), done(0)], 100);
    expect(s.snapshot(1000).itemsPerSec).toBeGreaterThan(0);
    const later = s.snapshot(20_000);
    expect(later.itemsPerSec).toBe(0);
    expect(later.chunksPerSec).toBe(0);
    expect(later.etaMs).toBeNull();
  });

  it('ETA is null while the total is unknown and 0 when nothing remains', () => {
    const s = new JobState({ startedAt: 0 });
    s.apply([start(0), done(0)], 500);
    expect(s.snapshot(1000).etaMs).toBeNull();
    s.apply([{ type: 'job-total', total: 1 }], 1000);
    expect(s.snapshot(1000).etaMs).toBe(0);
  });

  it('does not trust the first moments of a run', () => {
    const s = new JobState({ startedAt: 0 });
    s.apply([start(0), done(0), start(1), done(1)], 10);
    // Two items in 10 ms is not 200 items/s.
    expect(s.snapshot(10).itemsPerSec).toBeLessThanOrEqual(2);
  });
});

describe('JobState live rows', () => {
  it('counts chunks with n and keeps a sanitized tail', () => {
    const s = new JobState();
    s.apply([start(0), chunk(0, 'Hello\nworld', 1, 3), chunk(0, '\t\u001b[31mred\r\n', 1, 2)], 5);
    const row = s.snapshot(5).rows[0]!;
    expect(row.chunks).toBe(5);
    expect(row.tail).toBe('Hello world [31mred ');
    expect(row.tail).not.toMatch(/[\u0000-\u001f\u007f]/);
    expect(row.lastChunkAt).toBe(5);
  });

  it('item-retry removes the row; a restart with a higher attempt drops the old text', () => {
    const s = new JobState();
    s.apply([start(0), chunk(0, 'first attempt text')], 0);
    s.apply([retry(0)], 1);
    expect(s.snapshot(1).rows).toEqual([]);
    s.apply([start(0, 2, 'thread-2'), chunk(0, 'second', 2)], 2);
    const row = s.snapshot(2).rows[0]!;
    expect(row).toMatchObject({ attempt: 2, worker: 'thread-2', chunks: 1, tail: 'second', startedAt: 2 });
  });

  it('restarts cleanly when a higher attempt starts without a retry event (no doubling)', () => {
    const s = new JobState();
    s.apply([start(0), chunk(0, 'abc'), chunk(0, 'def')], 0);
    s.apply([start(0, 2), chunk(0, 'abc', 2)], 1);
    // A stale chunk of the old attempt is ignored for the row.
    s.apply([chunk(0, 'def', 1)], 2);
    const row = s.snapshot(2).rows[0]!;
    expect(row.tail).toBe('abc');
    expect(row.chunks).toBe(1);
    expect(row.attempt).toBe(2);
  });

  it('keeps only the last ~400 code points after 1 MB of chunks', () => {
    const s = new JobState();
    s.apply([start(0)], 0);
    const piece = 'lorem ipsum dolor sit amet 😀 中文 '.repeat(30);
    let sent = 0;
    let i = 0;
    while (sent < 1_000_000) {
      s.apply([chunk(0, `${piece}#${i++}`)], i);
      sent += piece.length;
    }
    // And one single huge chunk.
    s.apply([chunk(0, 'z'.repeat(1_000_000) + 'END')], i + 1);
    const row = s.snapshot(i + 1).rows[0]!;
    expect(codePointLength(row.tail)).toBeLessThanOrEqual(TAIL_CODE_POINTS);
    expect(row.tail.endsWith('zzzEND')).toBe(true);
    // Internal storage stays bounded too.
    const internal = (s as unknown as { rows: Map<number, { tail: string }> }).rows.get(0)!.tail;
    expect(internal.length).toBeLessThanOrEqual(TAIL_CODE_POINTS * 4);
  });

  it('preserves emoji and surrogate pairs split across chunks', () => {
    const s = new JobState();
    const emoji = '👍🏽';
    s.apply([start(0), chunk(0, `ok ${emoji[0]!}`)], 0);
    // Mid-pair: the dangling half is not shown as garbage.
    expect(s.snapshot(0).rows[0]!.tail).toBe('ok ');
    s.apply([chunk(0, `${emoji.slice(1)} 中文 😀`)], 1);
    expect(s.snapshot(1).rows[0]!.tail).toBe(`ok ${emoji} 中文 😀`);
    // The tail cut never splits a pair.
    const many = '😀'.repeat(2000);
    s.apply([chunk(0, many)], 2);
    const tail = s.snapshot(2).rows[0]!.tail;
    expect(tail).toBe('😀'.repeat(TAIL_CODE_POINTS));
  });

  it('collapses whitespace runs across chunk boundaries', () => {
    const s = new JobState();
    s.apply([start(0), chunk(0, 'a\n\n'), chunk(0, '\n\nb')], 0);
    expect(s.snapshot(0).rows[0]!.tail).toBe('a b');
  });

  it('ignores chunks of unknown items for rows but counts them', () => {
    const s = new JobState({ startedAt: 0 });
    s.apply([chunk(9, 'orphan', 1, 3)], 0);
    const snap = s.snapshot(0);
    expect(snap.rows).toEqual([]);
    expect(snap.chunksTotal).toBe(3);
  });
});

describe('JobState finished lines', () => {
  it('drains one-line summaries in finish order', () => {
    const s = new JobState();
    s.apply([start(0), start(1), start(2), chunk(1, 'x', 1, 7)], 0);
    s.apply([done(1, 'Line one\nline two'), failed(0, 'Error: broke\n    at foo (x.js:1:1)\n    at bar'), done(2, '')], 1);
    const lines = s.takeFinished();
    expect(lines.map((l) => [l.index, l.status])).toEqual([
      [1, 'done'],
      [0, 'failed'],
      [2, 'done'],
    ]);
    expect(lines[0]).toMatchObject({ id: 'item-1', chunks: 7, preview: 'Line one line two', error: null, durationMs: 1234, attempts: 1 });
    expect(lines[1]).toMatchObject({ error: 'Error: broke', preview: null, attempts: 3 });
    expect(lines[2]!.preview).toBe('');
    expect(s.takeFinished()).toEqual([]);
  });

  it('bounds the preview to ~100 code points with an ellipsis', () => {
    const s = new JobState();
    s.apply([start(0), done(0, '😀'.repeat(5000))], 0);
    const preview = s.takeFinished()[0]!.preview!;
    expect(codePointLength(preview)).toBe(100);
    expect(preview.endsWith('…')).toBe(true);
    expect(preview.startsWith('😀😀')).toBe(true);
  });

  it('drops the oldest lines when nobody drains them', () => {
    const s = new JobState({ maxPendingFinished: 3 });
    s.apply([0, 1, 2, 3, 4].map((i) => done(i)), 0);
    expect(s.takeFinished().map((l) => l.index)).toEqual([2, 3, 4]);
    expect(s.droppedFinished).toBe(2);
  });

  // Its cost per event is a benchmark's figure (the live view's CPU in bench/ui.mjs), not a test's.
  it('200k chunk events in batches, with snapshots between: every chunk counted', () => {
    const s = new JobState({ startedAt: 0 });
    const batch: JobEvent[] = [];
    for (let i = 0; i < 64; i++) batch.push(start(i));
    s.apply(batch, 0);
    const chunks: JobEvent[] = [];
    for (let i = 0; i < 1000; i++) chunks.push(chunk(i % 64, 'token '));
    for (let k = 0; k < 200; k++) {
      s.apply(chunks, k);
      if (k % 10 === 0) s.snapshot(k);
    }
    expect(s.snapshot(200).chunksTotal).toBe(200_000);
  });
});

describe('JobState: a history replayed at its own times (watch job attaching late)', () => {
  it('counts no speed for events older than the rate window, even after a snapshot of the present', () => {
    const T0 = 1_000_000;
    const s = new JobState({ total: 100, startedAt: T0 });
    // The view's timer took a snapshot at the attach, 60 s into the job...
    s.snapshot(T0 + 60_000);
    // ...then the replay: 50 items done over the job's first 50 s, each at its own time.
    for (let k = 0; k < 50; k++) s.apply([{ type: 'item-start', index: k, id: String(k), attempt: 1, worker: 'w' }, doneEvent(k)], T0 + k * 1000);
    const snap = s.snapshot(T0 + 60_000);
    expect(snap.done).toBe(50);
    expect(snap.itemsPerSec).toBe(0);
    expect(snap.elapsedMs).toBe(60_000);
    // Items of the last few seconds count, at their own pace.
    s.apply([doneEvent(50), doneEvent(51)], T0 + 58_000);
    expect(s.snapshot(T0 + 60_000).itemsPerSec).toBeCloseTo(2 / 5, 1);
  });
});

function doneEvent(index: number): JobEvent {
  return { type: 'item-done', index, id: String(index), attempt: 1, output: 'x', worker: 'w', durations: { queuedMs: 0, firstChunkMs: 0, totalMs: 0 } };
}
