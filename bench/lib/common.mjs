// Shared helpers for slowwork's benchmarks: where things are, the anchors' record(), feeding a
// JobRun, and small statistics. Every benchmark script imports this.
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const BENCH_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const REPO = resolve(BENCH_DIR, '..');
/** slowwork's build; BENCH_DIST points elsewhere to compare two builds. */
export const DIST = process.env.BENCH_DIST || join(REPO, 'dist');

/** The installed copy of the anchors (run.sh sets it; its lib/stats.mjs writes the JSONL rows). */
export const ANCHORS_COPY = process.env.BENCH_ANCHORS_COPY || join(REPO, '.bench-tmp', 'anchors');
const stats = await import(pathToFileURL(join(ANCHORS_COPY, 'lib', 'stats.mjs')).href);

export const RUNS = Math.max(1, Number(process.env.RUNS || 5));
export const { record, median, nowMs } = stats;

/** slowwork's own modules, from the build. */
export const dist = (rel) => import(pathToFileURL(join(DIST, rel)).href);
export const benchProcessor = (name) => pathToFileURL(join(BENCH_DIR, 'processors', name)).href;

export const num = (name, fallback) => {
  const v = process.env[name];
  return v === undefined || v === '' ? fallback : Number(v);
};

/**
 * Feeds `total` items into a JobRun in slices of `slice`, awaiting add() (backpressure), then
 * ends the input. Items are made as they are fed, like a reader streaming a file.
 */
export async function feed(run, total, slice = 1024, input = (i) => `p${i}`) {
  for (let start = 0; start < total; start += slice) {
    const n = Math.min(slice, total - start);
    const items = new Array(n);
    for (let k = 0; k < n; k++) {
      const i = start + k;
      items[k] = { id: String(i + 1), index: i, input: input(i) };
    }
    await run.add(items);
  }
  run.end();
}

/**
 * Runs one job of `total` items on `broker` and returns {ms, counts, chunks, events}: ms from
 * the first add() to `finished`; chunks is the sum of `n` over chunk events the listener got.
 */
export async function runJob(broker, specPatch, total, { slice = 1024, input } = {}) {
  const spec = {
    jobId: `bench-${Math.random().toString(16).slice(2, 10)}`,
    params: {},
    concurrency: 16,
    batchSize: 16,
    batchWindowMs: 5,
    retries: 0,
    timeoutMs: 0,
    ...specPatch,
  };
  let chunks = 0, done = 0, failed = 0, events = 0, deliveries = 0;
  const listener = (evs) => {
    deliveries++;
    events += evs.length;
    for (const e of evs) {
      if (e.type === 'chunk') chunks += e.n;
      else if (e.type === 'item-done') done++;
      else if (e.type === 'item-failed') failed++;
    }
  };
  const t0 = nowMs();
  const run = broker.startJob(spec, listener);
  const feeding = feed(run, total, slice, input);
  const counts = await run.finished;
  await feeding;
  const ms = nowMs() - t0;
  if (counts.done !== total || done !== total || failed !== 0) {
    throw new Error(`job ended with ${JSON.stringify(counts)} (listener saw ${done} done, ${failed} failed) of ${total}`);
  }
  return { ms, counts, chunks, events, deliveries };
}

export const fmt = (x) => (Math.abs(x) >= 1000 ? Math.round(x).toLocaleString('en-US') : Math.abs(x) >= 10 ? x.toFixed(1) : x.toFixed(3));
