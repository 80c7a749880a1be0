import { describe, expect, it, vi } from 'vitest';
import stringWidth from 'string-width';
import type { JobEvent } from '../../src/core/events.js';
import type { FinalSummary } from '../../src/ui/reporter.js';
import { RecentLines, createTuiReporter, inkStdout, makeBatch } from '../../src/ui/tui-reporter.js';
import type { FinishedLine } from '../../src/core/job-state.js';
import { FakeStdin, FakeStdout, INFO, ev, sleep, stripAnsi, tick, waitFor } from './helpers.js';

const SUMMARY: FinalSummary = {
  counts: { total: 3, done: 1, failed: 1, unfinished: 1 },
  elapsedMs: 1234,
  outPath: './slowwork-results/7f3a9c.jsonl',
  resumeCommand: 'slowwork submit prompts.txt --resume',
  interrupted: true,
};

function setup(columns = 80, rows = 24, stdinIsTTY = true) {
  const stdout = new FakeStdout(columns, rows);
  const stdin = new FakeStdin();
  stdin.isTTY = stdinIsTTY;
  const onInterrupt = vi.fn();
  const reporter = createTuiReporter({
    stdout: stdout as unknown as NodeJS.WriteStream,
    stdin: stdin as unknown as NodeJS.ReadStream,
    onInterrupt,
    refreshMs: 20,
  });
  return { stdout, stdin, onInterrupt, reporter };
}

const count = (haystack: string, needle: string): number => haystack.split(needle).length - 1;

