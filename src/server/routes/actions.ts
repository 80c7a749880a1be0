/**
 * Actions: a job over HTTP. `POST /actions {items, pipeline|processor, params?, retries?,
 * timeout_ms?}` → 201 `{id}`; `GET /actions/:id` → its state and each item's; `GET
 * /actions/:id/events` → its events as SSE (`id:` is the event's sequence number, so a client
 * resumes with `Last-Event-ID`), ending after `job-done` or `job-cancelled`; `DELETE
 * /actions/:id` cancels it.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { ItemInput } from '../../core/types.js';
import { IdTracker } from '../../inputs/ids.js';
import { parseInputObject } from '../../inputs/formats.js';
import { SseStream } from '../sse.js';
import { HttpError } from '../http-error.js';
import type { RouteContext } from './context.js';
import { checkPromptSize, parseBody } from './validate.js';

const Scalar = z.union([z.string(), z.number(), z.boolean()]);
const ActionBody = z
  .object({
    items: z.array(z.union([z.string().min(1, 'must not be empty'), z.record(z.string(), z.unknown())])).min(1, 'needs at least one item'),
    pipeline: z.array(z.string().min(1)).min(1).max(16).optional(),
    processor: z.string().min(1).optional(),
    params: z.record(z.string(), Scalar).optional(),
    retries: z.number().int().min(0).max(100).optional(),
    timeout_ms: z.number().int().min(0).max(86_400_000).optional(),
  })
  .refine((b) => !(b.pipeline && b.processor), { message: 'give pipeline or processor, not both', path: ['pipeline'] });

const Params = z.object({ id: z.string().min(1).max(200) });

export function actionRoutes(app: FastifyInstance, ctx: RouteContext): void {
  app.post('/actions', async (request, reply) => {
    const body = parseBody(ActionBody, request.body);
    if (body.items.length > ctx.maxActionItems) {
      throw new HttpError(413, `an action holds at most ${ctx.maxActionItems} items (got ${body.items.length}); split it`, 'invalid_request_error', 'too_many_items', 'items');
    }
    const items = body.items.map((value, index) => toItem(value, index, ctx.maxPromptChars));
    const ids = new IdTracker();
    items.forEach((it, index) => {
      const earlier = ids.add(index, it.named ? it.id : undefined);
      if (earlier !== undefined) throw new HttpError(400, `items ${earlier} and ${index} share the id "${it.id}": ids must be unique`, 'invalid_request_error', null, `items.${index}.id`);
    });
    const pipeline = body.pipeline ?? [body.processor ?? ctx.manager.defaultProcessor];
    const params = body.params ? Object.fromEntries(Object.entries(body.params).map(([k, v]) => [k, String(v)])) : undefined;
    await ctx.manager.checkActionParams(pipeline, params);
    const action = ctx.manager.startAction({ pipeline, items, params, retries: body.retries, timeoutMs: body.timeout_ms });
    reply.code(201).header('location', `/actions/${action.id}`);
    return { id: action.id, status: action.status, pipeline, total: items.length };
  });

  app.get('/actions/:id', async (request) => {
    return find(ctx, request.params).view();
  });

  app.delete('/actions/:id', async (request) => {
    const { id } = parseBody(Params, request.params);
    const action = ctx.manager.cancelAction(id);
    if (!action) throw notFound(id);
    return { id, status: action.finished ? action.status : 'cancelling' };
  });

  app.get('/actions/:id/events', async (request, reply) => {
    const action = find(ctx, request.params);
    const from = resumePoint(request.headers['last-event-id'], (request.query as Record<string, string | undefined>).last_event_id);
    const stream = new SseStream(reply);
    ctx.manager.metrics.streamOpened();
    let done = false;
    const stop = (): void => {
      if (done) return;
      done = true;
      ctx.manager.metrics.streamClosed();
    };
    const unfollow = action.follow(from, (entry) => {
      stream.send({ id: entry.seq, event: entry.type, data: JSON.stringify(entry.data) });
      if (entry.type === 'job-done' || entry.type === 'job-cancelled') {
        stream.end();
        stop();
      }
    });
    stream.onClose(() => {
      unfollow();
      stop();
    });
  });
}

function find(ctx: RouteContext, params: unknown) {
  const { id } = parseBody(Params, params);
  const action = ctx.manager.getAction(id);
  if (!action) throw notFound(id);
  return action;
}

const notFound = (id: string): HttpError =>
  new HttpError(404, `no action ${id} (finished actions are kept a while: serve --keep-actions, --keep-actions-for)`, 'not_found_error', 'action_not_found');

/** `Last-Event-ID` (or `?last_event_id=`): events after that sequence number. */
function resumePoint(header: string | string[] | undefined, query: string | undefined): number {
  const raw = (Array.isArray(header) ? header[0] : header) ?? query;
  if (raw === undefined || raw === '') return 0;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new HttpError(400, `Last-Event-ID must be an event number from this stream (got "${raw}")`);
  return n;
}

/** An item as the JSONL inputs take it: a prompt string, or an object with optional `id` / `prompt`. */
function toItem(value: string | Record<string, unknown>, index: number, maxChars: number): { id: string; input: ItemInput; named: boolean } {
  if (typeof value === 'string') {
    checkPromptSize(value, maxChars, `items.${index}`);
    return { id: String(index + 1), input: value, named: false };
  }
  const parsed = parseInputObject(value);
  checkPromptSize(typeof parsed.input === 'string' ? parsed.input : JSON.stringify(parsed.input), maxChars, `items.${index}`);
  return parsed.id === undefined ? { id: String(index + 1), input: parsed.input, named: false } : { id: parsed.id, input: parsed.input, named: true };
}
