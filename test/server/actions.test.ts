/** Actions over real sockets: create, per-item state, resumable event streams, cancel. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoSettings, demoTokens } from '../../src/processors/demo.js';
import { FAST_DEMO, postJson, readSse, startTestServer, type TestServer } from './helpers.js';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(async () => {
  await s?.close();
});

const demoText = (input: string): string => demoTokens(input, demoSettings(FAST_DEMO)).join('');

async function create(body: unknown): Promise<{ id: string }> {
  const res = await postJson(`${s.url}/actions`, body);
  expect(res.status).toBe(201);
  const created = (await res.json()) as { id: string };
  expect(res.headers.get('location')).toBe(`/actions/${created.id}`);
  return created;
}

const events = async (id: string, lastEventId?: string) =>
  readSse(await fetch(`${s.url}/actions/${id}/events`, { headers: lastEventId ? { 'last-event-id': lastEventId } : {} }));

interface View {
  status: string;
  counts: { total: number; done: number; failed: number };
  items: { id: string; status: string; output: string | null; error: string | null; attempts: number }[];
}

describe('actions', () => {
  it('runs items through a pipeline and reports each one', async () => {
    const { id } = await create({ items: ['first', { id: 'b', prompt: 'second' }], pipeline: ['demo', 'demo'] });
    const log = await events(id);
    expect(log.at(-1)!.event).toBe('job-done');
    const view = (await (await fetch(`${s.url}/actions/${id}`)).json()) as View;
    expect(view.status).toBe('completed');
    expect(view.counts).toMatchObject({ total: 2, done: 2, failed: 0 });
    // A pipeline feeds each processor's output to the next.
    expect(view.items.map((i) => [i.id, i.status, i.output])).toEqual([
      ['1', 'done', demoText(demoText('first'))],
      ['b', 'done', demoText(demoText('second'))],
    ]);
  });

  it('numbers its events, and replays from Last-Event-ID without gaps or repeats', async () => {
    const { id } = await create({ items: ['x', 'y', 'z'], processor: 'demo' });
    // The first read follows it to its end; then replays are of a finished action.
    await events(id);
    const all = await events(id);
    const ids = all.map((m) => Number(m.id));
    // Increasing; a replay after the end skips the chunks of finished items (item-done has the output).
    expect(ids).toEqual([...ids].sort((x, y) => x - y));
    expect(new Set(ids).size).toBe(ids.length);
    const tail = await events(id, String(ids[3]));
    expect(tail.map((m) => m.id)).toEqual(all.slice(4).map((m) => m.id));
    expect(tail.map((m) => m.data)).toEqual(all.slice(4).map((m) => m.data));
    expect(all.filter((m) => m.event === 'item-done').map((m) => (JSON.parse(m.data) as { output: string }).output).sort()).toEqual(['x', 'y', 'z'].map(demoText).sort());
  });

  it('keeps a bounded log for a long output, and a live reader still gets every chunk in order', async () => {
    const { id } = await create({ items: ['long one'], processor: 'demo', params: { length: 5000 } });
    const liveIds: number[] = [];
    const log = await readSse(await fetch(`${s.url}/actions/${id}/events`), (m) => liveIds.push(Number(m.id)));
    const full = demoTokens('long one', demoSettings({ ...FAST_DEMO, length: '5000' })).join('');
    const done = JSON.parse(log.find((m) => m.event === 'item-done')!.data) as { output: string };
    expect(done.output).toBe(full);
    expect(liveIds).toEqual([...liveIds].sort((x, y) => x - y));
    const action = s.manager.getAction(id)!;
    // Once the item is done its chunks are gone from the log: start, done, the job's end.
    expect(action.log.size).toBeLessThanOrEqual(4);
  });

  it('keeps only as many finished actions as --keep-actions says', async () => {
    const small = await startTestServer({ keepActions: { finishedMs: 3600_000, maxFinished: 1 } });
    try {
      const ids: string[] = [];
      for (const item of ['a', 'b', 'c']) {
        const res = await postJson(`${small.url}/actions`, { items: [item] });
        const { id } = (await res.json()) as { id: string };
        await readSse(await fetch(`${small.url}/actions/${id}/events`));
        ids.push(id);
      }
      // Adding c forgot a (b was the one finished action kept).
      expect((await fetch(`${small.url}/actions/${ids[0]}`)).status).toBe(404);
      expect((await fetch(`${small.url}/actions/${ids[1]}`)).status).toBe(200);
      expect((await fetch(`${small.url}/actions/${ids[2]}`)).status).toBe(200);
    } finally {
      await small.close();
    }
  });

    it('records failures per item, with the error', async () => {
    const { id } = await create({ items: ['throw', 'fine'], processor: 'faulty', retries: 0 });
    await events(id);
    const view = (await (await fetch(`${s.url}/actions/${id}`)).json()) as View;
    expect(view.counts).toMatchObject({ done: 1, failed: 1 });
    expect(view.items[0]).toMatchObject({ status: 'failed', error: expect.stringMatching(/boom/) });
    expect(view.items[1]).toMatchObject({ status: 'done', output: 'ok:fine.' });
  });

  it('cancels with DELETE: running items are aborted and the stream ends with job-cancelled', async () => {
    const { id } = await create({ items: ['hang', 'hang', 'hang'], processor: 'faulty' });
    const stream = events(id);
    // Wait until something runs, then cancel.
    for (let i = 0; i < 200; i++) {
      const v = (await (await fetch(`${s.url}/actions/${id}`)).json()) as View;
      if (v.items.some((it) => it.status === 'running')) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const del = await fetch(`${s.url}/actions/${id}`, { method: 'DELETE' });
    expect(del.status).toBe(200);
    const log = await stream;
    expect(log.at(-1)!.event).toBe('job-cancelled');
    const view = (await (await fetch(`${s.url}/actions/${id}`)).json()) as View;
    expect(view.status).toBe('cancelled');
    expect(view.items.every((it) => it.status === 'cancelled')).toBe(true);
  });

  it('answers mistakes with JSON errors', async () => {
    const bad: [unknown, number, RegExp][] = [
      [{ items: [] }, 400, /items: needs at least one item/],
      [{ items: ['a'], pipeline: ['demo', 'nope'] }, 404, /unknown processor "nope"/],
      [{ items: ['a'], pipeline: ['demo'], processor: 'demo' }, 400, /not both/],
      [{ items: [{ id: 'a' }, { id: 'a' }] }, 400, /share the id "a"/],
      [{ items: Array.from({ length: 1001 }, () => 'x') }, 413, /at most 1000 items/],
      [{ items: ['a'], retries: -1 }, 400, /retries/],
    ];
    for (const [body, status, message] of bad) {
      const res = await postJson(`${s.url}/actions`, body);
      expect(res.status, JSON.stringify(body).slice(0, 80)).toBe(status);
      expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(message);
    }
    // Params are checked as the CLI checks --param, before any item runs.
    const jobsBefore = s.manager.dashboardSample().jobs.length;
    const badParams: [unknown, RegExp][] = [
      [{ items: ['a'], processor: 'demo', params: { lenght: 3 } }, /^unknown param lenght: did you mean length\? \(demo takes /],
      [{ items: ['a'], pipeline: ['demo', 'demo'], params: { tokens_per_s: 'fast' } }, /^processor demo: --param tokens_per_s=fast must be a number/],
    ];
    for (const [body, message] of badParams) {
      const res = await postJson(`${s.url}/actions`, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      const error = ((await res.json()) as { error: { message: string; param: string | null } }).error;
      expect(error.message).toMatch(message);
      expect(error.message.split('\n')).toHaveLength(1);
      expect(error.param).toBe('params');
    }
    expect(s.manager.dashboardSample().jobs.length).toBe(jobsBefore);
    const missing = await fetch(`${s.url}/actions/act_nope`);
    expect(missing.status).toBe(404);
    const badResume = await fetch(`${s.url}/actions/act_nope/events`, { headers: { 'last-event-id': 'x' } });
    expect(badResume.status).toBe(404);
  });
});