describe('tui reporter', () => {
  it('renders live rows, prints finished lines once, and finishes with the summary', async () => {
    const { stdout, reporter } = setup();
    reporter.start({ ...INFO, total: 3 });
    reporter.onEvents([ev.start(0, 'alpha'), ev.start(1, 'beta'), ev.chunk(0, 'streaming words here', 1, 4)]);
    // Frames come at most 10 per second (maxFps), the first refresh within that.
    await waitFor(() => stripAnsi(stdout.output).includes('streaming words here'), 2000, 'the first live rows');
    let out = stripAnsi(stdout.output);
    expect(out).toContain('alpha');
    expect(out).toContain('streaming words here');
    expect(out).toContain('0/3 done');
    reporter.onEvents([ev.done(0, 'streaming words here', 'alpha')]);
    await sleep(150);
    reporter.onEvents([ev.failed(1, 'Error: upstream 503\n    at fetch (x.js:1:1)', 'beta')]);
    reporter.onEvents([{ type: 'job-cancelled', reason: 'interrupted', counts: SUMMARY.counts }]);
    await reporter.finish(SUMMARY);
    out = stripAnsi(stdout.output);
    expect(count(out, '✔ alpha')).toBe(1);
    expect(count(out, '✖ beta')).toBe(1);
    expect(out).toContain('Error: upstream 503');
    expect(out).not.toContain('at fetch');
    expect(out).toContain('1 failed');
    expect(out.trimEnd().split('\n').slice(-3)).toEqual([
      'interrupted: 1 done, 1 failed, 1 unfinished of 3 in 1.2s',
      'results: ./slowwork-results/7f3a9c.jsonl',
      'resume:  slowwork submit prompts.txt --resume',
    ]);
    // Nothing is written after finish resolved, and events after it are ignored.
    const writes = stdout.writes.length;
    reporter.onEvents([ev.start(2)]);
    await sleep(60);
    expect(stdout.writes.length).toBe(writes);
    expect(stdout.listenerCount('resize')).toBe(0);
  });

  it('says when Redis is unreachable, since when, and stops saying it once it is back', async () => {
    const { stdout, reporter } = setup(100, 24);
    reporter.start({ ...INFO, total: 3 });
    reporter.onEvents([ev.start(0, 'alpha')]);
    const since = new Date(2026, 0, 2, 12, 3, 11).getTime(); // local time: shown as 12:03:11
    reporter.setLink({ service: 'redis', since });
    await waitFor(() => stripAnsi(stdout.output).includes('redis unreachable since 12:03:11, retrying'), 2000, 'the link notice');
    reporter.setPhase('draining');
    const both = /redis unreachable since 12:03:11, retrying · draining: finishing 1 in-flight item/;
    await waitFor(() => both.test(stripAnsi(stdout.output)), 2000, 'the link notice beside the phase notice');
    reporter.setLink(null);
    // The newest frame (ink's cursor-only writes left out) has the phase notice alone.
    const frame = (): string => stripAnsi(stdout.writes.filter((w) => stripAnsi(w).trim() !== '').at(-1) ?? '');
    await waitFor(() => frame().includes('draining: finishing') && !frame().includes('unreachable'), 2000, 'a frame without the link notice');
    await reporter.finish(SUMMARY);
  });

  it('drains the last finished lines on finish, before the summary', async () => {
    const { stdout, reporter } = setup();
    reporter.start({ ...INFO, total: 2 });
    reporter.onEvents([ev.start(0, 'last-one'), ev.done(0, 'bye', 'last-one')]);
    // No refresh in between: finish() itself must print the line.
    await reporter.finish({ ...SUMMARY, interrupted: false, resumeCommand: null });
    const out = stripAnsi(stdout.output);
    expect(count(out, '✔ last-one')).toBe(1);
    expect(out.indexOf('✔ last-one')).toBeLessThan(out.indexOf('finished: '));
    expect(out).not.toContain('resume');
  });

  it('calls onInterrupt on Ctrl+C and shows the phase the flow sets', async () => {
    const { stdout, stdin, onInterrupt, reporter } = setup();
    reporter.start(INFO);
    reporter.onEvents([ev.start(0), ev.start(1)]);
    await sleep(30);
    stdin.write('\u0003');
    await tick();
    expect(onInterrupt).toHaveBeenCalledTimes(1);
    reporter.setPhase('draining');
    // The next frame shows it (waited for, not a fixed while: a busy machine renders later).
    await waitFor(() => stripAnsi(stdout.output).includes('draining: finishing 2 in-flight items — Ctrl+C again to abort'), 10_000, 'the draining line');
    stdin.write('\u0003');
    await tick();
    expect(onInterrupt).toHaveBeenCalledTimes(2);
    reporter.setPhase('aborting');
    await waitFor(() => stripAnsi(stdout.output).includes('aborting: stopping 2 in-flight items'), 10_000, 'the aborting line');
    // Other keys do nothing.
    stdin.write('q');
    await tick();
    expect(onInterrupt).toHaveBeenCalledTimes(2);
    await reporter.finish(SUMMARY);
  });

  it('works without a TTY on stdin (no raw mode)', async () => {
    const { stdout, stdin, onInterrupt, reporter } = setup(80, 24, false);
    const setRawMode = vi.spyOn(stdin, 'setRawMode');
    reporter.start(INFO);
    reporter.onEvents([ev.start(0)]);
    await sleep(40);
    stdin.write('\u0003');
    await tick();
    expect(onInterrupt).not.toHaveBeenCalled();
    expect(setRawMode).not.toHaveBeenCalled();
    await reporter.finish(SUMMARY);
    expect(stripAnsi(stdout.output)).toContain('results: ');
  });

  it('follows resizes and keeps frames within the terminal', async () => {
    const { stdout, reporter } = setup(120, 40);
    reporter.start({ ...INFO, total: 1000 });
    const events: JobEvent[] = [];
    for (let i = 0; i < 64; i++) events.push(ev.start(i, `id-${i}`), ev.chunk(i, `stream ${i} 中文 😀 `.repeat(20)));
    reporter.onEvents(events);
    await waitFor(() => stripAnsi(stdout.output).includes('id-0'), 10_000, 'a first frame');
    const before = stdout.writes.length;
    stdout.resize(60, 15);
    for (let k = 0; k < 5; k++) {
      reporter.onEvents(Array.from({ length: 64 }, (_, i) => ev.chunk(i, ` more ${k} 😀`)));
      await sleep(40);
    }
    const framesAfter = () => stdout.writes.slice(before).map(stripAnsi).filter((w) => w.trim().length > 0);
    // At least one frame after the resize, however late the timer fires on a busy machine.
    await waitFor(() => framesAfter().some((f) => f.includes('more items in flight')), 10_000, 'a frame after the resize');
    const frames = framesAfter();
    for (const frame of frames) {
      const lines = frame.replace(/\n$/, '').split('\n');
      expect(lines.length, frame).toBeLessThanOrEqual(14);
      for (const line of lines) expect(stringWidth(line), line).toBeLessThanOrEqual(60);
    }
    expect(frames.at(-1)).toContain('more items in flight');
    await reporter.finish(SUMMARY);
  });

  it('refreshes at the timer rate, not the event rate', async () => {
    const stdout = new FakeStdout(100, 30);
    const reporter = createTuiReporter({
      stdout: stdout as unknown as NodeJS.WriteStream,
      stdin: new FakeStdin() as unknown as NodeJS.ReadStream,
      onInterrupt: () => {},
      refreshMs: 100,
    });
    reporter.start(INFO);
    reporter.onEvents(Array.from({ length: 64 }, (_, i) => ev.start(i)));
    const t0 = Date.now();
    const startWrites = stdout.writes.length;
    // ~64 streams x 50 chunks/s, 120 deliveries 5 ms apart (about 600 ms when the machine is idle).
    const deliveries = 120;
    for (let k = 0; k < deliveries; k++) {
      reporter.onEvents(Array.from({ length: 16 }, (_, i) => ev.chunk((i * 7 + k) % 64, 'tok ')));
      await sleep(5);
    }
    const elapsed = Date.now() - t0;
    const writes = stdout.writes.length - startWrites;
    // One refresh per 100 ms that passed, however long that was (a busy machine stretches the
    // 5 ms sleeps tenfold), each a few writes at most (ink adds sync markers); idle, that is far
    // fewer than one per delivery. A bound on the writes alone fails on a busy machine.
    expect(writes).toBeLessThanOrEqual(3 * (Math.ceil(elapsed / 100) + 1));
    await reporter.finish(SUMMARY);
  });

  // ink clears the terminal when the live area was as tall as it (not in CI mode, where it
  // writes no live frames at all).
  const inkCi =
    process.env.CI !== '0' &&
    process.env.CI !== 'false' &&
    ('CI' in process.env || 'CONTINUOUS_INTEGRATION' in process.env || Object.keys(process.env).some((k) => k.startsWith('CI_')));
  it.skipIf(inkCi)('prints the newest finished lines again when ink clears the terminal (resize to fewer rows)', async () => {
    const { stdout, reporter } = setup(80, 24);
    reporter.start({ ...INFO, total: 100 });
    reporter.onEvents([ev.start(0, 'early-one'), ev.done(0, 'bye', 'early-one')]);
    await waitFor(() => stripAnsi(stdout.output).includes('✔ early-one'), 2000, 'the finished line');
    reporter.onEvents(Array.from({ length: 30 }, (_, i) => ev.start(i + 1, `id-${i + 1}`)));
    await waitFor(() => stripAnsi(stdout.output).includes('more items in flight'), 2000, 'a full live area');
    const before = stdout.writes.length;
    stdout.resize(80, 10);
    const clearsAfter = () => stdout.writes.slice(before).filter((w) => w.includes('\u001b[2J'));
    await waitFor(() => clearsAfter().length > 0, 10_000, 'a clear after the resize');
    const clears = clearsAfter();
    // After the clear: the finished line, then the live area.
    const after = stripAnsi(clears[0]!);
    expect(after).toContain('✔ early-one');
    expect(after.indexOf('✔ early-one')).toBeLessThan(after.indexOf('slowwork job'));
    await reporter.finish(SUMMARY);
    expect(count(stripAnsi(stdout.output), '✔ early-one')).toBe(2);
  });

  it('finish without start prints only the summary', async () => {
    const { stdout, reporter } = setup();
    await reporter.finish(SUMMARY);
    expect(stdout.output).toBe(
      'interrupted: 1 done, 1 failed, 1 unfinished of 3 in 1.2s\nresults: ./slowwork-results/7f3a9c.jsonl\nresume:  slowwork submit prompts.txt --resume\n',
    );
  });
});

