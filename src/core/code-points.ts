/**
 * Text helpers for one-line display that need no width tables: sanitising streamed text and
 * slicing by code points (never splitting a surrogate pair). Apart from text.ts, whose display
 * widths load string-width, so that the plain and JSON reporters start without it. Pure: no I/O.
 */
// C0 controls (tab, newline, ESC...), DEL, C1 controls, and the line/paragraph separators.
// eslint-disable-next-line no-control-regex
const CONTROL_RE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;
// eslint-disable-next-line no-control-regex
const HAS_CONTROL_RE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
const SPACE_RUN_RE = / {2,}/g;

/**
 * Replaces newlines, tabs and every other control character (which includes ESC, so no
 * terminal escape sequence survives) by a space, one for one. Surrogates are left alone, so a
 * pair split across two chunks joins up again once they are concatenated.
 */
export function sanitizeForLine(text: string): string {
  return HAS_CONTROL_RE.test(text) ? text.replace(CONTROL_RE, ' ') : text;
}

/** Collapses runs of spaces to one space. */
export function collapseSpaces(text: string): string {
  return text.includes('  ') ? text.replace(SPACE_RUN_RE, ' ') : text;
}

/** sanitizeForLine + collapseSpaces + trim: the form for previews and error messages. */
export function toOneLine(text: string): string {
  return collapseSpaces(sanitizeForLine(text)).trim();
}

/** A UTF-16 high (leading) surrogate. */
export function isHigh(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

/** A UTF-16 low (trailing) surrogate. */
export function isLow(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}

/** The last `n` code points of `text`; a surrogate pair is never split. */
export function tailCodePoints(text: string, n: number): string {
  if (n <= 0) return '';
  // Fast path: n code points are at most 2n units, at least n units.
  if (text.length <= n) return text;
  let i = text.length;
  let count = 0;
  while (i > 0 && count < n) {
    i--;
    if (i > 0 && isLow(text.charCodeAt(i)) && isHigh(text.charCodeAt(i - 1))) i--;
    count++;
  }
  return i === 0 ? text : text.slice(i);
}

/** The first `n` code points of `text`; a surrogate pair is never split. */
export function headCodePoints(text: string, n: number): string {
  if (n <= 0) return '';
  if (text.length <= n) return text;
  let i = 0;
  let count = 0;
  while (i < text.length && count < n) {
    if (isHigh(text.charCodeAt(i)) && i + 1 < text.length && isLow(text.charCodeAt(i + 1))) i += 2;
    else i++;
    count++;
  }
  return i >= text.length ? text : text.slice(0, i);
}

/** Number of code points in `text`. */
export function codePointLength(text: string): number {
  let count = 0;
  for (let i = 0; i < text.length; i++) {
    if (isHigh(text.charCodeAt(i)) && i + 1 < text.length && isLow(text.charCodeAt(i + 1))) i++;
    count++;
  }
  return count;
}

/**
 * Makes a string safe to print: a lone high surrogate at the very end (the rest of a pair that
 * has not arrived yet) is dropped, any other lone surrogate becomes U+FFFD.
 */
export function toWellFormed(text: string): string {
  let out: string | null = null;
  let from = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0xd800 || c > 0xdfff) continue;
    if (isHigh(c) && i + 1 < text.length && isLow(text.charCodeAt(i + 1))) {
      i++;
      continue;
    }
    out = (out ?? '') + text.slice(from, i) + (i === text.length - 1 && isHigh(c) ? '' : '\uFFFD');
    from = i + 1;
  }
  return out === null ? text : out + text.slice(from);
}
