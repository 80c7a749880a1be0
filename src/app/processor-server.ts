/**
 * `slowwork processor serve`, as a function: loads a processor (built-in or module), serves it
 * as a remote processor (src/processor-server/processor-app.ts), registers with the manager, and
 * runs until SIGINT or SIGTERM. Stopping aborts the items under way: the manager sees their
 * streams end without `done` and sends them to another endpoint, not charged.
 */
import os from 'node:os';
import { ProcessorError, UsageError, describeError } from '../core/errors.js';
import type { Params } from '../core/types.js';
import { buildProcessorApp, type ProcessorStats } from '../processor-server/processor-app.js';
import { registerWithManager } from '../processor-server/processor-client.js';
import { normalizeEndpointUrl } from '../brokers/remote/wire.js';
import { resolvePipeline } from './pipeline.js';
import { onStopSignals } from './signal-ladder.js';
import { packageVersion } from '../install-dir.js';

export interface ProcessorServerOptions {
  /** The manager's base URL (`http://host:8000`). */
  readonly manager: string;
  /** Built-in name or module path (default `demo`). */
  readonly processor: string;
  readonly params: Params;
  readonly port: number;
  readonly host: string;
  /** Name to register under (default: the processor's own name). */
  readonly name?: string;
  /** Endpoint id (default `HOSTNAME:PORT`, so a restart on the same port replaces its entry). */
  readonly id?: string;
  readonly token?: string;
  readonly concurrency: number;
  readonly async: boolean;
  /** The URL the manager calls (default `http://HOST:PORT`; the machine's name for a wildcard host). */
  readonly advertiseUrl?: string;
  /** Registration tries before giving up (default 5), and the first wait between them (default 250 ms). */
  readonly registerAttempts?: number;
  readonly registerBackoffMs?: number;
}

export interface ProcessorServerIO {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly cwd: string;
  readonly signals?: NodeJS.EventEmitter;
}

export interface ProcessorServer {
  /** Where it listens (and what it registered, unless advertised otherwise). */
  readonly url: string;
  readonly name: string;
  readonly id: string;
  stats(): ProcessorStats;
  /** Stops cleanly: items under way are aborted, connections closed, the processor closed. */
  close(): Promise<void>;
}


/** Starts the server and registers it; throws a SlowworkError (exit 2) if either fails. */
export async function startProcessorServer(opts: ProcessorServerOptions, io: ProcessorServerIO): Promise<ProcessorServer> {
  const manager = normalizeEndpointUrl(opts.manager);
  if (manager === null) throw new UsageError(`--manager must be an http: or https: URL such as http://127.0.0.1:8000 (got "${opts.manager}")`);
  const advertised = opts.advertiseUrl === undefined ? undefined : normalizeEndpointUrl(opts.advertiseUrl);
  if (advertised === null) throw new UsageError(`--advertise must be an http: or https: URL (got "${opts.advertiseUrl}")`);
  const processor = (await resolvePipeline([opts.processor], opts.params, io.cwd)).processors[0]!;
  try {
    await processor.init?.(opts.params);
  } catch (err) {
    throw new ProcessorError(`processor ${processor.name}: init failed: ${describeError(err)}`);
  }
  const name = opts.name ?? processor.name;
  const log = (line: string): void => void io.stderr.write(`${line}\n`);

  // The id may name the port, known only once listening: /meta reads it through this holder.
  const identity = { id: opts.id ?? '' };
  const served = buildProcessorApp({
    processor,
    ref: opts.processor,
    name,
    get id() {
      return identity.id;
    },
    version: packageVersion(),
    params: opts.params,
    concurrency: opts.concurrency,
    async: opts.async,
    token: opts.token,
    manager,
    log,
  });
  let listening: string;
  try {
    listening = await served.app.listen({ host: opts.host, port: opts.port });
  } catch (err) {
    await Promise.resolve(processor.close?.()).catch(() => undefined);
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EADDRINUSE') throw new UsageError(`port ${opts.port} on ${opts.host} is in use: choose another with --port (0 picks a free one)`);
    throw new UsageError(`cannot listen on ${opts.host}:${opts.port}: ${describeError(err)}`);
  }
  const port = new URL(listening).port;
  identity.id ||= `${os.hostname()}:${port}`;
  const url = advertised ?? defaultUrl(opts.host, port);

  let closing: Promise<void> | null = null;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      served.abortAll('the processor server is stopping');
      await served.app.close();
      await Promise.resolve(processor.close?.()).catch(() => undefined);
    })());

  try {
    await registerWithManager(
      manager,
      { name, id: identity.id, url },
      { attempts: opts.registerAttempts ?? 5, backoffMs: opts.registerBackoffMs ?? 250, token: opts.token },
    );
  } catch (err) {
    await close();
    throw err;
  }
  io.stdout.write(`processor ${name} (id ${identity.id}) listening on ${listening}, registered with ${manager}\n`);
  return { url, name, id: identity.id, stats: () => served.stats(), close };
}

/** Serves until SIGINT or SIGTERM; 0 once stopped. */
export async function runProcessorServer(opts: ProcessorServerOptions, io: ProcessorServerIO): Promise<number> {
  // Handlers first: the "listening" line may be answered by a signal at once, and a signal
  // during start-up stops the server as soon as it is up.
  const signals = io.signals ?? process;
  let stopRequested!: () => void;
  const stop = new Promise<void>((resolve) => (stopRequested = resolve));
  const unlisten = onStopSignals(signals, () => stopRequested());
  let server: ProcessorServer;
  try {
    server = await startProcessorServer(opts, io);
    await stop;
  } finally {
    unlisten();
  }
  const { inflight } = server.stats();
  await server.close();
  io.stderr.write(`processor ${server.name} (id ${server.id}) stopped${inflight > 0 ? `; ${inflight} items under way go to other endpoints` : ''}\n`);
  return 0;
}

/** `http://HOST:PORT`; a wildcard host is not an address the manager can call: use the machine's name. */
function defaultUrl(host: string, port: string): string {
  const h = host === '0.0.0.0' || host === '::' ? os.hostname() : host;
  return `http://${h.includes(':') ? `[${h}]` : h}:${port}`;
}