describe('RecentLines', () => {
  it('keeps the newest lines, at most the limit', () => {
    const r = new RecentLines(3);
    expect(r.text()).toBe('');
    r.add('a\nb\n');
    expect(r.text()).toBe('a\nb\n');
    r.add('c\nd\n');
    expect(r.text()).toBe('b\nc\nd\n');
    for (let i = 0; i < 1000; i++) r.add(`x${i}\ny${i}\n`);
    expect(r.text()).toBe('y998\nx999\ny999\n');
    const none = new RecentLines(0);
    none.add('a\n');
    expect(none.text()).toBe('');
  });
});

describe('inkStdout', () => {
  it('is the stream, and puts the recent lines after a terminal clear', () => {
    const out = new FakeStdout(80, 24);
    const wrapped = inkStdout(out as unknown as NodeJS.WriteStream, () => 'RECENT\n');
    expect(wrapped.columns).toBe(80);
    out.resize(60, 20);
    expect(wrapped.rows).toBe(20);
    const listener = (): void => {};
    wrapped.on('resize', listener);
    expect(out.listenerCount('resize')).toBe(1);
    wrapped.off('resize', listener);
    expect(out.listenerCount('resize')).toBe(0);
    wrapped.write('frame\n');
    wrapped.write('\u001b[2J\u001b[3J\u001b[Hlive\n');
    expect(out.writes).toEqual(['frame\n', '\u001b[2J\u001b[3J\u001b[HRECENT\nlive\n']);
  });
});

describe('makeBatch', () => {
  const line = (index: number, status: 'done' | 'failed'): FinishedLine => ({
    index,
    id: String(index),
    status,
    attempts: 1,
    durationMs: 1,
    chunks: 1,
    preview: status === 'done' ? 'x' : null,
    error: status === 'failed' ? 'e' : null,
    worker: null,
  });
  it('keeps failed lines first and counts the rest', () => {
    const lines = [line(0, 'done'), line(1, 'failed'), line(2, 'done'), line(3, 'failed'), line(4, 'done')];
    expect(makeBatch(1, lines, 10)).toEqual({ key: 1, lines, omitted: 0 });
    const b = makeBatch(2, lines, 3);
    expect(b.lines.map((l) => l.index)).toEqual([0, 1, 3]);
    expect(b.omitted).toBe(2);
    const c = makeBatch(3, lines, 1);
    expect(c.lines.map((l) => l.index)).toEqual([1]);
    expect(c.omitted).toBe(4);
  });
});
