/**
 * A real redis-server for a test file: started on a free loopback port with its own data
 * directory, stopped by its pid. `restart()` keeps the port and the data (with AOF on, nothing
 * is lost), which is how the tests take Redis away mid-run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';

export interface RedisServer {
  readonly port: number;
  readonly url: string;
  readonly pid: () => number;
  /** Stops the server (SIGTERM, then SIGKILL) and waits for it to exit. */
  stop(): Promise<void>;
  /** Stops it and starts it again on the same port and data directory. */
  restart(downMs?: number): Promise<void>;
  start(): Promise<void>;
  /** Stops it and removes its data directory: what a test that started it calls at its end. */
  cleanup(): Promise<void>;
}

export interface RedisServerOptions {
  readonly aof?: boolean;
  readonly password?: string;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

async function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let data = '';
    socket.setTimeout(500);
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (d) => {
      data += d.toString();
      if (data.includes('\r\n')) {
        socket.destroy();
        // +PONG, or -NOAUTH when a password is set: either way the server is up.
        resolve(data.startsWith('+PONG') || data.startsWith('-NOAUTH'));
      }
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'slowwork-redis-'));
  let child: ChildProcess | null = null;
  let exited: Promise<void> = Promise.resolve();

  const startOnce = async (): Promise<void> => {
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--dir', dir, '--daemonize', 'no', '--loglevel', 'warning'];
    args.push('--appendonly', options.aof ? 'yes' : 'no');
    if (options.aof) args.push('--appendfsync', 'everysec');
    if (options.password) args.push('--requirepass', options.password);
    const proc = spawn('redis-server', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    child = proc;
    let spawnError: Error | null = null;
    // Without a listener a missing binary is an uncaught exception in the test worker.
    proc.once('error', (err) => (spawnError = err));
    exited = new Promise((resolve) => proc.once('exit', () => resolve()));
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (spawnError) throw new Error(`cannot start redis-server (${(spawnError as Error).message}): install it (make test does, as root)`);
      if (proc.exitCode !== null) throw new Error(`redis-server exited with ${proc.exitCode}`);
      if (await answersPing(port)) return;
      await new Promise((r) => setTimeout(r, 30));
    }
    throw new Error('redis-server did not answer within 10 s');
  };

  const server: Omit<RedisServer, 'cleanup'> = {
    port,
    url: options.password ? `redis://:${options.password}@127.0.0.1:${port}` : `redis://127.0.0.1:${port}`,
    pid: () => child?.pid ?? -1,
    start: startOnce,
    async stop() {
      const proc = child;
      if (!proc || proc.exitCode !== null) return;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
    async restart(downMs = 0) {
      await server.stop();
      if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
      await startOnce();
    },
  };
  try {
    await startOnce();
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const cleanup = async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', () => child?.kill('SIGKILL'));
  return { ...server, cleanup };
}

/** One server for the whole test file. */
export function redisPerFile(options: RedisServerOptions = {}): () => RedisServer {
  let server: RedisServer | null = null;
  beforeAll(async () => {
    server = await startRedisServer(options);
  }, 20_000);
  afterAll(async () => {
    await server?.cleanup();
  });
  return () => {
    if (!server) throw new Error('redis-server not started');
    return server;
  };
}
