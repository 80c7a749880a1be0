/**
 * GET {url}/meta, bounded in time and size, compared with the name and id the endpoint
 * registered: the one call behind both registration and health checks.
 */
import { describeFetchError, readCapped, tryJson } from './http.js';
import { bearer, metaAnswerSchema, type MetaAnswer } from './wire.js';

export type MetaCheck =
  | { readonly ok: true; readonly meta: MetaAnswer }
  /** `unreachable`: no usable answer (connection, timeout, HTTP error, not JSON); `mismatch`: another processor answers there. */
  | { readonly ok: false; readonly kind: 'unreachable' | 'mismatch'; readonly error: string };

const MAX_META_BYTES = 64 * 1024;

export async function checkMeta(
  url: string,
  expected: { readonly name: string; readonly id: string },
  opts: { readonly timeoutMs: number; readonly token?: string; readonly signal?: AbortSignal },
): Promise<MetaCheck> {
  const where = `${url}/meta`;
  const timeout = AbortSignal.timeout(opts.timeoutMs);
  const signal = opts.signal ? AbortSignal.any([timeout, opts.signal]) : timeout;
  let text: string;
  let status: number;
  try {
    const res = await fetch(where, { headers: { accept: 'application/json', ...bearer(opts.token) }, signal });
    status = res.status;
    text = await readCapped(res, MAX_META_BYTES);
  } catch (err) {
    const why = timeout.aborted ? `no answer within ${opts.timeoutMs} ms` : signal.aborted ? 'check cancelled' : describeFetchError(err);
    return { ok: false, kind: 'unreachable', error: `GET ${where} failed: ${why}` };
  }
  if (status < 200 || status > 299) return { ok: false, kind: 'unreachable', error: `GET ${where} answered HTTP ${status}` };
  const parsed = metaAnswerSchema.safeParse(tryJson(text));
  if (!parsed.success) {
    return { ok: false, kind: 'unreachable', error: `GET ${where} did not answer JSON with a name and an id (${parsed.error.issues[0]?.message ?? 'invalid'})` };
  }
  const meta = parsed.data;
  if (meta.name !== expected.name || meta.id !== expected.id) {
    return {
      ok: false,
      kind: 'mismatch',
      error: `GET ${where} answered name "${meta.name}", id "${meta.id}"; expected name "${expected.name}", id "${expected.id}"`,
    };
  }
  return { ok: true, meta };
}
