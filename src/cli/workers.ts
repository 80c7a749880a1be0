/** `slowwork workers`: parses flags and hands them to the worker process. */
import { Command } from './commander.js';
import { defaultThreads } from '../brokers/embedded/default-threads.js';
import { UsageError } from '../core/errors.js';
import { collect, parseIntFlag } from './options.js';
import { parseQueue } from './submit.js';

interface WorkersFlags {
  count: string;
  redis?: string;
  queue: string;
  processor?: string[];
  threads?: string;
  heartbeat: string;
  drainTimeout: string;
}

export function workersCommand(setExitCode: (code: number) => void): Command {
  return new Command('workers')
    .description('serve a Redis queue: run the items that `slowwork submit --redis` sends, with N slots on this machine')
    .option('-n, --count <n>', 'worker slots: items this process runs at once', '8')
    .option('--redis <url>', 'the Redis to serve (redis://[user:pass@]host:port[/db], rediss:// for TLS; or SLOWWORK_REDIS_URL)')
    .option('--queue <name>', 'the queue to serve', process.env.SLOWWORK_QUEUE ?? 'default')
    .option('--processor <name|path>', "a processor module this worker offers by its name (repeatable); built-ins need none", collect)
    .option('--threads <n>', `worker threads (default: the number of cores, ${defaultThreads()})`)
    .option('--heartbeat <ms>', 'heartbeat interval; a worker silent for 5 intervals is presumed dead', '1000')
    .option('--drain-timeout <ms>', 'on the first Ctrl+C or SIGTERM, how long running items may finish before they go back', '30000')
    .action(async (flags: WorkersFlags) => {
      const url = flags.redis ?? process.env.SLOWWORK_REDIS_URL;
      if (!url) throw new UsageError('workers need --redis URL (or SLOWWORK_REDIS_URL): the Redis that submit --redis uses');
      // ioredis loads only for the commands that use it.
      const { runWorkers } = await import('../app/workers.js');
      const code = await runWorkers(
        {
          redisUrl: url,
          queue: parseQueue(flags.queue),
          slots: parseIntFlag('--count', flags.count, 1, 10_000)!,
          threads: parseIntFlag('--threads', flags.threads, 1, 256),
          processors: flags.processor ?? [],
          heartbeatMs: parseIntFlag('--heartbeat', flags.heartbeat, 50, 600_000)!,
          drainTimeoutMs: parseIntFlag('--drain-timeout', flags.drainTimeout, 0, 86_400_000)!,
        },
        { stderr: process.stderr, cwd: process.cwd() },
      );
      setExitCode(code);
    });
}
