/** `slowwork serve --redis`: the same HTTP API, with items run by `slowwork workers` processes. */
import { describe, expect, test } from 'vitest';
import OpenAI from 'openai';
import { demoSettings, demoTokens } from '../../src/processors/demo.js';
import { freshQueue, paramArgs, processes } from '../fixtures/redis-workers.js';
import { redisPerFile } from '../redis/server.js';
import { readSse } from '../server/helpers.js';
import { tempDirsPerFile } from './run.js';

const redis = redisPerFile();
const newDir = tempDirsPerFile();
const QUICK = { first_token_ms: '20', tokens_per_s: '200', length: '5-10' };

describe('slowwork serve --redis', () => {
  test('streams /generate and answers /v1 from Redis workers', async ({ onTestFinished }) => {
    const procs = processes(onTestFinished);
    const cwd = await newDir();
    const queue = freshQueue('serve');
    const worker = await procs.worker(redis().url, queue, cwd, ['-n', '8', '--threads', '1', '--heartbeat', '200']);
    const server = procs.submit(['serve', '--port', '0', '--redis', redis().url, '--queue', queue, ...paramArgs(QUICK)], cwd, 60_000);
    let url = '';
    for (let i = 0; i < 200 && !url; i++) {
      url = /listening on (http:\/\/\S+)/.exec(server.stdout())?.[1] ?? '';
      if (!url) await new Promise((r) => setTimeout(r, 50));
    }
    expect(server.stdout()).toMatch(/\(redis .* queue serve-\S+: 1 worker, 8 slots; processors demo\)/);

    const prompts = Array.from({ length: 12 }, (_, k) => `over redis ${k}`);
    const streams = await Promise.all(
      prompts.map(async (prompt) => readSse(await fetch(`${url}/generate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt }) }))),
    );
    const settings = demoSettings(QUICK);
    streams.forEach((events, k) => {
      const last = JSON.parse(events.at(-1)!.data) as { status: string; text: string };
      expect(last).toMatchObject({ status: 'completed', text: demoTokens(prompts[k]!, settings).join('') });
    });

    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0 });
    const answer = await client.chat.completions.create({ model: 'demo', messages: [{ role: 'user', content: 'via redis' }] });
    expect(answer.choices[0]!.message.content).toBe(demoTokens('via redis', settings).join(''));
    // The dashboard names the queue after the broker serve chose.
    const dash = (await (await fetch(`${url}/dashboard`)).json()) as { queues: { name: string }[] };
    expect(dash.queues.map((q) => q.name)).toEqual(['redis']);

    server.child.kill('SIGTERM');
    expect((await server.exited).code).toBe(0);
    worker.proc.child.kill('SIGTERM');
    expect((await worker.exited).code).toBe(0);
  });

  test('a client that goes away cancels its item on the Redis worker: the worker frees its slot and the job ends without it', async ({ onTestFinished }) => {
    const procs = processes(onTestFinished);
    const cwd = await newDir();
    const queue = freshQueue('gone');
    // No chunk for a minute: the worker reports nothing, so only the wake-up of cancel-item
    // can free the slot within the test's time.
    const LONG = { first_token_ms: '60000', tokens_per_s: '20', length: '4' };
    await procs.worker(redis().url, queue, cwd, ['-n', '2', '--threads', '1', '--heartbeat', '200']);
    const server = procs.submit(['serve', '--port', '0', '--redis', redis().url, '--queue', queue, '--job-idle', '100', ...paramArgs(LONG)], cwd, 60_000);
    let url = '';
    for (let i = 0; i < 200 && !url; i++) {
      url = /listening on (http:\/\/\S+)/.exec(server.stdout())?.[1] ?? '';
      if (!url) await new Promise((r) => setTimeout(r, 50));
    }
    let inFlight = -1;
    const workerBusy = async (): Promise<number> => {
      const snap = await procs.submit(['watch', 'dashboard', '--once', '--json', '--redis', redis().url, '--queue', queue], cwd, 20_000).exited;
      const parsed = JSON.parse(snap.stdout) as { totals: { busy: number }; queues: { inFlight: number }[] };
      inFlight = parsed.queues[0]!.inFlight;
      return parsed.totals.busy;
    };
    const abort = new AbortController();
    const res = await fetch(`${url}/generate?delta=1`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt: 'a long one' }), signal: abort.signal });
    expect(res.status).toBe(200);
    // Running on the worker now (its heartbeat says so).
    let busy = 0;
    for (let i = 0; i < 50 && busy === 0; i++) busy = await workerBusy();
    expect(busy).toBe(1);
    abort.abort();
    // The worker aborts the item (its fence is gone) and reports its slot free at its next heartbeat.
    for (let i = 0; i < 100 && busy > 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      busy = await workerBusy();
    }
    expect(busy).toBe(0);
    // Its entry is acknowledged: nothing left pending in the queue.
    expect(inFlight).toBe(0);
    // The job (no request for --job-idle) ended without waiting for the item: done, nothing recorded for it.
    type Jobs = { jobs: { status: string; done: number; failed: number }[] };
    let jobs = (await (await fetch(`${url}/jobs`)).json()) as Jobs;
    for (let i = 0; i < 100 && jobs.jobs[0]?.status === 'running'; i++) {
      await new Promise((r) => setTimeout(r, 50));
      jobs = (await (await fetch(`${url}/jobs`)).json()) as Jobs;
    }
    expect(jobs.jobs).toHaveLength(1);
    expect(jobs.jobs[0]).toMatchObject({ status: 'done', done: 0, failed: 0 });
    server.child.kill('SIGTERM');
    expect((await server.exited).code).toBe(0);
  });

  test('bursts of requests join one long-lived job per processor, not a job per burst', async ({ onTestFinished }) => {
    const procs = processes(onTestFinished);
    const cwd = await newDir();
    const queue = freshQueue('bursts');
    await procs.worker(redis().url, queue, cwd, ['-n', '4', '--threads', '1', '--heartbeat', '200']);
    const server = procs.submit(['serve', '--port', '0', '--redis', redis().url, '--queue', queue, ...paramArgs(QUICK)], cwd, 60_000);
    let url = '';
    for (let i = 0; i < 200 && !url; i++) {
      url = /listening on (http:\/\/\S+)/.exec(server.stdout())?.[1] ?? '';
      if (!url) await new Promise((r) => setTimeout(r, 50));
    }
    // Five bursts of two requests, each burst answered before the next is sent.
    for (let burst = 0; burst < 5; burst++) {
      const answers = await Promise.all(
        [0, 1].map(async (k) => readSse(await fetch(`${url}/generate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt: `burst ${burst}.${k}` }) }))),
      );
      for (const events of answers) expect(JSON.parse(events.at(-1)!.data)).toMatchObject({ status: 'completed' });
    }
    const listed = await procs.submit(['jobs', '--redis', redis().url, '--queue', queue, '--json'], cwd, 20_000).exited;
    expect(listed.code).toBe(0);
    const jobs = listed.stdout.trim().split('\n').map((l) => JSON.parse(l) as { total: number | null; done: number });
    expect(jobs).toHaveLength(1);
    expect(jobs[0]).toMatchObject({ done: 10 });
    server.child.kill('SIGTERM');
    expect((await server.exited).code).toBe(0);
  });

  test('an unreachable Redis: one line, exit 2', async ({ onTestFinished }) => {
    const procs = processes(onTestFinished);
    const r = await procs.submit(['serve', '--port', '0', '--redis', 'redis://127.0.0.1:1'], await newDir(), 20_000).exited;
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^slowwork: .*127\.0\.0\.1:1/);
  });
});
