/**
 * What a remote processor reports of an item (`ctx.report`: usage, model, finish_reason, request_id)
 * reaches the manager's events and results lines: on a stream's {"meta"} line, on a 202's
 * /complete, with done, retry and failure; and peers of the version before meta keep working.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { ItemMeta } from '../../../src/core/item-meta.js';
import { resultRecordOf } from '../../../src/results/record.js';
import { Recorder, itemsOf, outcomes } from '../helpers.js';
import { listenProcessorApp, spec, startManager, startProcessor } from './helpers.js';

const METERED = fileURLToPath(new URL('../../fixtures/processors/metered-words.mjs', import.meta.url));
const meteredJob = (over: Parameters<typeof spec>[0] = {}) => spec({ pipeline: [{ name: 'metered', url: '' }], ...over });

/** What the metered fixture reports for `input` on `attempt` of item `id` (see its header). */
function reported(id: string, input: string, attempt = 1): ItemMeta {
  const words = input.split(/\s+/).filter(Boolean);
  return {
    usage: { prompt_tokens: words.length + 7, completion_tokens: 2 * words.length, ...(words.includes('estimated') ? { estimated: true as const } : {}) },
    model: 'metered-1',
    finish_reason: words.includes('length') ? 'length' : 'stop',
    request_id: `${id}#${attempt}`,
  };
}

