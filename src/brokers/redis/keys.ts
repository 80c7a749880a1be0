/**
 * The Redis key layout, in one place. Every key of a queue carries the hash tag `{queue}` so a
 * queue lives in one Cluster slot and every Lua script can name all its keys in KEYS.
 *
 *   sw:{q}:items          STREAM, group `workers`: one entry per batch of a job's items (work-entry.ts)
 *   sw:{q}:delayed        ZSET: retries waiting for their backoff, member = the next attempt as JSON
 *                         (work-entry.ts delayedMember), promoted as a one-item entry
 *   sw:{q}:dlq            STREAM (MAXLEN ~ 10000): items out of attempts, with their error
 *   sw:{q}:jobs           ZSET: job ids by creation time
 *   sw:{q}:workers        ZSET: worker (consumer) names by last heartbeat
 *   sw:{q}:worker:<name>  HASH with a TTL: the heartbeat and the worker's figures
 *   sw:{q}:ctl            pub/sub channel: wake-ups (cancel), never state
 *   sw:{q}:quota:<key>    HASH: one rate limiter of ctx.limit (an endpoint and API key), shared
 *                         by every worker of the queue; written by lua/quota.lua only
 *   sw:{q}:quota          pub/sub channel: "<epoch> <hash key>" when a limiter pauses (a 429)
 *   sw:{q}:job:<id>       HASH: status, total, enq, done, failed, created, spec, ...
 *   sw:{q}:job:<id>:ev    STREAM: the job's events, replayable from 0
 *   sw:{q}:job:<id>:run   HASH: entry id -> "<n>:<i>,...", the items a worker took from it (the fence)
 *   sw:{q}:job:<id>:fin   STRING bitmap: bit i set once item i has its final result
 *   sw:{q}:job:<id>:seq   HASH: worker -> sequence number of its last report applied
 *   sw:{q}:job:<id>:in    HASH: item index -> payload (JSON text) too long to ride in its entry
 *                         (work-entry.ts), from enqueue until the item's final result, so what a
 *                         claim or a requeue copies stays small whatever the prompts weigh
 */
export const GROUP = 'workers';
export const DEFAULT_QUEUE = 'default';

export interface QueueKeys {
  readonly queue: string;
  readonly items: string;
  readonly delayed: string;
  readonly dlq: string;
  readonly jobs: string;
  readonly workers: string;
  readonly ctl: string;
  readonly quotaChannel: string;
  worker(name: string): string;
  quota(key: string): string;
  job(id: string): JobKeys;
}

export interface JobKeys {
  readonly hash: string;
  readonly events: string;
  readonly run: string;
  readonly fin: string;
  readonly seq: string;
  readonly input: string;
}

const QUEUE_NAME = /^[A-Za-z0-9._:-]{1,64}$/;
export const isQueueName = (name: string): boolean => QUEUE_NAME.test(name);

export function queueKeys(queue: string): QueueKeys {
  const p = `sw:{${queue}}:`;
  return {
    queue,
    items: `${p}items`,
    delayed: `${p}delayed`,
    dlq: `${p}dlq`,
    jobs: `${p}jobs`,
    workers: `${p}workers`,
    ctl: `${p}ctl`,
    quotaChannel: `${p}quota`,
    worker: (name) => `${p}worker:${name}`,
    quota: (key) => `${p}quota:${key}`,
    job: (id) => ({ hash: `${p}job:${id}`, events: `${p}job:${id}:ev`, run: `${p}job:${id}:run`, fin: `${p}job:${id}:fin`, seq: `${p}job:${id}:seq`, input: `${p}job:${id}:in` }),
  };
}
