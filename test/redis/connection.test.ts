/**
 * The first connection's checks, against servers that are not the Redis we need: too old, not
 * Redis at all, or silent. Each gives one RedisUnavailableError line, quickly.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { openRedis, parseRedisUrl } from '../../src/brokers/redis/connection.js';
import { RedisUnavailableError } from '../../src/core/errors.js';

const servers: net.Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

/** A loopback TCP server answering each request with `answer(command)`. */
async function fakeServer(answer: (command: string) => string | null): Promise<number> {
  const server = net.createServer((socket) => {
    socket.on('data', (data) => {
      // Several commands may come in one packet (pipelined): answer each; its name is the first
      // bulk string of its RESP array.
      for (const m of data.toString().matchAll(/\*\d+\r\n\$\d+\r\n([A-Za-z]+)/g)) {
        const reply = answer(m[1]!.toUpperCase());
        if (reply !== null) socket.write(reply);
      }
    });
    socket.on('error', () => undefined);
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as net.AddressInfo).port;
}

const bulk = (s: string) => `$${Buffer.byteLength(s)}\r\n${s}\r\n`;

describe('first connection', () => {
  it('refuses a Redis older than 7.0, naming its version', async () => {
    const info = 'redis_version:6.2.14\r\nloading:0\r\n';
    const port = await fakeServer((cmd) => (cmd === 'INFO' ? bulk(info) : '+OK\r\n'));
    const err = await openRedis(parseRedisUrl(`redis://127.0.0.1:${port}`), 'command', { name: 't', checkVersion: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RedisUnavailableError);
    expect((err as Error).message).toBe(`Redis at 127.0.0.1:${port} is version 6.2.14; slowwork needs 7.0 or newer (Streams and Lua as of 7.0)`);
  });

  it('says so when the server does not speak Redis', async () => {
    const port = await fakeServer(() => 'HTTP/1.1 400 Bad Request\r\n\r\n');
    const err = await openRedis(parseRedisUrl(`redis://127.0.0.1:${port}`), 'command', { name: 't', checkVersion: true }).catch((e: unknown) => e);
    expect((err as Error).message).toBe(`127.0.0.1:${port} does not answer like a Redis server`);
  });

  it('gives up on a server that never answers within 5 seconds', async () => {
    const port = await fakeServer(() => null);
    const t0 = Date.now();
    const err = await openRedis(parseRedisUrl(`redis://127.0.0.1:${port}`), 'command', { name: 't', checkVersion: true }).catch((e: unknown) => e);
    // It waited its 3 s (measured around the call, so a busy machine only lengthens it); that it
    // gives up at all, rather than waiting forever, is caught by the test's time limit.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(2990);
    expect((err as Error).message).toMatch(/^cannot reach Redis at 127\.0\.0\.1:\d+: no answer within 3 s$/);
  });
});