describe('a remote processor that reports what items cost', () => {
  it('streams it on a {"meta"} line: item-done and the results lines carry it', async () => {
    const manager = await startManager();
    await startProcessor(manager.url, { processor: METERED, name: 'metered', id: 'm-1', params: {} });
    const rec = new Recorder();
    const run = manager.broker.startJob(meteredJob({ concurrency: 4 }), rec.listener);
    const inputs = ['one two three', 'an estimated count', 'cut at length', 'x'];
    await run.add(itemsOf(inputs));
    run.end();
    expect(await run.finished).toEqual({ total: 4, done: 4, failed: 0, unfinished: 0 });
    for (const [index, e] of outcomes(rec)) {
      const meta = reported(`item-${index + 1}`, inputs[index]!);
      expect(e.type === 'item-done' && e.meta).toEqual(meta);
      // What `submit` writes for the item: the report's fields beside the output.
      expect(resultRecordOf(e)).toMatchObject({ status: 'done', output: `${inputs[index]!.toUpperCase()} `, ...meta });
    }
  });

  it("sends a failed attempt's report with its retry and its failure (its tokens were billed)", async () => {
    const manager = await startManager();
    await startProcessor(manager.url, { processor: METERED, name: 'metered', id: 'm-1', params: {} });
    const rec = new Recorder();
    const run = manager.broker.startJob(meteredJob({ retries: 1 }), rec.listener);
    await run.add(itemsOf(['fail-once then fine', 'fail always']));
    run.end();
    expect(await run.finished).toEqual({ total: 2, done: 1, failed: 1, unfinished: 0 });
    const retries = rec.of('item-retry').sort((a, b) => a.index - b.index);
    expect(retries.map((r) => [r.index, r.charged, r.meta])).toEqual([
      [0, true, reported('item-1', 'fail-once then fine', 1)],
      [1, true, reported('item-2', 'fail always', 1)],
    ]);
    const done = outcomes(rec);
    expect(done.get(0)).toMatchObject({ type: 'item-done', meta: reported('item-1', 'fail-once then fine', 2) });
    expect(done.get(1)).toMatchObject({ type: 'item-failed', error: 'failed after 2 tokens', meta: reported('item-2', 'fail always', 2) });
    expect(resultRecordOf(done.get(1)!)).toMatchObject({ status: 'failed', usage: { prompt_tokens: 9, completion_tokens: 4 }, request_id: 'item-2#2' });
  });

  it('posts it with a 202 answer\'s result on /complete', async () => {
    const manager = await startManager();
    await startProcessor(manager.url, { processor: METERED, name: 'metered', id: 'm-async', params: {}, async: true });
    const rec = new Recorder();
    const run = manager.broker.startJob(meteredJob({ concurrency: 2, retries: 1 }), rec.listener);
    await run.add(itemsOf(['later please', 'fail-once late']));
    run.end();
    expect(await run.finished).toEqual({ total: 2, done: 2, failed: 0, unfinished: 0 });
    const done = outcomes(rec);
    expect(done.get(0)).toMatchObject({ type: 'item-done', output: 'LATER PLEASE ', meta: reported('item-1', 'later please') });
    expect(done.get(1)).toMatchObject({ type: 'item-done', meta: reported('item-2', 'fail-once late', 2) });
    expect(rec.of('item-retry')[0]!.meta).toEqual(reported('item-2', 'fail-once late', 1));
  });

  it('refuses a /complete whose meta does not check with 400 naming the field', async () => {
    const manager = await startManager();
    const bad = await manager.post('/complete', { id: 'd-1', output: 'x', meta: { usage: { prompt_tokens: 1.5, completion_tokens: 2 } } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toBe('meta: usage must be {prompt_tokens, completion_tokens}, whole numbers >= 0');
    const notObject = await manager.post('/complete', { id: 'd-1', output: 'x', meta: 'cheap' });
    expect(notObject.status).toBe(400);
    expect(notObject.body.error.message).toMatch(/^meta must be an object/);
    // A good one passes the check: then no item waits for the id.
    expect((await manager.post('/complete', { id: 'd-1', output: 'x', meta: { model: 'm' } })).status).toBe(404);
  });
});

describe('peers of the version before meta', () => {
  const processBody = { id: 'd-1', item: 'i-1', input: 'one two', params: {}, attempt: 1 };
  const linesOf = async (url: string, body: unknown): Promise<unknown[]> => {
    const res = await fetch(`${url}/process`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(res.status).toBe(200);
    return (await res.text())
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as unknown);
  };

  it('a processor server sends {"meta"} only to a manager that asks with `report`', async () => {
    const served = await listenProcessorApp({ processor: METERED, name: 'metered', id: 'm-1', params: {} });
    // An older manager: it would take a line it does not know as a broken stream.
    expect(await linesOf(served.url, processBody)).toEqual([{ chunk: 'ONE ' }, { chunk: 'TWO ' }, { done: true }]);
    expect(await linesOf(served.url, { ...processBody, report: true })).toEqual([{ chunk: 'ONE ' }, { chunk: 'TWO ' }, { meta: reported('i-1', 'one two') }, { done: true }]);
    expect(await linesOf(served.url, { ...processBody, input: 'fail now', report: true })).toEqual([
      { chunk: 'FAIL ' },
      { chunk: 'NOW ' },
      { meta: reported('i-1', 'fail now') },
      { error: 'failed after 2 tokens' },
    ]);
  });

  describe('a hand-written processor server', () => {
    const servers: ReturnType<typeof createServer>[] = [];
    afterEach(async () => {
      for (const s of servers.splice(0)) {
        s.closeAllConnections();
        await new Promise((resolve) => s.close(resolve));
      }
    });

    /** Answers /meta as `fake`, and each /process with the next of `answers` (NDJSON lines), recording the bodies. */
    async function fakeProcessor(answers: string[][]): Promise<{ url: string; bodies: Record<string, unknown>[] }> {
      const bodies: Record<string, unknown>[] = [];
      const server = createServer((req: IncomingMessage, res: ServerResponse) => {
        let raw = '';
        req.on('data', (d: Buffer) => (raw += String(d)));
        req.on('end', () => {
          if (req.url === '/meta') return void res.end(JSON.stringify({ name: 'fake', id: 'fake-1' }));
          bodies.push(JSON.parse(raw) as Record<string, unknown>);
          res.writeHead(200, { 'content-type': 'application/x-ndjson' });
          res.end(`${(answers.shift() ?? ['{"error":"no more answers"}']).join('\n')}\n`);
        });
      });
      servers.push(server);
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const { port } = server.address() as { port: number };
      return { url: `http://127.0.0.1:${port}`, bodies };
    }

    it('that sends no meta: items end without it; one whose meta does not check is a broken stream, re-sent', async () => {
      const manager = await startManager();
      const fake = await fakeProcessor([
        ['{"chunk":"old "}', '{"chunk":"peer"}', '{"done":true}'],
        ['{"chunk":"hi"}', '{"meta":{"usage":{"prompt_tokens":-1,"completion_tokens":2}}}', '{"done":true}'],
        ['{"chunk":"hi"}', '{"meta":{"usage":{"prompt_tokens":1,"completion_tokens":2},"model":"fake-llm"}}', '{"meta":{"finish_reason":"length"}}', '{"done":true}'],
      ]);
      expect((await manager.post('/processors/register', { name: 'fake', id: 'fake-1', url: fake.url })).status).toBe(200);
      const rec = new Recorder();
      const run = manager.broker.startJob(spec({ pipeline: [{ name: 'fake', url: '' }], concurrency: 1 }), rec.listener);
      await run.add(itemsOf(['a', 'b']));
      run.end();
      expect(await run.finished).toEqual({ total: 2, done: 2, failed: 0, unfinished: 0 });
      expect(fake.bodies.map((b) => b.report)).toEqual([true, true, true]);
      const done = outcomes(rec);
      expect(done.get(0)).toMatchObject({ type: 'item-done', output: 'old peer' });
      expect(done.get(0)).not.toHaveProperty('meta');
      expect(rec.of('item-retry')).toMatchObject([
        { index: 1, charged: false, error: 'endpoint fake-1: sent a bad {"meta"} line: meta: usage must be {prompt_tokens, completion_tokens}, whole numbers >= 0' },
      ]);
      // Lines laid over each other, as ctx.report's calls are.
      expect(done.get(1)).toMatchObject({ type: 'item-done', output: 'hi', meta: { usage: { prompt_tokens: 1, completion_tokens: 2 }, model: 'fake-llm', finish_reason: 'length' } });
    });
  });
});
