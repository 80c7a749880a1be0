/** Where a command's items run: the embedded pool, or a Redis queue. Shared by submit and serve. */
import type { Broker } from '../brokers/broker.js';
import { EmbeddedBroker } from '../brokers/embedded/broker.js';

export interface BrokerChoice {
  /** Worker threads of the embedded pool; undefined = the number of cores. */
  readonly threads: number | undefined;
  /** Items in flight at most (sizes the embedded pool's tasks per thread). */
  readonly concurrency: number;
  /** Run on Redis workers instead; `keepMs`: how long a finished job stays in Redis. */
  readonly redis?: { readonly url: string; readonly queue: string; readonly keepMs?: number };
}

/** The embedded pool, or a Redis queue (checked before anything is written: exit 2 if unusable). */
export async function openBroker(choice: BrokerChoice): Promise<Broker> {
  if (!choice.redis) return new EmbeddedBroker({ threads: choice.threads, maxConcurrency: choice.concurrency });
  // Only a Redis run loads the Redis client.
  const { RedisBroker } = await import('../brokers/redis/broker.js');
  const { parseRedisUrl } = await import('../brokers/redis/connection.js');
  return RedisBroker.connect({ target: parseRedisUrl(choice.redis.url), queue: choice.redis.queue, ttlMs: choice.redis.keepMs });
}
