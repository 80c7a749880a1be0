import { describe, expect, it } from 'vitest';
import type { DashJob, DashSample, DashWorker } from '../../src/core/dashboard-sample.js';
import { DashboardState } from '../../src/core/dashboard-state.js';

const T0 = Date.UTC(2026, 0, 10, 9, 0, 0);

function w(name: string, over: Partial<DashWorker> = {}): DashWorker {
  return {
    name,
    host: 'h',
    pid: 1,
    queue: 'default',
    slots: 4,
    busy: 0,
    cpu: null,
    rssBytes: null,
    processed: 0,
    failed: 0,
    chunks: 0,
    avgMs: null,
    lastBeatAt: null,
    heartbeatMs: null,
    alive: true,
    ...over,
  };
}

function j(id: string, over: Partial<DashJob> = {}): DashJob {
  return {
    id,
    queue: 'default',
    submitter: 'laptop:1',
    processors: ['demo'],
    status: 'running',
    total: 1000,
    done: 0,
    failed: 0,
    running: 0,
    createdAt: T0 - 100_000,
    finishedAt: null,
    ...over,
  };
}

function s(at: number, workers: DashWorker[] = [], jobs: DashJob[] = []): DashSample {
  return { at, source: 'test', workers, queues: [], jobs };
}

describe('DashboardState rates', () => {
  it('items/s and chunks/s come from per-worker counter deltas between two samples', () => {
    const st = new DashboardState();
    st.apply(s(T0, [w('a', { processed: 100, failed: 0, chunks: 1000 }), w('b', { processed: 50, chunks: 0 })]));
    // Before a second sample: no rate, no series.
    expect(st.view().totals.itemsPerSec).toBe(0);
    expect(st.view().series.items).toEqual([]);
    // 2 s later: a finished 10 + failed 2, b finished 8 = 20 items; a 500 + b 300 = 800 chunks.
    st.apply(s(T0 + 2000, [w('a', { processed: 110, failed: 2, chunks: 1500 }), w('b', { processed: 58, chunks: 300 })]));
    const v = st.view();
    expect(v.totals.itemsPerSec).toBe(10);
    expect(v.totals.chunksPerSec).toBe(400);
    expect(v.series.items).toEqual([10]);
    expect(v.series.chunks).toEqual([400]);
  });

  it('a worker seen for the first time adds nothing (its counters are not all new work)', () => {
    const st = new DashboardState();
    st.apply(s(T0, [w('a', { processed: 10, chunks: 100 })]));
    st.apply(s(T0 + 1000, [w('a', { processed: 13, chunks: 160 }), w('new', { processed: 5000, chunks: 90_000 })]));
    expect(st.view().totals.itemsPerSec).toBe(3);
    expect(st.view().totals.chunksPerSec).toBe(60);
    // From its second sample on, it counts.
    st.apply(s(T0 + 2000, [w('a', { processed: 13, chunks: 160 }), w('new', { processed: 5004, chunks: 90_040 })]));
    expect(st.view().series.items).toEqual([3, 4]);
    expect(st.view().series.chunks).toEqual([60, 40]);
  });

  it('a counter that goes down (a restart under the same name) adds nothing', () => {
    const st = new DashboardState();
    st.apply(s(T0, [w('a', { processed: 500, failed: 5, chunks: 9000 }), w('b', { processed: 10, chunks: 10 })]));
    st.apply(s(T0 + 1000, [w('a', { processed: 2, failed: 0, chunks: 30 }), w('b', { processed: 16, chunks: 50 })]));
    const v = st.view();
    expect(v.series.items).toEqual([6]);
    expect(v.series.chunks).toEqual([40]);
    // And the next delta is from the new, lower base.
    st.apply(s(T0 + 2000, [w('a', { processed: 7, failed: 0, chunks: 80 }), w('b', { processed: 16, chunks: 50 })]));
    expect(st.view().series.items).toEqual([6, 5]);
    expect(st.view().series.chunks).toEqual([40, 50]);
  });

  it('a worker that disappears and comes back counts from its return, not across the gap', () => {
    const st = new DashboardState();
    st.apply(s(T0, [w('a', { processed: 10 })]));
    st.apply(s(T0 + 1000, []));
    st.apply(s(T0 + 2000, [w('a', { processed: 90 })]));
    expect(st.view().series.items).toEqual([0, 0]);
  });

  it('the shown rate is the mean of the last 5 samples', () => {
    const st = new DashboardState();
    let processed = 0;
    st.apply(s(T0, [w('a', { processed })]));
    const perSecond = [10, 20, 30, 40, 50, 60, 70];
    perSecond.forEach((r, k) => {
      processed += r;
      st.apply(s(T0 + (k + 1) * 1000, [w('a', { processed })]));
      const seen = perSecond.slice(Math.max(0, k - 4), k + 1);
      expect(st.view().totals.itemsPerSec, `after sample ${k + 2}`).toBeCloseTo(seen.reduce((a, b) => a + b, 0) / seen.length, 10);
    });
    // Last five: 30..70.
    expect(st.view().totals.itemsPerSec).toBe(50);
    expect(st.view().series.items).toEqual(perSecond);
  });

  it('rates are per second whatever the interval', () => {
    const st = new DashboardState();
    st.apply(s(T0, [w('a', { processed: 0, chunks: 0 })]));
    st.apply(s(T0 + 500, [w('a', { processed: 3, chunks: 50 })]));
    expect(st.view().series.items).toEqual([6]);
    expect(st.view().series.chunks).toEqual([100]);
  });

  it('a sample not newer than the last adds no rate sample', () => {
    const st = new DashboardState();
    st.apply(s(T0, [w('a', { processed: 0 })]));
    st.apply(s(T0, [w('a', { processed: 5 })]));
    expect(st.view().series.items).toEqual([]);
    expect(st.view().totals.itemsPerSec).toBe(0);
  });

  it('the series is capped at historySamples, oldest dropped', () => {
    const st = new DashboardState({ historySamples: 3 });
    let processed = 0;
    st.apply(s(T0, [w('a', { processed })]));
    for (let k = 1; k <= 6; k++) {
      processed += k;
      st.apply(s(T0 + k * 1000, [w('a', { processed })]));
      expect(st.view().series.items.length).toBe(Math.min(3, k));
    }
    expect(st.view().series.items).toEqual([4, 5, 6]);
    expect(st.view().series.chunks).toHaveLength(3);
  });

  it('keeps 300 samples by default', () => {
    const st = new DashboardState();
    for (let k = 0; k <= 320; k++) st.apply(s(T0 + k * 1000, [w('a', { processed: k })]));
    expect(st.view().series.items).toHaveLength(300);
  });
});

