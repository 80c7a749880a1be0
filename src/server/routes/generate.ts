/**
 * `POST /generate {"prompt"}`: the item's text streamed back as server-sent events,
 * `data: {"request_id","text","status":"in_progress"|"completed"|"failed","error"?}`, pushed as
 * chunks arrive. `text` is everything so far; with `?delta=1` only the new piece.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
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
    const send = (piece: string, status: Status, error?: string): void => {
      stream?.json({ request_id: item.requestId, text: delta ? piece : sent, status, ...(error === undefined ? {} : { error }) });
    };
    const finish = (status: Exclude<Status, 'in_progress'>, piece: string, error?: string): void => {
      if (!stream || stream.closed) return;
      send(piece, status, error);
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
      done() {
        finish('completed', '');
      },
      failed(error) {
        finish('failed', '', error);
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
