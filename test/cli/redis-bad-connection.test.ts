/**
 * A Redis that cannot be used, for `submit --redis` and `workers --redis`: refused, wrong
 * password, no password where one is needed, a URL that is not redis://. Each is exit 2 with
 * exactly one `slowwork:` line on stderr (no stack trace, no password echoed), fast, and a
 * submit creates no results file.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { freePort, redisPerFile } from '../redis/server.js';
import { processes } from '../fixtures/redis-workers.js';
import { cleanEnv, run, tempDirsPerFile, type RunResult } from './run.js';

const PASSWORD = 'right-horse-battery';
const redis = redisPerFile({ password: PASSWORD });
const newDir = tempDirsPerFile();

interface Case {
  readonly name: string;
  readonly url: () => Promise<string>;
  /** What the one line must say. */
  readonly message: RegExp;
}

const port = (): number => redis().port;

const CASES: Case[] = [
  {
    name: 'nothing listening on the port (connection refused)',
    url: async () => `redis://127.0.0.1:${await freePort()}`,
    message: /^slowwork: cannot reach Redis at 127\.0\.0\.1:\d+: connection refused/,
  },
  {
    name: 'a wrong password',
    url: async () => `redis://:not-the-${PASSWORD}@127.0.0.1:${port()}`,
    message: /^slowwork: Redis at 127\.0\.0\.1:\d+ refused the username or password in the URL$/,
  },
  {
    name: 'no password where one is required',
    url: async () => `redis://127.0.0.1:${port()}`,
    message: /^slowwork: Redis at 127\.0\.0\.1:\d+ needs a password/,
  },
  {
    name: 'an http:// URL (usage error)',
    url: async () => `http://127.0.0.1:${port()}`,
    message: /^slowwork: --redis must start with redis:\/\/ or rediss:\/\//,
  },
  {
    name: 'not a URL at all (usage error)',
    url: async () => `127.0.0.1:${port()}`,
    message: /^slowwork: --redis must/,
  },
];

function expectOneLineExit2(res: RunResult, message: RegExp): void {
  const detail = `stdout:\n${res.stdout}\nstderr:\n${res.stderr}`;
  expect(res.code, detail).toBe(2);
  const lines = res.stderr.split('\n').filter((l) => l !== '');
  expect(lines, detail).toHaveLength(1);
  expect(lines[0]).toMatch(message);
  expect(res.stderr, 'a stack trace').not.toMatch(/^\s+at /m);
  expect(res.stderr).not.toContain(PASSWORD);
  // No wall-clock bound here (a busy machine makes any bound flaky): connecting is tried once,
  // and a retry loop would never exit, which run()'s own limit reports.
}

describe.concurrent('slowwork with a Redis it cannot use', () => {
  for (const c of CASES) {
    test(`submit --redis, ${c.name}: exit 2, one line, no results file`, async () => {
      const cwd = await newDir();
      const url = await c.url();
      const res = await run(['submit', '-p', 'one', '-p', 'two', '--redis', url, '--no-tui', '--out', 'out.jsonl'], { cwd });
      expectOneLineExit2(res, c.message);
      expect(existsSync(path.join(cwd, 'out.jsonl'))).toBe(false);
    });

    test(`workers --redis, ${c.name}: exit 2, one line`, async () => {
      const cwd = await newDir();
      const url = await c.url();
      const res = await run(['workers', '--redis', url, '-n', '2', '--threads', '1'], { cwd });
      expectOneLineExit2(res, c.message);
      expect(res.stdout).toBe('');
    });
  }

  test('SLOWWORK_REDIS_URL with a wrong password: submit and workers fail the same way', async () => {
    const cwd = await newDir();
    const env = cleanEnv({ SLOWWORK_REDIS_URL: `redis://:nope@127.0.0.1:${port()}` });
    const submit = await run(['submit', '-p', 'one', '--no-tui', '--out', 'out.jsonl'], { cwd, env });
    expectOneLineExit2(submit, /^slowwork: Redis at 127\.0\.0\.1:\d+ refused the username or password in the URL$/);
    expect(existsSync(path.join(cwd, 'out.jsonl'))).toBe(false);
    const workers = await run(['workers', '-n', '1', '--threads', '1'], { cwd, env });
    expectOneLineExit2(workers, /^slowwork: Redis at 127\.0\.0\.1:\d+ refused the username or password in the URL$/);
  });

  test('control: with the right password the same server is accepted (a worker serves, then stops on SIGTERM with exit 0)', async ({ onTestFinished }) => {
    const procs = processes(onTestFinished);
    const cwd = await newDir();
    const worker = await procs.worker(`redis://:${PASSWORD}@127.0.0.1:${port()}`, 'pw-check', cwd, ['-n', '1', '--threads', '1']);
    expect(worker.proc.stderr()).not.toContain(PASSWORD);
    worker.proc.child.kill('SIGTERM');
    const res = await worker.exited;
    expect(res.code, res.stderr).toBe(0);
    expect(res.stderr).toMatch(/^slowwork workers: stopped$/m);
  });
});
