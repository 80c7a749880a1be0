/**
 * `POST /generate {"prompt"}`: the item's text streamed back as server-sent events,
 * `data: {"request_id","text","status":"in_progress"|"completed"|"failed","error"?}`, pushed as
 * chunks arrive. `text` is everything so far; with `?delta=1` only the new piece. The `completed`
 * event also carries the processor's report (`ctx.report`): `usage`, `finish_reason` and `model`
 * as results lines have them (not its `request_id`: the event's is this request's).
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { ItemMeta } from '../../core/item-meta.js';
import { SseStream } from '../sse.js';
import { runTextItem } from '../text-item.js';
import type { RouteContext } from './context.js';
import { checkPromptSize, parseBody } from './validate.js';

const GenerateBody = z.object({
  prompt: z.string().min(1, 'must not be empty'),
  /** A processor this server offers; its default when left out. */
  processor: z.string().min(1).max(200).optional(),
});

type Status = 'in_progress' | 'completed' | 'failed';

export function generateRoutes(app: FastifyInstance, ctx: RouteContext): void {
  app.post('/generate', async (request, reply) => {
    const body = parseBody(GenerateBody, request.body);
    checkPromptSize(body.prompt, ctx.maxPromptChars);
    const query = request.query as Record<string, string | undefined>;
    const delta = query.delta === '1' || query.delta === 'true';
    const metrics = ctx.manager.metrics;
    let stream: SseStream | null = null;
    let sent = '';
    const send = (piece: string, status: Status, more: { error?: string; meta?: ItemMeta } = {}): void => {
      stream?.json({ request_id: item.requestId, text: delta ? piece : sent, status, ...(more.error === undefined ? {} : { error: more.error }), ...reportOf(more.meta) });
    };
    const finish = (status: Exclude<Status, 'in_progress'>, piece: string, more: { error?: string; meta?: ItemMeta } = {}): void => {
      if (!stream || stream.closed) return;
      send(piece, status, more);
      stream.end();
      metrics.streamClosed();
      metrics.request('/generate', 200);
    };
    // An unknown processor throws here, before the stream opens: a plain JSON error.
    const item = runTextItem(ctx.manager, body.processor ?? ctx.manager.defaultProcessor, body.prompt, {
      delta(piece, text) {
        sent = text;
        send(piece, 'in_progress');
      },
      done(_output, _chunks, meta) {
        finish('completed', '', { meta });
      },
      failed(error) {
        finish('failed', '', { error });
      },
    });
    stream = new SseStream(reply);
    metrics.streamOpened();
    stream.onClose(() => {
      item.cancel('the client disconnected');
      metrics.streamClosed();
      metrics.request('/generate', 499);
    });
    send('', 'in_progress');
  });
}

/** What a `completed` event shows of the processor's report. */
function reportOf(meta: ItemMeta | undefined): Partial<Pick<ItemMeta, 'usage' | 'finish_reason' | 'model'>> {
  if (!meta) return {};
  const { usage, finish_reason, model } = meta;
  return { ...(usage && { usage }), ...(finish_reason !== undefined && { finish_reason }), ...(model !== undefined && { model }) };
}
