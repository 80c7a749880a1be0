/** Dashboard samples for the layout and view tests: built through the real reducer. */
import type { DashJob, DashQueue, DashSample, DashWorker } from '../../src/core/dashboard-sample.js';
import { DashboardState, type DashboardView } from '../../src/core/dashboard-state.js';

export const T0 = Date.UTC(2026, 11, 4, 12, 0, 0);

/** The terminal sizes every dashboard test renders at (columns, rows): down to 60x15 and below. */
export const SIZES = [
  [60, 15],
  [80, 24],
  [100, 30],
  [120, 40],
  [200, 50],
  [40, 10],
  [60, 8],
] as const;

export function worker(n: number, over: Partial<DashWorker> = {}): DashWorker {
  return {
    name: `vm-${n}:${1000 + n}:ab${String(n).padStart(2, '0')}`,
    host: `vm-${n}`,
    pid: 1000 + n,
    queue: 'default',
    slots: 8,
    busy: n % 9,
    cpu: 10 + (n % 80),
    rssBytes: (80 + n) * 1024 * 1024,
    processed: 100 * n,
    failed: n % 3,
    chunks: 3000 * n,
    avgMs: 1200 + n,
    lastBeatAt: T0 - 300,
    heartbeatMs: 1000,
    alive: true,
    ...over,
  };
}

export function job(n: number, over: Partial<DashJob> = {}): DashJob {
  return {
    id: `job${String(n).padStart(5, '0')}`,
    queue: 'default',
    submitter: `laptop:${2000 + n}`,
    processors: ['demo'],
    status: 'running',
    total: 1000,
    done: 10 * n,
    failed: n % 2,
    running: 8,
    createdAt: T0 - 60_000 * (n + 1),
    finishedAt: null,
    ...over,
  };
}

export const QUEUE: DashQueue = { name: 'default', waiting: 120, inFlight: 16, delayed: 2, dead: 1, oldestWaitingMs: 3200 };

export interface Scenario {
  readonly name: string;
  readonly sample: DashSample;
}

export function scenarios(): Scenario[] {
  const base = { at: T0, source: 'redis 127.0.0.1:6379 queue default', queues: [QUEUE] };
  return [
    { name: 'empty', sample: { ...base, queues: [{ name: 'default', waiting: 0, inFlight: 0, delayed: 0, dead: 0, oldestWaitingMs: null }], workers: [], jobs: [] } },
    { name: 'one worker', sample: { ...base, workers: [worker(1)], jobs: [job(1)] } },
    { name: '50 workers, 20 jobs', sample: { ...base, workers: Array.from({ length: 50 }, (_, k) => worker(k + 1)), jobs: Array.from({ length: 20 }, (_, k) => job(k + 1)) } },
    {
      name: 'dead and silent workers',
      sample: {
        ...base,
        workers: [worker(1), worker(2, { alive: false, lastBeatAt: T0 - 42_000, busy: 0, cpu: null, rssBytes: null }), worker(3, { lastBeatAt: T0 - 4000 })],
        jobs: [job(1), job(2, { status: 'done', done: 1000, failed: 0, finishedAt: T0 - 5000 }), job(3, { status: 'cancelled', finishedAt: T0 - 9000 })],
      },
    },
    {
      name: 'long names',
      sample: {
        ...base,
        queues: [QUEUE, { ...QUEUE, name: 'a-very-long-queue-name-for-the-batch-workloads-of-team-x' }],
        workers: [worker(1, { name: 'an-extremely-long-host-name.internal.example:123456:deadbeef', host: 'an-extremely-long-host-name.internal.example' })],
        jobs: [job(1, { id: 'a-job-id-that-is-far-too-long-to-show', submitter: 'someone-with-a-long-name@a-long-host:99999', processors: ['demo', './processors/very-long-module-name.mjs', 'shout'] })],
      },
    },
    {
      name: 'wide characters',
      sample: {
        ...base,
        workers: [worker(1, { name: '工作者-一号:77:ab', host: '服务器一号' }), worker(2, { name: '🚀rocket:78:cd', host: '🚀' })],
        jobs: [job(1, { submitter: '東京:12', processors: ['処理'] })],
      },
    },
  ];
}

/** The view after two samples one second apart (so rates and series exist). */
export function viewOf(sample: DashSample): DashboardView {
  const state = new DashboardState();
  const earlier: DashSample = {
    ...sample,
    at: sample.at - 1000,
    workers: sample.workers.map((w) => ({ ...w, processed: Math.max(0, w.processed - 7), chunks: Math.max(0, w.chunks - 200) })),
    jobs: sample.jobs.map((j) => ({ ...j, done: Math.max(0, j.done - 3) })),
  };
  state.apply(earlier);
  state.apply(sample);
  return state.view();
}