describe('DashboardState jobs', () => {
  it('first sight: the rate is finished / age and the ETA is remaining / rate', () => {
    const st = new DashboardState();
    // 40 done + 10 failed in 100 s: 0.5 items/s; 950 left: 1900 s.
    st.apply(s(T0, [], [j('a', { done: 40, failed: 10, createdAt: T0 - 100_000 })]));
    const job = st.view().jobs[0]!;
    expect(job.itemsPerSec).toBeCloseTo(0.5, 10);
    expect(job.etaMs).toBeCloseTo(1_900_000, 3);
    expect(job.ageMs).toBe(100_000);
    expect(job.history).toBe(false);
  });

  it('the speed is smoothed toward the instant rate with the smoothing time constant', () => {
    const st = new DashboardState({ smoothingMs: 10_000 });
    st.apply(s(T0, [], [j('a', { done: 50, createdAt: T0 - 100_000 })]));
    // 10 s later 200 more: instant 20/s. After one time constant: 0.5 + (20 - 0.5)(1 - 1/e).
    st.apply(s(T0 + 10_000, [], [j('a', { done: 250, createdAt: T0 - 100_000 })]));
    const expected = 0.5 + (20 - 0.5) * (1 - Math.exp(-1));
    const job = st.view().jobs[0]!;
    expect(job.itemsPerSec).toBeCloseTo(expected, 10);
    expect(job.etaMs).toBeCloseTo((750 / expected) * 1000, 3);
    expect(job.ageMs).toBe(110_000);
  });

  it('ETA: 0 when nothing is left, null with no total or no speed', () => {
    const st = new DashboardState();
    st.apply(
      s(T0, [], [
        j('full', { done: 990, failed: 10, total: 1000, createdAt: T0 - 5000 }),
        j('unknown', { total: null, done: 5, createdAt: T0 - 6000 }),
        j('idle', { done: 0, total: 10, createdAt: T0 - 7000 }),
      ]),
    );
    const byId = new Map(st.view().jobs.map((x) => [x.id, x]));
    expect(byId.get('full')!.etaMs).toBe(0);
    expect(byId.get('unknown')!.etaMs).toBeNull();
    expect(byId.get('idle')!.itemsPerSec).toBe(0);
    expect(byId.get('idle')!.etaMs).toBeNull();
  });

  it('running jobs come newest first', () => {
    const st = new DashboardState();
    st.apply(
      s(T0, [], [
        j('old', { createdAt: T0 - 300_000 }),
        j('newest', { createdAt: T0 - 1000 }),
        j('mid', { createdAt: T0 - 60_000, status: 'draining' }),
      ]),
    );
    const v = st.view();
    expect(v.jobs.map((x) => x.id)).toEqual(['newest', 'mid', 'old']);
    expect(v.totals.running).toBe(3);
  });

  it('finished jobs become history after the running ones, newest finished first, without speed or ETA', () => {
    const st = new DashboardState();
    st.apply(
      s(T0, [], [
        j('done-early', { status: 'done', done: 1000, createdAt: T0 - 200_000, finishedAt: T0 - 50_000 }),
        j('run', { createdAt: T0 - 500_000, done: 10 }),
        j('cancelled-late', { status: 'cancelled', done: 5, createdAt: T0 - 90_000, finishedAt: T0 - 1000 }),
      ]),
    );
    const v = st.view();
    expect(v.jobs.map((x) => x.id)).toEqual(['run', 'cancelled-late', 'done-early']);
    expect(v.jobs.map((x) => x.history)).toEqual([false, true, true]);
    const early = v.jobs[2]!;
    expect(early.etaMs).toBeNull();
    expect(early.itemsPerSec).toBe(0);
    // AGE is the time since the job was created, not its run time: it goes on after the end.
    expect(early.ageMs).toBe(200_000);
    expect(v.jobs[1]!.ageMs).toBe(90_000);
    expect(v.totals.running).toBe(1);
  });

  it('a job that finishes between samples moves to the history with its speed zeroed', () => {
    const st = new DashboardState();
    st.apply(s(T0, [], [j('a', { done: 500, createdAt: T0 - 100_000 })]));
    expect(st.view().jobs[0]!.itemsPerSec).toBeGreaterThan(0);
    st.apply(s(T0 + 2000, [], [j('a', { status: 'done', done: 1000, createdAt: T0 - 100_000, finishedAt: T0 + 1500 })]));
    const a = st.view().jobs[0]!;
    expect(a.history).toBe(true);
    expect(a.itemsPerSec).toBe(0);
    expect(a.etaMs).toBeNull();
    expect(st.view().totals.running).toBe(0);
  });

  it('finished jobs drop out after historyMs', () => {
    const st = new DashboardState({ historyMs: 60_000 });
    const jobs = [j('a', { status: 'done', finishedAt: T0, createdAt: T0 - 10_000 })];
    st.apply(s(T0 + 60_000, [], jobs));
    expect(st.view().jobs.map((x) => x.id)).toEqual(['a']);
    st.apply(s(T0 + 60_001, [], jobs));
    expect(st.view().jobs).toEqual([]);
  });

  it('the default history window is 10 minutes', () => {
    const st = new DashboardState();
    const jobs = [j('a', { status: 'done', finishedAt: T0, createdAt: T0 - 10_000 })];
    st.apply(s(T0 + 599_000, [], jobs));
    expect(st.view().jobs).toHaveLength(1);
    st.apply(s(T0 + 601_000, [], jobs));
    expect(st.view().jobs).toHaveLength(0);
  });

  it('keeps at most maxHistory finished jobs (the newest), and every running job', () => {
    const st = new DashboardState({ maxHistory: 3 });
    const finished = Array.from({ length: 10 }, (_, k) => j(`f${k}`, { status: 'done', createdAt: T0 - 100_000, finishedAt: T0 - 10_000 + k * 100 }));
    const running = Array.from({ length: 12 }, (_, k) => j(`r${k}`, { createdAt: T0 - 50_000 + k }));
    st.apply(s(T0, [], [...finished, ...running]));
    const v = st.view();
    expect(v.jobs.filter((x) => !x.history)).toHaveLength(12);
    expect(v.jobs.filter((x) => x.history).map((x) => x.id)).toEqual(['f9', 'f8', 'f7']);
  });

  it('keeps 8 finished jobs by default', () => {
    const st = new DashboardState();
    const finished = Array.from({ length: 12 }, (_, k) => j(`f${k}`, { status: 'cancelled', finishedAt: T0 - k * 1000 }));
    st.apply(s(T0, [], finished));
    expect(st.view().jobs.map((x) => x.id)).toEqual(['f0', 'f1', 'f2', 'f3', 'f4', 'f5', 'f6', 'f7']);
  });

  it('a job gone from the sample is gone from the view', () => {
    const st = new DashboardState();
    st.apply(s(T0, [], [j('a'), j('b')]));
    st.apply(s(T0 + 1000, [], [j('b')]));
    expect(st.view().jobs.map((x) => x.id)).toEqual(['b']);
  });
});

