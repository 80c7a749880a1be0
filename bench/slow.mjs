// Benchmark 3a: slow work efficiency on the embedded broker. 2000 items of 200 ms each (demo:
// first_token_ms=200, tokens_per_s=0, length=1) on 64 slots: the ideal is 2000/64 × 200 ms =
// 6.25 s. Wall time from the first add() to `finished`, as a ratio to the ideal. (Items are
// whole: 2000/64 needs 32 waves, so 6.4 s = 1.024× is the floor any scheduler can reach.)
//
// Env: RUNS, SLOW_ITEMS (2000), SLOW_ITEM_MS (200), SLOW_CONCURRENCY (64), SLOW_THREADS (default:
//      the broker's default, the number of cores), SLOW_BATCHES ("16": batch sizes to try; the
//      first is the primary figure), SLOW_WINDOW_MS (5).
import { setTimeout as sleep } from 'node:timers/promises';
import { RUNS, dist, fmt, nowMs, num, record, runJob } from './lib/common.mjs';

const ITEMS = num('SLOW_ITEMS', 2000);
const ITEM_MS = num('SLOW_ITEM_MS', 200);
const CONC = num('SLOW_CONCURRENCY', 64);
const THREADS = process.env.SLOW_THREADS ? Number(process.env.SLOW_THREADS) : undefined;
const WINDOW = num('SLOW_WINDOW_MS', 5);
const BATCHES = (process.env.SLOW_BATCHES || '16').split(',').map(Number).filter((n) => n > 0);
const IDEAL_MS = (ITEMS * ITEM_MS) / CONC;
const FLOOR_MS = Math.ceil(ITEMS / CONC) * ITEM_MS;

async function timerChain(n, ms) {
  const t0 = nowMs();
  for (let i = 0; i < n; i++) await sleep(ms);
  return nowMs() - t0;
}

const { EmbeddedBroker } = await dist('brokers/embedded/broker.js');
const { resolveProcessorRef } = await dist('processors/registry.js');
const params = { first_token_ms: String(ITEM_MS), tokens_per_s: '0', length: '1' };

for (const [k, batchSize] of BATCHES.entries()) {
  const broker = new EmbeddedBroker({ threads: THREADS, maxConcurrency: CONC });
  const spec = { pipeline: [{ name: 'demo', url: resolveProcessorRef('demo') }], params, concurrency: CONC, batchSize, batchWindowMs: WINDOW, timeoutMs: 600_000 };
  await runJob(broker, spec, CONC * 2); // warm-up: two waves
  const walls = [], chains = [];
  for (let r = 0; r < RUNS; r++) {
    // Beside each run, in the same process and moment: a chain of 32 sequential 200 ms timers,
    // the floor plus what timer lateness alone costs on this machine right now.
    const chain = timerChain(Math.ceil(ITEMS / CONC), ITEM_MS);
    const res = await runJob(broker, spec, ITEMS);
    walls.push(res.ms / 1000);
    chains.push((await chain) / 1000);
    if (process.env.BENCH_VERBOSE) console.error(`  batch ${batchSize} run ${r + 1}: ${fmt(res.ms)} ms (${(res.ms / IDEAL_MS).toFixed(4)}× ideal)`);
  }
  const threads = broker.threads;
  await broker.close();
  const settings = { items: ITEMS, itemMs: ITEM_MS, concurrency: CONC, threads, batchSize, batchWindowMs: WINDOW, idealS: IDEAL_MS / 1000, floorS: FLOOR_MS / 1000, primary: k === 0 };
  record('slowwork-embedded', `slow work wall time b${batchSize}`, 's', walls, settings);
  record('slowwork-embedded', `slow work vs ideal b${batchSize}`, 'x', walls.map((s) => (s * 1000) / IDEAL_MS), settings);
  record('node-timers', `chain of ${Math.ceil(ITEMS / CONC)} sequential ${ITEM_MS} ms timers, beside the run b${batchSize}`, 's', chains, { waves: Math.ceil(ITEMS / CONC), itemMs: ITEM_MS, idealS: IDEAL_MS / 1000 });
}
