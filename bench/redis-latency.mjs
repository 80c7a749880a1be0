// Redis benchmark 3: pickup latency at light load, beside BullMQ's (the anchors' bullmq-bench.mjs,
// same round): items added one by one at REDIS_LAT_RATE/s, and for each the time from just
// before add() to the processor starting (bench/processors/pickup.mjs reads the clock there; the
// anchor stamps job data the same way), and to the submitter's listener seeing the item done (as
// BullMQ's add -> `completed` seen through QueueEvents). p50 and p99 per run, nearest rank.
//
// Env: RUNS, REDIS_LAT_RATE (200 items/s), REDIS_LAT_ITEMS (1000), REDIS_LAT_SLOTS (16, the
//      anchor's worker concurrency), REDIS_LAT_THREADS (2).
import { RUNS, benchProcessor, nowMs, num, record } from './lib/common.mjs';
import { connect, deadline, queueName, serverInfo, sleep, startWorkers } from './lib/redis.mjs';

const RATE = num('REDIS_LAT_RATE', 200);
const ITEMS = num('REDIS_LAT_ITEMS', 1000);
const SLOTS = num('REDIS_LAT_SLOTS', 16);
const THREADS = num('REDIS_LAT_THREADS', 2);
deadline(60 + RUNS * (ITEMS / RATE + 30), 'redis-latency');

const server = await serverInfo();
const queue = queueName('latency');
const workers = await startWorkers(1, { queue, slots: SLOTS, threads: THREADS });
const broker = await connect(queue);

/** One paced job: returns the pickup and add->done samples (ms). */
async function pacedRun(items, rate) {
  const tAdd = new Float64Array(items), pickup = [], done = [];
  const spec = { jobId: `bench-lat-${Math.random().toString(16).slice(2, 10)}`, pipeline: [{ name: 'pickup', url: benchProcessor('pickup.mjs') }], params: {}, concurrency: SLOTS, batchSize: 1, batchWindowMs: 0, retries: 0, timeoutMs: 0 };
  const run = broker.startJob(spec, (events) => {
    const t = nowMs();
    for (const e of events) {
      if (e.type !== 'item-done') continue;
      done.push(t - tAdd[e.index]);
      pickup.push(Number(e.output));
    }
  });
  await sleep(300); // the job exists and the worker is blocked in its read, as in the anchor
  const start = nowMs(), interval = 1000 / rate;
  for (let i = 0; i < items; i++) {
    const wait = start + i * interval - nowMs();
    if (wait > 1) await sleep(wait);
    const t = nowMs();
    tAdd[i] = t;
    await run.add([{ id: String(i + 1), index: i, input: { t } }]);
  }
  run.end();
  const counts = await run.finished;
  if (counts.done !== items) throw new Error(`latency job ended with ${JSON.stringify(counts)}`);
  return { pickup: summary(pickup), done: summary(done) };
}

function summary(samples) {
  const s = Float64Array.from(samples).sort();
  const at = (p) => s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
  return { n: s.length, p50: at(50), p99: at(99) };
}

await pacedRun(Math.min(200, ITEMS), RATE); // warm-up
const runs = [];
for (let r = 0; r < RUNS; r++) runs.push(await pacedRun(ITEMS, RATE));
await broker.close();
await workers.stop();

const settings = { rate: RATE, items: ITEMS, workers: 1, slotsPerWorker: SLOTS, threadsPerWorker: THREADS, processor: 'bench/processors/pickup.mjs', redis: server.version, aof: server.aof };
record('slowwork-redis', 'light-load add->processor start p50', 'ms', runs.map((x) => x.pickup.p50), settings);
record('slowwork-redis', 'light-load add->processor start p99', 'ms', runs.map((x) => x.pickup.p99), settings);
record('slowwork-redis', 'light-load add->done seen by the submitter p50', 'ms', runs.map((x) => x.done.p50), settings);
record('slowwork-redis', 'light-load add->done seen by the submitter p99', 'ms', runs.map((x) => x.done.p99), settings);