describe('DashboardState workers', () => {
  it('health: dead when not alive, silent past 2.5 heartbeats, ok otherwise', () => {
    const st = new DashboardState();
    st.apply(
      s(T0, [
        w('fresh', { lastBeatAt: T0 - 300, heartbeatMs: 1000 }),
        w('edge', { lastBeatAt: T0 - 2500, heartbeatMs: 1000 }),
        w('quiet', { lastBeatAt: T0 - 2501, heartbeatMs: 1000 }),
        w('gone', { alive: false, lastBeatAt: T0 - 300, heartbeatMs: 1000 }),
        w('unknown', { lastBeatAt: null, heartbeatMs: 1000 }),
        w('nointerval', { lastBeatAt: T0 - 999_999, heartbeatMs: null }),
        w('future', { lastBeatAt: T0 + 5000, heartbeatMs: 1000 }),
      ]),
    );
    const byName = new Map(st.view().workers.map((x) => [x.name, x]));
    expect(byName.get('fresh')!.health).toBe('ok');
    expect(byName.get('fresh')!.beatAgeMs).toBe(300);
    expect(byName.get('edge')!.health).toBe('ok');
    expect(byName.get('quiet')!.health).toBe('silent');
    expect(byName.get('quiet')!.beatAgeMs).toBe(2501);
    expect(byName.get('gone')!.health).toBe('dead');
    expect(byName.get('unknown')!.health).toBe('ok');
    expect(byName.get('unknown')!.beatAgeMs).toBeNull();
    expect(byName.get('nointerval')!.health).toBe('ok');
    // A heartbeat stamped ahead of the sample (clock skew) is age 0, not negative.
    expect(byName.get('future')!.beatAgeMs).toBe(0);
  });

  it('sorts ok, then silent, then dead; busier first within each; then by name', () => {
    const st = new DashboardState();
    const silent = { lastBeatAt: T0 - 10_000, heartbeatMs: 1000 };
    st.apply(
      s(T0, [
        w('d1', { alive: false, busy: 9 }),
        w('s1', { ...silent, busy: 1 }),
        w('ok-b', { busy: 2 }),
        w('s2', { ...silent, busy: 5 }),
        w('ok-a', { busy: 2 }),
        w('ok-busy', { busy: 7 }),
        w('d0', { alive: false, busy: 0 }),
      ]),
    );
    expect(st.view().workers.map((x) => x.name)).toEqual(['ok-busy', 'ok-a', 'ok-b', 's2', 's1', 'd1', 'd0']);
  });

  it('totals: alive, silent and dead counted apart; slots and busy from the live and silent ones', () => {
    const st = new DashboardState();
    st.apply(
      s(T0, [
        w('a', { slots: 8, busy: 3 }),
        w('b', { slots: 4, busy: 4 }),
        w('s', { slots: 2, busy: 1, lastBeatAt: T0 - 60_000, heartbeatMs: 1000 }),
        w('d', { slots: 16, busy: 16, alive: false }),
      ], [j('x'), j('y', { status: 'done', finishedAt: T0 - 1 })]),
    );
    const t = st.view().totals;
    expect(t.alive).toBe(2);
    expect(t.silent).toBe(1);
    expect(t.dead).toBe(1);
    expect(t.slots).toBe(14);
    expect(t.busy).toBe(8);
    expect(t.running).toBe(1);
  });

  it('the view carries the sample time, source and queues', () => {
    const st = new DashboardState();
    const q = { name: 'default', waiting: 1, inFlight: 2, delayed: 3, dead: 4, oldestWaitingMs: 5 };
    st.apply({ at: T0, source: 'redis x', workers: [], queues: [q], jobs: [] });
    const v = st.view();
    expect(v.at).toBe(T0);
    expect(v.source).toBe('redis x');
    expect(v.queues).toEqual([q]);
  });
});

