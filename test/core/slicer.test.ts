import { describe, expect, it } from 'vitest';
import { decideSlice, type SliceInput } from '../../src/core/slicer.js';

const base: SliceInput = {
  waiting: 0,
  freeSlots: 8,
  batchSize: 4,
  windowMs: 50,
  inputOpen: false,
  oldestWaitingAt: 1000,
  now: 1000,
  lastCutAt: 1000,
};
const slice = (over: Partial<SliceInput>) => decideSlice({ ...base, ...over });

describe('decideSlice', () => {
  it('is idle with nothing waiting or no free slot', () => {
    expect(slice({ waiting: 0 })).toEqual({ kind: 'idle' });
    expect(slice({ waiting: 10, freeSlots: 0 })).toEqual({ kind: 'idle' });
    expect(slice({ waiting: 10, freeSlots: -3 })).toEqual({ kind: 'idle' });
    expect(slice({ waiting: 0, inputOpen: true })).toEqual({ kind: 'idle' });
  });

  it('cuts batches bounded by batchSize when slots are plenty', () => {
    expect(slice({ waiting: 100, freeSlots: 64, batchSize: 16 })).toEqual({ kind: 'cut', size: 16 });
    expect(slice({ waiting: 100, freeSlots: 64, batchSize: 16, inputOpen: true })).toEqual({ kind: 'cut', size: 16 });
  });

  it('cuts batches bounded by the free slots (work-conserving: never more in flight than allowed)', () => {
    expect(slice({ waiting: 100, freeSlots: 3, batchSize: 16 })).toEqual({ kind: 'cut', size: 3 });
    expect(slice({ waiting: 100, freeSlots: 1, batchSize: 16, inputOpen: true })).toEqual({ kind: 'cut', size: 1 });
  });

  it('cuts whatever waits once the input is closed, without waiting for the window', () => {
    expect(slice({ waiting: 2, freeSlots: 8, batchSize: 16, inputOpen: false, oldestWaitingAt: 1000, now: 1000 })).toEqual({
      kind: 'cut',
      size: 2,
    });
  });

  it('holds a short batch for the window while the input is open, counted from the oldest item', () => {
    expect(slice({ waiting: 2, batchSize: 16, inputOpen: true, oldestWaitingAt: 1000, now: 1010, windowMs: 50 })).toEqual({
      kind: 'wait',
      until: 1050,
    });
  });

  it('sends a short batch at once when nothing of the job runs: a lone item never waits the window', () => {
    expect(slice({ waiting: 1, batchSize: 16, inputOpen: true, oldestWaitingAt: 1000, now: 1000, windowMs: 50, idle: true })).toEqual({
      kind: 'cut',
      size: 1,
    });
    expect(slice({ waiting: 1, batchSize: 16, inputOpen: true, oldestWaitingAt: 1000, now: 1000, windowMs: 50, idle: false })).toEqual({
      kind: 'wait',
      until: 1050,
    });
  });

  it('sends a short batch at once when no batch went within the window (light load never waits)', () => {
    expect(slice({ waiting: 1, batchSize: 16, inputOpen: true, oldestWaitingAt: 1100, now: 1100, windowMs: 50, lastCutAt: 1040 })).toEqual({ kind: 'cut', size: 1 });
    expect(slice({ waiting: 1, batchSize: 16, inputOpen: true, oldestWaitingAt: 1100, now: 1100, windowMs: 50, lastCutAt: undefined })).toEqual({ kind: 'cut', size: 1 });
    // Right after a cut, a burst's next items gather for the window.
    expect(slice({ waiting: 1, batchSize: 16, inputOpen: true, oldestWaitingAt: 1100, now: 1100, windowMs: 50, lastCutAt: 1090 })).toEqual({ kind: 'wait', until: 1150 });
  });

  it('cuts the short batch when the window has passed (at and after the deadline)', () => {
    expect(slice({ waiting: 2, batchSize: 16, inputOpen: true, oldestWaitingAt: 1000, now: 1050, windowMs: 50 })).toEqual({
      kind: 'cut',
      size: 2,
    });
    expect(slice({ waiting: 3, batchSize: 16, inputOpen: true, oldestWaitingAt: 1000, now: 5000, windowMs: 50 })).toEqual({
      kind: 'cut',
      size: 3,
    });
  });

  it('a zero window never waits', () => {
    expect(slice({ waiting: 1, batchSize: 16, inputOpen: true, windowMs: 0, oldestWaitingAt: 1000, now: 1000 })).toEqual({
      kind: 'cut',
      size: 1,
    });
  });

  it('does not wait when the waiting items already fill what may run (free slots below batchSize)', () => {
    expect(slice({ waiting: 3, freeSlots: 3, batchSize: 16, inputOpen: true })).toEqual({ kind: 'cut', size: 3 });
    expect(slice({ waiting: 4, freeSlots: 8, batchSize: 4, inputOpen: true })).toEqual({ kind: 'cut', size: 4 });
  });

  it('never cuts more than waits, nor more than batchSize or the free slots (exhaustive small grid)', () => {
    for (let waiting = 0; waiting <= 6; waiting++)
      for (let freeSlots = 0; freeSlots <= 6; freeSlots++)
        for (let batchSize = 1; batchSize <= 6; batchSize++)
          for (const inputOpen of [false, true])
            for (const now of [1000, 1049, 1050, 2000]) {
              const d = slice({ waiting, freeSlots, batchSize, inputOpen, now, oldestWaitingAt: 1000, windowMs: 50 });
              if (waiting === 0 || freeSlots === 0) {
                expect(d.kind).toBe('idle');
                continue;
              }
              if (d.kind === 'cut') {
                expect(d.size).toBeGreaterThan(0);
                expect(d.size).toBeLessThanOrEqual(Math.min(waiting, freeSlots, batchSize));
              }
              if (d.kind === 'wait') {
                expect(inputOpen).toBe(true);
                expect(now).toBeLessThan(1050);
                expect(d.until).toBe(1050);
              }
              // Closed input: always dispatch at once.
              if (!inputOpen) expect(d).toEqual({ kind: 'cut', size: Math.min(waiting, freeSlots, batchSize) });
              expect(d.kind).not.toBe('idle');
            }
  });
});
