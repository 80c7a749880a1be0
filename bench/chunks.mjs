// Benchmark 2: embedded chunk streaming. Chunks/s delivered to the job's listener (sum of the
// chunk events' `n`), items streaming 100 short chunks each, like the piscina anchor's
// "stream via MessagePort" (10k tasks, 16 in flight, 2 threads). Time runs from the first add()
// to `finished`.
//
// Env: RUNS, CHUNK_ITEMS (10000), CHUNK_THREADS (2), CHUNK_CONCURRENCY (16), CHUNK_BATCH (16),
//      CHUNK_PROCESSORS ("stream100,stream100-sync,stream100-tick"; the first is the primary
//      figure: an async generator, as real processors are written), CHUNK_ITEMS_TICK (2000: the
//      tick variant is slow by design, fewer items keep its run short).
import { RUNS, benchProcessor, dist, fmt, num, record, runJob } from './lib/common.mjs';

const ITEMS_DEFAULT = num('CHUNK_ITEMS', 10_000);
const ITEMS_TICK = num('CHUNK_ITEMS_TICK', 2000);
const THREADS = num('CHUNK_THREADS', 2);
const CONC = num('CHUNK_CONCURRENCY', 16);
const BATCH = num('CHUNK_BATCH', 16);
const PER_ITEM = 100;
const PROCESSORS = (process.env.CHUNK_PROCESSORS || 'stream100,stream100-sync,stream100-tick').split(',').map((s) => s.trim()).filter(Boolean);
const KIND = {
  stream100: 'async generator, 100 chunks per item',
  'stream100-sync': 'sync iterable (array), 100 chunks per item',
  'stream100-tick': 'async generator, one setImmediate between chunks',
};

const { EmbeddedBroker } = await dist('brokers/embedded/broker.js');

for (const [k, name] of PROCESSORS.entries()) {
  const ITEMS = name === 'stream100-tick' ? ITEMS_TICK : ITEMS_DEFAULT;
  const broker = new EmbeddedBroker({ threads: THREADS, maxConcurrency: CONC });
  const spec = { pipeline: [{ name, url: benchProcessor(`${name}.mjs`) }], concurrency: CONC, batchSize: BATCH };
  await runJob(broker, spec, 500); // warm-up
  const rates = [], perMsg = [];
  for (let r = 0; r < RUNS; r++) {
    const res = await runJob(broker, spec, ITEMS);
    if (res.chunks !== ITEMS * PER_ITEM) throw new Error(`${name}: listener saw ${res.chunks} chunks, expected ${ITEMS * PER_ITEM}`);
    rates.push(res.chunks / (res.ms / 1000));
    perMsg.push(res.chunks / Math.max(1, res.events - 2 * ITEMS - 1)); // chunk events only
    if (process.env.BENCH_VERBOSE) console.error(`  ${name} run ${r + 1}: ${fmt(rates.at(-1))} chunks/s, ${fmt(perMsg.at(-1))} chunks per chunk event`);
  }
  await broker.close();
  const settings = {
    threads: THREADS, items: ITEMS, chunksPerItem: PER_ITEM, concurrency: CONC, batchSize: BATCH,
    processor: `bench/processors/${name}.mjs`, kind: KIND[name] ?? name, primary: k === 0,
    chunksPerChunkEvent: +perMsg.sort((a, b) => a - b)[perMsg.length >> 1].toFixed(1),
  };
  record('slowwork-embedded', `stream ${name} to listener`, 'chunks/s', rates, settings);
}
