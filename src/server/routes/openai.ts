/**
 * The OpenAI wire format over the pool: `POST /v1/chat/completions`, `POST /v1/completions`
 * (streaming as `data: {...}` then `data: [DONE]`, or one JSON answer) and `GET /v1/models`,
 * whose models are the processors this server offers. A chat's item input is the conversation as
 * text, or `{messages}` for a processor whose contract says `accepts: 'messages'`; a
 * completion's is the prompt string. `usage` and `finish_reason` are the processor's report
 * (`ctx.report`) when it made one, else estimates (answer-usage.ts).
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { ItemMeta } from '../../core/item-meta.js';
import type { ItemInput } from '../../core/types.js';
import { AnswerUsage, finishReasonOf, promptWords } from '../answer-usage.js';
import { SseStream } from '../sse.js';
import { runTextItem, type TextItem } from '../text-item.js';
import { HttpError, errorBody } from '../http-error.js';
import type { RouteContext } from './context.js';
import { checkPromptSize, parseBody } from './validate.js';

const ContentPart = z.object({ type: z.string(), text: z.string().optional() }).passthrough();
const Message = z
  .object({
    role: z.string().min(1),
    content: z.union([z.string(), z.array(ContentPart), z.null()]).optional(),
  })
  .passthrough();

const Common = {
  model: z.string().min(1, 'must name a model (see GET /v1/models)'),
  stream: z.boolean().optional(),
  stream_options: z.object({ include_usage: z.boolean().optional() }).passthrough().nullish(),
  n: z.number().int().min(1).max(1, 'only n=1 is supported').nullish(),
};

const ChatBody = z.object({ ...Common, messages: z.array(Message).min(1, 'needs at least one message') }).passthrough();
const CompletionBody = z
  .object({ ...Common, prompt: z.union([z.string(), z.array(z.string())]) })
  .passthrough();

/** Prompts one `/v1/completions` request may hold (each is an item, run in parallel). */
const MAX_PROMPTS = 64;

/** What one request runs: its prompts as item inputs, and how to shape the answer. */
interface Completion {
  readonly kind: 'chat' | 'text';
  readonly model: string;
  readonly inputs: readonly ItemInput[];
  /** Per input: its prompt's words (the usage estimate when its processor reports none). */
  readonly promptWords: readonly number[];
  readonly stream: boolean;
  readonly includeUsage: boolean;
}

export function openaiRoutes(app: FastifyInstance, ctx: RouteContext): void {
  app.get('/v1/models', async () => {
    const created = Math.floor(ctx.manager.startedAt / 1000);
    return {
      object: 'list',
      data: ctx.manager.models().map((m) => ({ id: m.name, object: 'model', created, owned_by: m.kind === 'local' ? 'slowwork' : 'slowwork-remote' })),
    };
  });

  app.post('/v1/chat/completions', async (request, reply) => {
    const body = parseBody(ChatBody, request.body);
    const text = conversationText(body.messages);
    checkPromptSize(text, ctx.maxPromptChars, 'messages');
    const completion: Completion = {
      kind: 'chat',
      model: body.model,
      inputs: [ctx.manager.takesMessages(body.model) ? { messages: body.messages } : text],
      promptWords: [promptWords(text)],
      stream: body.stream === true,
      includeUsage: body.stream_options?.include_usage === true,
    };
    return run(ctx, completion, request, reply);
  });

  app.post('/v1/completions', async (request, reply) => {
    const body = parseBody(CompletionBody, request.body);
    const prompts = typeof body.prompt === 'string' ? [body.prompt] : body.prompt;
    // Checked here, not in the union: zod reports a failed union as "Invalid input" without the reason.
    if (prompts.length === 0) throw new HttpError(400, 'prompt: needs at least one prompt', 'invalid_request_error', null, 'prompt');
    if (prompts.length > MAX_PROMPTS) {
      throw new HttpError(400, `prompt: at most ${MAX_PROMPTS} prompts per request (got ${prompts.length}); send several requests`, 'invalid_request_error', 'too_many_prompts', 'prompt');
    }
    for (const p of prompts) checkPromptSize(p, ctx.maxPromptChars);
    const completion: Completion = {
      kind: 'text',
      model: body.model,
      inputs: prompts,
      promptWords: prompts.map(promptWords),
      stream: body.stream === true,
      includeUsage: body.stream_options?.include_usage === true,
    };
    return run(ctx, completion, request, reply);
  });
}

/**
 * The conversation as a text processor takes it: one message is its content; several are
 * `role: content` lines, so a processor still sees who said what.
 */
export function conversationText(messages: readonly z.infer<typeof Message>[]): string {
  if (messages.length === 1) return contentText(messages[0]!.content);
  return messages.map((m) => `${m.role}: ${contentText(m.content)}`).join('\n');
}

function contentText(content: z.infer<typeof Message>['content']): string {
  if (typeof content === 'string') return content;
  if (!content) return '';
  return content.map((p) => p.text ?? '').join('');
}

