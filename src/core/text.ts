/**
 * Text helpers for one-line terminal display: truncating by display width (string-width), and,
 * re-exported from code-points.ts, sanitising streamed text and slicing by code points.
 * Pure: no I/O.
 */
import stringWidth from 'string-width';
import { isHigh, isLow } from './code-points.js';

export * from './code-points.js';

export const ELLIPSIS = '…';

// eslint-disable-next-line no-control-regex
const NON_ASCII_OR_CONTROL_RE = /[^\u0020-\u007e]/;

const widthCache = new Map<number, number>();
const WIDTH_CACHE_MAX = 4096;

/** Display width of one code point (cached; string-width semantics, never negative). */
function codePointWidth(cp: number): number {
  if (cp >= 0x20 && cp < 0x7f) return 1;
  const cached = widthCache.get(cp);
  if (cached !== undefined) return cached;
  const w = stringWidth(String.fromCodePoint(cp));
  if (widthCache.size >= WIDTH_CACHE_MAX) widthCache.clear();
  widthCache.set(cp, w);
  return w;
}

/** Display width of `text` in terminal columns (string-width, ASCII fast path). */
export function displayWidth(text: string): number {
  if (!NON_ASCII_OR_CONTROL_RE.test(text)) return text.length;
  return stringWidth(text);
}

/**
 * Cuts `text` from the end so its display width is at most `width`, appending `ellipsis` when
 * something was cut. Slices by code points: never splits a surrogate pair.
 */
export function truncateEnd(text: string, width: number, ellipsis: string = ELLIPSIS): string {
  if (width <= 0) return '';
  if (displayWidth(text) <= width) return text;
  const ellW = displayWidth(ellipsis);
  if (ellW > width) return headByWidth(text, width);
  return headByWidth(text, width - ellW) + ellipsis;
}

/**
 * Cuts `text` from the start so its display width is at most `width`, prepending `ellipsis`
 * when something was cut: the newest text of a stream stays visible.
 */
export function truncateStart(text: string, width: number, ellipsis: string = ELLIPSIS): string {
  if (width <= 0) return '';
  if (displayWidth(text) <= width) return text;
  const ellW = displayWidth(ellipsis);
  if (ellW > width) return tailByWidth(text, width);
  return ellipsis + tailByWidth(text, width - ellW);
}

/** Keeps both ends of `text` (ids often differ at either end). */
export function truncateMiddle(text: string, width: number, ellipsis: string = ELLIPSIS): string {
  if (width <= 0) return '';
  if (displayWidth(text) <= width) return text;
  const ellW = displayWidth(ellipsis);
  if (ellW > width) return headByWidth(text, width);
  const room = width - ellW;
  const right = Math.floor(room / 2);
  const head = headByWidth(text, room - right);
  const tail = tailByWidth(text, room - displayWidth(head));
  return head + ellipsis + tail;
}

/** Pads `text` with spaces on the right (or left) to exactly `width` columns, truncating if needed. */
export function fitWidth(text: string, width: number, align: 'left' | 'right' = 'left'): string {
  const cut = truncateEnd(text, width);
  const pad = width - displayWidth(cut);
  if (pad <= 0) return cut;
  return align === 'left' ? cut + ' '.repeat(pad) : ' '.repeat(pad) + cut;
}

/** The longest prefix of `text` (whole code points) whose display width is at most `width`. */
function headByWidth(text: string, width: number): string {
  if (width <= 0) return '';
  let used = 0;
  let i = 0;
  while (i < text.length) {
    const cp = text.codePointAt(i)!;
    const w = codePointWidth(cp);
    if (used + w > width) break;
    used += w;
    i += cp > 0xffff ? 2 : 1;
  }
  let out = text.slice(0, i);
  // Summing per code point can under-count sequences (emoji presentation): check the whole.
  while (out.length > 0 && displayWidth(out) > width) out = out.slice(0, out.length - codePointUnitsBefore(out, out.length));
  return out;
}

/** The longest suffix of `text` (whole code points) whose display width is at most `width`. */
function tailByWidth(text: string, width: number): string {
  if (width <= 0) return '';
  let used = 0;
  let i = text.length;
  while (i > 0) {
    const units = codePointUnitsBefore(text, i);
    const cp = text.codePointAt(i - units)!;
    const w = codePointWidth(cp);
    if (used + w > width) break;
    used += w;
    i -= units;
  }
  let out = text.slice(i);
  // Summing per code point can under-count sequences (emoji presentation): check the whole.
  while (out.length > 0 && displayWidth(out) > width) out = out.slice(out.codePointAt(0)! > 0xffff ? 2 : 1);
  return out;
}

/** How many UTF-16 units the code point ending at `end` (exclusive) takes: 1 or 2. */
function codePointUnitsBefore(text: string, end: number): number {
  if (end >= 2 && isLow(text.charCodeAt(end - 1)) && isHigh(text.charCodeAt(end - 2))) return 2;
  return 1;
}
