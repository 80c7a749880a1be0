import { afterEach, describe, expect, it } from 'vitest';
import stringWidth from 'string-width';
import { render as renderTesting, cleanup } from 'ink-testing-library';
import type { JobEvent } from '../../src/core/events.js';
import { JobState, type JobSnapshot, type FinishedLine } from '../../src/core/job-state.js';
import type { Phase } from '../../src/ui/reporter.js';
import { SubmitView, planHeight, type FinishedBatch } from '../../src/ui/submit-view.js';
import { INFO, ev, renderAt, stripAnsi } from './helpers.js';
import { scenarios, viewOf } from './dashboard-fixtures.js';

afterEach(() => cleanup());

const SIZES = [
  [60, 15],
  [80, 24],
  [120, 40],
  [200, 50],
] as const;

interface Data {
  readonly name: string;
  readonly snapshot: JobSnapshot;
  readonly finished: FinishedLine[];
}

const CJK = '这是一个很长的中文句子，用来测试宽字符的截断。';
const EMOJI = 'emoji 😀👍🏽🇺🇸👨‍👩‍👧 ❤️ mixed ａｂｃ ';

function makeData(name: string, inFlight: number, opts: { longIds?: boolean; wide?: boolean } = {}): Data {
  const s = new JobState({ total: 5000, skipped: 12, startedAt: 0 });
  const events: JobEvent[] = [];
  for (let i = 0; i < inFlight; i++) {
    const id = opts.longIds ? `prompts-with-a-really-long-name.jsonl:${100000 + i}-${'x'.repeat(i % 40)}` : `${i + 1}`;
    events.push(ev.start(i, id, 1 + (i % 3 === 0 ? 2 : 0), `worker-host-${i % 5}/thread-${i % 7}`));
    if (i % 4 !== 3) {
      const text = opts.wide ? (i % 2 ? CJK : EMOJI).repeat(8) : `token ${i} `.repeat(60);
      events.push(ev.chunk(i, text, 1 + (i % 3 === 0 ? 2 : 0), 20 + i));
    }
  }
  for (let i = 0; i < 30; i++) {
    events.push(ev.start(1000 + i, opts.longIds ? `finished-${'y'.repeat(60)}-${i}` : `f${i}`));
    events.push(i % 5 === 0 ? ev.failed(1000 + i, `Error: ${opts.wide ? CJK : 'upstream 503'}\n    at x`) : ev.done(1000 + i, opts.wide ? EMOJI.repeat(10) : 'Once upon a time '.repeat(20)));
  }
  events.push({ type: 'item-retry', index: 9999, id: 'r', attempt: 1, error: 'x', delayMs: 5, charged: true });
  s.apply(events, 2500);
  return { name, snapshot: s.snapshot(4321), finished: s.takeFinished() };
}

const DATASETS: Data[] = [
  makeData('0 in flight', 0),
  makeData('1 in flight', 1),
  makeData('10 in flight', 10),
  makeData('64 in flight', 64),
  makeData('64 long ids', 64, { longIds: true }),
  makeData('10 wide text', 10, { wide: true }),
  makeData('64 wide text long ids', 64, { wide: true, longIds: true }),
];

const PHASES: Phase[] = ['running', 'draining', 'aborting', 'finished'];

function frameLines(frame: string): string[] {
  return stripAnsi(frame).replace(/\n$/, '').split('\n');
}

