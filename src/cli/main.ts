/**
 * The slowwork command line. Parses, delegates, and turns every error into one line on stderr
 * with the right exit code: never a stack trace.
 */
import { Command, CommanderError } from './commander.js';
import { ExitCode, SlowworkError, describeError } from '../core/errors.js';
import { submitCommand } from './submit.js';
import { workersCommand } from './workers.js';
import { cancelCommand, jobsCommand, watchCommand } from './queue.js';
import { serveCommand } from './serve.js';
import { processorCommand } from './processor.js';
import { helpSettings } from './help.js';
import { packageVersion } from '../install-dir.js';


/** commander's parse errors in our format: `slowwork: unknown option '--x' (see slowwork submit --help)`. */
function oneLineErrors(command: string) {
  return {
    writeErr: (s: string) => process.stderr.write(s),
    outputError: (message: string, write: (s: string) => void) => {
      const text = message.trim().replace(/^error:\s*/, '');
      write(`slowwork: ${text} (see ${command} --help)\n`);
    },
  };
}

async function main(argv: string[]): Promise<number> {
  let exitCode: number = ExitCode.ok;
  const program = new Command('slowwork')
    .description('run slow streaming generation work on worker pools, and watch it live')
    .version(packageVersion(), '-V, --version')
    .exitOverride()
    .configureOutput(oneLineErrors('slowwork'))
    .configureHelp(helpSettings);
  const setExitCode = (code: number): void => {
    exitCode = code;
  };
  const configure = (cmd: Command, name: string): Command => cmd.exitOverride().configureOutput(oneLineErrors(name)).configureHelp(helpSettings);
  program.addCommand(configure(submitCommand(setExitCode), 'slowwork submit'));
  program.addCommand(configure(workersCommand(setExitCode), 'slowwork workers'));
  program.addCommand(configure(watchCommand(setExitCode, configure), 'slowwork watch'));
  program.addCommand(configure(jobsCommand(setExitCode), 'slowwork jobs'));
  program.addCommand(configure(cancelCommand(setExitCode), 'slowwork cancel'));
  program.addCommand(configure(serveCommand(setExitCode), 'slowwork serve'));
  program.addCommand(configure(processorCommand(setExitCode, configure), 'slowwork processor'));
  try {
    await program.parseAsync(argv);
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here with code 0; parse errors were already printed.
      return err.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
    }
    if (err instanceof SlowworkError) {
      process.stderr.write(`slowwork: ${err.message}\n`);
      return err.exitCode;
    }
    process.stderr.write(`slowwork: unexpected error: ${describeError(err)}\n`);
    if (process.env.SLOWWORK_DEBUG) process.stderr.write(`${(err as Error)?.stack ?? ''}\n`);
    return 70;
  }
}

// A reader that goes away (`| head`) must not crash a job whose real output is the results file.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
  });
}
// Never a stack trace on a user's screen: one line, and the results already written stay.
process.on('uncaughtException', (err) => {
  process.stderr.write(`slowwork: unexpected error: ${describeError(err)}\n`);
  if (process.env.SLOWWORK_DEBUG) process.stderr.write(`${err.stack ?? ''}\n`);
  process.exit(70);
});

const code = await main(process.argv);
// A submit that never ran (a wrong flag) leaves the pool bin/ started for it: end it cleanly.
if (process.argv[2] === 'submit') await (await import('../app/early-pool.js')).discardSpeculativePool();
// Let stdout drain (a piped reader may be slow), then leave even if a stray handle lingers.
process.exitCode = code;
process.stdout.write('', () => process.exit(code));
