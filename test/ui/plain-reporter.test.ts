import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createPlainReporter } from '../../src/ui/plain-reporter.js';
import type { FinalSummary } from '../../src/ui/reporter.js';
import { INFO, ev } from './helpers.js';

function sink(): { out: PassThrough; text: () => string } {
  const out = new PassThrough();
  const chunks: string[] = [];
  out.on('data', (c: Buffer) => chunks.push(c.toString('utf8')));
  return { out, text: () => chunks.join('') };
}

const SUMMARY: FinalSummary = {
  counts: { total: 4, done: 2, failed: 1, unfinished: 1 },
  elapsedMs: 65_000,
  outPath: './slowwork-results/7f3a9c.jsonl',
  resumeCommand: 'slowwork submit prompts.txt --resume',
  interrupted: true,
};

afterEach(() => {
  vi.useRealTimers();
});

describe('plain reporter', () => {
  it('prints prefixed lines, phases and the final summary without escape codes', async () => {
    const { out, text } = sink();
    const r = createPlainReporter(out, { progressEveryMs: 0 });
    r.start({ ...INFO, total: 4, skipped: 2 });
    r.onEvents([
      ev.start(0, 'a'),
      ev.start(1, 'b\u001b[31m'),
      ev.chunk(0, 'Hello', 1, 50),
      ev.chunk(0, ' world\n\u001b[2Jnext', 1, 3),
    ]);
    r.onEvents([ev.done(0, 'Hello world\n\u001b[2Jnext line', 'a')]);
    r.onEvents([ev.retry(1, 'b\u001b[31m'), ev.start(1, 'b\u001b[31m', 2), ev.failed(1, 'Error: \u001b[31mbad\nstack at x', 'b\u001b[31m')]);
    r.setPhase('draining');
    r.setPhase('aborting');
    await r.finish(SUMMARY);
    const output = text();
    expect(output).not.toContain('\u001b[');
    expect(output).not.toContain('\u001b');
    const lines = output.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^start {2}job 7f3a9c: demo on embedded: 2 threads, concurrency 64, 4 items \(2 skipped, done before\), results -> \.\/slowwork-results\/7f3a9c\.jsonl$/);
    expect(lines).toContain('done   [a] 1.2s 53 chunks: Hello world [2Jnext line');
    expect(lines).toContain('retry  [b [31m] attempt 1 failed: flaky backend (next attempt in 2.0s)');
    expect(lines).toContain('failed [b [31m] after 3 attempts: Error: [31mbad');
    expect(lines).toContain('phase  draining: finishing 0 in-flight items; Ctrl+C again to abort');
    expect(lines.some((l) => l.startsWith('phase  aborting: '))).toBe(true);
    expect(lines.slice(-3)).toEqual([
      'interrupted: 2 done, 1 failed, 1 unfinished of 4 in 1m05s (2 skipped, done before)',
      'results: ./slowwork-results/7f3a9c.jsonl',
      'resume:  slowwork submit prompts.txt --resume',
    ]);
  });

  it('keeps the order of retries and finished items within one batch', async () => {
    const { out, text } = sink();
    const r = createPlainReporter(out, { progressEveryMs: 0 });
    r.start(INFO);
    r.onEvents([ev.start(0), ev.start(1), ev.start(2), ev.done(1), ev.retry(0), ev.failed(2), ev.start(0, 'item-0', 2), ev.done(0, 'the output', 'item-0', 2)]);
    await r.finish({ ...SUMMARY, interrupted: false, resumeCommand: null });
    const prefixes = text()
      .trimEnd()
      .split('\n')
      .slice(1, 5)
      .map((l) => l.slice(0, 15));
    expect(prefixes).toEqual(['done   [item-1]', 'retry  [item-0]', 'failed [item-2]', 'done   [item-0]']);
    expect(text()).toContain('done   [item-0] 1.2s 0 chunks (attempt 2): the output');
    expect(text()).not.toContain('resume');
    expect(text()).toContain('finished: 2 done, 1 failed, 1 unfinished of 4 in 1m05s');
  });

  it('prints a progress line every progressEveryMs', async () => {
    vi.useFakeTimers();
    let clock = 0;
    const { out, text } = sink();
    const r = createPlainReporter(out, { progressEveryMs: 5000, now: () => clock });
    r.start({ ...INFO, total: 100 });
    for (let i = 0; i < 40; i++) {
      clock += 100;
      r.onEvents([ev.start(i), ev.done(i)]);
    }
    r.onEvents([ev.failed(40), ev.failed(41), ...[50, 51, 52].map((i) => ev.start(i))]);
    clock = 5000;
    vi.advanceTimersByTime(5000);
    vi.useRealTimers();
    await r.finish({ ...SUMMARY, resumeCommand: null });
    const progress = text()
      .split('\n')
      .filter((l) => l.startsWith('progress '));
    expect(progress).toHaveLength(1);
    expect(progress[0]).toMatch(/^progress 40\/100 done, 2 failed, 3 in flight, [\d.]+ items\/s, ETA \S+$/);
  });

  it('ignores events after finish and finishes once', async () => {
    const { out, text } = sink();
    const r = createPlainReporter(out, { progressEveryMs: 0 });
    r.start(INFO);
    await r.finish(SUMMARY);
    await r.finish(SUMMARY);
    r.onEvents([ev.start(0), ev.done(0)]);
    expect(text().match(/interrupted:/g)).toHaveLength(1);
    expect(text()).not.toContain('done   [');
  });
});
