// Shared helpers for the Redis benchmarks (bench/redis-*.mjs): the redis-server run.sh started
// (REDIS_PORT), `slowwork workers` processes as children (started and stopped by pid, SIGTERM),
// a RedisBroker on a queue of the script's own, and where the CPU went (submitter, workers,
// redis-server), read from /proc so every process is measured the same way.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { REPO, dist, nowMs } from './common.mjs';

/** Ends the script with one line (the exit handler below stops the workers). */
export function fail(message) {
  console.error(message);
  process.exit(1);
}

export const REDIS_PORT = Number(process.env.REDIS_PORT || 0);
if (!REDIS_PORT) fail('REDIS_PORT is not set: run through bench/run.sh, or start a throwaway redis-server (the anchors\' lib/redis.sh start_redis) first');
export const REDIS_URL = `redis://127.0.0.1:${REDIS_PORT}`;

const { RedisBroker } = await dist('brokers/redis/broker.js');
const { parseRedisUrl } = await dist('brokers/redis/connection.js');
const { Redis } = await import('ioredis');

/** A queue name of this script's own, so runs never see each other's entries or workers. */
export const queueName = (what) => `bench-${what}-${process.pid}`;

const children = new Set();
// However the script ends, no worker outlives it (the normal path stops them with SIGTERM).
process.on('exit', () => { for (const c of children) try { process.kill(c.pid, 'SIGKILL'); } catch {} });
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130));

/** Bounds the whole script: a stuck run fails the step instead of hanging `make bench`. */
export function deadline(seconds, what) {
  setTimeout(() => fail(`${what}: still running after ${seconds} s, giving up`), seconds * 1000).unref();
}

/**
 * Starts `count` `slowwork workers` processes on `queue` and waits until each has said it
 * serves (its first stderr line). Their stderr is kept for the report of a failure.
 */
export async function startWorkers(count, { queue, slots, threads, processors = [] }) {
  // BENCH_WORKER_NODE_ARGS: node flags for the workers, e.g. "--cpu-prof --cpu-prof-dir=/tmp/p"
  // to see where their CPU goes (NODE_OPTIONS refuses --cpu-prof). BENCH_WORKER_STDOUT=PATH keeps
  // each worker's stdout in PATH.<k> (for flags that print there: --trace-gc, --trace-deopt).
  const nodeArgs = (process.env.BENCH_WORKER_NODE_ARGS || '').split(' ').filter(Boolean);
  const args = [...nodeArgs, 'bin/slowwork.js', 'workers', '--redis', REDIS_URL, '--queue', queue, '-n', String(slots)];
  if (threads) args.push('--threads', String(threads));
  for (const p of processors) args.push('--processor', p);
  const procs = [];
  for (let k = 0; k < count; k++) {
    const out = process.env.BENCH_WORKER_STDOUT ? (await import('node:fs')).openSync(`${process.env.BENCH_WORKER_STDOUT}.${k}`, 'w') : 'ignore';
    const child = spawn(process.execPath, args, { cwd: REPO, stdio: ['ignore', out, 'pipe'] });
    children.add(child);
    let log = '';
    const ready = new Promise((resolve, reject) => {
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (d) => {
        log += d;
        if (/slowwork workers: .* on /.test(log)) resolve();
      });
      child.once('exit', (code, sig) => reject(new Error(`worker ${k + 1} exited (${code ?? sig}) before serving: ${log.trim()}`)));
      setTimeout(() => reject(new Error(`worker ${k + 1} did not start within 20 s: ${log.trim()}`)), 20_000).unref();
    });
    const exited = new Promise((resolve) => child.once('exit', (code, sig) => { children.delete(child); resolve(code ?? sig); }));
    procs.push({ child, pid: child.pid, ready, exited, log: () => log });
  }
  await Promise.all(procs.map((p) => p.ready));
  return {
    pids: procs.map((p) => p.pid),
    /** SIGTERM drains and exits 0; anything else is a finding, so it is reported. */
    async stop() {
      for (const p of procs) if (p.child.exitCode === null) process.kill(p.pid, 'SIGTERM');
      const late = (ms) => new Promise((r) => setTimeout(() => r('still running after SIGTERM'), ms).unref());
      const codes = await Promise.all(procs.map((p) => Promise.race([p.exited, late(30_000)])));
      codes.forEach((code, k) => {
        if (code !== 0) console.error(`worker ${procs[k].pid} ended with ${code} after SIGTERM:\n${procs[k].log().trim()}`);
        // Anything a worker said beyond starting and stopping (a failed report, a reclaim) matters.
        else for (const line of procs[k].log().split('\n')) if (line.trim() && !line.startsWith('slowwork workers:')) console.error(`worker ${procs[k].pid}: ${line}`);
      });
    },
  };
}