describe('SubmitView fits the terminal', () => {
  for (const [columns, rows] of SIZES) {
    for (const data of DATASETS) {
      it(`${columns}x${rows}, ${data.name}`, () => {
        for (const phase of PHASES) {
          const { stdout, instance } = renderAt(
            <SubmitView info={INFO} snapshot={data.snapshot} phase={phase} columns={columns} rows={rows} />,
            columns,
            rows,
          );
          const lines = frameLines(stdout.lastFrame());
          instance.unmount();
          expect(lines.length, `${phase}: ${lines.join('\n')}`).toBeLessThanOrEqual(rows - 1);
          for (const line of lines) expect(stringWidth(line), `${phase}: "${line}"`).toBeLessThanOrEqual(columns);
          const text = lines.join('\n');
          if (phase !== 'finished') {
            // Title, stats, notice (unless running) and footer take 3-4 of the rows - 1 lines.
            const overflow = data.snapshot.inFlight > rows - 1 - (phase === 'running' ? 3 : 4);
            expect(text.includes('more item'), text).toBe(overflow);
          }
          if (phase === 'draining') expect(text).toContain('Ctrl+C again to abort');
          if (phase === 'aborting') expect(text).toContain('aborting: stopping');
          if (phase === 'finished') expect(text).not.toContain('ETA');
        }
      });
    }
  }

  it('keeps every line within bounds at odd small sizes too', () => {
    const data = DATASETS[6]!;
    for (const columns of [20, 33, 41, 59]) {
      for (const rows of [2, 3, 4, 5, 7, 9]) {
        const { stdout, instance } = renderAt(
          <SubmitView info={INFO} snapshot={data.snapshot} phase="draining" columns={columns} rows={rows} />,
          columns,
          rows,
        );
        const lines = frameLines(stdout.lastFrame());
        instance.unmount();
        expect(lines.length, `${columns}x${rows}\n${lines.join('\n')}`).toBeLessThanOrEqual(rows - 1);
        for (const line of lines) expect(stringWidth(line), `${columns}x${rows} "${line}"`).toBeLessThanOrEqual(columns);
      }
    }
  });

  it('prints finished lines above the live area, each within the width', () => {
    for (const [columns, rows] of SIZES) {
      for (const data of DATASETS) {
        const batch: FinishedBatch = { key: 1, lines: data.finished, omitted: 7 };
        const { stdout, instance } = renderAt(
          <SubmitView info={INFO} snapshot={data.snapshot} phase="running" columns={columns} rows={rows} finished={batch} />,
          columns,
          rows,
        );
        instance.unmount();
        // Debug mode: the live frame is one write, the finished lines (written past ink's layout,
        // see FinishedLines) another.
        const writes = stdout.writes.map(frameLines);
        const printed = writes.filter((w) => w.some((l) => l.startsWith('✔ ') || l.startsWith('✖ ')));
        expect(printed.length).toBe(1);
        const lines = printed[0]!;
        expect(lines.filter((l) => l.startsWith('✔ ') || l.startsWith('✖ ')).length).toBe(30);
        expect(lines.at(30)).toContain('7 more items finished');
        for (const line of lines) expect(stringWidth(line), `"${line}"`).toBeLessThanOrEqual(columns);
        // The live area still respects the height.
        const live = writes.find((w) => w.some((l) => l.includes(' done')))!;
        expect(live.length).toBeLessThanOrEqual(rows - 1);
      }
    }
  });
});

describe('SubmitView content', () => {
  it('shows counts, rates and ETA in the header (ink-testing-library, 100 columns)', () => {
    const data = DATASETS[2]!;
    const { lastFrame } = renderTesting(
      <SubmitView info={INFO} snapshot={data.snapshot} phase="running" columns={100} rows={30} />,
    );
    const text = stripAnsi(lastFrame() ?? '');
    expect(text).toContain('slowwork job 7f3a9c');
    expect(text).toContain('24/5000 done');
    expect(text).toContain('6 failed');
    expect(text).toContain('10 in flight');
    expect(text).toContain('1 retrying');
    expect(text).toContain('items/s');
    expect(text).toContain('ETA ');
    expect(text).toContain('Ctrl+C');
    expect(text).toContain('↻3');
    expect(text).not.toContain('more item');
  });

  it('shows the newest text of each stream (truncate-start)', () => {
    const s = new JobState({ total: 2, startedAt: 0 });
    s.apply([ev.start(0, 'a'), ev.chunk(0, 'OLDEST '.repeat(50) + 'the newest words'), ev.start(1, 'b')], 100);
    const { stdout, instance } = renderAt(
      <SubmitView info={INFO} snapshot={s.snapshot(500)} phase="running" columns={60} rows={15} />,
      60,
      15,
    );
    const text = stripAnsi(stdout.lastFrame());
    instance.unmount();
    expect(text).toContain('the newest words');
    expect(text).toContain('…');
    expect(text).toContain('waiting for the first chunk');
  });

  it('shows "+k more in flight" when rows do not fit', () => {
    const data = DATASETS[3]!;
    const { stdout, instance } = renderAt(
      <SubmitView info={INFO} snapshot={data.snapshot} phase="running" columns={80} rows={24} />,
      80,
      24,
    );
    const text = stripAnsi(stdout.lastFrame());
    instance.unmount();
    // 23 lines: title, stats, 20 rows, footer.
    expect(text).toContain('+44 more items in flight');
  });

  it('shows a notice while draining and aborting', () => {
    const data = DATASETS[2]!;
    for (const [phase, words] of [
      ['draining', 'draining: finishing 10 in-flight items — Ctrl+C again to abort'],
      ['aborting', 'aborting: stopping 10 in-flight items'],
    ] as const) {
      const { stdout, instance } = renderAt(
        <SubmitView info={INFO} snapshot={data.snapshot} phase={phase} columns={120} rows={40} />,
        120,
        40,
      );
      expect(stripAnsi(stdout.lastFrame())).toContain(words);
      instance.unmount();
    }
  });

  it('prints each finished batch once, even across refreshes', () => {
    const data = DATASETS[1]!;
    const b1: FinishedBatch = { key: 1, lines: data.finished.slice(0, 3), omitted: 0 };
    const b2: FinishedBatch = { key: 2, lines: data.finished.slice(3, 5), omitted: 0 };
    const view = (batch: FinishedBatch, snapshot: JobSnapshot, columns = 80): React.ReactElement => (
      <SubmitView info={INFO} snapshot={snapshot} phase="running" columns={columns} rows={24} finished={batch} />
    );
    const { stdout, instance } = renderAt(view(b1, data.snapshot), 80, 24);
    instance.rerender(view(b1, { ...data.snapshot, now: data.snapshot.now + 150 }));
    instance.rerender(view(b2, { ...data.snapshot, now: data.snapshot.now + 300 }));
    instance.rerender(view(b2, { ...data.snapshot, now: data.snapshot.now + 450 }));
    // A resize re-renders with the same batch: not printed again.
    stdout.resize(70, 24);
    instance.rerender(view(b2, { ...data.snapshot, now: data.snapshot.now + 600 }, 70));
    const text = stripAnsi(stdout.output);
    instance.unmount();
    for (const line of data.finished.slice(0, 5)) {
      const count = text.split('\n').filter((l) => l.includes(` ${line.id} `)).length;
      expect(count, line.id).toBe(1);
    }
  });

  it('before the first snapshot shows a starting line', () => {
    const { stdout, instance } = renderAt(<SubmitView info={INFO} snapshot={null} phase="running" columns={60} rows={15} />, 60, 15);
    expect(stripAnsi(stdout.lastFrame())).toContain('starting');
    instance.unmount();
  });
});

