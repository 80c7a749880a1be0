import { describe, expect, it } from 'vitest';
import { resultRecordOf } from '../../src/results/record.js';

const durations = { queuedMs: 1, firstChunkMs: 2, totalMs: 3 };

describe('resultRecordOf', () => {
  it('records a done item with its output and the attempt that did it', () => {
    expect(resultRecordOf({ type: 'item-done', index: 4, id: 'a', attempt: 2, output: 'out', worker: 'thread-1', durations, input: 'in' })).toEqual({
      id: 'a',
      index: 4,
      input: 'in',
      output: 'out',
      status: 'done',
      error: null,
      attempts: 2,
      durations,
      worker: 'thread-1',
    });
  });

  it('records a failed item with its error and no output; its cause stays out of the file', () => {
    expect(
      resultRecordOf({ type: 'item-failed', index: 0, id: 'b', attempts: 3, error: 'boom', worker: null, durations, cause: 'quota', final: true }),
    ).toEqual({ id: 'b', index: 0, input: null, output: null, status: 'failed', error: 'boom', attempts: 3, durations, worker: null });
  });

  it('records nothing of other events', () => {
    expect(resultRecordOf({ type: 'item-start', index: 0, id: 'a', attempt: 1, worker: 'thread-1' })).toBeNull();
  });
});
