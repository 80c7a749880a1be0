/** `slowwork processor serve` as a function: registration, tokens, signals, refusals. */
import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { runProcessorServer, type ProcessorServerOptions } from '../../../src/app/processor-server.js';
import { RegistrationRefusedError } from '../../../src/processor-server/processor-client.js';
import { Recorder, itemsOf, outcomes } from '../helpers.js';
import { FAST, closedPort, demoOutput, inputsOf, listenProcessorApp, spec, startManager, startProcessor, waitFor } from './helpers.js';

function io() {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const text = { out: '', err: '' };
  stdout.on('data', (d) => (text.out += String(d)));
  stderr.on('data', (d) => (text.err += String(d)));
  return { stdout, stderr, cwd: process.cwd(), signals: new EventEmitter(), text };
}

const options = (manager: string, over: Partial<ProcessorServerOptions> = {}): ProcessorServerOptions => ({
  manager,
  processor: 'demo',
  params: FAST,
  port: 0,
  host: '127.0.0.1',
  concurrency: 4,
  async: false,
  registerAttempts: 1,
  ...over,
});

describe('processor server', () => {
  it('registers on start, answers /meta, and stops on SIGTERM with exit code 0', async () => {
    const manager = await startManager();
    const streams = io();
    const running = runProcessorServer(options(manager.url, { name: 'writer', id: 'w-1' }), streams);
    await waitFor(() => streams.text.out.includes('\n'), 'the listening line');
    const m = /^processor writer \(id w-1\) listening on (http:\/\/127\.0\.0\.1:\d+), registered with (\S+)\n$/.exec(streams.text.out);
    expect(m?.[2]).toBe(manager.url);
    const url = m![1]!;
    expect(manager.registry.list()).toMatchObject([{ name: 'writer', id: 'w-1', url, healthy: true, capacity: 4 }]);
    const meta = await (await fetch(`${url}/meta`)).json();
    expect(meta).toMatchObject({ name: 'writer', id: 'w-1', processor: 'demo', inflight: 0, processed: 0, concurrency: 4 });
    expect(typeof (meta as { version: unknown }).version).toBe('string');
    streams.signals.emit('SIGTERM');
    expect(await running).toBe(0);
    expect(streams.text.err).toBe('processor writer (id w-1) stopped\n');
    await expect(fetch(`${url}/meta`)).rejects.toThrow();
  });

  it('defaults its id to HOSTNAME:PORT', async () => {
    const manager = await startManager();
    const server = await startProcessor(manager.url);
    expect(server.id).toMatch(new RegExp(`:${new URL(server.url).port}$`));
    expect(manager.registry.list()[0]!.id).toBe(server.id);
  });

  it('gives up with one line and exit code 2 when the manager cannot be reached', async () => {
    const gone = `http://127.0.0.1:${await closedPort()}`;
    const streams = io();
    const err = await runProcessorServer(options(gone, { registerAttempts: 2, registerBackoffMs: 10 }), streams).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistrationRefusedError);
    expect((err as RegistrationRefusedError).exitCode).toBe(2);
    expect((err as Error).message).toMatch(/^cannot register demo \(id [^)]+\) with http:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED.* \(2 tries\)$/);
    expect((err as Error).message).not.toContain('\n');
    expect(streams.text.out).toBe('');
  });

  it('does not retry a refusal: an advertised url where another processor answers is a 409', async () => {
    const manager = await startManager();
    const other = await listenProcessorApp({ id: 'someone-else' });
    const err = await runProcessorServer(options(manager.url, { id: 'me', advertiseUrl: other.url, registerAttempts: 5, registerBackoffMs: 2000 }), io()).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/HTTP 409: .*answered name "demo", id "someone-else"/);
    // One try: a retried registration ends "(N tries)" (see the ECONNREFUSED test above).
    expect((err as Error).message).not.toMatch(/tries/);
  });

  it('rejects an unknown processor and a bad --param before listening', async () => {
    await expect(runProcessorServer(options('http://127.0.0.1:1', { processor: 'nope' }), io())).rejects.toThrow(/unknown processor "nope"/);
    await expect(runProcessorServer(options('http://127.0.0.1:1', { params: { length: 'x' } }), io())).rejects.toThrow(/length=x must be N or MIN-MAX/);
    await expect(runProcessorServer(options('ftp://manager'), io())).rejects.toThrow(/--manager must be an http: or https: URL/);
  });

  it('with a token: registers and completes with it, and wants it on /process', async () => {
    const manager = await startManager({ token: 's3cret' });
    // Without the token the manager refuses the registration.
    await expect(runProcessorServer(options(manager.url), io())).rejects.toThrow(/HTTP 401: missing or wrong token/);
    const streamed = await startProcessor(manager.url, { id: 'tok-stream', token: 's3cret' });
    const refused = await fetch(`${streamed.url}/process`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: 'x', item: '1', input: 'hi' }) });
    expect(refused.status).toBe(401);
    await startProcessor(manager.url, { id: 'tok-async', token: 's3cret', async: true });
    const rec = new Recorder();
    const run = manager.broker.startJob(spec({ concurrency: 4 }), rec.listener);
    const inputs = inputsOf(12, 'token');
    await run.add(itemsOf(inputs));
    run.end();
    expect(await run.finished).toEqual({ total: 12, done: 12, failed: 0, unfinished: 0 });
    for (const [index, e] of outcomes(rec)) expect(e).toMatchObject({ type: 'item-done', output: demoOutput(inputs[index]!, FAST) });
    expect(new Set(rec.of('item-done').map((e) => e.worker))).toEqual(new Set(['tok-stream', 'tok-async']));
  });

  it('answers bad /process bodies with 400 and more than --concurrency items with 503', async () => {
    const manager = await startManager();
    const server = await startProcessor(manager.url, { concurrency: 1, params: { first_token_ms: '5000', tokens_per_s: '0' } });
    const post = (body: unknown) => fetch(`${server.url}/process`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const bad = await post({ item: '1', input: 'x' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toMatch(/^id/);
    // A job's params are checked like --param: a typo is refused with the nearest name.
    const typo = await post({ id: 't', item: '1', input: 'x', params: { lenght: '3' } });
    expect(typo.status).toBe(400);
    expect(((await typo.json()) as { error: { message: string } }).error.message).toMatch(/^unknown param lenght: did you mean length\?/);
    expect(server.stats().processed).toBe(0);
    const controller = new AbortController();
    const first = await fetch(`${server.url}/process`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: 'a', item: '1', input: 'x' }), signal: controller.signal });
    expect(first.status).toBe(200);
    const busy = await post({ id: 'b', item: '2', input: 'y' });
    expect(busy.status).toBe(503);
    controller.abort();
    await waitFor(() => server.stats().aborted === 1, 'the first request closed');
  });
});
