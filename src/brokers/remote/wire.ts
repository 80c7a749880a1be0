/**
 * The remote-processor wire contract, in one place: the shapes a manager and a processor server
 * exchange, their zod schemas, and the NDJSON stream lines. Pure: no I/O.
 *
 * Registration (processor → manager)
 *   POST {manager}/processors/register  {name, id, url}          url: http: or https: only (else 400)
 *   The manager calls GET {url}/meta (~3 s timeout) and accepts only when the answer's name and
 *   id equal the request's: 200 {registered: true, name, id, url}; a mismatch is 409, an
 *   unreachable / timed-out / non-JSON answer 502. The same id registered again replaces its url
 *   (a restarted processor). Errors are {"error": {"message": "...", "type": "..."}}.
 *
 * Health (manager → processor)
 *   GET {url}/meta every healthIntervalMs (default 2000, timeout 1000): a failure or a name/id
 *   mismatch takes the endpoint out of rotation, the next good answer puts it back; after
 *   maxFailures (default 30) failures in a row it is dropped. The answer may carry
 *   `concurrency`: the manager then keeps at most that many items in flight on it.
 *
 * Work (manager → processor)
 *   POST {url}/process  {id, item, input, params, attempt, callback, report}
 *     id        dispatch id, unique per attempt
 *     callback  "{manager}/complete", for processors that answer 202
 *     report    true: the manager reads {"meta"} lines (below). Older managers do not send it and
 *               take any line they do not know as a broken stream, so without it send none.
 *   Answer 200 application/x-ndjson, one JSON object a line:
 *     {"chunk": "text"} ... then {"done": true}  or  {"error": "message"}
 *   (blank lines are keep-alives: any bytes reset the manager's idle timer),
 *   or 202, and later POST {callback} {id, output} or {id, error} (→ 200 {accepted: true}; an id
 *   the manager no longer waits for → 404).
 *   What the attempt cost (core/item-meta.ts: usage, model, finish_reason, request_id) goes as
 *   {"meta": {...}} before done/error (a later one replaces the fields it names), or as `meta`
 *   beside output/error on /complete (older managers drop the unknown key). A meta the manager
 *   cannot read is a broken stream, or a 400 on /complete.
 *   A stream that ends without done/error, a connection error, an idle stream, or a 5xx is the
 *   endpoint's failure: the item goes to another endpoint, not charged against its retries. An
 *   {"error"} line or a 4xx is the item's failure: charged, retried with backoff.
 *
 * Auth: with a token, the processor sends `Authorization: Bearer <token>` on register and
 * complete, and the manager sends it on /process (a processor server given --token checks it).
 */
import { z } from 'zod';
import { checkedMeta, type ItemMeta } from '../../core/item-meta.js';
import type { ItemInput, Params } from '../../core/types.js';

/** `{"error": {"message", "type"}}`: every JSON error answer on both sides. */
export interface JsonError {
  readonly error: { readonly message: string; readonly type: string };
}

export const jsonError = (message: string, type: string): JsonError => ({ error: { message, type } });

/** Error `type` values. */
export const ErrorType = {
  invalid: 'invalid_request_error',
  unauthorized: 'authentication_error',
  notFound: 'not_found_error',
  mismatch: 'processor_mismatch',
  unreachable: 'processor_unreachable',
  busy: 'processor_busy',
  server: 'server_error',
} as const;

/** No control characters: names and ids end up in terminal lines and metrics labels. */
const label = (what: string) =>
  z
    .string({ error: `${what} must be a string` })
    .min(1, `${what} must not be empty`)
    .max(200, `${what} must be at most 200 characters`)
    .regex(/^[^\u0000-\u001f\u007f]+$/, `${what} must not contain control characters`);

export const registerRequestSchema = z.object({
  name: label('name'),
  id: label('id'),
  url: z.string({ error: 'url must be a string' }).min(1, 'url must not be empty').max(2000, 'url must be at most 2000 characters'),
});
export type RegisterRequest = z.infer<typeof registerRequestSchema>;

/**
 * An item's meta as a peer sent it, checked as `ctx.report` is: throws a TypeError naming the bad
 * field (`meta: usage must be ...`).
 */
export function wireMeta(value: unknown): ItemMeta {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError('meta must be an object {usage?: {prompt_tokens, completion_tokens}, model?, finish_reason?, request_id?}');
  }
  try {
    return checkedMeta(value);
  } catch (err) {
    throw new TypeError(`meta: ${(err as Error).message.replace(/^ctx\.report:\s*/, '')}`);
  }
}

