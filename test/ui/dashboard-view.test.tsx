import { afterEach, describe, expect, it } from 'vitest';
import { useState, type ReactNode } from 'react';
import { useInput } from 'ink';
import { render as renderTesting, cleanup } from 'ink-testing-library';
import stringWidth from 'string-width';
import type { DashboardView as DashboardData } from '../../src/core/dashboard-state.js';
import { dashboardLines } from '../../src/ui/dashboard-layout.js';
import { INITIAL_KEYS, onKey, promptOf, reconcileSelection, type KeyEffect, type KeyState } from '../../src/ui/dashboard-keys.js';
import { DashboardView } from '../../src/ui/dashboard-view.js';
import { segsText, truncateSegs } from '../../src/ui/layout.js';
import { SIZES, scenarios, viewOf } from './dashboard-fixtures.js';
import { renderAt, stripAnsi, tick, waitFor } from './helpers.js';

afterEach(() => cleanup());


/** ink-testing-library's stdout is 100 columns wide. */
const TESTING_COLUMNS = 100;

const SCENARIOS = scenarios().map((s) => ({ ...s, view: viewOf(s.sample) }));
const scenario = (name: string): DashboardData => SCENARIOS.find((s) => s.name === name)!.view;

function frameLines(frame: string | undefined): string[] {
  return stripAnsi(frame ?? '').replace(/\n$/, '').split('\n');
}

describe('DashboardView fits the terminal (ink-testing-library)', () => {
  for (const sc of SCENARIOS) {
    it(`${sc.name} at every size`, () => {
      for (const [columns, rows] of SIZES) {
        const selected = sc.view.jobs.at(-1)?.id ?? null;
        const { lastFrame, unmount } = renderTesting(<DashboardView view={sc.view} columns={columns} rows={rows} selected={selected} />);
        const lines = frameLines(lastFrame());
        unmount();
        const what = `${sc.name} ${columns}x${rows}\n${lines.join('\n')}`;
        const expected = dashboardLines({ view: sc.view, columns, rows, selected });
        expect(lines.length, what).toBe(expected.length);
        expect(lines.length, what).toBeLessThanOrEqual(rows - 1);
        for (const line of lines) expect(stringWidth(line), `${what}\n"${line}"`).toBeLessThanOrEqual(Math.min(columns, TESTING_COLUMNS));
        // What ink draws is the layout, line for line (cut to ink's 100 columns when wider).
        const want = expected.map((segs) => segsText(columns > TESTING_COLUMNS ? truncateSegs(segs, TESTING_COLUMNS) : segs).trimEnd());
        expect(lines.map((l) => l.trimEnd()), what).toEqual(want);
        expect(lines[0], what).toMatch(/^slowwork dashboard/);
        if (selected !== null) expect(lines.filter((l) => l.startsWith('› ')), what).toHaveLength(1);
      }
    });
  }

  it('fits exactly at terminal widths above 100 too (a stdout of the real size)', () => {
    for (const sc of SCENARIOS) {
      for (const [columns, rows] of SIZES.filter(([c]) => c > TESTING_COLUMNS)) {
        const { stdout, instance } = renderAt(<DashboardView view={sc.view} columns={columns} rows={rows} selected={sc.view.jobs[0]?.id ?? null} />, columns, rows);
        const lines = frameLines(stdout.lastFrame());
        instance.unmount();
        const what = `${sc.name} ${columns}x${rows}\n${lines.join('\n')}`;
        expect(lines.length, what).toBeLessThanOrEqual(rows - 1);
        for (const line of lines) expect(stringWidth(line), `${what}\n"${line}"`).toBeLessThanOrEqual(columns);
        const want = dashboardLines({ view: sc.view, columns, rows, selected: sc.view.jobs[0]?.id ?? null }).map((s) => segsText(s).trimEnd());
        expect(lines.map((l) => l.trimEnd()), what).toEqual(want);
      }
    }
  });
});

