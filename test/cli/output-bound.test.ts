/**
 * `--max-output-chars`: an item whose output runs away fails at once (no retries), its
 * neighbours are untouched, and so on the embedded pool, on Redis workers and in `serve`.
 */
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { freshQueue, processes, writePrompts } from '../fixtures/redis-workers.js';
import { redisPerFile } from '../redis/server.js';
import { readSse } from '../server/helpers.js';
import { processorFixture, readResults, run, startServe, tempDirsPerFile } from './run.js';

const dir = tempDirsPerFile();
const redis = redisPerFile();
const LONG = processorFixture('long-answer.mjs');
const BOUND = 'output passed 1000 characters (--max-output-chars); not retried';

/** "short" is echoed (5 characters); "1000000" would be 5 million characters. */
const PROMPTS = ['short', '1000000', 'also short'];

function expectBounded(out: string): void {
  const byId = new Map(readResults(out).map((r) => [r.id, r]));
  expect(byId.size).toBe(3);
  expect(byId.get('1')).toMatchObject({ status: 'done', output: 'short', attempts: 1 });
  expect(byId.get('2')).toMatchObject({ status: 'failed', output: null, error: BOUND, attempts: 1 });
  expect(byId.get('3')).toMatchObject({ status: 'done', output: 'also short', attempts: 1 });
}

describe('--max-output-chars', () => {
  test('embedded: the runaway item fails after one attempt whatever --retries says; exit 1', async () => {
    const cwd = await dir();
    writePrompts(cwd, 'prompts.txt', PROMPTS);
    const res = await run(['submit', 'prompts.txt', '--processor', LONG, '--retries', '3', '--max-output-chars', '1000', '--no-tui', '--out', 'out.jsonl'], { cwd });
    expect(res.code, res.stdout + res.stderr).toBe(1);
    expect(res.stdout).toMatch(/^finished: 2 done, 1 failed of 3 /m);
    expect(res.stdout).not.toMatch(/^retry /m);
    expectBounded(path.join(cwd, 'out.jsonl'));
  });

  test('a bad value is refused in one line before any work', async () => {
    const cwd = await dir();
    for (const bad of ['-1', 'lots', '999999999999']) {
      const res = await run(['submit', '-p', 'x', '--max-output-chars', bad, '--out', 'out.jsonl'], { cwd });
      expect(res.code).toBe(2);
      expect(res.stderr).toMatch(/^slowwork: --max-output-chars .+\n$/);
    }
  });

  test('on Redis workers: the submitter bound reaches the worker; the item fails once, with no retry', async ({ onTestFinished }) => {
    const procs = processes(onTestFinished);
    const cwd = await dir();
    const queue = freshQueue('bound');
    writePrompts(cwd, 'prompts.txt', PROMPTS);
    await procs.worker(redis().url, queue, cwd, ['-n', '4', '--threads', '1', '--processor', LONG]);
    const sub = procs.submit(['submit', 'prompts.txt', '--processor', LONG, '--redis', redis().url, '--queue', queue, '--retries', '3', '--max-output-chars', '1000', '--no-tui', '--out', 'out.jsonl'], cwd);
    const res = await sub.exited;
    expect(res.code, res.stdout + res.stderr).toBe(1);
    expect(res.stdout).not.toMatch(/^retry /m);
    expectBounded(path.join(cwd, 'out.jsonl'));
  });

  test('serve: an action item past the server bound fails once; the others finish', async () => {
    const { s, url } = await startServe(['--processor', LONG, '--max-output-chars', '1000', '--retries', '3'], await dir());
    try {
      const created = await fetch(`${url}/actions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ pipeline: ['long-answer'], items: PROMPTS }),
      });
      expect(created.status).toBe(201);
      const { id } = (await created.json()) as { id: string };
      // The events stream ends when the action does: wait for that, then read its state.
      const events = await readSse(await fetch(`${url}/actions/${id}/events`));
      expect(events.at(-1)?.event).toBe('job-done');
      const view = (await (await fetch(`${url}/actions/${id}`)).json()) as { status: string; items: { status: string; attempts: number; output: string | null; error: string | null }[] };
      expect(view.status).toBe('completed');
      expect(view.items.map((it) => [it.status, it.attempts, it.output, it.error])).toEqual([
        ['done', 1, 'short', null],
        ['failed', 1, null, BOUND],
        ['done', 1, 'also short', null],
      ]);
    } finally {
      s.child.kill('SIGTERM');
      await s.exited;
    }
  });
});
