// A simulated slowwork system for the dashboard benchmark (bench/dashboard.mjs): no worker or
// submitter process runs; the seeder writes the keys real ones write, in the real layout
// (dist/brokers/redis/keys.js) and, where slowwork writes them with a Lua script, with that same
// script (dist/brokers/redis/scripts.js: heartbeat, createJob, enqueue), so the dashboard reads
// exactly what it would read from a live system of that size. What is measured is the
// dashboard's own cost; the seeder's work is not.
//
//   workers   WORKERS live workers on the queue: heartbeat script every second (hash with every
//             field worker-stats.ts writes, PEXPIRE 5 × the beat, ZADD workers), counters growing
//             (processed, failed, chunks), busy and cpu varying; the 50 beats spread over the second
//   dead      DEAD_WORKERS names left in the workers zset without a hash (heartbeat expired)
//   jobs      JOBS running jobs (createJob script: every field create-job.lua writes; then total,
//             n, done, failed), done growing each second, a few failures; a run hash of a few
//             entries per job (entry id -> items taken, claim.lua's fence) that changes as
//             entries finish
//   items     the items stream with the `workers` group: entries (batches of ENTRY_ITEMS items)
//             added by the enqueue script;
//             part of them read by the workers' consumer names (pending = in flight), the rest
//             waiting; every second a few more are enqueued, read, acknowledged and deleted (as
//             report.lua does), so the waiting and in-flight counts stay level
//   delayed   DELAYED retries in the delayed zset; dlq: DLQ entries in the dead-letter stream
import { dist } from './common.mjs';

const { queueKeys, GROUP } = await dist('brokers/redis/keys.js');
const { defineScripts } = await dist('brokers/redis/scripts.js');
// enqueue.lua's ARGV[4]: the most payload bytes that ride in an entry (the submitter's own bound)
const { INLINE_INPUT_BYTES } = await dist('brokers/redis/work-entry.js');

export const SEED = {
  queue: 'default',
  workers: 50,
  hosts: 5,
  slots: 8,
  threads: 2,
  heartbeatMs: 1000,
  heartbeatTtlMs: 5000,
  deadWorkers: 3,
  jobs: 20,
  itemsPerJob: 150,
  delayed: 12,
  dlq: 7,
  /** items per work stream entry (the submitter's batch size) */
  entryItems: 4,
  /** items enqueued, read and acknowledged per second (the queue's churn) */
  churnPerSec: 20,
};

/** A seeded generator (the demo's own), so every round seeds the same system. */
const { seededRandom: rng } = await dist('core/random.js');
const hex = (r, n) => Array.from({ length: n }, () => Math.floor(r() * 16).toString(16)).join('');

/**
 * Seeds the system on `redis` (an ioredis connection of the bench's own; the database is
 * flushed first: it is a throwaway redis-server) and returns a seeder whose tick() renews it.
 */
