import { describe, expect, it } from 'vitest';
import { addUsage, checkedMeta, foldStages, overlay } from '../../src/core/item-meta.js';
import { TokenTally } from '../../src/core/token-tally.js';
import { JobState } from '../../src/core/job-state.js';
import type { JobEvent } from '../../src/core/events.js';

describe('checkedMeta', () => {
  it('keeps the known fields, drops the rest, and keeps `estimated` only when true', () => {
    expect(checkedMeta({ usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7, estimated: false }, model: 'm', finish_reason: 'length', request_id: 'r', extra: 1 })).toEqual({
      usage: { prompt_tokens: 3, completion_tokens: 4 },
      model: 'm',
      finish_reason: 'length',
      request_id: 'r',
    });
    expect(checkedMeta({ usage: { prompt_tokens: 0, completion_tokens: 0, estimated: true } })).toEqual({ usage: { prompt_tokens: 0, completion_tokens: 0, estimated: true } });
    expect(checkedMeta({ model: null })).toEqual({});
  });

  it('refuses what is not counts or text, naming the field', () => {
    expect(() => checkedMeta(null)).toThrow(/takes an object/);
    expect(() => checkedMeta({ usage: { prompt_tokens: 1.5, completion_tokens: 1 } })).toThrow(/usage must be/);
    expect(() => checkedMeta({ usage: { prompt_tokens: '3', completion_tokens: 1 } })).toThrow(/usage must be/);
    expect(() => checkedMeta({ usage: { prompt_tokens: 3 } })).toThrow(/usage must be/);
    expect(() => checkedMeta({ finish_reason: 42 })).toThrow(/finish_reason must be a string/);
  });

  it('bounds a label: these are labels, not payloads', () => {
    expect(checkedMeta({ model: 'x'.repeat(10_000) }).model).toHaveLength(256);
  });
});

describe('folding reports', () => {
  it('adds usages, estimated when either part is', () => {
    expect(addUsage(undefined, { prompt_tokens: 1, completion_tokens: 2 })).toEqual({ prompt_tokens: 1, completion_tokens: 2 });
    expect(addUsage({ prompt_tokens: 1, completion_tokens: 2 }, { prompt_tokens: 3, completion_tokens: 4, estimated: true })).toEqual({ prompt_tokens: 4, completion_tokens: 6, estimated: true });
  });

  it('sums the stages, skipping those that said nothing; overlay replaces named fields only', () => {
    expect(foldStages([])).toBeUndefined();
    expect(foldStages([undefined, { model: 'b' }])).toEqual({ model: 'b' });
    expect(foldStages([{ usage: { prompt_tokens: 1, completion_tokens: 1 }, model: 'a' }, undefined, { usage: { prompt_tokens: 2, completion_tokens: 3 } }])).toEqual({
      usage: { prompt_tokens: 3, completion_tokens: 4 },
      model: 'a',
    });
    expect(overlay({ model: 'a', finish_reason: 'stop' }, { model: 'b' })).toEqual({ model: 'b', finish_reason: 'stop' });
  });
});

describe('token totals', () => {
  const durations = { queuedMs: 0, firstChunkMs: null, totalMs: 1 };
  const events: JobEvent[] = [
    { type: 'item-retry', index: 0, id: '1', attempt: 1, error: 'reset', delayMs: 10, charged: true, meta: { usage: { prompt_tokens: 5, completion_tokens: 2, estimated: true } } },
    { type: 'item-done', index: 0, id: '1', attempt: 2, output: 'x', worker: 't', durations, meta: { usage: { prompt_tokens: 5, completion_tokens: 8 } } },
    { type: 'item-failed', index: 1, id: '2', attempts: 1, error: 'e', worker: null, durations, meta: { usage: { prompt_tokens: 3, completion_tokens: 0 } } },
    { type: 'item-done', index: 2, id: '3', attempt: 1, output: 'y', worker: 't', durations },
  ];

  it('count every attempt, failed ones included, and say when some were estimated', () => {
    const tally = new TokenTally();
    expect(tally.totals()).toBeNull();
    for (const e of events) tally.addFrom(e);
    expect(tally.totals()).toEqual({ prompt: 13, completion: 10, estimated: true });
  });

  it('reach the live snapshot, with completion tokens per second', () => {
    const state = new JobState({ startedAt: 0 });
    expect(state.snapshot(0).tokens).toBeNull();
    state.apply(events, 2000);
    const snap = state.snapshot(2000);
    expect(snap.tokens).toEqual({ prompt: 13, completion: 10, estimated: true });
    expect(snap.tokensPerSec).toBeCloseTo(10 / 2, 5);
  });
});
