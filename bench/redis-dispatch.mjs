// Redis benchmark 1: no-op items/s through Redis with 2 `slowwork workers` processes, beside
// BullMQ 6 at concurrency 100 (the anchors' bullmq-bench.mjs, run in the same round). Time runs
// from the first add() (the first enqueue) to `finished`, i.e. until the submitter has seen every
// item's result in the job's events stream. Enqueueing overlaps processing here; BullMQ's
// headline figure enqueues first and times the processing alone, which favours BullMQ.
// Also records where the CPU went (submitter, workers, redis-server) as % of one core, and
// redis-server's own account of its time per item (INFO commandstats: Lua scripts, reads).
//
// The headline uses the settings README advises for many short items: big batches (one work
// stream entry, one claim and one report record list per 256 items), a job window deep enough to
// keep both workers' slots full, and slots to match. The CLI's default batch size (16) is measured
// too, on worker processes of their own, to show what the batch size is worth.
//
// Env: RUNS, REDIS_DISPATCH_ITEMS (100000), REDIS_DISPATCH_WORKERS (2), REDIS_DISPATCH_SLOTS (per
//      worker, 2048), REDIS_DISPATCH_THREADS (per worker, 1: 2 processes × 1 thread, the anchors'
//      2 threads), REDIS_DISPATCH_CONCURRENCY (4096: the job's concurrency, which sets how far the
//      submitter enqueues ahead), REDIS_DISPATCH_BATCH (256: items per work stream entry),
//      REDIS_DISPATCH_WARMUP (100000: items of the discarded warm-up job), REDIS_DISPATCH_SMALL
//      (1: also measure the default batch size, 16, with 128 slots per worker and concurrency 256;
//      0 skips it).
import { RUNS, benchProcessor, fmt, num, record, runJob } from './lib/common.mjs';
import { connect, deadline, queueName, serverInfo, startWorkers, withCommandStats, withCpu } from './lib/redis.mjs';

const ITEMS = num('REDIS_DISPATCH_ITEMS', 100_000);
const WORKERS = num('REDIS_DISPATCH_WORKERS', 2);
const SLOTS = num('REDIS_DISPATCH_SLOTS', 2048);
const THREADS = num('REDIS_DISPATCH_THREADS', 1);
const CONC = num('REDIS_DISPATCH_CONCURRENCY', 4096);
const BATCH = num('REDIS_DISPATCH_BATCH', 256);
deadline(60 + RUNS * 60, 'redis-dispatch');

const server = await serverInfo();
const url = benchProcessor('noop.mjs');
// Warm-up: workers are long-lived processes, and theirs is the steady state. Their first 100,000
// or so items run up to 40% slower (the JIT settling), so the warm-up job is a big one.
const WARMUP = num('REDIS_DISPATCH_WARMUP', 100_000);

/** One setting: its own worker processes, a warm-up job, then RUNS measured jobs. */
async function measure({ slots, concurrency, batchSize }) {
  const queue = queueName('dispatch');
  const workers = await startWorkers(WORKERS, { queue, slots, threads: THREADS });
  const broker = await connect(queue);
  const spec = { pipeline: [{ name: 'noop', url }], concurrency, batchSize, batchWindowMs: 5 };
  await runJob(broker, spec, WARMUP);
  const rates = [], cpus = [], stats = [];
  for (let r = 0; r < RUNS; r++) {
    const { result: { result, cpu }, stats: st } = await withCommandStats(() => withCpu(server.pid, workers.pids, () => runJob(broker, spec, ITEMS)));
    rates.push(ITEMS / (result.ms / 1000));
    cpus.push(cpu);
    stats.push(st);
    if (process.env.BENCH_VERBOSE) console.error(`  ${slots} slots, c${concurrency}, b${batchSize}, run ${r + 1}: ${fmt(rates.at(-1))} items/s, ${result.events} events in ${result.deliveries} listener calls; CPU % of a core: submitter ${fmt(cpu.submitterPct)}, workers ${fmt(cpu.workersPct)}, redis ${fmt(cpu.redisPct)}`);
  }
  await broker.close();
  await workers.stop();
  return { rates, cpus, stats };
}

const settingsOf = (slots, concurrency, batchSize) => ({
  items: ITEMS, warmup: WARMUP, workers: WORKERS, slotsPerWorker: slots, threadsPerWorker: THREADS, concurrency, batchSize,
  processor: 'bench/processors/noop.mjs (one chunk per item)', redis: server.version, aof: server.aof,
});

// The headline: settings for many short items.
const { rates, cpus, stats } = await measure({ slots: SLOTS, concurrency: CONC, batchSize: BATCH });
const settings = { ...settingsOf(SLOTS, CONC, BATCH), primary: true };
const name = `dispatch noop ${WORKERS} workers`;
record('slowwork-redis', `${name}, first enqueue to job end`, 'items/s', rates, settings);
record('slowwork-redis', `${name}: CPU submitter`, '% of a core', cpus.map((c) => c.submitterPct), settings);
record('slowwork-redis', `${name}: CPU workers`, '% of a core', cpus.map((c) => c.workersPct), settings);
record('slowwork-redis', `${name}: CPU redis-server`, '% of a core', cpus.map((c) => c.redisPct), settings);
record('slowwork-redis', `${name}: redis-server time in Lua scripts per item`, 'µs', stats.map((x) => x.scriptUsec / ITEMS), settings);
record('slowwork-redis', `${name}: redis-server time in XREADGROUP/XREAD per item`, 'µs', stats.map((x) => x.readUsec / ITEMS), settings);
record('slowwork-redis', `${name}: items per script call`, 'items', stats.map((x) => ITEMS / Math.max(1, x.scriptCalls)), settings);

// For context, the CLI's default batch size, with a job window and slots to match
// (REDIS_DISPATCH_SMALL=0 skips it).
if (process.env.REDIS_DISPATCH_SMALL !== '0') {
  const small = { slots: 128, concurrency: 256, batchSize: 16 };
  const m = await measure(small);
  const ss = settingsOf(small.slots, small.concurrency, small.batchSize);
  record('slowwork-redis', `${name}, default batch size: items/s`, 'items/s', m.rates, ss);
  record('slowwork-redis', `${name}, default batch size: CPU all processes`, '% of a core', m.cpus.map((c) => c.submitterPct + c.workersPct + c.redisPct), ss);
}
