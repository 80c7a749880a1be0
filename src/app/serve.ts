/**
 * `slowwork serve`, as a function: resolves the processors, opens the broker (the embedded pool,
 * or a Redis queue), starts the HTTP server, and stops cleanly: the first SIGINT/SIGTERM stops
 * taking requests and lets running items finish (bounded by the drain timeout), a second one
 * aborts them. Returns the exit code.
 */
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { ExitCode, UsageError, describeError } from '../core/errors.js';
import type { Params } from '../core/types.js';
import { buildServer } from '../server/app.js';
import { isLoopback, serverUrls, type ServerUrls } from '../server/public-url.js';
import { Manager, type RemoteProcessors } from '../server/manager.js';
import { RemoteProcessorRegistry } from '../brokers/remote/registry.js';
import { RemoteBroker } from '../brokers/remote/broker.js';
import { openBroker } from './open-broker.js';
import { resolvePipeline } from './pipeline.js';
import { SignalLadder } from './signal-ladder.js';

export interface ServeOptions {
  readonly host: string;
  /** Where remote processors reach this server (a proxy, NAT, a DNS name); default: the bound address. */
  readonly publicUrl?: string;
  readonly port: number;
  readonly token: string | undefined;
  /** Processors offered (the first is the default); `demo` is always offered. */
  readonly processors: readonly string[];
  readonly params: Params;
  readonly threads: number | undefined;
  readonly concurrency: number;
  readonly batchSize: number;
  readonly batchWindowMs: number;
  readonly maxRequestsPerJob: number;
  /** A job of single requests ends after this long without a new one. */
  readonly jobIdleMs: number;
  readonly retries: number;
  readonly timeoutMs: number;
  /** Bound on one item's output, in characters; 0 for none. */
  readonly maxOutputChars: number;
  readonly bodyLimitBytes: number;
  /** Time a client has to send a whole request, 0 for none. */
  readonly requestTimeoutMs: number;
  readonly maxPromptChars: number;
  readonly maxActionItems: number;
  /** Finished actions kept: at most this many, for this long. */
  readonly keepActions: number;
  readonly keepActionsMs: number;
  readonly logLevel: string;
  readonly healthIntervalMs: number;
  /** How long remote items wait for a healthy endpoint before they fail. */
  readonly remoteWaitMs: number;
  readonly drainTimeoutMs: number;
  readonly redis?: { readonly url: string; readonly queue: string };
}

export interface ServeIO {
  readonly stdout: NodeJS.WriteStream;
  readonly stderr: NodeJS.WriteStream;
  readonly cwd: string;
  readonly signals?: NodeJS.EventEmitter;
}

