/**
 * Fail-fast through the built binary: an `openai` job against a server that answers every item
 * with the same non-item error (a wrong path, a bad key) or a port nothing listens on stops
 * after a few attempts, with one line naming the cause, the resume command and exit code 3.
 */
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { printedResumeArgs, readResults, run, startServe, tempDirsPerFile } from '../cli/run.js';
import { readSse } from '../server/helpers.js';
import { closedPort } from '../brokers/remote/helpers.js';
import { scriptedServer, sendError, streamChat, userText, type ScriptedServer } from './openai-server.js';

const dir = tempDirsPerFile();
const servers: ScriptedServer[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

/** Streams `echo: TEXT` on /v1; 404 on any other path, 401 without the right key. */
async function strictServer(): Promise<ScriptedServer> {
  const server = await scriptedServer((req, res, call) => {
    if (req.url !== '/v1/chat/completions') return sendError(res, 404, `no route ${req.url}`);
    if (req.headers.authorization !== 'Bearer sk-good') return sendError(res, 401, 'Incorrect API key provided');
    streamChat(res, ['echo: ', userText(call.body)]);
  });
  servers.push(server);
  return server;
}

const prompts = (n: number): string[] => Array.from({ length: n }, (_, k) => ['-p', `prompt ${k + 1}`]).flat();
const lines = (stdout: string, prefix: string): string[] => stdout.split('\n').filter((l) => l.startsWith(prefix));

/**
 * The most attempts a stopped job can have started: before the event batch that decides, fewer
 * than 3 items failed; that batch holds at most `concurrency` failures, whose slots may be
 * refilled before the drain lands; then at most `concurrency` are in flight.
 */
const mostAttempts = (concurrency: number): number => 2 * concurrency + 2;

describe.concurrent('fail-fast on non-item errors', () => {
  test('a base_url ending in /v2 (404 for every item) stops after one wave, names the cause, and resumes whole once fixed', async () => {
    const server = await strictServer();
    const cwd = await dir();
    const out = path.join(cwd, 'r.jsonl');
    const env = { ...process.env, OPENAI_API_KEY: 'sk-good' };
    const wrong = server.baseUrl.replace('/v1', '/v2');
    const res = await run(['submit', ...prompts(64), '--processor', 'openai', '--param', `base_url=${wrong}`, '--param', 'model=m', '--no-tui', '--out', out], { cwd, env, timeoutMs: 60_000 });
    expect(res.code, res.stderr + res.stdout).toBe(3);
    // Default concurrency 16: about the attempts in flight when it stopped, not 64 items × 3 attempts.
    expect(server.received.length).toBeGreaterThanOrEqual(3);
    expect(server.received.length).toBeLessThanOrEqual(mostAttempts(16));
    expect(lines(res.stdout, 'stopped: ')).toEqual([expect.stringMatching(/^stopped: 0 done, 0 failed, 64 unfinished of 64 in /)]);
    expect(lines(res.stdout, 'cause: ')).toEqual([
      `cause:   3 items in a row failed the same way, no fault of theirs: openai: HTTP 404 from POST ${wrong}/chat/completions: no route /v2/chat/completions`,
    ]);
    expect(readResults(out)).toEqual([]);

    const resume = printedResumeArgs(res.stdout).map((a) => a.replace(wrong, server.baseUrl));
    const again = await run(resume, { cwd, env, timeoutMs: 60_000 });
    expect(again.code, again.stderr + again.stdout).toBe(0);
    const records = readResults(out);
    expect(records).toHaveLength(64);
    expect(new Set(records.map((r) => r.id)).size).toBe(64);
    expect(records.every((r) => r.status === 'done' && r.output === `echo: ${r.input as string}`)).toBe(true);
  });

  test('a wrong key (401 for every item, no retries): the failed items are recorded, the rest left for --resume', async () => {
    const server = await strictServer();
    const cwd = await dir();
    const out = path.join(cwd, 'r.jsonl');
    const env = { ...process.env, OPENAI_API_KEY: 'sk-wrong' };
    const res = await run(
      ['submit', ...prompts(40), '--processor', 'openai', '--param', `base_url=${server.baseUrl}`, '--param', 'model=m', '--retries', '0', '--concurrency', '4', '--no-tui', '--out', out],
      { cwd, env, timeoutMs: 60_000 },
    );
    expect(res.code, res.stderr + res.stdout).toBe(3);
    expect(server.received.length).toBeLessThanOrEqual(mostAttempts(4));
    const records = readResults(out);
    expect(records.length).toBe(server.received.length);
    for (const r of records) expect(r).toMatchObject({ status: 'failed', error: `openai: HTTP 401 from POST ${server.baseUrl}/chat/completions: Incorrect API key provided` });
    expect(lines(res.stdout, 'cause: ')).toEqual([expect.stringContaining('HTTP 401 from POST')]);
    expect(lines(res.stdout, 'stopped: ')).toEqual([expect.stringMatching(new RegExp(`^stopped: 0 done, ${records.length} failed, ${40 - records.length} unfinished of 40 in `))]);
    expect(printedResumeArgs(res.stdout)).toContain('--resume');
  });

  test('a port nothing listens on, default settings: stops after the first attempts, no backoff inside them, the cause names ECONNREFUSED', async () => {
    const port = await closedPort();
    const cwd = await dir();
    const res = await run(
      ['submit', ...prompts(40), '--processor', 'openai', '--param', `base_url=http://127.0.0.1:${port}/v1`, '--param', 'model=m', '--concurrency', '4', '--no-tui', '--out', 'r.jsonl'],
      { cwd, timeoutMs: 60_000 },
    );
    expect(res.code, res.stderr + res.stdout).toBe(3);
    // Each `retry` line is one failed attempt.
    expect(lines(res.stdout, 'retry ').length).toBeLessThanOrEqual(mostAttempts(4));
    expect(lines(res.stdout, 'cause: ')).toEqual([
      expect.stringMatching(new RegExp(`^cause: +3 items in a row failed the same way, no fault of theirs: openai: POST http://127\\.0\\.0\\.1:${port}/v1/chat/completions failed: connect ECONNREFUSED`)),
    ]);
    expect(lines(res.stdout, 'resume: ')).toHaveLength(1);
    // No request was retried inside its attempt (each such retry writes a processor log line).
    expect(lines(res.stdout, 'logs: ')).toEqual([]);
    expect(res.stderr).toBe('');
  });

  test('serve: an action against a port nothing listens on stops itself, says why, and leaves the rest cancelled', async () => {
    const port = await closedPort();
    const { s, url } = await startServe(['--processor', 'openai', '--param', `base_url=http://127.0.0.1:${port}/v1`, '--param', 'model=m', '--concurrency', '4'], await dir());
    try {
      const created = await fetch(`${url}/actions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ processor: 'openai', items: Array.from({ length: 40 }, (_, k) => `prompt ${k + 1}`) }),
      });
      expect(created.status).toBe(201);
      const { id } = (await created.json()) as { id: string };
      const events = await readSse(await fetch(`${url}/actions/${id}/events`));
      expect(events.at(-1)?.event).toBe('job-cancelled');
      const view = (await (await fetch(`${url}/actions/${id}`)).json()) as { status: string; stop_reason: string | null; items: { status: string }[] };
      expect(view.status).toBe('cancelled');
      expect(view.stop_reason).toMatch(new RegExp(`^3 items in a row failed the same way, no fault of theirs: openai: POST http://127\\.0\\.0\\.1:${port}/v1/chat/completions failed: connect ECONNREFUSED`));
      // Stopped after the first attempts: most items never ran.
      expect(view.items.filter((it) => it.status === 'cancelled').length).toBeGreaterThanOrEqual(40 - mostAttempts(4));
    } finally {
      s.child.kill('SIGTERM');
      await s.exited;
    }
  });
});
