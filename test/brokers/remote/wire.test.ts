/** The pure parts: stream lines, urls, endpoint picking and health transitions, callbacks. */
import { describe, expect, it } from 'vitest';
import { applyCheck, newEndpoint, pickEndpoint, toInfo } from '../../../src/brokers/remote/endpoints.js';
import { callbackFor } from '../../../src/processor-server/processor-app.js';
import { LineSplitter, metaLine, normalizeEndpointUrl, parseStreamLine } from '../../../src/brokers/remote/wire.js';

describe('stream lines', () => {
  it('splits lines that arrive in pieces and skips blank keep-alive lines', () => {
    const lines = new LineSplitter();
    expect(lines.push('{"chunk":"a"}\n{"chu')).toEqual(['{"chunk":"a"}']);
    expect(lines.pendingLength).toBe(5);
    expect(lines.push('nk":"b"}\n\n\n{"done":true}')).toEqual(['{"chunk":"b"}']);
    expect(lines.end()).toEqual(['{"done":true}']);
    expect(lines.end()).toEqual([]);
  });

  it('reads chunk, done and error lines; anything else is outside the protocol', () => {
    expect(parseStreamLine('{"chunk":"hi"}')).toEqual({ kind: 'chunk', text: 'hi' });
    expect(parseStreamLine('{"done":true}')).toEqual({ kind: 'done' });
    expect(parseStreamLine('{"error":"boom"}')).toEqual({ kind: 'error', message: 'boom' });
    for (const bad of ['not json', '42', 'null', '{"done":false}', '{"chunk":3}', '{}']) expect(parseStreamLine(bad), bad).toBeNull();
  });

  it('reads {"meta"} lines as ctx.report checks them; a meta that does not check says why', () => {
    expect(parseStreamLine('{"meta":{"usage":{"prompt_tokens":3,"completion_tokens":5,"estimated":true},"model":"m","finish_reason":"stop","request_id":"r"}}')).toEqual({
      kind: 'meta',
      meta: { usage: { prompt_tokens: 3, completion_tokens: 5, estimated: true }, model: 'm', finish_reason: 'stop', request_id: 'r' },
    });
    expect(parseStreamLine(metaLine({ model: 'm' }).trimEnd())).toEqual({ kind: 'meta', meta: { model: 'm' } });
    expect(parseStreamLine('{"meta":{"usage":{"prompt_tokens":"3","completion_tokens":5}}}')).toEqual({
      kind: 'invalid',
      why: 'meta: usage must be {prompt_tokens, completion_tokens}, whole numbers >= 0',
    });
    expect(parseStreamLine('{"meta":{"model":7}}')).toEqual({ kind: 'invalid', why: 'meta: model must be a string' });
    expect(parseStreamLine('{"meta":[1]}')).toMatchObject({ kind: 'invalid', why: expect.stringMatching(/^meta must be an object/) });
  });

  it('takes http: and https: endpoint urls only, without a trailing slash', () => {
    expect(normalizeEndpointUrl('http://127.0.0.1:9000/')).toBe('http://127.0.0.1:9000');
    expect(normalizeEndpointUrl('https://proc.example/base//')).toBe('https://proc.example/base');
    for (const bad of ['ftp://x', 'x', 'http://u:p@h', 'http://h/?q=1', 'http://h/#f']) expect(normalizeEndpointUrl(bad), bad).toBeNull();
  });
});

describe('endpoints', () => {
  const at = new Date('2025-01-01T00:00:00Z');
  const ep = (id: string, inflight: number, lastPicked = 0, capacity: number | null = null) =>
    Object.assign(newEndpoint('demo', id, `http://${id}`, capacity, at), { inflight, lastPicked });

  it('picks the healthy endpoint with the fewest items in flight, then the one picked longest ago', () => {
    expect(pickEndpoint([ep('a', 3), ep('b', 1), ep('c', 2)])?.id).toBe('b');
    expect(pickEndpoint([ep('a', 1, 5), ep('b', 1, 2)])?.id).toBe('b');
    const sick = Object.assign(ep('x', 0), { healthy: false });
    expect(pickEndpoint([sick, ep('a', 4)])?.id).toBe('a');
    expect(pickEndpoint([ep('full', 2, 0, 2)])).toBeNull();
    expect(pickEndpoint([])).toBeNull();
  });

  it('avoids the endpoint an item just failed on unless it is the only one', () => {
    expect(pickEndpoint([ep('a', 0), ep('b', 5)], 'a')?.id).toBe('b');
    expect(pickEndpoint([ep('a', 0)], 'a')?.id).toBe('a');
  });

  it('goes out of rotation on a failed check, back on a good one, and is dropped after maxFailures', () => {
    const e = ep('a', 0);
    expect(applyCheck(e, { ok: false, error: 'down' }, at, 3)).toBe('unhealthy');
    expect(applyCheck(e, { ok: false, error: 'down' }, at, 3)).toBeNull();
    expect(toInfo(e)).toMatchObject({ healthy: false, lastError: 'down', lastCheck: at.toISOString() });
    expect(applyCheck(e, { ok: true, capacity: 4 }, at, 3)).toBe('healthy');
    expect(toInfo(e)).toMatchObject({ healthy: true, lastError: null, capacity: 4 });
    for (let k = 0; k < 2; k++) applyCheck(e, { ok: false, error: 'gone' }, at, 3);
    expect(applyCheck(e, { ok: false, error: 'gone' }, at, 3)).toBe('dropped');
  });

  it('shows the average time of the items it finished', () => {
    expect(toInfo(Object.assign(ep('a', 0), { processed: 4, totalMs: 1001 })).avgMs).toBe(250.3);
    expect(toInfo(ep('b', 0)).avgMs).toBe(0);
  });
});

describe('callbackFor', () => {
  it("uses the request's callback unless it names a wildcard address or none", () => {
    expect(callbackFor('http://10.0.0.5:8000/complete', 'http://mgr:8000')).toBe('http://10.0.0.5:8000/complete');
    expect(callbackFor('http://0.0.0.0:8000/complete', 'http://mgr:8000')).toBe('http://mgr:8000/complete');
    expect(callbackFor('http://[::]:8000/complete', 'http://mgr:8000')).toBe('http://mgr:8000/complete');
    expect(callbackFor(undefined, 'http://mgr:8000')).toBe('http://mgr:8000/complete');
    expect(callbackFor(undefined, undefined)).toBeNull();
  });
});
