// What one permit of the shared quota (`ctx.limit`) costs on the embedded pool: each item takes
// QUOTA_PERMITS permits in a row (no limits, so each is due at once: its cost is the round trip
// to the main thread's ledger, and `done`), for two settings:
//   - serial: one item on one thread: the latency of a permit, wall time per permit;
//   - busy: QUOTA_ITEMS items at once on QUOTA_THREADS threads: the process's CPU per permit
//     (process.cpuUsage counts every thread) and permits/s;
//   - in-process: the same loop on a LocalQuota (what a processor server uses), for comparison.
// Not in `make bench` (yet): run `node bench/quota-permit.mjs` after `npm run build`.
// QUOTA_REDIS=redis://127.0.0.1:PORT: the pool asks the queue's limiter in Redis instead, as a
// `slowwork workers` process does (one script call per permit).
//
// Env: RUNS, QUOTA_PERMITS (5000), QUOTA_THREADS (2), QUOTA_ITEMS (64), QUOTA_REDIS.
// Standalone (lib/common.mjs needs the anchors that run.sh copies): its own few helpers.
import { loadavg } from 'node:os';
import { pathToFileURL } from 'node:url';

const here = (rel) => new URL(rel, import.meta.url);
const dist = (rel) => import(pathToFileURL(process.env.BENCH_DIST ? `${process.env.BENCH_DIST}/${rel}` : here(`../dist/${rel}`).pathname).href);
const benchProcessor = (name) => here(`processors/${name}`).href;
const num = (name, fallback) => (process.env[name] ? Number(process.env[name]) : fallback);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const RUNS = num('RUNS', 5);

const PERMITS = num('QUOTA_PERMITS', 5000);
const THREADS = num('QUOTA_THREADS', 2);
const ITEMS = num('QUOTA_ITEMS', 64);

const { EmbeddedBroker } = await dist('brokers/embedded/broker.js');
const url = benchProcessor('quota-loop.mjs');

/** Runs `items` items of `permits` permits each; wall ms and process CPU ms. */
async function run(broker, items, permits) {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let failed = 0;
  const listener = (events) => {
    for (const e of events) if (e.type === 'item-failed') failed++;
  };
  const spec = { jobId: `q${Math.random()}`, pipeline: [{ name: 'quota-loop', url }], params: { permits: String(permits) }, concurrency: items, batchSize: 1, batchWindowMs: 0, retries: 0, timeoutMs: 0 };
  const job = broker.startJob(spec, listener);
  await job.add(Array.from({ length: items }, (_, k) => ({ id: String(k), index: k, input: '' })));
  job.end();
  await job.finished;
  if (failed > 0) throw new Error(`${failed} items failed`);
  const cpu = process.cpuUsage(cpu0);
  return { wallMs: performance.now() - t0, cpuMs: (cpu.user + cpu.system) / 1000 };
}

const REDIS = process.env.QUOTA_REDIS;
let quota;
let conn;
if (REDIS) {
  const { RedisQuotaHost } = await dist('brokers/redis/quota-host.js');
  const { openRedis, parseRedisUrl } = await dist('brokers/redis/connection.js');
  const { queueKeys } = await dist('brokers/redis/keys.js');
  conn = await openRedis(parseRedisUrl(REDIS), 'command', { name: 'bench-quota' });
  quota = new RedisQuotaHost(queueKeys(`bench-${process.pid}`), ITEMS, (line) => console.error(line));
  quota.connect(conn);
}
const broker = new EmbeddedBroker({ threads: THREADS, maxConcurrency: ITEMS, ...(quota && { quota }) });
await run(broker, ITEMS, 200); // warm-up: threads up, ports handed over, JIT warm
const serial = [];
const busyCpu = [];
const busyRate = [];
for (let r = 0; r < RUNS; r++) {
  const s = await run(broker, 1, PERMITS);
  serial.push((s.wallMs * 1000) / PERMITS);
  const b = await run(broker, ITEMS, PERMITS / 10);
  const total = ITEMS * (PERMITS / 10);
  busyCpu.push((b.cpuMs * 1000) / total);
  busyRate.push(total / (b.wallMs / 1000));
}
await broker.close();
conn?.disconnect();

const { LocalQuota } = await dist('runtime/quota/local.js');
const local = [];
for (let r = 0; r < RUNS; r++) {
  const q = new LocalQuota();
  const t0 = performance.now();
  for (let k = 0; k < PERMITS; k++) (await q.client.limit('bench')).done();
  local.push(((performance.now() - t0) * 1000) / PERMITS);
}
const f = (x) => x.toFixed(1);
console.log(`quota permit, ${REDIS ? 'limiter in Redis' : 'embedded'}, ${THREADS} threads, RUNS=${RUNS}, load ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
console.log(`  serial (1 item): ${f(median(serial))} µs wall per permit (runs: ${serial.map(f).join(', ')})`);
console.log(`  busy (${ITEMS} items): ${f(median(busyCpu))} µs CPU per permit, all threads; ${Math.round(median(busyRate))} permits/s (runs: ${busyCpu.map(f).join(', ')} µs)`);
console.log(`  in-process: ${f(median(local))} µs per permit (runs: ${local.map(f).join(', ')})`);
