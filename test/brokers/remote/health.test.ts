/** Health checks: out of rotation when /meta fails, back when it answers, dropped after N failures. */
import { describe, expect, it } from 'vitest';
import { Recorder, itemsOf, outcomes } from '../helpers.js';
import { FAST, demoOutput, listenProcessorApp, spec, startManager, waitFor } from './helpers.js';

const healthOf = (manager: Awaited<ReturnType<typeof startManager>>, id: string) => manager.registry.list().find((ep) => ep.id === id);

describe('health checks', () => {
  it('mark a stopped server unhealthy (still listed) and the restarted one healthy again', async () => {
    const manager = await startManager({ healthIntervalMs: 50, checkTimeoutMs: 500 });
    const first = await listenProcessorApp({ id: 'h-1' });
    const port = Number(new URL(first.url).port);
    await manager.registry.register({ name: 'demo', id: 'h-1', url: first.url });
    await first.app.close();
    await waitFor(() => healthOf(manager, 'h-1')?.healthy === false, 'h-1 marked unhealthy');
    const down = healthOf(manager, 'h-1')!;
    expect(down.lastError).toMatch(/GET http:\/\/127\.0\.0\.1:\d+\/meta failed/);
    expect(down.lastCheck).not.toBeNull();
    expect(manager.registry.acquire('demo')).toBeNull();
    expect(manager.registry.hasHealthy('demo')).toBe(false);

    // Items wait for a healthy endpoint instead of failing.
    const rec = new Recorder();
    const run = manager.broker.startJob(spec(), rec.listener);
    await run.add(itemsOf(['waits']));
    run.end();
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(rec.count('item-start')).toBe(0);
    expect(rec.count('item-failed')).toBe(0);

    const again = await listenProcessorApp({ id: 'h-1', port });
    await waitFor(() => healthOf(manager, 'h-1')?.healthy === true, 'h-1 healthy again');
    expect(healthOf(manager, 'h-1')!.lastError).toBeNull();
    expect(await run.finished).toEqual({ total: 1, done: 1, failed: 0, unfinished: 0 });
    expect(outcomes(rec).get(0)).toMatchObject({ type: 'item-done', output: demoOutput('waits', FAST) });
    expect(again.stats().processed).toBe(1);
  });

  it('take out of rotation an endpoint that answers as another processor', async () => {
    const manager = await startManager({ healthIntervalMs: 50 });
    const first = await listenProcessorApp({ id: 'h-2' });
    const port = Number(new URL(first.url).port);
    await manager.registry.register({ name: 'demo', id: 'h-2', url: first.url });
    await first.app.close();
    await listenProcessorApp({ id: 'impostor', port });
    await waitFor(() => /expected name "demo", id "h-2"/.test(healthOf(manager, 'h-2')?.lastError ?? ''), 'the mismatch noticed');
    expect(healthOf(manager, 'h-2')!.healthy).toBe(false);
  });

  it('drop an endpoint after maxFailures failed checks in a row', async () => {
    const manager = await startManager({ healthIntervalMs: 30, maxFailures: 3 });
    const proc = await listenProcessorApp({ id: 'h-3' });
    await manager.registry.register({ name: 'demo', id: 'h-3', url: proc.url });
    const changes: string[] = [];
    manager.registry.onChange((c) => changes.push(c.kind));
    await proc.app.close();
    await waitFor(() => manager.registry.list().length === 0, 'h-3 dropped');
    expect(changes).toEqual(['unhealthy', 'dropped']);
    expect(manager.registry.has('demo')).toBe(false);
  });

  it('fail waiting items after the job time limit when no endpoint is healthy', async () => {
    const manager = await startManager({ healthIntervalMs: 50 });
    const proc = await listenProcessorApp({ id: 'h-4' });
    await manager.registry.register({ name: 'demo', id: 'h-4', url: proc.url });
    await proc.app.close();
    await waitFor(() => healthOf(manager, 'h-4')?.healthy === false, 'h-4 unhealthy');
    const rec = new Recorder();
    const run = manager.broker.startJob(spec({ timeoutMs: 300 }), rec.listener);
    await run.add(itemsOf(['a', 'b']));
    run.end();
    expect(await run.finished).toEqual({ total: 2, done: 0, failed: 2, unfinished: 0 });
    expect(rec.of('item-failed')[0]!.error).toMatch(/^no healthy endpoint of remote processor "demo" within 300 ms \(GET .*\/meta failed/);
  });

  it('close() stops the checks: a stopped registry notices nothing', async () => {
    const manager = await startManager({ healthIntervalMs: 30 });
    const proc = await listenProcessorApp({ id: 'h-5' });
    await manager.registry.register({ name: 'demo', id: 'h-5', url: proc.url });
    manager.registry.close();
    await proc.app.close();
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(healthOf(manager, 'h-5')!.healthy).toBe(true);
  });
});