describe('DashboardState connection', () => {
  it('starts connecting with an empty view', () => {
    const st = new DashboardState();
    expect(st.hasData).toBe(false);
    const v = st.view();
    expect(v.connection).toBe('connecting');
    expect(v.lostSince).toBeNull();
    expect(v.connectionError).toBeNull();
    expect(v.workers).toEqual([]);
    expect(v.jobs).toEqual([]);
    expect(v.at).toBe(0);
  });

  it('lost() before any data stays connecting, with the error', () => {
    const st = new DashboardState();
    st.lost('ECONNREFUSED 127.0.0.1:6379', T0);
    const v = st.view();
    expect(v.connection).toBe('connecting');
    expect(v.connectionError).toBe('ECONNREFUSED 127.0.0.1:6379');
    expect(st.hasData).toBe(false);
  });

  it('lost() after data is reconnecting; lostSince is the first loss, kept across repeated lost() calls', () => {
    const st = new DashboardState();
    st.apply(s(T0, [w('a', { processed: 1 })], [j('x')]));
    expect(st.view().connection).toBe('ok');
    st.lost('timeout', T0 + 1000);
    st.lost('ECONNRESET', T0 + 2000);
    st.lost('ECONNREFUSED', T0 + 3000);
    const v = st.view();
    expect(v.connection).toBe('reconnecting');
    expect(v.lostSince).toBe(T0 + 1000);
    expect(v.connectionError).toBe('ECONNREFUSED');
    // The last data stays on screen.
    expect(v.workers.map((x) => x.name)).toEqual(['a']);
    expect(v.jobs.map((x) => x.id)).toEqual(['x']);
    expect(v.at).toBe(T0);
  });

  it('apply() clears the lost state; a later loss starts a new lostSince', () => {
    const st = new DashboardState();
    st.apply(s(T0));
    st.lost('timeout', T0 + 1000);
    st.apply(s(T0 + 5000));
    let v = st.view();
    expect(v.connection).toBe('ok');
    expect(v.lostSince).toBeNull();
    expect(v.connectionError).toBeNull();
    st.lost('again', T0 + 9000);
    v = st.view();
    expect(v.connection).toBe('reconnecting');
    expect(v.lostSince).toBe(T0 + 9000);
  });
});

describe('DashboardState edge cases', () => {
  it('a view is a snapshot: a later sample does not change an earlier view series', () => {
    const st = new DashboardState();
    st.apply({ at: T0, source: 's', workers: [w('a', { processed: 0 })], queues: [], jobs: [] });
    st.apply({ at: T0 + 1000, source: 's', workers: [w('a', { processed: 5 })], queues: [], jobs: [] });
    const first = st.view();
    st.apply({ at: T0 + 2000, source: 's', workers: [w('a', { processed: 9 })], queues: [], jobs: [] });
    expect(first.series.items).toEqual([5]);
    expect(st.view().series.items).toEqual([5, 4]);
  });

  it("a job created 'in the future' (another machine's clock) starts with no speed and no ETA, not a huge one", () => {
    const st = new DashboardState();
    st.apply({ at: T0, source: 's', workers: [], queues: [], jobs: [j('x', { createdAt: T0 + 2000, done: 5, failed: 0, total: 1000 })] });
    const job = st.view().jobs[0]!;
    expect(job.itemsPerSec).toBe(0);
    expect(job.etaMs).toBeNull();
  });
});
