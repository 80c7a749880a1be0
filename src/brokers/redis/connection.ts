/**
 * Opening Redis connections. The first connection of a command fails fast with one line the user
 * can act on (unreachable, refused, wrong password, not Redis, older than 7.0): connecting is
 * tried once, within a few seconds. Once connected, a connection waits and reconnects for as
 * long as Redis is away, and commands queue meanwhile (a worker or submit outlives a restart).
 */
import { Redis, type RedisOptions } from 'ioredis';
import { RedisUnavailableError, UsageError, describeError } from '../../core/errors.js';
import { defineScripts, type ScriptedRedis } from './scripts.js';

/** How long the first connection may take before we give up. */
export const CONNECT_TIMEOUT_MS = 3000;
export const MIN_REDIS_VERSION = [7, 0] as const;

export interface RedisTarget {
  readonly url: string;
  /** host:port/db without credentials, for messages. */
  readonly display: string;
}

/** Checks the URL's form; credentials never reach a message. */
export function parseRedisUrl(url: string): RedisTarget {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`--redis must be a URL such as redis://host:6379 or rediss://user:pass@host:6380/0 (got "${url}")`);
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new UsageError(`--redis must start with redis:// or rediss:// (got "${parsed.protocol}//...")`);
  }
  const db = parsed.pathname.replace(/^\//, '');
  if (db !== '' && !/^\d+$/.test(db)) throw new UsageError(`the Redis database in the URL must be a number (got "/${db}")`);
  const display = `${parsed.protocol === 'rediss:' ? 'rediss://' : ''}${parsed.hostname}:${parsed.port || 6379}${db ? `/${db}` : ''}`;
  return { url, display };
}

export type ConnectionRole = 'command' | 'blocking' | 'subscriber';

/** Backoff between reconnects once a connection has worked. */
const reconnectDelay = (times: number): number => Math.min(50 * 2 ** Math.min(times, 6), 2000);

export interface OpenOptions {
  /** For `CLIENT LIST` and the logs. */
  readonly name: string;
  /** Check the server's version (once per process is enough). */
  readonly checkVersion?: boolean;
}

export async function openRedis(target: RedisTarget, role: ConnectionRole, options: OpenOptions): Promise<ScriptedRedis> {
  let lastError: Error | null = null;
  const redis = new Redis(target.url, {
    lazyConnect: true,
    connectTimeout: CONNECT_TIMEOUT_MS,
    connectionName: options.name.replace(/[^\x21-\x7e]/g, '_'),
    // Commands wait through a reconnect instead of failing after 20 tries.
    maxRetriesPerRequest: null,
    enableAutoPipelining: false,
    keepAlive: 10_000,
    // The first connection is tried once; retries are switched on when it worked.
    retryStrategy: () => null,
    reconnectOnError: () => false,
  } satisfies RedisOptions);
  redis.on('error', (err: Error) => {
    lastError = err;
  });
  const timeout = new Promise<never>((_, reject) => {
    const t = setTimeout(() => reject(new Error(`no answer within ${CONNECT_TIMEOUT_MS / 1000} s`)), CONNECT_TIMEOUT_MS + 500);
    t.unref();
  });
  try {
    await Promise.race([redis.connect(), timeout]);
    if (options.checkVersion) await checkVersion(redis, target);
  } catch (err) {
    redis.disconnect();
    if (err instanceof RedisUnavailableError) throw err;
    throw new RedisUnavailableError(explain(target, lastError ?? (err as Error)));
  }
  redis.options.retryStrategy = reconnectDelay;
  // Errors while reconnecting are expected and handled by waiting; keep only the last for display.
  void role;
  return defineScripts(redis);
}

async function checkVersion(redis: Redis, target: RedisTarget): Promise<void> {
  const info = await redis.info('server');
  const version = /redis_version:(\S+)/.exec(info)?.[1] ?? '0';
  const [major = 0, minor = 0] = version.split('.').map(Number);
  const [needMajor, needMinor] = MIN_REDIS_VERSION;
  if (major < needMajor || (major === needMajor && minor < needMinor)) {
    throw new RedisUnavailableError(`Redis at ${target.display} is version ${version}; slowwork needs ${needMajor}.${needMinor} or newer (Streams and Lua as of 7.0)`);
  }
}

/** One line that says what went wrong and what to do. */
function explain(target: RedisTarget, err: Error): string {
  const msg = describeError(err);
  const code = (err as NodeJS.ErrnoException).code;
  const at = `Redis at ${target.display}`;
  if (code === 'ECONNREFUSED') return `cannot reach ${at}: connection refused (is redis-server running there?)`;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `cannot reach ${at}: unknown host`;
  if (code === 'ETIMEDOUT' || /within|timed? ?out/i.test(msg)) return `cannot reach ${at}: no answer within ${CONNECT_TIMEOUT_MS / 1000} s`;
  if (/WRONGPASS/.test(msg)) return `${at} refused the username or password in the URL`;
  if (/NOAUTH/.test(msg)) return `${at} needs a password: give it in the URL, redis://:PASSWORD@host:port`;
  if (/NOPERM/.test(msg)) return `${at}: the user in the URL lacks a permission slowwork needs (${msg})`;
  if (/Protocol error/.test(msg)) return `${target.display} does not answer like a Redis server`;
  if (/SSL|TLS|certificate|EPROTO/i.test(msg)) return `cannot open TLS to ${at}: ${msg}`;
  return `cannot use ${at}: ${msg}`;
}

/** Another connection to the same server (for a blocking reader), already past the first checks. */
export function duplicateConnection(redis: ScriptedRedis, name: string): ScriptedRedis {
  const copy = redis.duplicate({ connectionName: name.replace(/[^\x21-\x7e]/g, '_') });
  copy.on('error', () => undefined); // reconnects are handled by waiting; a failure shows as a stalled read
  return defineScripts(copy);
}
