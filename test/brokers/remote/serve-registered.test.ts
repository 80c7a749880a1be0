/**
 * A remote processor as users run it, both sides built binaries: `slowwork serve` and
 * `slowwork processor serve --manager URL`. Once registered it is a model of `/v1/models`,
 * answers the official openai client, shows in `/meta` and `/dashboard`, and when killed it is
 * marked unhealthy there (kept, not dropped). What it reports of its items (`ctx.report`) is
 * the usage of serve's OpenAI answers and counts in serve's /metrics.
 */
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import type { DashSample } from '../../../src/core/dashboard-sample.js';
import { readSse } from '../../server/helpers.js';
import { demoOutput, processorFixture, REPO, start, waitFor } from '../../cli/run.js';

const FAST = ['--param', 'first_token_ms=0', '--param', 'tokens_per_s=0'];

describe('slowwork serve with a registered processor', () => {
  it('lists, uses and watches it; marks it unhealthy once killed', async ({ onTestFinished }) => {
    const server = start(['serve', '--port', '0', '--health-interval', '200'], { cwd: REPO, timeoutMs: 60_000 });
    onTestFinished(async () => {
      server.child.kill('SIGKILL');
      await server.exited.catch(() => undefined);
    });
    await waitFor(() => /listening on (http:\S+)/.test(server.stdout()), 'the server', 15_000);
    const url = /listening on (http:\S+)/.exec(server.stdout())![1]!;
    const proc = start(['processor', 'serve', '--manager', url, '--name', 'rdemo', '--id', 'r-1', ...FAST], { cwd: REPO, timeoutMs: 60_000 });
    onTestFinished(async () => {
      proc.child.kill('SIGKILL');
      await proc.exited.catch(() => undefined);
    });
    await waitFor(() => /registered with/.test(proc.stdout()), 'the registration', 15_000);

    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0 });
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toEqual(['demo', 'rdemo']);
    const answer = await client.chat.completions.create({ model: 'rdemo', messages: [{ role: 'user', content: 'remote hello' }] });
    // A chat hands it the conversation as text (demo says nothing of `accepts`).
    expect(answer.choices[0]!.message.content).toBe(demoOutput('remote hello', { first_token_ms: '0', tokens_per_s: '0' }));

    const meta = (await (await fetch(`${url}/meta`)).json()) as { processors: { name: string; id: string; kind: string; healthy: boolean; items_processed: number; url: string | null }[] };
    expect(meta.processors.find((p) => p.name === 'rdemo')).toMatchObject({ id: 'r-1', kind: 'remote', healthy: true, items_processed: 1, url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/) });
    const dash = (await (await fetch(`${url}/dashboard`)).json()) as DashSample;
    expect(dash.workers.find((w) => w.name === 'r-1')).toMatchObject({ queue: 'rdemo', host: '127.0.0.1', alive: true, processed: 1 });

    proc.child.kill('SIGKILL');
    await proc.exited.catch(() => undefined);
    for (let i = 0; i < 100; i++) {
      const m = (await (await fetch(`${url}/meta`)).json()) as typeof meta;
      if (m.processors.find((p) => p.name === 'rdemo')?.healthy === false) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const after = (await (await fetch(`${url}/meta`)).json()) as typeof meta;
    expect(after.processors.find((p) => p.name === 'rdemo')).toMatchObject({ id: 'r-1', healthy: false });
    const dead = (await (await fetch(`${url}/dashboard`)).json()) as DashSample;
    expect(dead.workers.find((w) => w.name === 'r-1')).toMatchObject({ alive: false });
  });

  it("reports the processor's usage in serve's OpenAI answers, streamed and not, and counts it in /metrics", async ({ onTestFinished }) => {
    const server = start(['serve', '--port', '0'], { cwd: REPO, timeoutMs: 60_000 });
    onTestFinished(async () => {
      server.child.kill('SIGKILL');
      await server.exited.catch(() => undefined);
    });
    await waitFor(() => /listening on (http:\S+)/.test(server.stdout()), 'the server', 15_000);
    const url = /listening on (http:\S+)/.exec(server.stdout())![1]!;
    const proc = start(['processor', 'serve', '--manager', url, '--processor', processorFixture('metered-words.mjs'), '--name', 'rmeter', '--id', 'rm-1'], { cwd: REPO, timeoutMs: 60_000 });
    onTestFinished(async () => {
      proc.child.kill('SIGKILL');
      await proc.exited.catch(() => undefined);
    });
    await waitFor(() => /registered with/.test(proc.stdout()), 'the registration', 15_000);

    // metered-words.mjs reports the prompt's words + 7 and 2 tokens a word it answers.
    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0 });
    const whole = await client.chat.completions.create({ model: 'rmeter', messages: [{ role: 'user', content: 'four words from afar' }] });
    expect(whole.choices[0]!.message.content).toBe('FOUR WORDS FROM AFAR ');
    expect(whole.usage).toEqual({ prompt_tokens: 11, completion_tokens: 8, total_tokens: 19 });
    const stream = await client.chat.completions.create({
      model: 'rmeter',
      messages: [{ role: 'user', content: 'an estimated stream to length' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let usage: OpenAI.CompletionUsage | null | undefined;
    let finish: string | null = null;
    for await (const chunk of stream) {
      usage = chunk.usage ?? usage;
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(usage).toEqual({ prompt_tokens: 12, completion_tokens: 10, total_tokens: 22 });
    expect(finish).toBe('length');

    const metrics = await (await fetch(`${url}/metrics`)).text();
    const counter = (kind: string, estimated: string): number => {
      const line = metrics.split('\n').find((l) => l.startsWith('slowwork_tokens_total{') && l.includes('processor="rmeter"') && l.includes(`kind="${kind}"`) && l.includes(`estimated="${estimated}"`));
      return line === undefined ? NaN : Number(line.slice(line.lastIndexOf(' ') + 1));
    };
    expect([counter('prompt', 'false'), counter('completion', 'false'), counter('prompt', 'true'), counter('completion', 'true')]).toEqual([11, 8, 12, 10]);
  });

  it('fails a /generate fast when its only processor is killed mid-stream, not after --timeout', async ({ onTestFinished }) => {
    const server = start(['serve', '--port', '0', '--health-interval', '200', '--remote-wait', '1000'], { cwd: REPO, timeoutMs: 60_000 });
    onTestFinished(async () => {
      server.child.kill('SIGKILL');
      await server.exited.catch(() => undefined);
    });
    await waitFor(() => /listening on (http:\S+)/.test(server.stdout()), 'the server', 15_000);
    const url = /listening on (http:\S+)/.exec(server.stdout())![1]!;
    const slow = ['--param', 'first_token_ms=0', '--param', 'tokens_per_s=10', '--param', 'length=200'];
    const proc = start(['processor', 'serve', '--manager', url, '--name', 'lonely', '--id', 'l-1', ...slow], { cwd: REPO, timeoutMs: 60_000 });
    onTestFinished(async () => {
      proc.child.kill('SIGKILL');
      await proc.exited.catch(() => undefined);
    });
    await waitFor(() => /registered with/.test(proc.stdout()), 'the registration', 15_000);
    const res = await fetch(`${url}/generate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt: 'talk a while', processor: 'lonely' }) });
    const started = { at: 0 };
    const events = readSse(res, (m) => {
      if (started.at === 0 && (JSON.parse(m.data) as { text: string }).text.length > 0) {
        started.at = Date.now();
        process.kill(proc.child.pid!, 'SIGKILL');
      }
    });
    const last = JSON.parse((await events).at(-1)!.data) as { status: string; error: string };
    expect(started.at).toBeGreaterThan(0);
    expect(last).toMatchObject({ status: 'failed', error: expect.stringMatching(/no healthy endpoint of remote processor "lonely" within 1000 ms/) });
    // --timeout is 600 s: the item ended on --remote-wait instead.
    expect(Date.now() - started.at).toBeLessThan(30_000);
  });
});
