/**
 * `GET /dashboard` (one sample for `slowwork watch dashboard --url`), `GET /jobs`, and a job's
 * live events (`GET /jobs/:id/events`, server-sent events: an action's replayed from its start,
 * a group of requests' from now) and cancel (`DELETE /jobs/:id`), for any job this server runs.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { JobEvent } from '../../core/events.js';
import { HttpError } from '../http-error.js';
import { parseBody } from './validate.js';
import { SseStream } from '../sse.js';
import type { RouteContext } from './context.js';

const Params = z.object({ id: z.string().min(1).max(200) });

export function jobRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const manager = ctx.manager;

  app.get('/dashboard', async () => manager.dashboardSample());

  app.get('/jobs', async () => ({ jobs: manager.dashboardSample().jobs }));

  app.delete('/jobs/:id', async (request) => {
    const { id } = parseBody(Params, request.params);
    const job = manager.cancelJob(id);
    if (!job) throw notFound(id);
    return { id: job.id, status: job.finishedAt === null ? 'cancelling' : job.status };
  });

  app.get('/jobs/:id/events', async (request, reply) => {
    const { id } = parseBody(Params, request.params);
    const job = manager.board.get(id);
    if (!job) throw notFound(id);
    const stream = new SseStream(reply, { 'x-slowwork-job': JSON.stringify({ processors: job.processors, total: job.total, broker: manager.describeBroker() }) });
    manager.metrics.streamOpened();
    let open = true;
    const close = (): void => {
      if (!open) return;
      open = false;
      manager.metrics.streamClosed();
    };
    const send = (events: readonly JobEvent[]): void => {
      for (const e of events) {
        stream.json(e);
        if (e.type === 'job-done' || e.type === 'job-cancelled') {
          stream.end();
          close();
          return;
        }
      }
    };
    let unsubscribe: () => void;
    const action = job.kind === 'action' ? manager.getAction(id) : undefined;
    if (action) {
      // An action keeps its log: replay it, then follow.
      unsubscribe = action.follow(0, (entry) => send([entry.data as unknown as JobEvent]));
    } else if (job.finishedAt !== null) {
      // A finished group of requests kept no log: its end is all there is to see.
      const counts = { total: job.total ?? 0, done: job.done, failed: job.failed, unfinished: Math.max(0, (job.total ?? 0) - job.done - job.failed) };
      send([job.status === 'cancelled' ? { type: 'job-cancelled', reason: 'cancelled', counts } : { type: 'job-done', counts }]);
      unsubscribe = () => undefined;
    } else {
      unsubscribe = manager.board.subscribe(job, send);
    }
    stream.onClose(() => {
      unsubscribe();
      close();
    });
  });
}

const notFound = (id: string): HttpError => new HttpError(404, `no job ${id} (finished jobs are kept for 10 minutes; see GET /jobs)`, 'not_found_error', 'job_not_found');
