// Benchmark 1: embedded dispatch of no-op items. Items/s through EmbeddedBroker (2 threads, like
// the piscina anchor) with a processor that yields one chunk per item, for a few concurrency /
// batch-size settings. Time runs from the first add() to `finished` (every item-done delivered).
//
// Env: RUNS, DISPATCH_ITEMS (200000), DISPATCH_THREADS (2),
//      DISPATCH_CONFIGS ("256/128,256/64,256/32,64/32": concurrency/batch-size pairs; the first
//      is the primary figure), DISPATCH_WINDOW_MS (5).
import { RUNS, benchProcessor, dist, fmt, num, record, runJob } from './lib/common.mjs';

const ITEMS = num('DISPATCH_ITEMS', 200_000);
const THREADS = num('DISPATCH_THREADS', 2);
const WINDOW = num('DISPATCH_WINDOW_MS', 5);
const CONFIGS = (process.env.DISPATCH_CONFIGS || '256/128,256/64,256/32')
  .split(',').map((s) => s.trim()).filter(Boolean)
  .map((s) => { const [c, b] = s.split('/').map(Number); return { concurrency: c, batchSize: b }; });

const { EmbeddedBroker } = await dist('brokers/embedded/broker.js');
const url = benchProcessor('noop.mjs');

for (const [k, cfg] of CONFIGS.entries()) {
  const broker = new EmbeddedBroker({ threads: THREADS, maxConcurrency: cfg.concurrency });
  const spec = { pipeline: [{ name: 'noop', url }], concurrency: cfg.concurrency, batchSize: cfg.batchSize, batchWindowMs: WINDOW };
  await runJob(broker, spec, 10_000); // warm-up: threads up, processor loaded, JIT warm
  const rates = [];
  let last;
  for (let r = 0; r < RUNS; r++) {
    last = await runJob(broker, spec, ITEMS);
    rates.push(ITEMS / (last.ms / 1000));
    if (process.env.BENCH_VERBOSE) console.error(`  run ${r + 1}: ${fmt(rates.at(-1))} items/s, ${last.deliveries} listener calls, ${last.events} events`);
  }
  await broker.close();
  record('slowwork-embedded', `dispatch noop c${cfg.concurrency} b${cfg.batchSize}`, 'items/s', rates, {
    threads: THREADS, items: ITEMS, concurrency: cfg.concurrency, batchSize: cfg.batchSize, batchWindowMs: WINDOW,
    primary: k === 0, processor: 'bench/processors/noop.mjs (one chunk per item)',
    eventsPerItem: +(last.events / ITEMS).toFixed(2), itemsPerListenerCall: +(ITEMS / last.deliveries).toFixed(1),
  });
}
