/** `slowwork processor serve`: parses flags and hands them to the processor server. */
import { Command } from './commander.js';
import { UsageError } from '../core/errors.js';
import { collect, parseIntFlag, parseParams } from './options.js';

interface ServeFlags {
  manager?: string;
  processor: string;
  param?: string[];
  port: string;
  host: string;
  name?: string;
  id?: string;
  token?: string;
  concurrency: string;
  async?: boolean;
  advertise?: string;
}

/**
 * `configure` (exitOverride, one-line errors) is applied to the `serve` subcommand when given;
 * without it, `serve` takes the settings of `processor` when it runs.
 */
export function processorCommand(setExitCode: (code: number) => void, configure?: (cmd: Command, name: string) => Command): Command {
  const serve = new Command('serve')
    .description('run a processor as a remote processor server and register it with a slowwork serve manager')
    .option('--manager <url>', 'the manager to register with, e.g. http://127.0.0.1:8000 (or SLOWWORK_MANAGER)')
    .option('--processor <name|path>', 'a built-in processor name or a module path', 'demo')
    .option('--param <key=value>', 'processor parameter (repeatable); pinned over the params a job sends', collect)
    .option('--port <n>', 'port to listen on (0 picks a free one)', '0')
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option('--name <name>', "name to register under (default: the processor's own)")
    .option('--id <id>', 'endpoint id; registering the same id again replaces it (default: HOSTNAME:PORT)')
    .option('--token <token>', "the manager's bearer token (or SLOWWORK_TOKEN); also required from the manager here")
    .option('--concurrency <n>', 'items this server runs at once', '16')
    .option('--async', 'answer 202 and post each result to the manager instead of streaming it')
    .option('--advertise <url>', 'the URL the manager should call (default http://HOST:PORT)')
    .action(async (flags: ServeFlags) => {
      const manager = flags.manager ?? process.env.SLOWWORK_MANAGER;
      if (!manager) throw new UsageError('processor serve needs --manager URL (or SLOWWORK_MANAGER): the slowwork serve to register with');
      const { runProcessorServer } = await import('../app/processor-server.js');
      const code = await runProcessorServer(
        {
          manager,
          processor: flags.processor,
          params: parseParams(flags.param ?? []),
          port: parseIntFlag('--port', flags.port, 0, 65_535)!,
          host: flags.host,
          name: nonEmpty('--name', flags.name),
          id: nonEmpty('--id', flags.id),
          token: flags.token ?? process.env.SLOWWORK_TOKEN,
          concurrency: parseIntFlag('--concurrency', flags.concurrency, 1, 10_000)!,
          async: flags.async ?? false,
          advertiseUrl: flags.advertise,
        },
        { stdout: process.stdout, stderr: process.stderr, cwd: process.cwd() },
      );
      setExitCode(code);
    });
  const processor = new Command('processor').description('remote processors: serve one for a slowwork serve manager');
  if (configure) processor.addCommand(configure(serve, 'slowwork processor serve'));
  else {
    processor.addCommand(serve);
    processor.hook('preSubcommand', (parent, sub) => void sub.copyInheritedSettings(parent));
  }
  return processor;
}

function nonEmpty(flag: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (value.trim() === '') throw new UsageError(`${flag} must not be empty`);
  return value;
}
