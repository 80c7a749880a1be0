/** `slowwork jobs`, `slowwork cancel ID`, `slowwork watch job ID`: parse, then delegate. */
import { Command } from './commander.js';
import { UsageError } from '../core/errors.js';
import { collect, parseIntFlag } from './options.js';
import { parseQueue } from './submit.js';

interface QueueFlags {
  redis?: string;
  queue: string;
}

const withQueueFlags = (cmd: Command): Command =>
  cmd
    .option('--redis <url>', 'the Redis of the queue (or SLOWWORK_REDIS_URL)')
    .option('--queue <name>', 'the queue', process.env.SLOWWORK_QUEUE ?? 'default');

function target(flags: QueueFlags, what: string): { redisUrl: string; queue: string } {
  const url = flags.redis ?? process.env.SLOWWORK_REDIS_URL;
  if (!url) throw new UsageError(`${what} needs --redis URL (or SLOWWORK_REDIS_URL)`);
  return { redisUrl: url, queue: parseQueue(flags.queue) };
}

// ioredis loads only when one of these commands runs.
const admin = () => import('../app/queue-admin.js');

export function jobsCommand(setExitCode: (code: number) => void): Command {
  return withQueueFlags(new Command('jobs').description('list the jobs of a Redis queue, newest first, with their progress'))
    .option('--json', 'one JSON object per job')
    .option('--limit <n>', 'most jobs to list', '50')
    .action(async (flags: QueueFlags & { json?: boolean; limit: string }) => {
      const { runJobs } = await admin();
      setExitCode(await runJobs({ ...target(flags, 'jobs'), json: flags.json ?? false, limit: parseIntFlag('--limit', flags.limit, 1, 10_000)! }, process.stdout));
    });
}

export function cancelCommand(setExitCode: (code: number) => void): Command {
  return withQueueFlags(new Command('cancel').description('stop a job everywhere: queued items dropped, running items aborted'))
    .argument('<job>', 'the job id (see slowwork jobs)')
    .option('--drain', 'let running items finish instead of aborting them')
    .action(async (jobId: string, flags: QueueFlags & { drain?: boolean }) => {
      const { runCancel } = await admin();
      setExitCode(await runCancel({ ...target(flags, 'cancel'), jobId, drain: flags.drain ?? false }, process.stdout));
    });
}

export function watchCommand(setExitCode: (code: number) => void, configure: (cmd: Command, name: string) => Command): Command {
  const job = withQueueFlags(new Command('job').description("attach to a job's live streams from any machine, replayed from its start"))
    .argument('<job>', 'the job id (see slowwork jobs)')
    .option('--no-tui', 'plain lines instead of the live view')
    .option('--json', 'events as NDJSON on stdout')
    .action(async (jobId: string, flags: QueueFlags & { tui: boolean; json?: boolean }) => {
      const { runWatchJob } = await admin();
      const ui = flags.json ? 'json' : flags.tui ? 'tui' : 'plain';
      setExitCode(await runWatchJob({ ...target(flags, 'watch job'), jobId, ui }, { stdin: process.stdin, stdout: process.stdout }));
    });
  const dashboard = new Command('dashboard')
    .description('workers, queues, jobs and throughput, live: from Redis (--redis) or a running slowwork serve (--url)')
    .option('--redis <url>', 'the Redis of the queues (or SLOWWORK_REDIS_URL)')
    .option('--queue <name>', 'a queue to watch (repeatable; default: default)', collect)
    .option('--url <url>', 'a running slowwork serve, e.g. http://127.0.0.1:8000')
    .option('--token <token>', 'the bearer token of that server (or SLOWWORK_TOKEN)')
    .option('--once', 'print one snapshot and exit')
    .option('--json', 'snapshots as JSON lines, for scripts')
    .option('--no-tui', 'text snapshots instead of the interactive view')
    .option('--interval <ms>', 'time between refreshes (default: 1000 on a terminal, 5000 for text snapshots)')
    .action(async (flags: { redis?: string; queue?: string[]; url?: string; token?: string; once?: boolean; json?: boolean; tui: boolean; interval?: string }) => {
      const { runDashboard } = await import('../app/dashboard.js');
      const redisUrl = flags.redis ?? (flags.url ? undefined : process.env.SLOWWORK_REDIS_URL);
      if (redisUrl && flags.url) throw new UsageError('watch dashboard takes --redis or --url, not both');
      if (!redisUrl && !flags.url) throw new UsageError('watch dashboard needs --redis URL (or SLOWWORK_REDIS_URL) or --url of a running slowwork serve');
      const queues = [...new Set((flags.queue ?? [process.env.SLOWWORK_QUEUE ?? 'default']).map(parseQueue))];
      const token = flags.token ?? process.env.SLOWWORK_TOKEN;
      const source = redisUrl
        ? async () => (await import('../app/dashboard-redis.js')).openRedisSource(redisUrl, queues)
        : async () => (await import('../app/dashboard-http.js')).openHttpSource(flags.url!, token);
      setExitCode(
        await runDashboard(
          {
            source,
            once: flags.once ?? false,
            json: flags.json ?? false,
            tui: flags.tui && !flags.json,
            intervalMs: parseIntFlag('--interval', flags.interval, 100, 3_600_000) ?? null,
          },
          { stdin: process.stdin, stdout: process.stdout },
        ),
      );
    });
  return new Command('watch')
    .description('watch work live')
    .addCommand(configure(job, 'slowwork watch job'))
    .addCommand(configure(dashboard, 'slowwork watch dashboard'));
}
