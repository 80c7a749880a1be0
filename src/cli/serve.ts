/** `slowwork serve`: parses flags (and the service's environment variables) and starts the server. */
import { Command } from './commander.js';
import { defaultThreads } from '../brokers/embedded/default-threads.js';
import { UsageError } from '../core/errors.js';
import { DEFAULT_MAX_OUTPUT_CHARS, MAX_OUTPUT_CHARS_LIMIT } from '../core/output-limit.js';
import { collect, parseIntFlag, parseParams } from './options.js';
import { parseQueue } from './submit.js';

interface ServeFlags {
  port?: string;
  host: string;
  publicUrl?: string;
  token?: string;
  processor?: string[];
  param?: string[];
  threads?: string;
  concurrency: string;
  batchSize: string;
  batchWindow?: string;
  maxRequestsPerJob?: string;
  jobIdle: string;
  retries: string;
  timeout: string;
  maxOutputChars: string;
  maxBody: string;
  requestTimeout: string;
  maxPromptChars: string;
  maxActionItems: string;
  keepActions: string;
  keepActionsFor: string;
  logLevel?: string;
  healthInterval: string;
  remoteWait: string;
  drainTimeout: string;
  redis?: string;
  queue: string;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export function serveCommand(setExitCode: (code: number) => void): Command {
  const env = process.env;
  return new Command('serve')
    .description('the manager as an HTTP service: streaming /generate, OpenAI-compatible /v1, actions, remote processors')
    .option('--port <n>', 'port to listen on, 0 for a free one (or API_PORT)', env.API_PORT ?? '8000')
    .option('--host <address>', 'address to bind; anything but loopback needs --token', '127.0.0.1')
    .option('--public-url <url>', 'where remote processors reach this server, for their callbacks (a proxy, NAT, a DNS name; or SLOWWORK_PUBLIC_URL)', env.SLOWWORK_PUBLIC_URL)
    .option('--token <secret>', 'bearer token every route but /healthz requires (or SLOWWORK_TOKEN)', env.SLOWWORK_TOKEN)
    .option('--processor <name|path>', 'a processor to offer (repeatable; the first is the default); demo is always offered', collect)
    .option('--param <key=value>', 'a parameter for the processors (repeatable)', collect)
    .option('--threads <n>', `worker threads (default: the number of cores, ${defaultThreads()})`)
    .option('-c, --concurrency <n>', 'items in flight per action, and the pool\'s bound', '1024')
    .option('--batch-size <n>', 'most items handed to a worker at once', '16')
    .option('--batch-window <ms>', 'how long a short batch waits for requests arriving together (or BATCH_WINDOW_MS)', env.BATCH_WINDOW_MS ?? '2')
    .option('--max-requests-per-job <n>', 'requests gathered into one job (or MAX_REQUESTS_PER_JOB)', env.MAX_REQUESTS_PER_JOB ?? '1000')
    .option('--job-idle <ms>', 'a job of single requests ends after this long without a new request; the next opens another', '30000')
    .option('--retries <n>', 'retries of a failing item', '2')
    .option('--timeout <ms>', 'time limit per item attempt, 0 for none', '600000')
    .option('--max-output-chars <n>', 'fail an item (without retries) whose output passes this many characters, 0 for no bound', String(DEFAULT_MAX_OUTPUT_CHARS))
    .option('--max-body <bytes>', 'largest request body', String(1024 * 1024))
    .option('--request-timeout <ms>', 'time a client has to send its whole request (headers and body), 0 for none', '30000')
    .option('--max-prompt-chars <n>', 'longest prompt (or item) in characters', '200000')
    .option('--max-action-items <n>', 'most items in one action', '10000')
    .option('--keep-actions <n>', 'finished actions kept for GET /actions/:id (the oldest go first)', '1000')
    .option('--keep-actions-for <ms>', 'how long a finished action is kept', '3600000')
    .option('--log-level <level>', `request log on stderr: ${LOG_LEVELS.join(', ')} (or LOG_LEVEL)`, env.LOG_LEVEL)
    .option('--health-interval <ms>', 'how often registered processors are checked', '2000')
    .option('--remote-wait <ms>', 'how long items of a remote processor wait while none of its endpoints is healthy, then fail (0: up to --timeout)', '10000')
    .option('--drain-timeout <ms>', 'on the first Ctrl+C or SIGTERM, how long running items may finish', '10000')
    .option('--redis <url>', 'run items on `slowwork workers` through Redis (or REDIS_URL, SLOWWORK_REDIS_URL)')
    .option('--queue <name>', 'the Redis queue', env.SLOWWORK_QUEUE ?? 'default')
    .action(async (flags: ServeFlags) => {
      const logLevel = (flags.logLevel ?? 'warn').toLowerCase();
      if (!LOG_LEVELS.includes(logLevel)) throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')} (got "${flags.logLevel}")`);
      const redisUrl = flags.redis ?? env.REDIS_URL ?? env.SLOWWORK_REDIS_URL;
      const { runServe } = await import('../app/serve.js');
      const code = await runServe(
        {
          host: flags.host,
          publicUrl: await parsePublicUrl(flags.publicUrl),
          port: parseIntFlag('--port', flags.port, 0, 65_535)!,
          token: flags.token === '' ? undefined : flags.token,
          processors: flags.processor ?? [],
          params: parseParams(flags.param ?? []),
          threads: parseIntFlag('--threads', flags.threads, 1, 256),
          concurrency: parseIntFlag('--concurrency', flags.concurrency, 1, 100_000)!,
          batchSize: parseIntFlag('--batch-size', flags.batchSize, 1, 100_000)!,
          batchWindowMs: parseIntFlag('--batch-window', flags.batchWindow, 0, 60_000)!,
          maxRequestsPerJob: parseIntFlag('--max-requests-per-job', flags.maxRequestsPerJob, 1, 100_000)!,
          jobIdleMs: parseIntFlag('--job-idle', flags.jobIdle, 0, 86_400_000)!,
          retries: parseIntFlag('--retries', flags.retries, 0, 100)!,
          timeoutMs: parseIntFlag('--timeout', flags.timeout, 0, 86_400_000)!,
          maxOutputChars: parseIntFlag('--max-output-chars', flags.maxOutputChars, 0, MAX_OUTPUT_CHARS_LIMIT)!,
          bodyLimitBytes: parseIntFlag('--max-body', flags.maxBody, 1024, 1024 ** 3)!,
          requestTimeoutMs: parseIntFlag('--request-timeout', flags.requestTimeout, 0, 3_600_000)!,
          maxPromptChars: parseIntFlag('--max-prompt-chars', flags.maxPromptChars, 1, 1024 ** 3)!,
          maxActionItems: parseIntFlag('--max-action-items', flags.maxActionItems, 1, 10_000_000)!,
          keepActions: parseIntFlag('--keep-actions', flags.keepActions, 0, 1_000_000)!,
          keepActionsMs: parseIntFlag('--keep-actions-for', flags.keepActionsFor, 0, 30 * 86_400_000)!,
          logLevel,
          healthIntervalMs: parseIntFlag('--health-interval', flags.healthInterval, 50, 3_600_000)!,
          remoteWaitMs: parseIntFlag('--remote-wait', flags.remoteWait, 0, 86_400_000)!,
          drainTimeoutMs: parseIntFlag('--drain-timeout', flags.drainTimeout, 0, 86_400_000)!,
          redis: redisUrl ? { url: redisUrl, queue: parseQueue(flags.queue) } : undefined,
        },
        { stdout: process.stdout, stderr: process.stderr, cwd: process.cwd() },
      );
      setExitCode(code);
    });
}

async function parsePublicUrl(raw: string | undefined): Promise<string | undefined> {
  if (raw === undefined || raw === '') return undefined;
  // wire.js brings zod: loaded only when the flag is given.
  const { normalizeEndpointUrl } = await import('../brokers/remote/wire.js');
  const url = normalizeEndpointUrl(raw);
  if (url === null) throw new UsageError(`--public-url must be an http: or https: URL such as http://box.example:8000 (got "${raw}")`);
  return url;
}