export async function seedSystem(redis, seed = SEED) {
  const cmd = defineScripts(redis);
  const k = queueKeys(seed.queue);
  const r = rng(20261204);
  const now = Date.now();
  await redis.flushall();

  // ---- jobs: created by the real script, then the figures of a job under way ----------------
  const processors = [['openai', 'openai'], ['demo', 'demo'], ['./summarize.mjs', 'file:///srv/pipelines/summarize.mjs']];
  const jobs = [];
  for (let j = 0; j < seed.jobs; j++) {
    const id = hex(r, 8);
    const total = 2000 + Math.floor(r() * 8) * 500;
    const created = now - Math.floor((2 + r() * 90) * 60_000);
    const [name, url] = processors[j % processors.length];
    const spec = { processors: [{ name, url }], params: { model: 'gpt-4o-mini', temperature: '0.2' }, timeoutMs: 120_000, retries: 2, batchSize: 16 };
    const submitter = `laptop-${(j % 4) + 1}:${20000 + Math.floor(r() * 40000)}`;
    await cmd.createJob(k.job(id).hash, k.jobs, k.job(id).events, id, created, total, 86_400_000, 2, JSON.stringify(spec), submitter, `/home/ops/slowwork-results/${id}.jsonl`);
    const done = Math.floor(total * (0.1 + r() * 0.5));
    jobs.push({ id, total, done, failed: Math.floor(done * 0.004), rate: 0.5 + r() * 4, acc: 0, next: 0 });
  }
  // items in the stream, by the real enqueue script (entries like a submitter's), ten per job in
  // turn so that the stream holds every job's items; then the job hash's figures of a job further
  // along (n: everything enqueued; done and failed so far)
  for (let from = 0; from < seed.itemsPerJob; from += 10) {
    for (const job of jobs) {
      const args = [];
      for (let i = from; i < Math.min(seed.itemsPerJob, from + 10); i++) args.push(i, `${i},1,0,0,${i + 1}`, JSON.stringify({ prompt: `item ${i + 1} of job ${job.id}: summarize the attached text in three sentences` }));
      await cmd.enqueue(k.items, k.job(job.id).hash, k.job(job.id).input, job.id, now, seed.entryItems, INLINE_INPUT_BYTES, ...args);
    }
  }
  for (const job of jobs) {
    job.next = seed.itemsPerJob;
    await redis.hset(k.job(job.id).hash, 'n', job.total, 'done', job.done, 'failed', job.failed);
  }
  await redis.xgroup('CREATE', k.items, GROUP, '0', 'MKSTREAM').catch(() => undefined);

  // ---- workers: names like real ones (host:pid:hex), counters of workers running for a while --
  const workers = [];
  for (let w = 0; w < seed.workers; w++) {
    const host = `gpu-${String((w % seed.hosts) + 1).padStart(2, '0')}`;
    const pid = 1000 + Math.floor(r() * 60000);
    workers.push({
      name: `${host}:${pid}:${hex(r, 4)}`, host, pid,
      processed: 200 + Math.floor(r() * 3000), failed: Math.floor(r() * 12), chunks: 0, totalMs: 0,
      busy: seed.slots, rss: 180e6 + Math.floor(r() * 120e6), started: now - Math.floor((1 + r() * 20) * 3_600_000),
    });
  }
  for (const w of workers) {
    w.chunks = w.processed * 180;
    w.totalMs = (w.processed + w.failed) * (4000 + r() * 6000);
  }
  // in flight: each worker's busy slots hold entries read under its consumer name; each job's
  // run hash maps the entry to the number of its items taken (what claim.lua's fence holds)
  const running = new Map(); // entry id -> job id
  const pipe = redis.pipeline();
  const take = (got, into) => {
    for (const [, entries] of got ?? []) for (const [id, fields] of entries) {
      const job = fields[fields.indexOf('j') + 1];
      running.set(id, job);
      into.hset(k.job(job).run, id, String((fields.length - 4) / 2));
    }
  };
  const entriesFor = (items) => Math.max(1, Math.floor(items / seed.entryItems));
  for (const w of workers) {
    w.busy = Math.max(1, seed.slots - Math.floor(r() * 3));
    take(await redis.xreadgroup('GROUP', GROUP, w.name, 'COUNT', entriesFor(w.busy), 'STREAMS', k.items, '>'), pipe);
  }
  // dead workers: still in the zset, their hash expired
  for (let d = 0; d < seed.deadWorkers; d++) pipe.zadd(k.workers, now - (120_000 + d * 45_000), `gpu-0${d + 1}:${90000 + d}:dead`);
  // retries waiting for their backoff, and items out of attempts
  for (let d = 0; d < seed.delayed; d++) {
    const job = jobs[d % jobs.length];
    pipe.zadd(k.delayed, now + 2000 + d * 1500, JSON.stringify({ j: job.id, i: String(d), k: String(d + 1), a: '2', c: '0', r: '0', p: JSON.stringify({ prompt: `retry ${d}` }), q: String(now) }));
  }
  for (let d = 0; d < seed.dlq; d++) {
    const job = jobs[d % jobs.length];
    pipe.xadd(k.dlq, 'MAXLEN', '~', 10000, '*', 'j', job.id, 'i', String(d), 'p', JSON.stringify({ prompt: `failed ${d}` }), 'e', 'openai: 429 Too Many Requests (after 3 attempts)', 'w', workers[d].name, 't', String(now - d * 60_000));
  }
  await pipe.exec();

  // ---- the heartbeat, as worker.ts sends it -----------------------------------------------------
  const beat = (w, at) => {
    const finished = w.processed + w.failed;
    const fields = [
      'name', w.name, 'host', w.host, 'pid', String(w.pid), 'queue', seed.queue, 'slots', String(seed.slots), 'threads', String(seed.threads),
      'busy', String(w.busy), 'processed', String(w.processed), 'failed', String(w.failed), 'chunks', String(w.chunks),
      'avgMs', finished > 0 ? (w.totalMs / finished).toFixed(1) : '0', 'cpu', (8 + r() * 30).toFixed(1), 'rss', String(Math.round(w.rss)),
      'started', String(w.started), 'beat', String(at), 'heartbeatMs', String(seed.heartbeatMs),
    ];
    return cmd.heartbeat(k.workers, k.worker(w.name), w.name, at, seed.heartbeatTtlMs, ...fields);
  };
  await Promise.all(workers.map((w) => beat(w, Date.now())));

  // ---- every second: jobs advance, workers beat (spread over the second), the queue churns ------
  let paused = false, inFlight = Promise.resolve(), timers = [], ticks = 0;
  const advance = async () => {
    // jobs: done grows at each job's pace (one in 150 fails); the items finished go to workers
    const jp = redis.pipeline();
    let finishedNow = 0;
    for (const job of jobs) {
      job.acc += job.rate;
      const n = Math.floor(job.acc);
      job.acc -= n;
      if (!n) continue;
      const failed = r() < n / 150 ? 1 : 0;
      job.done = Math.min(job.total, job.done + n - failed);
      job.failed += failed;
      finishedNow += n;
      jp.hset(k.job(job.id).hash, 'done', job.done, 'failed', job.failed);
    }
    for (let f = 0; f < finishedNow; f++) {
      const w = workers[Math.floor(r() * workers.length)];
      if (r() < 0.01) w.failed++;
      else w.processed++;
      w.chunks += 120 + Math.floor(r() * 120);
      w.totalMs += 3000 + r() * 7000;
    }
    for (const w of workers) {
      w.busy = Math.max(0, Math.min(seed.slots, w.busy + Math.round((r() - 0.5) * 2)));
      w.chunks += w.busy * Math.floor(20 + r() * 30); // streams under way
      w.rss += (r() - 0.5) * 2e6;
    }
    // the queue: CHURN new entries enqueued (the real script), read by a worker, the oldest
    // in-flight ones acknowledged; their jobs' run hashes follow
    const job = jobs[ticks % jobs.length];
    const args = [];
    for (let i = 0; i < seed.churnPerSec; i++, job.next++) args.push(job.next, `${job.next},1,0,0,${job.next + 1}`, JSON.stringify({ prompt: `item ${job.next + 1} of job ${job.id}` }));
    jp.enqueue(k.items, k.job(job.id).hash, k.job(job.id).input, job.id, Date.now(), seed.entryItems, INLINE_INPUT_BYTES, ...args);
    await jp.exec();
    await redis.hset(k.job(job.id).hash, 'n', job.total); // the script counted these in n
    const reader = workers[ticks % workers.length];
    const got = await redis.xreadgroup('GROUP', GROUP, reader.name, 'COUNT', entriesFor(seed.churnPerSec), 'STREAMS', k.items, '>');
    const oldest = await redis.xpending(k.items, GROUP, '-', '+', entriesFor(seed.churnPerSec));
    const q = redis.pipeline();
    // finished: acknowledged and deleted, as report.lua does
    if (oldest.length) { q.xack(k.items, GROUP, ...oldest.map((p) => p[0])); q.xdel(k.items, ...oldest.map((p) => p[0])); }
    for (const [id] of oldest) {
      const job = running.get(id);
      if (job) { q.hdel(k.job(job).run, id); running.delete(id); }
    }
    take(got, q);
    await q.exec();
    ticks++;
  };
  const SPREAD = 10;
  const run = () => {
    if (paused) return;
    inFlight = inFlight.then(advance).catch((err) => console.error(`seeder: ${err.message}`));
    // the 50 heartbeats in SPREAD groups over the second, as independent workers would send them
    for (let g = 0; g < SPREAD; g++) {
      const t = setTimeout(() => {
        if (paused) return;
        const group = workers.filter((_, i) => i % SPREAD === g);
        inFlight = inFlight.then(() => Promise.all(group.map((w) => beat(w, Date.now())))).catch((err) => console.error(`seeder: ${err.message}`));
      }, (g * seed.heartbeatMs) / SPREAD);
      timers.push(t);
      if (timers.length > 4 * SPREAD) timers = timers.slice(-2 * SPREAD);
    }
  };
  let interval = null;
  return {
    queue: seed.queue,
    workers: workers.map((w) => w.name),
    jobIds: jobs.map((j) => j.id),
    start() {
      paused = false;
      run();
      interval = setInterval(run, seed.heartbeatMs);
    },
    /**
     * Stops writing, after one last round of heartbeats whose hashes live `ttlMs` (so that
     * no worker expires while the dashboard alone is measured), and waits for what is under way.
     */
    async pause(ttlMs = seed.heartbeatTtlMs) {
      paused = true;
      clearInterval(interval);
      for (const t of timers) clearTimeout(t);
      timers = [];
      await inFlight;
      const at = Date.now();
      await Promise.all(workers.map(async (w) => {
        await beat(w, at);
        await redis.pexpire(k.worker(w.name), ttlMs);
      }));
    },
    get ticks() {
      return ticks;
    },
  };
}