describe('SubmitView errors', () => {
  it('shows a rendering bug as one line (no stack trace) and recovers on the next frame', () => {
    const data = DATASETS[2]!;
    const bad = { ...data.snapshot, rows: null } as unknown as JobSnapshot;
    const view = (snapshot: JobSnapshot): React.ReactElement => (
      <SubmitView info={INFO} snapshot={snapshot} phase="running" columns={80} rows={24} />
    );
    const { stdout, instance } = renderAt(view(data.snapshot), 80, 24);
    instance.rerender(view(bad));
    let text = stripAnsi(stdout.lastFrame());
    expect(text).toContain('display error:');
    expect(text).not.toMatch(/\n\s+at /);
    expect(text.split('\n').length).toBeLessThanOrEqual(2);
    instance.rerender(view(bad));
    expect(stripAnsi(stdout.lastFrame())).toContain('display error:');
    instance.rerender(view({ ...data.snapshot, now: data.snapshot.now + 150 }));
    instance.rerender(view({ ...data.snapshot, now: data.snapshot.now + 300 }));
    text = stripAnsi(stdout.lastFrame());
    instance.unmount();
    expect(text).not.toContain('display error');
    expect(text).toContain('24/5000 done');
  });
});

describe('planHeight', () => {
  it('never exceeds rows - 1', () => {
    for (let rows = 1; rows < 60; rows++) {
      for (const inFlight of [0, 1, 5, 64]) {
        for (const notice of [false, true]) {
          const p = planHeight(rows, inFlight, notice, false);
          const used = 1 + (p.title ? 1 : 0) + (p.notice ? 1 : 0) + p.shown + (p.footer ? 1 : 0);
          expect(used).toBeLessThanOrEqual(Math.max(1, rows - 1));
          expect(p.shown + p.hidden).toBe(inFlight);
        }
      }
    }
  });
});

describe('SubmitView with the dashboard panels (the d key)', () => {
  it('shows the panels, and says so when Redis is unreachable, in place of the key line', () => {
    const panels = viewOf(scenarios()[1]!.sample);
    const snapshot = new JobState({ total: 3, skipped: 0, startedAt: 0 }).snapshot(0);
    const since = new Date(2026, 0, 2, 12, 3, 11).getTime();
    const frame = (link: { service: string; since: number } | null): string =>
      stripAnsi(renderTesting(<SubmitView info={INFO} snapshot={snapshot} phase="running" columns={100} rows={30} panels={panels} link={link} />).lastFrame() ?? '');
    const up = frame(null);
    expect(up).toContain('dashboard');
    expect(up).toContain('back to the streams');
    expect(up).not.toContain('unreachable');
    const down = frame({ service: 'redis', since });
    expect(down).toContain('redis unreachable since 12:03:11, retrying');
    expect(down).toContain('dashboard');
  });
});
