/** The bounded event log of an action: what a resuming reader gets back. */
import { describe, expect, it } from 'vitest';
import type { JobEvent } from '../../src/core/events.js';
import { ActionLog, CHUNK_WINDOW } from '../../src/server/action-log.js';

const chunk = (text: string, index = 0): JobEvent => ({ type: 'chunk', index, attempt: 1, text, n: 1 });
const put = (log: ActionLog, e: JobEvent) => log.append(e, { ...e });

describe('ActionLog', () => {
  it('holds at most a window of chunks for a running item, however many come', () => {
    const log = new ActionLog();
    put(log, { type: 'item-start', index: 0, id: 'a', attempt: 1, worker: 'w' });
    const seqs: number[] = [];
    for (let k = 0; k < 10_000; k++) seqs.push(put(log, chunk(`${k},`)).seq);
    expect(seqs).toEqual(seqs.map((_, k) => k + 2));
    expect(log.size).toBe(1 + CHUNK_WINDOW + 1);
    // Resuming from a recent id is exact.
    const recent = log.after(seqs.at(-10)!);
    expect(recent.map((e) => e.seq)).toEqual(seqs.slice(-9));
    expect(recent.map((e) => e.data.text).join('')).toBe(Array.from({ length: 9 }, (_, k) => `${9991 + k},`).join(''));
    // From the start: the item's whole text so far, the old part as one coalesced chunk saying where it begins.
    const all = log.after(0);
    expect(all.filter((e) => e.type === 'chunk').map((e) => e.data.text).join('')).toBe(Array.from({ length: 10_000 }, (_, k) => `${k},`).join(''));
    const coalesced = all[1]!;
    expect(coalesced.data).toMatchObject({ from: 2, n: 10_000 - CHUNK_WINDOW });
    expect(coalesced.seq).toBe(seqs[10_000 - CHUNK_WINDOW - 1]);
  });

  it('drops an item\'s chunks once it is done or retried, keeping the rest in order', () => {
    const log = new ActionLog();
    put(log, { type: 'item-start', index: 0, id: 'a', attempt: 1, worker: 'w' });
    put(log, { type: 'item-start', index: 1, id: 'b', attempt: 1, worker: 'w' });
    for (let k = 0; k < 3000; k++) {
      put(log, chunk('a', 0));
      put(log, chunk('b', 1));
    }
    put(log, { type: 'item-retry', index: 1, id: 'b', attempt: 1, error: 'x', delayMs: 0, charged: true });
    const done = put(log, { type: 'item-done', index: 0, id: 'a', attempt: 1, output: 'a'.repeat(3000), worker: 'w', durations: { queuedMs: 0, firstChunkMs: 0, totalMs: 0 }, input: 'p' });
    expect(log.after(0).map((e) => e.type)).toEqual(['item-start', 'item-start', 'item-retry', 'item-done']);
    expect(log.after(done.seq - 1).map((e) => e.seq)).toEqual([done.seq]);
    expect(log.size).toBe(4);
  });
});
