/**
 * The local OpenAI-compatible server on its own, for benchmarks and trying clients by hand:
 *
 *   node dist/testing/openai-server/main.js --port 0 --rpm 1200 --tpm 0 --tokens-per-second 50
 *
 * prints one line `listening http://127.0.0.1:PORT/v1` on stdout; on SIGTERM or SIGINT it
 * closes, prints its stats as one JSON line and exits 0. Bad flags: a message on stderr, exit 2.
 * Every flag is an option of startOpenAIServer (./server.ts), in kebab case.
 */
import { parseArgs } from 'node:util';
import { startOpenAIServer, type OpenAIServerOptions } from './server.js';

const USAGE = `usage: main.js [--port N] [--rpm N] [--tpm N] [--window-seconds N] [--tokens-per-second N]
  [--first-token-ms N] [--completion-tokens N] [--keys k1,k2] [--models m1,m2] [--no-headers]
  [--no-retry-after] [--fail-every N] [--reset-fraction F] [--seed N] [--organization ORG]`;

const NUMBER_FLAGS = {
  port: 'port',
  rpm: 'rpm',
  tpm: 'tpm',
  'window-seconds': 'windowSeconds',
  'tokens-per-second': 'tokensPerSecond',
  'first-token-ms': 'firstTokenMs',
  'completion-tokens': 'completionTokens',
  'fail-every': 'failEvery',
  'reset-fraction': 'resetFraction',
  seed: 'seed',
} as const;

class FlagError extends Error {}

function optionsFromArgs(args: readonly string[]): OpenAIServerOptions {
  const { values } = parseArgs({
    args: [...args],
    strict: true,
    options: {
      ...Object.fromEntries(Object.keys(NUMBER_FLAGS).map((flag) => [flag, { type: 'string' as const }])),
      keys: { type: 'string' },
      models: { type: 'string' },
      organization: { type: 'string' },
      'no-headers': { type: 'boolean' },
      'no-retry-after': { type: 'boolean' },
    },
  });
  const options: Record<string, unknown> = {};
  for (const [flag, name] of Object.entries(NUMBER_FLAGS)) {
    const raw = (values as Record<string, unknown>)[flag];
    if (typeof raw !== 'string') continue;
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(n) || n < 0) throw new FlagError(`--${flag} wants a number >= 0, not "${raw}"`);
    options[name] = n;
  }
  if (typeof options.resetFraction === 'number' && options.resetFraction > 1) throw new FlagError('--reset-fraction wants a number from 0 to 1');
  if (typeof options.port === 'number' && (!Number.isInteger(options.port) || options.port > 65535)) throw new FlagError('--port wants a whole number up to 65535');
  if (options.completionTokens === 0) throw new FlagError('--completion-tokens wants at least 1');
  if (options.windowSeconds === 0) throw new FlagError('--window-seconds wants more than 0');
  const list = (v: unknown): string[] | undefined => (typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter(Boolean) : undefined);
  if (values.keys !== undefined) options.keys = list(values.keys);
  if (values.models !== undefined) options.models = list(values.models);
  if (typeof values.organization === 'string') options.organization = values.organization;
  if (values['no-headers']) options.headers = false;
  if (values['no-retry-after']) options.retryAfter = false;
  return options as OpenAIServerOptions;
}

async function main(): Promise<void> {
  let options: OpenAIServerOptions;
  try {
    options = optionsFromArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n${USAGE}\n`);
    process.exit(2);
  }
  const server = await startOpenAIServer(options);
  process.stdout.write(`listening ${server.baseUrl}\n`);
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    void server.close().then(() => {
      process.stdout.write(`${JSON.stringify(server.stats())}\n`, () => process.exit(0));
    });
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

void main();