export async function runServe(opts: ServeOptions, io: ServeIO): Promise<number> {
  if (!isLoopback(opts.host) && opts.token === undefined) {
    throw new UsageError(`--host ${opts.host} opens the server beyond this machine: give --token (or SLOWWORK_TOKEN) so only your clients get in`);
  }
  const offered = await localProcessors(opts, io.cwd);
  const broker = await openBroker(opts);
  const registry = new RemoteProcessorRegistry({ healthIntervalMs: opts.healthIntervalMs, token: opts.token });
  let urls: ServerUrls = { listening: '', advertised: '' };
  const remoteBroker = new RemoteBroker(registry, { callbackUrl: () => `${urls.advertised}/complete`, token: opts.token, unhealthyWaitMs: opts.remoteWaitMs });
  const remote: RemoteProcessors = {
    has: (name) => registry.has(name),
    takesMessages: (name) => registry.takesMessages(name),
    names: () => registry.names(),
    list: () => registry.list(),
    broker: remoteBroker,
  };
  const manager = new Manager(
    broker,
    {
      processors: offered.urls,
      messageProcessors: offered.messages,
      params: opts.params,
      batchSize: opts.batchSize,
      batchWindowMs: opts.batchWindowMs,
      maxRequestsPerJob: opts.maxRequestsPerJob,
      requestJobIdleMs: opts.jobIdleMs,
      retries: opts.retries,
      timeoutMs: opts.timeoutMs,
      maxOutputChars: opts.maxOutputChars,
      actionConcurrency: opts.concurrency,
      keepActions: { finishedMs: opts.keepActionsMs, maxFinished: opts.keepActions },
      dashboardQueue: opts.redis ? 'redis' : 'pool',
    },
    remote,
  );
  const app = buildServer({
    manager,
    token: opts.token,
    bodyLimitBytes: opts.bodyLimitBytes,
    requestTimeoutMs: opts.requestTimeoutMs,
    maxPromptChars: opts.maxPromptChars,
    maxActionItems: opts.maxActionItems,
    logLevel: opts.logLevel,
    remoteProcessors: { registry, broker: remoteBroker },
  });
  try {
    await app.listen({ host: opts.host, port: opts.port });
    urls = serverUrls(opts.host, (app.server.address() as AddressInfo).port, hostname(), opts.publicUrl);
  } catch (err) {
    await broker.close();
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EADDRINUSE') throw new UsageError(`port ${opts.port} on ${opts.host} is in use: choose another with --port (0 picks a free one)`);
    if (e.code === 'EACCES') throw new UsageError(`not allowed to listen on ${opts.host}:${opts.port}: choose a port above 1023`);
    throw new UsageError(`cannot listen on ${opts.host}:${opts.port}: ${describeError(err)}`);
  }
  registry.start();

  let closing: Promise<void> | null = null;
  const closeServer = (): Promise<void> =>
    (closing ??= (async () => {
      const closed = app.close();
      // Streams that end while the server closes leave keep-alive connections behind: close them as they go idle.
      const sweep = setInterval(() => app.server.closeIdleConnections(), 100);
      await closed.finally(() => clearInterval(sweep));
    })());
  const stopped = untilStopped(io.signals ?? process, io, manager, opts.drainTimeoutMs, closeServer);
  // Only once the signal handlers are in: whoever reads this line may signal at once.
  io.stdout.write(`slowwork serve: listening on ${urls.listening} (${broker.describe()}; processors ${manager.models().map((m) => m.name).join(', ')})\n`);
  if (urls.advertised !== urls.listening) {
    const how = opts.publicUrl === undefined ? ' (a guess: --public-url says it for sure)' : '';
    io.stdout.write(`slowwork serve: remote processors call back at ${urls.advertised}${how}\n`);
  }
  const code = await stopped;
  registry.close();
  await remoteBroker.close().catch(() => undefined);
  await broker.close().catch(() => undefined);
  return code;
}

/**
 * `demo` plus the `--processor` list, checked once here (a bad module or param fails at start):
 * name → module URL, and the names that take a chat's `{messages}` object.
 */
async function localProcessors(opts: ServeOptions, cwd: string): Promise<{ urls: Map<string, string>; messages: Set<string> }> {
  const refs = [...opts.processors, ...(opts.processors.includes('demo') ? [] : ['demo'])];
  const resolved = await resolvePipeline(refs, opts.params, cwd);
  const urls = new Map<string, string>();
  for (const { name, url } of resolved.stages) {
    if (urls.has(name)) throw new UsageError(`two --processor modules are both named "${name}": a server offers each name once`);
    urls.set(name, url);
  }
  const messages = new Set(resolved.processors.filter((p) => p.accepts === 'messages').map((p) => p.name));
  return { urls, messages };
}

/**
 * First signal: drain (bounded); second: abort. The listener stays open while items finish, so
 * new requests hear 503 (see app.ts); it closes once they have. Resolves with the exit code.
 */
function untilStopped(
  signals: NodeJS.EventEmitter,
  io: ServeIO,
  manager: Manager,
  drainTimeoutMs: number,
  closeServer: () => Promise<void>,
): Promise<number> {
  return new Promise((resolve) => {
    const ladder = new SignalLadder({
      drain: () => {
        io.stderr.write(`slowwork serve: stopping: no new requests; running items get ${Math.round(drainTimeoutMs / 1000)} s to finish (signal again to abort them)\n`);
        manager.drain();
        void (async () => {
          const finished = await manager.settled(drainTimeoutMs);
          if (!finished) await manager.abortAll('the server is stopping', 2000);
          await closeServer();
          unlisten();
          resolve(ExitCode.ok);
        })();
      },
      abort: () => {
        io.stderr.write('slowwork serve: aborting running items\n');
        void manager.abortAll('the server is stopping', 2000).then(async () => {
          await closeServer();
          unlisten();
          resolve(ExitCode.interrupted);
        });
      },
    });
    const unlisten = ladder.listen(signals);
  });
}
