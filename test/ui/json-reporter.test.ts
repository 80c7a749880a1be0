import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { JobEvent } from '../../src/core/events.js';
import { createJsonReporter } from '../../src/ui/json-reporter.js';
import { INFO, ev } from './helpers.js';

describe('json reporter', () => {
  it('writes every event as one NDJSON line in order, then a summary line', async () => {
    const out = new PassThrough();
    const chunks: string[] = [];
    out.on('data', (c: Buffer) => chunks.push(c.toString('utf8')));
    const r = createJsonReporter(out);
    r.start(INFO);
    const events: JobEvent[] = [
      { type: 'job-total', total: 2 },
      ev.start(0),
      ev.chunk(0, 'line one\nline "two" \u001b[31m 😀'),
      ev.done(0, 'multi\nline output'),
      ev.start(1),
      ev.retry(1),
      ev.failed(1),
      { type: 'job-done', counts: { total: 2, done: 1, failed: 1, unfinished: 0 } },
    ];
    r.onEvents(events.slice(0, 3));
    r.setPhase('draining');
    r.onEvents(events.slice(3));
    r.onEvents([]);
    await r.finish({
      counts: { total: 2, done: 1, failed: 1, unfinished: 0 },
      elapsedMs: 10,
      outPath: 'out.jsonl',
      resumeCommand: null,
      interrupted: false,
    });
    const text = chunks.join('');
    expect(text.endsWith('\n')).toBe(true);
    const lines = text.trimEnd().split('\n');
    expect(lines).toHaveLength(events.length + 1);
    const parsed = lines.map((l) => JSON.parse(l) as { type: string });
    expect(parsed.slice(0, -1)).toEqual(events);
    expect(parsed.at(-1)).toEqual({
      type: 'summary',
      counts: { total: 2, done: 1, failed: 1, unfinished: 0 },
      elapsedMs: 10,
      outPath: 'out.jsonl',
      resumeCommand: null,
      interrupted: false,
    });
    // Raw control characters never reach the stream unescaped.
    expect(text).not.toContain('\u001b');
  });
});
