/** /healthz, /meta, /metrics, and the bearer token, over real sockets. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postJson, readSse, startTestServer, type TestServer } from './helpers.js';

let s: TestServer;
let locked: TestServer;
beforeAll(async () => {
  s = await startTestServer();
  locked = await startTestServer({}, { token: 's3cret' });
});
afterAll(async () => {
  await s?.close();
  await locked?.close();
});

describe('meta routes', () => {
  it('/healthz answers ok', async () => {
    const res = await fetch(`${s.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
  });

  it('/meta shows the manager and each processor, counting what ran', async () => {
    await readSse(await postJson(`${s.url}/generate`, { prompt: 'count me' }));
    await readSse(await postJson(`${s.url}/generate`, { prompt: 'throw', processor: 'faulty' }));
    const meta = (await (await fetch(`${s.url}/meta`)).json()) as {
      manager: { pid: number; broker: string; memory: { rss_bytes: number }; cpu_percent: number; items_in_flight: number };
      processors: { name: string; items_processed: number; items_failed: number; usage: number; avg_ms: number | null; healthy: boolean; connected_on: string }[];
    };
    expect(meta.manager.pid).toBe(process.pid);
    expect(meta.manager.broker).toBe('embedded: 2 threads');
    expect(meta.manager.memory.rss_bytes).toBeGreaterThan(1e6);
    expect(meta.manager.items_in_flight).toBe(0);
    const demo = meta.processors.find((p) => p.name === 'demo')!;
    expect(demo).toMatchObject({ items_processed: 1, items_failed: 0, usage: 0, healthy: true });
    expect(demo.avg_ms).not.toBeNull();
    expect(Date.parse(demo.connected_on)).not.toBeNaN();
    expect(meta.processors.find((p) => p.name === 'faulty')).toMatchObject({ items_processed: 0, items_failed: 1 });
  });

  it('/metrics is Prometheus text with the server\'s counters', async () => {
    const res = await fetch(`${s.url}/metrics`);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await res.text();
    expect(text).toMatch(/^slowwork_items_total\{processor="demo",outcome="done"\} [1-9]/m);
    expect(text).toMatch(/^slowwork_http_requests_total\{route="\/generate",status="200"\} [1-9]/m);
    expect(text).toMatch(/^slowwork_items_in_flight 0$/m);
    expect(text).toMatch(/^slowwork_process_resident_memory_bytes \d+/m);
  });
});

describe('--token', () => {
  it('requires the bearer token on every route but /healthz', async () => {
    expect((await fetch(`${locked.url}/healthz`)).status).toBe(200);
    for (const [method, path] of [['GET', '/meta'], ['GET', '/metrics'], ['GET', '/v1/models'], ['POST', '/generate'], ['POST', '/actions'], ['GET', '/nope']] as const) {
      const res = await fetch(`${locked.url}${path}`, { method, headers: { authorization: 'Bearer wrong' } });
      expect(res.status, `${method} ${path}`).toBe(401);
      expect(((await res.json()) as { error: { type: string } }).error.type).toBe('authentication_error');
    }
    const ok = await fetch(`${locked.url}/v1/models`, { headers: { authorization: 'Bearer s3cret' } });
    expect(ok.status).toBe(200);
    const events = await readSse(await postJson(`${locked.url}/generate`, { prompt: 'let me in' }, { authorization: 'Bearer s3cret' }));
    expect(JSON.parse(events.at(-1)!.data)).toMatchObject({ status: 'completed' });
  });
});
