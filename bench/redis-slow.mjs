// Redis benchmark 4: slow work through Redis. 2000 items of 200 ms each (demo: first_token_ms=200,
// tokens_per_s=0, length=1) on 64 slots: 2 `slowwork workers` processes of 32 slots. The ideal is
// 2000/64 × 200 ms = 6.25 s; items are whole, so 32 waves = 6.4 s (1.024×) is the floor. Wall
// time from the first add() to `finished` (every result seen by the submitter).
//
// Env: RUNS, REDIS_SLOW_ITEMS (2000), REDIS_SLOW_ITEM_MS (200), REDIS_SLOW_WORKERS (2),
//      REDIS_SLOW_SLOTS (per worker, 32), REDIS_SLOW_THREADS (per worker; default: the workers'
//      default, the number of cores).
import { RUNS, fmt, num, record, runJob, dist } from './lib/common.mjs';
import { connect, deadline, queueName, serverInfo, startWorkers, withCpu } from './lib/redis.mjs';

const ITEMS = num('REDIS_SLOW_ITEMS', 2000);
const ITEM_MS = num('REDIS_SLOW_ITEM_MS', 200);
const WORKERS = num('REDIS_SLOW_WORKERS', 2);
const SLOTS = num('REDIS_SLOW_SLOTS', 32);
const THREADS = process.env.REDIS_SLOW_THREADS ? Number(process.env.REDIS_SLOW_THREADS) : undefined;
const CONC = WORKERS * SLOTS;
const IDEAL_MS = (ITEMS * ITEM_MS) / CONC;
const FLOOR_MS = Math.ceil(ITEMS / CONC) * ITEM_MS;
deadline(60 + RUNS * (3 * IDEAL_MS / 1000 + 20), 'redis-slow');

const { resolveProcessorRef } = await dist('processors/registry.js');
const server = await serverInfo();
const queue = queueName('slow');
const workers = await startWorkers(WORKERS, { queue, slots: SLOTS, threads: THREADS });
const broker = await connect(queue);
const params = { first_token_ms: String(ITEM_MS), tokens_per_s: '0', length: '1' };
const spec = { pipeline: [{ name: 'demo', url: resolveProcessorRef('demo') }], params, concurrency: CONC, batchSize: 16, timeoutMs: 600_000 };
await runJob(broker, spec, CONC * 2); // warm-up: two waves

const walls = [], cpus = [];
for (let r = 0; r < RUNS; r++) {
  const { result, cpu } = await withCpu(server.pid, workers.pids, () => runJob(broker, spec, ITEMS));
  walls.push(result.ms / 1000);
  cpus.push(cpu);
  if (process.env.BENCH_VERBOSE) console.error(`  run ${r + 1}: ${fmt(result.ms)} ms (${(result.ms / IDEAL_MS).toFixed(4)}× ideal)`);
}
await broker.close();
await workers.stop();

const settings = {
  items: ITEMS, itemMs: ITEM_MS, workers: WORKERS, slotsPerWorker: SLOTS, threadsPerWorker: THREADS ?? 'default (cores)',
  concurrency: CONC, idealS: IDEAL_MS / 1000, floorS: FLOOR_MS / 1000, redis: server.version, aof: server.aof, primary: true,
};
record('slowwork-redis', `slow work wall time, ${WORKERS} workers × ${SLOTS} slots`, 's', walls, settings);
record('slowwork-redis', `slow work vs ideal, ${WORKERS} workers × ${SLOTS} slots`, 'x', walls.map((s) => (s * 1000) / IDEAL_MS), settings);
record('slowwork-redis', `slow work, ${WORKERS} workers × ${SLOTS} slots: CPU all processes`, '% of a core', cpus.map((c) => c.totalPct), settings);