describe('DashboardView content', () => {
  it('shows worker names, job ids and the queue figures', () => {
    const view = scenario('one worker');
    const { lastFrame } = renderTesting(<DashboardView view={view} columns={100} rows={30} selected="job00001" />);
    const text = stripAnsi(lastFrame() ?? '');
    expect(text).toContain('vm-1:1001:ab01');
    expect(text).toContain('job00001');
    expect(text).toMatch(/^default +120 +16 +2 +1 +3\.2s$/m);
    expect(text).toContain('WORKERS 1 alive · 1/8 slots busy');
    expect(text).toContain('JOBS 1 running');
    expect(text).toContain('items/s');
    expect(text).toContain('chunks/s');
    expect(text).toContain('q quit');
  });

  it('shows 50 workers collapsed and the 20th job selected at 60x15', () => {
    const view = scenario('50 workers, 20 jobs');
    const { lastFrame } = renderTesting(<DashboardView view={view} columns={60} rows={15} selected="job00020" />);
    const lines = frameLines(lastFrame());
    expect(lines).toHaveLength(14);
    expect(lines.some((l) => /^\+\d+ more workers$/.test(l.trimEnd()))).toBe(true);
    expect(lines.find((l) => l.startsWith('› '))).toContain('job00020');
    expect(lines.join('\n')).toContain('(17–20 of 20)');
  });

  it('marks dead and silent workers', () => {
    const view = scenario('dead and silent workers');
    const { lastFrame } = renderTesting(<DashboardView view={view} columns={100} rows={30} selected={null} />);
    const text = stripAnsi(lastFrame() ?? '');
    expect(text).toMatch(/^✗ .*vm-2:1002:ab02.*dead 42\.0s$/m);
    expect(text).toMatch(/^◌ .*vm-3:1003:ab03.*silent 4\.0s$/m);
  });

  it('renders wide characters without breaking the width', () => {
    const view = scenario('wide characters');
    const { lastFrame } = renderTesting(<DashboardView view={view} columns={100} rows={30} selected="job00001" />);
    const lines = frameLines(lastFrame());
    for (const l of lines) expect(stringWidth(l), l).toBeLessThanOrEqual(100);
    const text = lines.join('\n');
    expect(text).toContain('工作者-一号:77:ab');
    expect(text).toContain('🚀rocket:78:cd');
  });

  it('follows new props: a rerender at a new size or with a new selection', () => {
    const view = scenario('50 workers, 20 jobs');
    const { lastFrame, rerender } = renderTesting(<DashboardView view={view} columns={100} rows={30} selected="job00001" />);
    expect(frameLines(lastFrame())).toHaveLength(29);
    rerender(<DashboardView view={view} columns={60} rows={15} selected="job00007" />);
    const lines = frameLines(lastFrame());
    expect(lines).toHaveLength(14);
    for (const l of lines) expect(stringWidth(l)).toBeLessThanOrEqual(60);
    expect(lines.find((l) => l.startsWith('› '))).toContain('job00007');
  });
});

/** The keys wired as the real TUI does: KeyState in React state, onKey on every key. */
function Interactive({ view, columns, rows, effects }: { view: DashboardData; columns: number; rows: number; effects: KeyEffect[] }): ReactNode {
  const [keys, setKeys] = useState<KeyState>(() => reconcileSelection(INITIAL_KEYS, view.jobs));
  useInput((input, key) => {
    const next = onKey(keys, { input, upArrow: key.upArrow, downArrow: key.downArrow, pageUp: key.pageUp, pageDown: key.pageDown, return: key.return, escape: key.escape, ctrl: key.ctrl }, view.jobs);
    if (next.effect) effects.push(next.effect);
    setKeys(next.state);
  });
  return <DashboardView view={view} columns={columns} rows={rows} selected={keys.selected} prompt={promptOf(keys, view.jobs)} />;
}

/** Until ink listens to stdin (useInput turns raw mode on in an effect, after the first render). */
async function ready(stdin: { listenerCount(event: string): number }): Promise<void> {
  await waitFor(() => stdin.listenerCount('readable') > 0, 2000, 'ink to read stdin');
  await tick();
}

/** Writes a key and lets ink parse it, React update the state and ink draw the frame. */
async function type(stdin: { write(data: string): void }, data: string): Promise<void> {
  await tick();
  stdin.write(data);
  for (let i = 0; i < 3; i++) await tick();
}