/** A RedisBroker for `queue`; its finished jobs' keys expire after a minute (not a day). */
export async function connect(queue) {
  return RedisBroker.connect({ target: parseRedisUrl(REDIS_URL), queue, ttlMs: 60_000 });
}

/** A plain connection for looking at the server (its pid, INFO). */
export async function adminConnection() {
  const r = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await r.connect();
  return r;
}

const TICK_MS = 1000 / 100; // USER_HZ: /proc/<pid>/stat counts CPU time in 10 ms ticks
/** CPU time of a process (all its threads) in ms, from /proc/<pid>/stat; null once it is gone. */
export function procCpuMs(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * TICK_MS; // utime, stime (fields 14, 15)
  } catch {
    return null;
  }
}

/**
 * Measures where the CPU goes during `fn`: this process (the submitter), each worker process,
 * and redis-server, as ms of CPU and as % of one core over the wall time.
 */
export async function withCpu(redisPid, workerPids, fn) {
  const self0 = process.cpuUsage(), w0 = workerPids.map(procCpuMs), r0 = procCpuMs(redisPid), t0 = nowMs();
  const result = await fn();
  const wall = nowMs() - t0, self = process.cpuUsage(self0), w1 = workerPids.map(procCpuMs), r1 = procCpuMs(redisPid);
  const pct = (ms) => (100 * ms) / wall;
  const submitterMs = (self.user + self.system) / 1000;
  const workersMs = w1.reduce((s, x, k) => s + (x ?? 0) - (w0[k] ?? 0), 0);
  const redisMs = (r1 ?? 0) - (r0 ?? 0);
  return {
    result,
    cpu: { wallMs: wall, submitterPct: pct(submitterMs), workersPct: pct(workersMs), redisPct: pct(redisMs), totalPct: pct(submitterMs + workersMs + redisMs) },
  };
}

/**
 * Runs `fn` and returns what redis-server did meanwhile, from INFO commandstats: time and calls
 * of the top-level commands slowwork sends (its Lua scripts, and its blocking reads). Commands
 * inside a script are counted in the script's time, so they are left out here.
 */
export async function withCommandStats(fn) {
  const r = await adminConnection();
  const read = async () => {
    const out = {};
    for (const m of (await r.info('commandstats')).matchAll(/cmdstat_(\w+):calls=(\d+),usec=(\d+)/g)) out[m[1]] = { calls: Number(m[2]), usec: Number(m[3]) };
    return out;
  };
  const s0 = await read();
  const result = await fn();
  const s1 = await read();
  await r.quit();
  const d = (names, f) => names.reduce((sum, n) => sum + ((s1[n]?.[f] ?? 0) - (s0[n]?.[f] ?? 0)), 0);
  return {
    result,
    stats: { scriptUsec: d(['evalsha', 'eval'], 'usec'), scriptCalls: d(['evalsha', 'eval'], 'calls'), readUsec: d(['xreadgroup', 'xread'], 'usec'), readCalls: d(['xreadgroup', 'xread'], 'calls') },
  };
}

/** The redis-server's pid and persistence, from the server itself. */
export async function serverInfo() {
  const r = await adminConnection();
  const info = await r.info('server');
  const persist = await r.info('persistence');
  await r.quit();
  return {
    pid: Number(/process_id:(\d+)/.exec(info)?.[1]),
    version: /redis_version:(\S+)/.exec(info)?.[1],
    aof: /aof_enabled:1/.test(persist),
  };
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