async function run(ctx: RouteContext, c: Completion, request: FastifyRequest, reply: FastifyReply): Promise<unknown> {
  if (!ctx.manager.hasProcessor(c.model)) {
    const known = ctx.manager.models().map((m) => m.name).join(', ');
    throw new HttpError(404, `The model \`${c.model}\` does not exist: this server offers ${known}`, 'invalid_request_error', 'model_not_found', 'model');
  }
  const id = `${c.kind === 'chat' ? 'chatcmpl' : 'cmpl'}-${randomBytes(12).toString('hex')}`;
  const created = Math.floor(Date.now() / 1000);
  return c.stream ? streamAnswer(ctx, c, id, created, reply) : wholeAnswer(ctx, c, id, created, request);
}

/** Non-streaming: one JSON answer once every prompt is done; a failure is a 500 in the error shape. */
async function wholeAnswer(ctx: RouteContext, c: Completion, id: string, created: number, request: FastifyRequest): Promise<unknown> {
  const items: TextItem[] = [];
  const results = c.inputs.map(
    (input) =>
      new Promise<{ output: string; chunks: number; meta: ItemMeta | undefined }>((resolve, reject) => {
        items.push(
          runTextItem(ctx.manager, c.model, input, {
            delta: () => undefined,
            done: (output, chunks, meta) => resolve({ output, chunks, meta }),
            failed: (error) => reject(new HttpError(500, `the processor failed: ${error}`, 'server_error', 'processor_error')),
          }),
        );
      }),
  );
  const gone = (): void => {
    for (const it of items) it.cancel('the client disconnected');
  };
  request.raw.socket.once('close', gone);
  try {
    const answers = await Promise.all(results);
    const tally = new AnswerUsage();
    answers.forEach((a, index) => tally.add(c.promptWords[index]!, a.chunks, a.meta));
    const usage = tally.total;
    if (c.kind === 'chat') {
      const a = answers[0]!;
      return {
        id,
        object: 'chat.completion',
        created,
        model: c.model,
        choices: [{ index: 0, message: { role: 'assistant', content: a.output, refusal: null }, logprobs: null, finish_reason: finishReasonOf(a.meta) }],
        usage,
      };
    }
    return {
      id,
      object: 'text_completion',
      created,
      model: c.model,
      choices: answers.map((a, index) => ({ index, text: a.output, logprobs: null, finish_reason: finishReasonOf(a.meta) })),
      usage,
    };
  } catch (err) {
    for (const it of items) it.cancel('another prompt of the request failed');
    throw err;
  } finally {
    request.raw.socket.off('close', gone);
  }
}

/**
 * Streaming: one `data:` frame per new piece, a final frame per choice, then if asked a frame
 * with `choices: []` and the usage (every other frame then says `usage: null`, as OpenAI's do),
 * then `[DONE]`.
 */
function streamAnswer(ctx: RouteContext, c: Completion, id: string, created: number, reply: FastifyReply): void {
  const metrics = ctx.manager.metrics;
  const object = c.kind === 'chat' ? 'chat.completion.chunk' : 'text_completion';
  const frame = (choices: unknown[], extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    id,
    object,
    created,
    model: c.model,
    choices,
    ...(c.includeUsage ? { usage: null } : {}),
    ...extra,
  });
  const choice = (index: number, piece: string, finish: string | null): unknown =>
    c.kind === 'chat'
      ? { index, delta: finish === null ? { content: piece } : {}, logprobs: null, finish_reason: finish }
      : { index, text: piece, logprobs: null, finish_reason: finish };

  let open = c.inputs.length;
  const tally = new AnswerUsage();
  let failed = false;
  const items: TextItem[] = [];
  const close = (): void => {
    if (stream.closed) return;
    if (!failed && c.includeUsage) stream.json(frame([], { usage: tally.total }));
    if (!failed) stream.send({ data: '[DONE]' });
    stream.end();
    metrics.streamClosed();
    metrics.request(c.kind === 'chat' ? '/v1/chat/completions' : '/v1/completions', 200);
  };
  // Validation passed and the model exists: from here on errors travel inside the stream.
  const stream = new SseStream(reply);
  metrics.streamOpened();
  if (c.kind === 'chat') stream.json(frame([{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }]));
  c.inputs.forEach((input, index) => {
    items.push(
      runTextItem(ctx.manager, c.model, input, {
        delta: (piece) => stream.json(frame([choice(index, piece, null)])),
        done: (_output, chunks, meta) => {
          tally.add(c.promptWords[index]!, chunks, meta);
          stream.json(frame([choice(index, '', finishReasonOf(meta))]));
          if (--open === 0) close();
        },
        failed: (error) => {
          if (failed) return;
          failed = true;
          for (const it of items) it.cancel('another prompt of the request failed');
          stream.json(errorBody(`the processor failed: ${error}`, 'server_error', 'processor_error'));
          close();
        },
      }),
    );
  });
  stream.onClose(() => {
    for (const it of items) it.cancel('the client disconnected');
    metrics.streamClosed();
    metrics.request(c.kind === 'chat' ? '/v1/chat/completions' : '/v1/completions', 499);
  });
}