const metaField = z
  .unknown()
  .transform((value, ctx): ItemMeta => {
    try {
      return wireMeta(value);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
      return z.NEVER;
    }
  })
  .optional();

export const completeRequestSchema = z
  .object({
    id: z.string({ error: 'id must be a string' }).min(1, 'id must not be empty').max(200),
    output: z.string({ error: 'output must be a string' }).optional(),
    error: z.string({ error: 'error must be a string' }).optional(),
    meta: metaField,
  })
  .refine((b) => (b.output === undefined) !== (b.error === undefined), { message: 'give exactly one of output or error' });
export type CompleteRequest = z.infer<typeof completeRequestSchema>;

export const processRequestSchema = z.object({
  id: z.string({ error: 'id must be a string' }).min(1, 'id must not be empty').max(200),
  item: z.string({ error: 'item must be a string' }).max(1000),
  input: z.unknown().refine((v) => v !== undefined, 'input is required'),
  params: z.record(z.string(), z.string({ error: 'params values must be strings' })).default({}),
  attempt: z.number({ error: 'attempt must be a number' }).int().min(1).default(1),
  callback: z.string().max(2000).optional(),
  report: z.boolean().optional(),
});

export interface ProcessRequest {
  readonly id: string;
  readonly item: string;
  readonly input: ItemInput;
  readonly params: Params;
  readonly attempt: number;
  readonly callback: string;
  /** The manager reads {"meta"} lines: send the item's meta before done/error. */
  readonly report?: boolean;
}

/** What GET {url}/meta answers; the manager reads name, id and (optionally) concurrency. */
export const metaAnswerSchema = z.object({
  name: z.string(),
  id: z.string(),
  concurrency: z.number().int().positive().optional(),
  /** `messages`: a chat request hands it the `{messages}` object (the contract's `accepts`). */
  accepts: z.enum(['text', 'messages']).optional(),
});
export type MetaAnswer = z.infer<typeof metaAnswerSchema>;

/** The first issue of a failed zod parse, as one line: `name: must not be empty`. */
export function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid body';
  const where = issue.path.length > 0 ? issue.path.join('.') : '';
  // Messages written above name their field already; zod's own ones do not.
  return where && !issue.message.startsWith(String(issue.path[0])) ? `${where}: ${issue.message}` : issue.message;
}

// ---- the NDJSON stream -----------------------------------------------------------------------

export type StreamLine =
  | { readonly kind: 'chunk'; readonly text: string }
  | { readonly kind: 'meta'; readonly meta: ItemMeta }
  | { readonly kind: 'done' }
  | { readonly kind: 'error'; readonly message: string }
  /** A protocol line whose content is wrong (a meta that does not check): why. */
  | { readonly kind: 'invalid'; readonly why: string };

export const chunkLine = (text: string): string => `${JSON.stringify({ chunk: text })}\n`;
export const metaLine = (meta: ItemMeta): string => `${JSON.stringify({ meta })}\n`;
export const doneLine = (): string => '{"done":true}\n';
export const errorLine = (message: string): string => `${JSON.stringify({ error: message })}\n`;

/** One line of a /process stream; null for a line that is not part of the protocol. */
export function parseStreamLine(line: string): StreamLine | null {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const v = value as Record<string, unknown>;
  if (typeof v.chunk === 'string') return { kind: 'chunk', text: v.chunk };
  if (v.done === true) return { kind: 'done' };
  if (typeof v.error === 'string') return { kind: 'error', message: v.error };
  if (v.meta !== undefined) {
    try {
      return { kind: 'meta', meta: wireMeta(v.meta) };
    } catch (err) {
      return { kind: 'invalid', why: (err as Error).message };
    }
  }
  return null;
}

/** Cuts a text stream into lines; a line may arrive in pieces. Blank lines are skipped. */
export class LineSplitter {
  private rest = '';

  push(text: string): string[] {
    const joined = this.rest + text;
    const parts = joined.split('\n');
    this.rest = parts.pop() ?? '';
    return parts.filter((p) => p.trim() !== '');
  }

  /** Characters of a line still waiting for its newline. */
  get pendingLength(): number {
    return this.rest.length;
  }

  /** What is left when the stream ends (a last line without its newline). */
  end(): string[] {
    const last = this.rest;
    this.rest = '';
    return last.trim() === '' ? [] : [last];
  }
}

/** `http://host:port/base/` → `http://host:port/base`; null unless http: or https:. */
export function normalizeEndpointUrl(raw: string): string | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  if (url.username || url.password || url.search || url.hash) return null;
  return url.href.replace(/\/+$/, '');
}

export const bearer = (token: string | undefined): Record<string, string> => (token ? { authorization: `Bearer ${token}` } : {});
