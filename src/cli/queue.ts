/** `slowwork jobs`, `slowwork cancel ID`, `slowwork watch job ID`: parse, then delegate. */
import { Command } from 'commander';
import { UsageError } from '../core/errors.js';
import { parseIntFlag } from './options.js';
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
  return new Command('watch').description('watch work live').addCommand(configure(job, 'slowwork watch job'));
}
