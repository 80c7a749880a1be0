import { describe, expect, it } from 'vitest';
import type { JobEvent } from '../../src/core/events.js';
import { JobState } from '../../src/core/job-state.js';
import { quotaSegs, statsLine, summaryLines } from '../../src/ui/layout.js';

const text = (segs: { text: string }[]): string => segs.map((s) => s.text).join('');
const durations = { queuedMs: 0, firstChunkMs: null, totalMs: 1 };
const done = (index: number, prompt: number, completion: number, estimated?: true): JobEvent => ({
  type: 'item-done',
  index,
  id: String(index + 1),
  attempt: 1,
  output: 'x',
  worker: 't',
  durations,
  meta: { usage: { prompt_tokens: prompt, completion_tokens: completion, ...(estimated ? { estimated } : {}) } },
});

describe('tokens in the live view and the summary', () => {
  it('the stats line shows tokens in and out and the rate, once a processor reported usage', () => {
    const state = new JobState({ total: 10, startedAt: 0 });
    state.apply([{ type: 'item-done', index: 9, id: '10', attempt: 1, output: 'x', worker: 't', durations }], 1000);
    expect(text(statsLine(state.snapshot(2000), 200))).not.toContain('tokens');
    state.apply([done(0, 1200, 3400), done(1, 0, 600)], 2000);
    expect(text(statsLine(state.snapshot(2000), 200))).toMatch(/tokens 1\.2k in · 4(\.0)?k out · 2(\.0)?k\/s/);
    state.apply([done(2, 1, 1, true)], 2000);
    expect(text(statsLine(state.snapshot(2000), 200))).toMatch(/tokens ~1\.2k in · ~4(\.0)?k out/);
  });

  it('the summary prints the totals, and says when some were estimated', () => {
    const base = { counts: { total: 1, done: 1, failed: 0, unfinished: 0 }, elapsedMs: 10, outPath: 'o.jsonl', resumeCommand: null, interrupted: false };
    expect(summaryLines({ ...base, tokens: { prompt: 12000, completion: 34, estimated: false } })).toContain('tokens:  12,000 prompt + 34 completion = 12,034');
    expect(summaryLines({ ...base, tokens: { prompt: 1, completion: 2, estimated: true } })).toContain('tokens:  1 prompt + 2 completion = 3 (some estimated)');
    expect(summaryLines({ ...base, tokens: null }).join('\n')).not.toContain('tokens');
  });

  it('the stats line says when items wait for quota, against the limit, while running', () => {
    const state = new JobState({ total: 10, startedAt: 0 });
    const key = { key: 'http://x/v1#abc', waiting: 18, perMinute: 1190.4, rpm: 1200, tpm: 0, pausedMs: 0 };
    expect(text(statsLine(state.snapshot(1000), 200, false, [key]))).toContain('quota: 18 waiting · 1190/1200 rpm');
    expect(text(statsLine(state.snapshot(1000), 200, true, [key]))).not.toContain('quota');
    expect(text(quotaSegs([{ ...key, rpm: 0, pausedMs: 2100 }, { ...key, key: 'other' }]))).toBe('quota: paused 2.1s · 18 waiting · 1190 rpm · +1 endpoint');
    expect(quotaSegs([{ ...key, waiting: 0 }])[0]).toMatchObject({ dim: true });
    expect(quotaSegs([])).toEqual([]);
  });
});