describe('DashboardView with keys (stdin)', () => {
  const selectedLine = (frame: string | undefined): string => frameLines(frame).find((l) => l.startsWith('› ')) ?? '';
  const lastLine = (frame: string | undefined): string => frameLines(frame).at(-1)!.trimEnd();

  it('moves the selection with j and the down arrow, attaches with Enter, cancels with c then y', async () => {
    const view = scenario('50 workers, 20 jobs');
    const effects: KeyEffect[] = [];
    const { lastFrame, stdin } = renderTesting(<Interactive view={view} columns={100} rows={30} effects={effects} />);
    await ready(stdin);
    expect(selectedLine(lastFrame())).toContain('job00001');
    expect(lastLine(lastFrame())).toBe('↑↓/jk select · Enter attach · c cancel · q quit');

    await type(stdin, 'j');
    expect(selectedLine(lastFrame())).toContain('job00002');

    await type(stdin, '\u001B[B');
    expect(selectedLine(lastFrame())).toContain('job00003');

    await type(stdin, 'k');
    expect(selectedLine(lastFrame())).toContain('job00002');

    await type(stdin, '\r');
    expect(effects).toEqual([{ kind: 'attach', jobId: 'job00002' }]);

    await type(stdin, 'c');
    expect(lastLine(lastFrame())).toMatch(/^Cancel job job00002 \(20\/1000 finished\) everywhere\? y yes · any other key no$/);
    expect(effects).toHaveLength(1);

    await type(stdin, 'y');
    expect(effects).toEqual([
      { kind: 'attach', jobId: 'job00002' },
      { kind: 'cancel', jobId: 'job00002' },
    ]);
    expect(lastLine(lastFrame())).toBe('↑↓/jk select · Enter attach · c cancel · q quit');
    expect(selectedLine(lastFrame())).toContain('job00002');
  });

  it('any other key answers no to the confirmation, and the message shows until the next key', async () => {
    const view = scenario('50 workers, 20 jobs');
    const effects: KeyEffect[] = [];
    const { lastFrame, stdin } = renderTesting(<Interactive view={view} columns={80} rows={24} effects={effects} />);
    await ready(stdin);
    await type(stdin, 'c');
    expect(lastLine(lastFrame())).toContain('Cancel job job00001');
    await type(stdin, 'n');
    expect(lastLine(lastFrame())).toBe('job job00001 left running');
    expect(effects).toEqual([]);
    await type(stdin, 'j');
    expect(lastLine(lastFrame())).toMatch(/^↑↓\/jk select/);
    expect(selectedLine(lastFrame())).toContain('job00002');
  });

  it('keeps the selection in sight when moving past the visible rows on a short terminal', async () => {
    const view = scenario('50 workers, 20 jobs');
    const effects: KeyEffect[] = [];
    const { lastFrame, stdin } = renderTesting(<Interactive view={view} columns={60} rows={15} effects={effects} />);
    await ready(stdin);
    for (let n = 2; n <= 20; n++) {
      await type(stdin, '\u001B[B');
      const lines = frameLines(lastFrame());
      expect(lines.length).toBeLessThanOrEqual(14);
      expect(selectedLine(lastFrame()), `after ${n - 1} downs\n${lines.join('\n')}`).toContain(`job${String(n).padStart(5, '0')}`);
    }
    await type(stdin, 'g');
    expect(selectedLine(lastFrame())).toContain('job00001');
    await type(stdin, 'G');
    expect(selectedLine(lastFrame())).toContain('job00020');
  });

  it('q and Ctrl+C give quit; c on a finished job gives a message, not a prompt', async () => {
    const view = scenario('dead and silent workers');
    const effects: KeyEffect[] = [];
    const { lastFrame, stdin } = renderTesting(<Interactive view={view} columns={100} rows={30} effects={effects} />);
    await ready(stdin);
    // Jobs: job00001 running, then job00002 done, job00003 cancelled.
    await type(stdin, 'j');
    expect(selectedLine(lastFrame())).toContain('job00002');
    await type(stdin, 'c');
    expect(lastLine(lastFrame())).toBe('job job00002 is done already');
    await type(stdin, 'q');
    await type(stdin, '\u0003');
    expect(effects).toEqual([{ kind: 'quit' }, { kind: 'quit' }]);
  });
});
