import { describe, expect, it } from 'vitest';
import type { JobEvent } from '../../src/core/events.js';
import { WorkerTally } from '../../src/core/worker-tally.js';

const d = { queuedMs: 0, firstChunkMs: 1, totalMs: 100 };
const start = (index: number, worker: string, attempt = 1): JobEvent => ({ type: 'item-start', index, id: String(index), attempt, worker });
const chunk = (index: number, n = 1): JobEvent => ({ type: 'chunk', index, attempt: 1, text: 'x', n });
const doneEv = (index: number, worker: string): JobEvent => ({ type: 'item-done', index, id: String(index), attempt: 1, output: 'o', worker, durations: d });

describe('WorkerTally', () => {
  it('counts busy, done, failed and chunks per worker from events; jobs with the same indexes stay apart', () => {
    const t = new WorkerTally();
    t.observe('a', [start(0, 'thread-1'), start(1, 'thread-2'), chunk(0, 3), chunk(1)], 1);
    t.observe('b', [start(0, 'thread-2'), chunk(0, 2)], 2);
    const by = () => Object.fromEntries(t.list().map((w) => [w.name, w]));
    expect(by()['thread-1']).toMatchObject({ busy: 1, chunks: 3, processed: 0 });
    expect(by()['thread-2']).toMatchObject({ busy: 2, chunks: 3 });
    t.observe('a', [doneEv(0, 'thread-1'), { type: 'item-retry', index: 1, id: '2', attempt: 1, error: 'e', delayMs: 10, charged: true }], 3);
    expect(by()['thread-1']).toMatchObject({ busy: 0, processed: 1, totalMs: 100 });
    expect(by()['thread-2']).toMatchObject({ busy: 1, failed: 1 });
  });

  it('drop frees a given-up item; forget frees a finished job; idle workers unseen for long are forgotten', () => {
    const t = new WorkerTally();
    t.observe('a', [start(0, 'w1'), start(1, 'w1')], 0);
    t.drop('a', 0);
    expect(t.list()[0]).toMatchObject({ name: 'w1', busy: 1 });
    t.drop('a', 0); // twice changes nothing
    expect(t.list()[0]!.busy).toBe(1);
    t.forget('a');
    expect(t.list()[0]!.busy).toBe(0);
    expect(t.list(600_000).map((w) => w.name)).toEqual(['w1']);
    expect(t.list(600_001)).toEqual([]);
  });
});
