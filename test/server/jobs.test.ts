/**
 * The dashboard's routes on a real server over real sockets: `GET /dashboard` sees groups of
 * requests and actions with their progress and the threads that ran them, `GET /jobs/:id/events`
 * follows a job live (an action replayed from its start), `DELETE /jobs/:id` cancels any job.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DashSample } from '../../src/core/dashboard-sample.js';
import { postJson, readSse, startTestServer, type TestServer } from './helpers.js';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(async () => {
  await s?.close();
});

const SLOW = { tokens_per_s: '20', first_token_ms: '0', length: '40' }; // 2 s an item

const sample = async (): Promise<DashSample> => {
  const res = await fetch(`${s.url}/dashboard`);
  expect(res.status).toBe(200);
  return (await res.json()) as DashSample;
};

describe('GET /dashboard and /jobs', () => {
  it('a group of requests: its size, progress and the threads that ran it, as one job', async () => {
    const answers = await Promise.all(
      ['a', 'b', 'c'].map(async (p) => (await postJson(`${s.url}/v1/completions`, { model: 'demo', prompt: p })).json() as Promise<{ choices: { text: string }[] }>),
    );
    expect(answers.every((a) => a.choices[0]!.text.length > 0)).toBe(true);
    const snap = await sample();
    const groups = snap.jobs.filter((j) => j.submitter === 'requests');
    const done = groups.reduce((n, j) => n + j.done, 0);
    expect(done).toBeGreaterThanOrEqual(3);
    expect(groups.every((j) => j.total !== null && j.total >= j.done)).toBe(true);
    expect(snap.source).toMatch(/^embedded: 2 threads/);
    expect(snap.workers.length).toBeGreaterThan(0);
    for (const w of snap.workers) expect(w.name).toMatch(/^thread-\d$/);
    expect(snap.workers.reduce((n, w) => n + w.processed, 0)).toBeGreaterThanOrEqual(3);
    expect(snap.workers.reduce((n, w) => n + w.chunks, 0)).toBeGreaterThanOrEqual(3 * 8);
    expect(snap.queues).toEqual([{ name: 'pool', waiting: 0, inFlight: 0, delayed: 0, dead: 0, oldestWaitingMs: null }]);
    const listed = (await (await fetch(`${s.url}/jobs`)).json()) as { jobs: { id: string }[] };
    expect(listed.jobs.map((j) => j.id).sort()).toEqual(snap.jobs.map((j) => j.id).sort());
  });

  it('an action: running items and waiting ones counted; its events replayed from the start, then live, to the end', async () => {
    const res = await postJson(`${s.url}/actions`, { pipeline: ['demo'], items: ['one', 'two'], params: { ...SLOW, length: '6' } });
    const { id } = (await res.json()) as { id: string };
    const snap = await sample();
    const job = snap.jobs.find((j) => j.id === id)!;
    expect(job).toMatchObject({ submitter: 'action', total: 2, status: 'running', processors: ['demo'] });
    const events = await fetch(`${s.url}/jobs/${id}/events`);
    expect(events.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(JSON.parse(events.headers.get('x-slowwork-job')!)).toMatchObject({ processors: ['demo'], total: 2 });
    const log = (await readSse(events)).map((m) => JSON.parse(m.data) as { type: string; index?: number });
    expect(log.filter((e) => e.type === 'item-start').map((e) => e.index).sort()).toEqual([0, 1]);
    expect(log.filter((e) => e.type === 'item-done')).toHaveLength(2);
    expect(log.at(-1)!.type).toBe('job-done');
    const after = (await sample()).jobs.find((j) => j.id === id)!;
    expect(after).toMatchObject({ status: 'done', done: 2, failed: 0, running: 0 });
    expect(after.finishedAt).not.toBeNull();
  });

  it('DELETE /jobs/:id cancels a running group of requests: its streams end cancelled, the job says so; unknown ids are a JSON 404', async ({ onTestFinished }) => {
    // A server whose demo takes 2 s an item, so the group is still running when cancelled.
    const slow = await startTestServer({ params: SLOW });
    onTestFinished(() => slow.close());
    const streams = ['x', 'y'].map((p) => fetch(`${slow.url}/generate?delta=1`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt: p }) }));
    let running: DashSample['jobs'][number] | undefined;
    for (let tries = 0; tries < 100 && !running; tries++) {
      const snap = (await (await fetch(`${slow.url}/dashboard`)).json()) as DashSample;
      running = snap.jobs.find((j) => j.submitter === 'requests' && j.status === 'running' && j.running > 0);
      if (!running) await new Promise((r) => setTimeout(r, 20));
    }
    expect(running).toBeDefined();
    const follow = fetch(`${slow.url}/jobs/${running!.id}/events`).then(readSse);
    const del = await fetch(`${slow.url}/jobs/${running!.id}`, { method: 'DELETE' });
    expect(del.status).toBe(200);
    expect(await del.json()).toEqual({ id: running!.id, status: 'cancelling' });
    const tail = (await follow).map((m) => JSON.parse(m.data) as { type: string });
    expect(tail.at(-1)!.type).toBe('job-cancelled');
    for (const r of await Promise.all(streams)) {
      const last = (await readSse(r)).at(-1)!;
      expect(JSON.parse(last.data)).toMatchObject({ status: 'failed' });
    }
    const after = (await (await fetch(`${slow.url}/dashboard`)).json()) as DashSample;
    expect(after.jobs.find((j) => j.id === running!.id)!.status).toBe('cancelled');

    const missing = await fetch(`${s.url}/jobs/nosuchjob`, { method: 'DELETE' });
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { message: string } }).error.message).toMatch(/^no job nosuchjob/);
    const noEvents = await fetch(`${s.url}/jobs/nosuchjob/events`);
    expect(noEvents.status).toBe(404);
  });

  it('needs the token like every other route when the server has one', async () => {
    const guarded = await startTestServer({}, { token: 'sekrit' });
    try {
      expect((await fetch(`${guarded.url}/dashboard`)).status).toBe(401);
      expect((await fetch(`${guarded.url}/jobs/x`, { method: 'DELETE' })).status).toBe(401);
      const ok = await fetch(`${guarded.url}/dashboard`, { headers: { authorization: 'Bearer sekrit' } });
      expect(ok.status).toBe(200);
    } finally {
      await guarded.close();
    }
  });
});
