/** The dashboard's Redis source: samples queues, cancels jobs, attaches to a job's streams. */
import { hostname } from 'node:os';
import { cancelJob } from '../brokers/redis/admin.js';
import { openRedis, parseRedisUrl } from '../brokers/redis/connection.js';
import { sampleRedis } from '../brokers/redis/dashboard.js';
import { queueKeys } from '../brokers/redis/keys.js';
import type { ScriptedRedis } from '../brokers/redis/scripts.js';
import type { DashSample } from '../core/dashboard-sample.js';
import type { DashboardSource } from './dashboard-source.js';
import { runWatchJob } from './queue-admin.js';

export async function openRedisSource(redisUrl: string, queues: readonly string[]): Promise<DashboardSource> {
  const target = parseRedisUrl(redisUrl);
  // Fails fast (one line, exit 2) when Redis cannot be used at all.
  const redis: ScriptedRedis = await openRedis(target, 'command', { name: `slowwork:dashboard:${hostname()}:${process.pid}`, checkVersion: true });
  const label = `redis ${target.display} ${queues.length === 1 ? `queue ${queues[0]}` : `queues ${queues.join(', ')}`}`;
  let last: DashSample | null = null;
  let cost = 0;
  const lostListeners: ((error: string) => void)[] = [];
  let lastError = 'connection lost';
  redis.on('error', (err: Error) => {
    lastError = err.message;
  });
  redis.on('close', () => {
    for (const l of lostListeners) l(lastError);
  });
  const queueOf = (jobId: string): string => last?.jobs.find((j) => j.id === jobId)?.queue ?? queues[0]!;

  return {
    label,
    get lastCost() {
      return cost;
    },
    async sample() {
      const got = await sampleRedis(redis, queues, label);
      cost = got.commands;
      last = got.sample;
      return got.sample;
    },
    async cancel(jobId) {
      const status = await cancelJob(redis, queueKeys(queueOf(jobId)), jobId, 'abort', 'cancelled from the dashboard');
      if (status === null) return `job ${jobId} is gone (expired)`;
      return status === 'done' ? `job ${jobId} had finished already` : `job ${jobId}: cancelling (queued items dropped, running items aborted)`;
    },
    async attach(jobId, io, signal) {
      await runWatchJob({ redisUrl, queue: queueOf(jobId), jobId, ui: 'tui', fromDashboard: true, signal }, { stdin: io.stdin, stdout: io.stdout });
    },
    onLost(listener) {
      lostListeners.push(listener);
    },
    async close() {
      redis.disconnect();
    },
  };
}
