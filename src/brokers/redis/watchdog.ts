/** Guards blocking reads against connections that hang while claiming to be ready. */
import type { Redis } from 'ioredis';

/** A blocking read that got no answer: its connection was dropped to reconnect; read again. */
export class HungReadError extends Error {
  constructor(limitMs: number) {
    super(`a blocking read got no answer in ${Math.round(limitMs / 1000)} s; reconnecting`);
    this.name = 'HungReadError';
  }
}

/**
 * A blocking read that outlives its BLOCK by far while the connection claims to be ready is hung
 * (ioredis#1285): drop the connection so it reconnects, and read again. Whatever the lost read
 * took sits in our PEL, which is read again after every reconnect.
 */
export async function withWatchdog<T>(read: Promise<T>, conn: Redis, limitMs = 15_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      if (conn.status === 'ready') conn.disconnect(true);
      reject(new HungReadError(limitMs));
    }, limitMs);
  });
  read.catch(() => undefined);
  try {
    return await Promise.race([read, hung]);
  } finally {
    clearTimeout(timer);
  }
}

