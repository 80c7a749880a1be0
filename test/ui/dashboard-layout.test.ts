import { describe, expect, it } from 'vitest';
import type { DashSample } from '../../src/core/dashboard-sample.js';
import { DashboardState, type DashboardView } from '../../src/core/dashboard-state.js';
import { displayWidth } from '../../src/core/text.js';
import { DASHBOARD_KEYS, dashboardLines, formatBytes, planPanels, type DashboardScreen } from '../../src/ui/dashboard-layout.js';
import { segsText } from '../../src/ui/layout.js';
import { SIZES, QUEUE, T0, job, scenarios, viewOf, worker } from './dashboard-fixtures.js';


const SCENARIOS = scenarios().map((s) => ({ ...s, view: viewOf(s.sample) }));
const byName = (name: string): { sample: DashSample; view: DashboardView } => SCENARIOS.find((s) => s.name === name)!;

function screen(screen: DashboardScreen): string[] {
  return dashboardLines(screen).map(segsText);
}

function assertFits(lines: readonly string[], columns: number, rows: number, what: string): void {
  expect(lines.length, `${what}\n${lines.join('\n')}`).toBeLessThanOrEqual(rows - 1);
  for (const line of lines) expect(displayWidth(line), `${what}: "${line}"`).toBeLessThanOrEqual(columns);
}

const KEY_LINE_START = `${DASHBOARD_KEYS[0]!.key} ${DASHBOARD_KEYS[0]!.what}`;

