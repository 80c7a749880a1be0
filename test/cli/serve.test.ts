/** `slowwork serve` as a user runs it: the built binary, real sockets, curl, signals. */
import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { demoSettings, demoTokens } from '../../src/processors/demo.js';
import { readSse } from '../server/helpers.js';
import { REPO, run, start, startServe, tempDirsPerFile, type Running, waitFor } from './run.js';

const dir = tempDirsPerFile();
const exec = promisify(execFile);

const serve = async (args: string[], env?: NodeJS.ProcessEnv) => startServe(args, await dir(), env);

const generate = (url: string, prompt: string) =>
  fetch(`${url}/generate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt }) });

describe('slowwork serve', () => {
  it('prints where it listens, answers, and stops cleanly on SIGTERM', async () => {
    const { s, url } = await serve(['--param', 'first_token_ms=0', '--param', 'tokens_per_s=0']);
    expect(s.stdout()).toMatch(/^slowwork serve: listening on http:\/\/127\.0\.0\.1:\d+ \(embedded: \d+ threads?; processors demo\)\n$/);
    const events = await readSse(await generate(url, 'hello'));
    const expected = demoTokens('hello', demoSettings({ first_token_ms: '0', tokens_per_s: '0' })).join('');
    expect(JSON.parse(events.at(-1)!.data)).toMatchObject({ status: 'completed', text: expected });
    s.child.kill('SIGTERM');
    const r = await s.exited;
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/stopping: no new requests/);
  });

  it('lets running streams finish on the first SIGTERM', async () => {
    const { s, url } = await serve(['--param', 'first_token_ms=0', '--param', 'tokens_per_s=20', '--param', 'length=10']);
    const pending = Promise.all(['a', 'b', 'c'].map(async (p) => readSse(await generate(url, p))));
    // Wait until the streams are open, then ask the server to stop.
    for (let i = 0; i < 100; i++) {
      const meta = (await (await fetch(`${url}/meta`)).json()) as { manager: { streams_open: number } };
      if (meta.manager.streams_open === 3) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    s.child.kill('SIGTERM');
    const all = await pending;
    for (const events of all) expect(JSON.parse(events.at(-1)!.data)).toMatchObject({ status: 'completed' });
    expect((await s.exited).code).toBe(0);
  });

  it('aborts running streams on a second signal, and they end as failed', async () => {
    const { s, url } = await serve(['--param', 'first_token_ms=60000']);
    const stream = generate(url, 'never').then(readSse);
    for (let i = 0; i < 100; i++) {
      const meta = (await (await fetch(`${url}/meta`)).json()) as { manager: { streams_open: number } };
      if (meta.manager.streams_open === 1) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    s.child.kill('SIGTERM');
    // The second signal once the first was handled (two sent close together may arrive as one).
    await waitFor(() => /^slowwork serve: stopping: /m.test(s.stderr()), 'the stopping line');
    s.child.kill('SIGTERM');
    const events = await stream;
    expect(JSON.parse(events.at(-1)!.data)).toMatchObject({ status: 'failed', error: expect.stringMatching(/aborted|stopping/) });
    expect((await s.exited).code).toBe(130);
  });

  it('make try: 5 parallel curl -N requests stream interleaved and complete', async () => {
    const { stdout } = await exec('bash', ['scripts/try.sh'], {
      cwd: REPO,
      timeout: 60_000,
      env: { ...process.env, TRY_PARAMS: '--param tokens_per_s=40 --param first_token_ms=50 --param length=12' },
    });
    expect(stdout).toMatch(/done: all 5 streams completed/);
    const lines = stdout.split('\n').filter((l) => /^\[\d\] /.test(l));
    const order = lines.map((l) => l[1]);
    // Interleaved: some request's events come between two events of another.
    const firstDone = lines.findIndex((l) => l.includes('"completed"'));
    expect(new Set(order.slice(0, firstDone + 1)).size).toBeGreaterThan(1);
    expect(lines.filter((l) => l.includes('"completed"'))).toHaveLength(5);
  });
});

describe('slowwork serve refuses what it cannot do, in one line', () => {
  it('a port in use', async () => {
    const blocker = createServer().listen(0, '127.0.0.1');
    await new Promise((r) => blocker.once('listening', r));
    const port = (blocker.address() as { port: number }).port;
    const r = await run(['serve', '--port', String(port)], { cwd: await dir() });
    blocker.close();
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`slowwork: port ${port} on 127.0.0.1 is in use: choose another with --port (0 picks a free one)\n`);
  });

  it('a non-loopback address without --token', async () => {
    const r = await run(['serve', '--host', '0.0.0.0'], { cwd: await dir() });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^slowwork: --host 0\.0\.0\.0 opens the server beyond this machine: give --token/);
  });

  it('bad flag values and unknown processors', async () => {
    for (const [args, message] of [
      [['--port', '70000'], /--port must be at most 65535/],
      [['--log-level', 'loud'], /--log-level must be one of/],
      [['--processor', 'nope'], /unknown processor "nope"/],
      [['--param', 'tokens_per_s=-1'], /tokens_per_s=-1 must be a number/],
    ] as const) {
      const r = await run(['serve', ...args], { cwd: await dir() });
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr.split('\n')).toHaveLength(2);
      expect(r.stderr).toMatch(message);
    }
  });

  it('gathers requests arriving together into one job, at most MAX_REQUESTS_PER_JOB each; reads API_PORT, LOG_LEVEL and REDIS_URL', async () => {
    const probe = createServer().listen(0, '127.0.0.1');
    await new Promise((r) => probe.once('listening', r));
    const port = (probe.address() as { port: number }).port;
    probe.close();
    const slow = ['--param', 'first_token_ms=200', '--param', 'tokens_per_s=0', '--param', 'length=3'];
    const env = { ...process.env, API_PORT: String(port), MAX_REQUESTS_PER_JOB: '3', LOG_LEVEL: 'info' };
    const s = start(['serve', ...slow], { cwd: await dir(), timeoutMs: 30_000, env });
    // Until it says where it listens, or exits (then the assertion below says why).
    await waitFor(() => /listening on/.test(s.stdout()) || s.child.exitCode !== null, 'serve to listen', 25_000, 50);
    expect(s.stdout(), s.stderr()).toContain(`listening on http://127.0.0.1:${port} `);
    const url = `http://127.0.0.1:${port}`;
    const answers = await Promise.all(Array.from({ length: 9 }, (_, k) => generate(url, `burst ${k}`).then(readSse)));
    for (const events of answers) expect(JSON.parse(events.at(-1)!.data)).toMatchObject({ status: 'completed' });
    const { jobs } = (await (await fetch(`${url}/jobs`)).json()) as { jobs: { submitter: string; total: number; done: number }[] };
    const groups = jobs.filter((j) => j.submitter === 'requests');
    // Nine requests at once: jobs of at most three, nine items in all.
    expect(groups.reduce((n, j) => n + j.total, 0)).toBe(9);
    expect(Math.max(...groups.map((j) => j.total))).toBeLessThanOrEqual(3);
    expect(groups.length).toBeGreaterThanOrEqual(3);
    s.child.kill('SIGTERM');
    const r = await s.exited;
    expect(r.code).toBe(0);
    // LOG_LEVEL=info: fastify's request log on stderr.
    expect(r.stderr).toMatch(/"msg":"incoming request"/);

    // Without the limit the same burst is one job (a job takes requests for its batch window,
    // 500 ms here, so a loaded machine still sends all nine within it).
    const { s: one, url: oneUrl } = await serve([...slow, '--batch-window', '500']);
    await Promise.all(Array.from({ length: 9 }, (_, k) => generate(oneUrl, `together ${k}`).then(readSse)));
    const all = ((await (await fetch(`${oneUrl}/jobs`)).json()) as { jobs: { submitter: string; total: number }[] }).jobs;
    expect(all.filter((j) => j.submitter === 'requests').map((j) => j.total)).toEqual([9]);
    one.child.kill('SIGTERM');
    expect((await one.exited).code).toBe(0);

    // REDIS_URL is where items run: a Redis that is not there is one line and exit 2.
    const noRedis = await run(['serve', '--port', '0'], { cwd: await dir(), env: { ...process.env, REDIS_URL: `redis://127.0.0.1:${port}` } });
    expect(noRedis.code).toBe(2);
    expect(noRedis.stderr).toBe(`slowwork: cannot reach Redis at 127.0.0.1:${port}: connection refused (is redis-server running there?)\n`);
  });

  it('reads API_PORT and BATCH_WINDOW_MS from the environment', async () => {
    const probe = createServer().listen(0, '127.0.0.1');
    await new Promise((r) => probe.once('listening', r));
    const port = (probe.address() as { port: number }).port;
    probe.close();
    const s = start(['serve'], { cwd: await dir(), env: { ...process.env, API_PORT: String(port), BATCH_WINDOW_MS: 'soon' } });
    const r = await s.exited;
    // BATCH_WINDOW_MS is checked like the flag it stands for.
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--batch-window must be a whole number/);
    const { s: ok, url } = await serve([], { ...process.env, BATCH_WINDOW_MS: '3' });
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    ok.child.kill('SIGTERM');
    expect((await ok.exited).code).toBe(0);
  });
});
