/** POST /processors/register, POST /complete and GET /processors over real sockets. */
import { describe, expect, it } from 'vitest';
import { closedPort, listenProcessorApp, startManager } from './helpers.js';

describe('registration', () => {
  it('accepts a processor whose /meta answers with the same name and id, and lists it', async () => {
    const manager = await startManager();
    const proc = await listenProcessorApp({ id: 'p-1' });
    const res = await manager.post('/processors/register', { name: 'demo', id: 'p-1', url: `${proc.url}/` });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ registered: true, name: 'demo', id: 'p-1', url: proc.url });
    const list = (await (await fetch(`${manager.url}/processors`)).json()) as { processors: Array<Record<string, unknown> & { connectedOn: string }> };
    expect(list.processors).toHaveLength(1);
    expect(list.processors[0]).toMatchObject({ name: 'demo', id: 'p-1', url: proc.url, healthy: true, inflight: 0, processed: 0, failed: 0, avgMs: 0, capacity: 16, lastError: null });
    expect(Number.isNaN(Date.parse(list.processors[0]!.connectedOn))).toBe(false);
    expect(manager.registry.has('demo')).toBe(true);
    expect(manager.registry.names()).toEqual(['demo']);
  });

  it('refuses a name or id that /meta does not confirm with 409', async () => {
    const manager = await startManager();
    const proc = await listenProcessorApp({ id: 'p-1' });
    for (const body of [
      { name: 'demo', id: 'someone-else', url: proc.url },
      { name: 'other', id: 'p-1', url: proc.url },
    ]) {
      const res = await manager.post('/processors/register', body);
      expect(res.status).toBe(409);
      expect(res.body.error.type).toBe('processor_mismatch');
      expect(res.body.error.message).toMatch(/answered name "demo", id "p-1"/);
    }
    expect(manager.registry.list()).toEqual([]);
  });

  it('answers 502 when the url cannot be reached or does not answer JSON', async () => {
    const manager = await startManager();
    const port = await closedPort();
    const res = await manager.post('/processors/register', { name: 'demo', id: 'p-1', url: `http://127.0.0.1:${port}` });
    expect(res.status).toBe(502);
    expect(res.body.error.type).toBe('processor_unreachable');
    expect(res.body.error.message).toMatch(/ECONNREFUSED/);
    // The manager itself answers /meta with 404 JSON: reachable, but no processor there.
    const wrong = await manager.post('/processors/register', { name: 'demo', id: 'p-1', url: manager.url });
    expect(wrong.status).toBe(502);
    expect(wrong.body.error.message).toMatch(/HTTP 404/);
    expect(manager.registry.list()).toEqual([]);
  });

  it('rejects urls that are not http: or https:, and bad bodies, with 400', async () => {
    const manager = await startManager();
    for (const url of ['ftp://127.0.0.1:21', 'not a url', 'file:///etc/passwd', 'http://user:pw@127.0.0.1:1']) {
      const res = await manager.post('/processors/register', { name: 'demo', id: 'p-1', url });
      expect(res.status, url).toBe(400);
      expect(res.body.error).toMatchObject({ type: 'invalid_request_error', message: expect.stringMatching(/url must be an http: or https: URL/) });
    }
    const missing = await manager.post('/processors/register', { name: 'demo', url: 'http://127.0.0.1:1' });
    expect(missing.status).toBe(400);
    expect(missing.body.error.message).toMatch(/^id/);
    const empty = await manager.post('/processors/register', { name: '', id: 'x', url: 'http://127.0.0.1:1' });
    expect(empty.status).toBe(400);
    expect(empty.body.error.message).toBe('name must not be empty');
    const notJson = await manager.post('/processors/register', '{"name": "demo",', true);
    expect(notJson.status).toBe(400);
    expect(notJson.body.error.type).toBe('invalid_request_error');
    expect(typeof notJson.body.error.message).toBe('string');
  });

  it('replaces the url of an id registered again (a restarted processor)', async () => {
    const manager = await startManager();
    const first = await listenProcessorApp({ id: 'p-1' });
    const second = await listenProcessorApp({ id: 'p-1' });
    expect((await manager.post('/processors/register', { name: 'demo', id: 'p-1', url: first.url })).status).toBe(200);
    expect((await manager.post('/processors/register', { name: 'demo', id: 'p-1', url: second.url })).status).toBe(200);
    const list = manager.registry.list();
    expect(list).toHaveLength(1);
    expect(list[0]!.url).toBe(second.url);
  });
});

describe('POST /complete', () => {
  it('answers 404 for a dispatch id no item waits for, and 400 for a bad body', async () => {
    const manager = await startManager();
    const unknown = await manager.post('/complete', { id: 'nope', output: 'x' });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toMatchObject({ type: 'not_found_error', message: expect.stringContaining('"nope"') });
    const both = await manager.post('/complete', { id: 'x', output: 'a', error: 'b' });
    expect(both.status).toBe(400);
    expect(both.body.error.message).toBe('give exactly one of output or error');
    const neither = await manager.post('/complete', { id: 'x' });
    expect(neither.status).toBe(400);
    const notJson = await manager.post('/complete', 'oops', true);
    expect(notJson.status).toBe(400);
  });
});