describe('dashboardLines fits every size', () => {
  for (const sc of SCENARIOS) {
    for (const [columns, rows] of SIZES) {
      it(`${sc.name} at ${columns}x${rows}`, () => {
        const ids = sc.view.jobs.map((j) => j.id);
        for (const selected of [null, ids[0] ?? null, ids.at(-1) ?? null]) {
          const what = `${sc.name} ${columns}x${rows} selected ${selected}`;
          const lines = screen({ view: sc.view, columns, rows, selected });
          assertFits(lines, columns, rows, what);
          // The title is always first; the key line last (rows allow it at every size here).
          expect(lines[0], what).toMatch(/^slowwork dashboard/);
          expect(lines.at(-1), what).toMatch(new RegExp(`^${KEY_LINE_START.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
          // Every panel shows at least its summary.
          const text = lines.join('\n');
          expect(text, what).toMatch(/^QUEUES? /m);
          expect(text, what).toMatch(/^WORKERS /m);
          expect(text, what).toMatch(/^JOBS /m);
          // The selected job is always in sight, marked.
          if (selected !== null) {
            const marked = lines.filter((l) => l.startsWith('› '));
            expect(marked, what).toHaveLength(1);
          } else {
            expect(lines.some((l) => l.startsWith('› ')), what).toBe(false);
          }
        }
      });
    }
  }

  it('uses every line it may when there is more to show than fits', () => {
    const { view } = byName('50 workers, 20 jobs');
    for (const [columns, rows] of SIZES) {
      const lines = screen({ view, columns, rows, selected: view.jobs[0]!.id });
      expect(lines.length, `${columns}x${rows}`).toBe(rows - 1);
    }
  });

  it('shows everything, with no collapsing, when the terminal is big enough', () => {
    const { view } = byName('one worker');
    const lines = screen({ view, columns: 120, rows: 40, selected: 'job00001' });
    // title, 2 sparklines, queue summary + header + 1, workers summary + header + 1, jobs summary + header + 1, keys.
    expect(lines).toHaveLength(13);
    const text = lines.join('\n');
    for (const h of ['WAITING', 'IN FLIGHT', 'DELAYED', 'DEAD', 'LAG', 'WORKER', 'HOST', 'PID', 'BUSY', 'CPU', 'MEM', 'DONE', 'FAILED', 'AVG', 'HEARTBEAT', 'PROGRESS', 'DONE/FAILED/TOTAL', 'ITEMS/S', 'ETA', 'AGE', 'SUBMITTER', 'PROCESSORS']) {
      expect(text, h).toContain(h);
    }
    expect(text).toContain('vm-1:1001:ab01');
    expect(text).toContain('laptop:2001');
    expect(lines.at(-1)).toBe('↑↓/jk select · Enter attach · c cancel · q quit');
  });

  it('stays within bounds at odd sizes too', () => {
    for (const sc of SCENARIOS) {
      for (const columns of [1, 10, 33, 59, 61, 101]) {
        for (const rows of [3, 4, 5, 7, 9, 16]) {
          const lines = screen({ view: sc.view, columns, rows, selected: sc.view.jobs.at(-1)?.id ?? null });
          assertFits(lines, columns, rows, `${sc.name} ${columns}x${rows}`);
          expect(lines[0]).toBeDefined();
        }
      }
    }
  });
});

describe('dashboardLines panels', () => {
  it('collapses the workers panel at 60x15 with 50 workers: one row and "+N more workers"', () => {
    const { view } = byName('50 workers, 20 jobs');
    const lines = screen({ view, columns: 60, rows: 15, selected: view.jobs[0]!.id });
    const more = lines.find((l) => /^\+\d+ more workers$/.test(l));
    expect(more, lines.join('\n')).toBeDefined();
    const shown = lines.filter((l) => l.startsWith('●') || l.startsWith('◌') || l.startsWith('✗')).length;
    expect(shown).toBeGreaterThan(0);
    expect(Number(more!.match(/\d+/)![0]) + shown).toBe(50);
    expect(lines.join('\n')).toContain('WORKERS 50 alive');
  });

  it('shows a summary only for the workers on a very short terminal', () => {
    const { view } = byName('50 workers, 20 jobs');
    const lines = screen({ view, columns: 60, rows: 8, selected: view.jobs[0]!.id });
    expect(lines.some((l) => l.startsWith('WORKERS 50 alive'))).toBe(true);
    expect(lines.some((l) => l.startsWith('●'))).toBe(false);
    expect(lines.some((l) => l.includes('HEARTBEAT'))).toBe(false);
  });

  it('keeps the selected job visible, even the 20th of 20, and says which rows show', () => {
    const { view } = byName('50 workers, 20 jobs');
    const ids = view.jobs.map((j) => j.id);
    expect(ids).toHaveLength(20);
    for (const [columns, rows] of SIZES) {
      for (const k of [0, 9, 19]) {
        const lines = screen({ view, columns, rows, selected: ids[k]! });
        const what = `${columns}x${rows} selected #${k + 1}\n${lines.join('\n')}`;
        const marked = lines.filter((l) => l.startsWith('› '));
        expect(marked, what).toHaveLength(1);
        expect(marked[0], what).toContain(ids[k]!);
        const range = lines.join('\n').match(/\((\d+)–(\d+) of 20\)/);
        if (range) {
          expect(Number(range[1]), what).toBeLessThanOrEqual(k + 1);
          expect(Number(range[2]), what).toBeGreaterThanOrEqual(k + 1);
        } else {
          // No range: every job shows.
          expect(lines.filter((l) => /^[› ] job\d{5}/.test(l)), what).toHaveLength(20);
        }
      }
    }
  });

  it('shows dead workers as dead and silent ones as silent', () => {
    const { view } = byName('dead and silent workers');
    for (const [columns, rows] of SIZES) {
      const text = screen({ view, columns, rows, selected: null }).join('\n');
      expect(text, `${columns}x${rows}`).toContain('1 dead');
      expect(text, `${columns}x${rows}`).toContain('1 silent');
    }
    const wide = screen({ view, columns: 120, rows: 40, selected: null });
    const deadRow = wide.find((l) => l.includes('vm-2:1002:ab02'))!;
    expect(deadRow).toMatch(/^✗ /);
    expect(deadRow).toContain('dead 42.0s');
    const silentRow = wide.find((l) => l.includes('vm-3:1003:ab03'))!;
    expect(silentRow).toMatch(/^◌ /);
    expect(silentRow).toContain('silent 4.0s');
    // Order: live, silent, dead.
    expect(wide.indexOf(wide.find((l) => l.includes('vm-1:1001:ab01'))!)).toBeLessThan(wide.indexOf(silentRow));
    expect(wide.indexOf(silentRow)).toBeLessThan(wide.indexOf(deadRow));
  });

  it('shows finished jobs as history with their status', () => {
    const { view } = byName('dead and silent workers');
    const lines = screen({ view, columns: 120, rows: 40, selected: 'job00001' });
    expect(lines.join('\n')).toContain('JOBS 1 running · 2 finished');
    expect(lines.find((l) => l.includes('job00002'))).toContain('done');
    expect(lines.find((l) => l.includes('job00003'))).toContain('cancelled');
  });

  it('shows the queue figures', () => {
    const { view } = byName('one worker');
    const lines = screen({ view, columns: 120, rows: 40, selected: null });
    const row = lines.find((l) => l.startsWith('default'))!;
    expect(row.split(/\s+/)).toEqual(['default', '120', '16', '2', '1', '3.2s']);
    const short = screen({ view, columns: 80, rows: 10, selected: null });
    expect(short.find((l) => l.startsWith('QUEUE '))).toMatch(/^QUEUE default · 120 waiting · 16 in flight/);
  });

  it('shows "reconnecting" with how long in the title, and keeps the last data', () => {
    const st = new DashboardState();
    const { sample } = byName('one worker');
    st.apply(sample);
    st.lost('connect ECONNREFUSED 127.0.0.1:6379', T0 + 1000);
    st.lost('connect ECONNREFUSED 127.0.0.1:6379', T0 + 4000);
    const view = st.view();
    for (const [columns, rows] of SIZES.filter(([c]) => c >= 60)) {
      const lines = screen({ view, columns, rows, selected: null, now: T0 + 6000 });
      assertFits(lines, columns, rows, `${columns}x${rows}`);
      expect(lines[0], `${columns}x${rows}`).toContain('reconnecting for 5.0s');
      expect(lines.join('\n')).toContain('WORKERS 1 alive');
    }
    expect(screen({ view, columns: 200, rows: 50, selected: null, now: T0 + 6000 })[0]).toContain('ECONNREFUSED');
  });

  it('the reconnecting time moves with the view\'s clock while no sample lands (the TUI passes no screen clock)', () => {
    const st = new DashboardState();
    st.apply(byName('one worker').sample);
    st.lost('connect ECONNREFUSED 127.0.0.1:6379', T0 + 1000);
    // What the dashboard's clock tick draws: a view built now, no `now` of the screen's own.
    expect(screen({ view: st.view(T0 + 6000), columns: 120, rows: 40, selected: null })[0]).toContain('reconnecting for 5.0s');
    expect(screen({ view: st.view(T0 + 9000), columns: 120, rows: 40, selected: null })[0]).toContain('reconnecting for 8.0s');
  });

  it('shows "connecting…" before any data', () => {
    const st = new DashboardState();
    st.lost('connect ETIMEDOUT', T0);
    const lines = screen({ view: st.view(), columns: 80, rows: 24, selected: null });
    assertFits(lines, 80, 24, 'connecting');
    expect(lines[0]).toContain('connecting…');
    expect(lines[0]).toContain('ETIMEDOUT');
    expect(lines.join('\n')).toContain('no jobs');
  });

  it('keeps widths with wide characters (CJK and emoji) in names', () => {
    const { view } = byName('wide characters');
    for (const [columns, rows] of SIZES) {
      const lines = screen({ view, columns, rows, selected: 'job00001' });
      assertFits(lines, columns, rows, `${columns}x${rows}`);
    }
    const text = screen({ view, columns: 120, rows: 40, selected: null }).join('\n');
    expect(text).toContain('工作者-一号:77:ab');
    expect(text).toContain('🚀rocket:78:cd');
    expect(text).toContain('東京:12');
    // Wide names cut for a narrow table still fit, and so do sweeping widths.
    for (let columns = 20; columns <= 130; columns += 3) {
      assertFits(screen({ view, columns, rows: 30, selected: 'job00001' }), columns, 30, `${columns}x30`);
    }
  });

  it('leaves out the PID, HOST, CPU and MEM columns when no worker reports them, keeps them when one does', () => {
    const bare = (n: number) => worker(n, { pid: 0, host: '', cpu: null, rssBytes: null });
    const header = (workers: ReturnType<typeof worker>[]): string => {
      const view = viewOf({ at: T0, source: 'embedded', queues: [QUEUE], workers, jobs: [job(1)] });
      return screen({ view, columns: 160, rows: 40, selected: null }).find((l) => l.includes('WORKER') && l.includes('BUSY'))!;
    };
    const none = header([bare(1), bare(2)]);
    for (const h of ['PID', 'HOST', 'CPU', 'MEM']) expect(none).not.toContain(h);
    for (const h of ['WORKER', 'BUSY', 'DONE', 'FAILED', 'AVG', 'HEARTBEAT']) expect(none).toContain(h);
    const some = header([bare(1), worker(2)]);
    for (const h of ['PID', 'HOST', 'CPU', 'MEM']) expect(some).toContain(h);
  });

  it('shows TOKENS/S only when some job reports tokens: its completion tokens per second, "-" for a job without', () => {
    const state = new DashboardState({ smoothingMs: 1 }); // the shown rate is the last interval's
    const sample = (at: number, tokensOut: number): DashSample => ({ at, source: 'redis', queues: [QUEUE], workers: [worker(1)], jobs: [job(1, { tokensOut }), job(2)] });
    state.apply(sample(T0 - 1000, 1000));
    state.apply(sample(T0, 1500));
    const lines = screen({ view: state.view(), columns: 160, rows: 40, selected: null });
    const header = lines.find((l) => l.includes('TOKENS/S'))!;
    const cell = (id: string): string => lines.find((l) => l.includes(id))!.slice(0, header.indexOf('TOKENS/S') + 'TOKENS/S'.length).trim().split(/\s+/).at(-1)!;
    expect(cell('job00001')).toBe('500');
    expect(cell('job00002')).toBe('-');
    const plain = screen({ view: byName('one worker').view, columns: 160, rows: 40, selected: null });
    expect(plain.join('\n')).not.toContain('TOKENS/S');
  });

  it('cuts long names in the middle and still fits', () => {
    const { view } = byName('long names');
    const lines = screen({ view, columns: 100, rows: 30, selected: view.jobs[0]!.id });
    assertFits(lines, 100, 30, '100x30');
    const text = lines.join('\n');
    // Two queues: a QUEUES count, and the job table gains no room problem.
    expect(text).toContain('QUEUES 2');
    expect(text).toMatch(/a-very-long-…s-of-team-x/);
    expect(text).toMatch(/an-extremely-…\d*:deadbeef/);
  });

  it('shows a prompt instead of the key line, and no key line with no keys', () => {
    const { view } = byName('one worker');
    const withPrompt = screen({ view, columns: 80, rows: 24, selected: 'job00001', prompt: [{ text: 'Cancel job job00001 everywhere? y yes' }] });
    expect(withPrompt.at(-1)).toBe('Cancel job job00001 everywhere? y yes');
    expect(withPrompt.join('\n')).not.toContain('Enter attach');
    const noKeys = screen({ view, columns: 80, rows: 24, selected: null, keys: [] });
    expect(noKeys.join('\n')).not.toContain('Enter attach');
    expect(noKeys.at(-1)).toMatch(/job00001/);
    const { view: big } = byName('50 workers, 20 jobs');
    expect(screen({ view: big, columns: 80, rows: 24, selected: null, keys: [] })).toHaveLength(23);
  });

  it('a long prompt is cut to the width', () => {
    const { view } = byName('one worker');
    const lines = screen({ view, columns: 60, rows: 15, selected: null, prompt: [{ text: 'x'.repeat(500) }] });
    assertFits(lines, 60, 15, 'prompt');
    expect(lines.at(-1)).toMatch(/^x+…$/);
  });

  it('shows the empty system plainly', () => {
    const { view } = byName('empty');
    const text = screen({ view, columns: 80, rows: 24, selected: null }).join('\n');
    expect(text).toContain('WORKERS 0 alive');
    expect(text).toContain('JOBS 0 running · no jobs');
  });
});

describe('planPanels', () => {
  it('never exceeds its budget, and gives jobs at least 2 lines when there are jobs', () => {
    for (const sc of SCENARIOS) {
      for (let budget = 0; budget <= 80; budget++) {
        const plan = planPanels(sc.view, budget);
        const what = `${sc.name}, budget ${budget}: ${JSON.stringify(plan)}`;
        const sum = plan.throughput + plan.queues + plan.workers + plan.jobs;
        expect(sum, what).toBeLessThanOrEqual(budget);
        for (const v of Object.values(plan)) expect(v, what).toBeGreaterThanOrEqual(0);
        if (sc.view.jobs.length > 0) expect(plan.jobs, what).toBeGreaterThanOrEqual(Math.min(2, budget));
        else expect(plan.jobs, what).toBe(budget > 0 ? 1 : 0);
        // No panel gets more than it can show.
        expect(plan.throughput, what).toBeLessThanOrEqual(2);
        expect(plan.queues, what).toBeLessThanOrEqual(sc.view.queues.length === 0 ? 1 : sc.view.queues.length + 2);
        expect(plan.workers, what).toBeLessThanOrEqual(sc.view.workers.length === 0 ? 1 : sc.view.workers.length + 2);
        expect(plan.jobs, what).toBeLessThanOrEqual(sc.view.jobs.length === 0 ? 1 : sc.view.jobs.length + 2);
      }
    }
  });

  it('gives every panel a line before giving any panel a second (beyond the jobs selection)', () => {
    const { view } = byName('50 workers, 20 jobs');
    expect(planPanels(view, 5)).toEqual({ throughput: 1, queues: 1, workers: 1, jobs: 2 });
    expect(planPanels(view, 3)).toEqual({ throughput: 0, queues: 0, workers: 1, jobs: 2 });
    expect(planPanels(view, 1)).toEqual({ throughput: 0, queues: 0, workers: 0, jobs: 1 });
  });

  it('uses the whole budget while panels have more to show, and stops at their full height', () => {
    const { view } = byName('50 workers, 20 jobs');
    for (const budget of [5, 12, 20, 40, 60]) {
      const p = planPanels(view, budget);
      expect(p.throughput + p.queues + p.workers + p.jobs, `budget ${budget}`).toBe(budget);
    }
    const { view: one } = byName('one worker');
    expect(planPanels(one, 100)).toEqual({ throughput: 2, queues: 3, workers: 3, jobs: 3 });
  });

  it('splits the spare lines between jobs and workers in turn', () => {
    const { view } = byName('50 workers, 20 jobs');
    const p = planPanels(view, 12); // 60x15: 14 lines, minus title and key line
    expect(p.throughput).toBe(1);
    expect(p.queues).toBe(1);
    expect(Math.abs(p.jobs - 2 - (p.workers - 1))).toBeLessThanOrEqual(1);
  });
});

describe('formatBytes', () => {
  it('uses binary units, one decimal under 10', () => {
    expect(formatBytes(0)).toBe('0B');
    expect(formatBytes(1023)).toBe('1023B');
    expect(formatBytes(1024)).toBe('1.0K');
    expect(formatBytes(512 * 1024)).toBe('512K');
    expect(formatBytes(120 * 1024 * 1024)).toBe('120M');
    expect(formatBytes(1.5 * 1024 ** 3)).toBe('1.5G');
    expect(formatBytes(3 * 1024 ** 4)).toBe('3.0T');
    expect(formatBytes(2048 * 1024 ** 4)).toBe('2048T');
    expect(formatBytes(-5)).toBe('0B');
  });
});

describe('layout edge cases', () => {
  it('formatBytes picks the unit after rounding', () => {
    expect(formatBytes(1048575)).toBe('1.0M');
    expect(formatBytes(10239)).toBe('10K');
    expect(formatBytes(1023)).toBe('1023B');
  });

  it('a jobs panel of one line is its summary, without a row range that shows nothing', () => {
    const s = scenarios().find((x) => x.name === '50 workers, 20 jobs')!;
    const lines = dashboardLines({ view: viewOf(s.sample), columns: 60, rows: 4, selected: 'job00005' }).map(segsText);
    expect(lines.some((l) => /\(\d+–\d+ of 20\)/.test(l) && !lines.some((x) => x.includes('job00005')))).toBe(false);
  });
});
