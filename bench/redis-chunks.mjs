// Redis benchmark 2: chunks/s from one `slowwork workers` process to a watcher: the submitter's
// job listener, counting the `n` of chunk events (chunks a worker merged into one event count one
// by one). Items stream 100 short chunks each (bench/processors/stream100.mjs, an async
// generator), like the anchor streams-chunks-bench.mjs, whose figure with 100 auto-pipelined
// XADDs per tick is the reference (raw transport, no job around it). Time runs from the first
// add() to `finished`.
//
// Env: RUNS, REDIS_CHUNK_ITEMS (2000: 200k chunks), REDIS_CHUNK_SLOTS (16, the embedded chunk
//      benchmark's concurrency), REDIS_CHUNK_THREADS (2), REDIS_CHUNK_PROCESSOR (stream100).
import { RUNS, benchProcessor, fmt, num, record, runJob } from './lib/common.mjs';
import { connect, deadline, queueName, serverInfo, startWorkers, withCpu } from './lib/redis.mjs';

const ITEMS = num('REDIS_CHUNK_ITEMS', 2000);
const SLOTS = num('REDIS_CHUNK_SLOTS', 16);
const THREADS = num('REDIS_CHUNK_THREADS', 2);
const PROCESSOR = process.env.REDIS_CHUNK_PROCESSOR || 'stream100';
const PER_ITEM = 100;
deadline(60 + RUNS * 60, 'redis-chunks');

const server = await serverInfo();
const queue = queueName('chunks');
const workers = await startWorkers(1, { queue, slots: SLOTS, threads: THREADS });
const broker = await connect(queue);
const spec = { pipeline: [{ name: PROCESSOR, url: benchProcessor(`${PROCESSOR}.mjs`) }], concurrency: SLOTS, batchSize: 16 };
await runJob(broker, spec, 200); // warm-up

const rates = [], perEvent = [], cpus = [];
for (let r = 0; r < RUNS; r++) {
  const { result, cpu } = await withCpu(server.pid, workers.pids, () => runJob(broker, spec, ITEMS));
  if (result.chunks !== ITEMS * PER_ITEM) throw new Error(`listener saw ${result.chunks} chunks, expected ${ITEMS * PER_ITEM}`);
  rates.push(result.chunks / (result.ms / 1000));
  perEvent.push(result.chunks / Math.max(1, result.events - 2 * ITEMS - 1)); // chunk events only
  cpus.push(cpu);
  if (process.env.BENCH_VERBOSE) console.error(`  run ${r + 1}: ${fmt(rates.at(-1))} chunks/s, ${fmt(perEvent.at(-1))} chunks per chunk event; CPU % of a core: submitter ${fmt(cpu.submitterPct)}, worker ${fmt(cpu.workersPct)}, redis ${fmt(cpu.redisPct)}`);
}
await broker.close();
await workers.stop();

const settings = {
  items: ITEMS, chunksPerItem: PER_ITEM, workers: 1, slotsPerWorker: SLOTS, threadsPerWorker: THREADS,
  processor: `bench/processors/${PROCESSOR}.mjs`, redis: server.version, aof: server.aof, primary: true,
  chunksPerChunkEvent: +perEvent.sort((a, b) => a - b)[perEvent.length >> 1].toFixed(1),
};
const name = `stream ${PROCESSOR}, 1 worker, to the submitter's listener`;
record('slowwork-redis', name, 'chunks/s', rates, settings);
record('slowwork-redis', `${name}: CPU submitter`, '% of a core', cpus.map((c) => c.submitterPct), settings);
record('slowwork-redis', `${name}: CPU workers`, '% of a core', cpus.map((c) => c.workersPct), settings);
record('slowwork-redis', `${name}: CPU redis-server`, '% of a core', cpus.map((c) => c.redisPct), settings);
