/** Small helpers over `fetch` shared by both sides: bounded reads, JSON posts, error lines. */
import { describeError } from '../../core/errors.js';
import { bearer } from './wire.js';

/** The system error code behind a failed fetch (`ECONNREFUSED`, `UND_ERR_SOCKET`), if any. */
export function fetchErrorCode(err: unknown): string | null {
  let e: unknown = err;
  for (let depth = 0; depth < 4 && typeof e === 'object' && e !== null; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    e = (e as { cause?: unknown }).cause;
  }
  return null;
}

/** fetch refuses a fixed list of ports (the WHATWG "bad ports": 1, 9, 6000, 10080, ...) outright. */
export const BAD_PORT = 'fetch refuses this port (one of the reserved "bad ports"): use another';

/** `connection refused (ECONNREFUSED)`-style line for a fetch that failed below HTTP. */
export function describeFetchError(err: unknown): string {
  const code = fetchErrorCode(err);
  const cause = (err as { cause?: unknown } | null)?.cause;
  const what = cause ? describeError(cause) : describeError(err);
  if (what === 'bad port') return BAD_PORT;
  return code && !what.includes(code) ? `${what} (${code})` : what;
}

/** The response body as text, at most `maxBytes` (the rest is not read). */
export async function readCapped(res: Response, maxBytes: number): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  let bytes = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      bytes += value.byteLength;
      if (bytes > maxBytes) throw new Error(`answer larger than ${maxBytes} bytes`);
      text += decoder.decode(value, { stream: true });
    }
  } finally {
    reader.cancel().catch(() => undefined);
  }
  return text + decoder.decode();
}

/** Parses JSON, or undefined when it is not JSON. */
export function tryJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** The message of a `{"error": {"message"}}` (or `{"error": "..."}`) answer, if it is one. */
export function errorMessageOf(body: unknown): string | null {
  if (typeof body !== 'object' || body === null) return null;
  const error = (body as { error?: unknown }).error;
  if (typeof error === 'string') return error;
  if (typeof error === 'object' && error !== null && typeof (error as { message?: unknown }).message === 'string') {
    return (error as { message: string }).message;
  }
  return null;
}

export interface JsonAnswer {
  readonly status: number;
  /** The parsed body; undefined when it was not JSON. */
  readonly body: unknown;
}

/** POSTs JSON with a time limit; rejects only when no HTTP answer came (connection, timeout). */
export async function postJson(url: string, body: unknown, opts: { token?: string; timeoutMs: number; maxBytes?: number }): Promise<JsonAnswer> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...bearer(opts.token) },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(opts.timeoutMs),
  });
  const text = await readCapped(res, opts.maxBytes ?? 1 << 20);
  return { status: res.status, body: tryJson(text) };
}
