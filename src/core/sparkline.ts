/** A sparkline: one block character per value, scaled to the largest value shown. */

const BARS = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'] as const;

/**
 * The newest `width` values as exactly `width` columns, oldest left; missing history is blank
 * on the left. Zero is the lowest bar only when something else was above it, a space when all
 * is zero (an idle system shows an empty line, not a floor of bars). `max` fixes the scale.
 */
export function sparkline(values: readonly number[], width: number, max?: number): string {
  const w = Math.max(0, Math.floor(width));
  if (w === 0) return '';
  const shown = values.slice(Math.max(0, values.length - w));
  let top = max ?? 0;
  if (max === undefined) for (const v of shown) if (Number.isFinite(v) && v > top) top = v;
  let out = ' '.repeat(w - shown.length);
  for (const v of shown) {
    if (top <= 0 || !Number.isFinite(v) || v <= 0) {
      out += top > 0 ? BARS[0] : ' ';
      continue;
    }
    const k = Math.min(BARS.length - 1, Math.max(0, Math.ceil((v / top) * BARS.length) - 1));
    out += BARS[k];
  }
  return out;
}

/**
 * Averages consecutive values in groups of `per` (newest group complete, oldest may be short),
 * so a long history fits a narrow line: 180 one-second samples in 60 columns at `per` 3.
 */
export function downsample(values: readonly number[], per: number): number[] {
  const p = Math.max(1, Math.floor(per));
  if (p === 1) return [...values];
  const out: number[] = [];
  for (let end = values.length; end > 0; end -= p) {
    const start = Math.max(0, end - p);
    let sum = 0;
    for (let i = start; i < end; i++) sum += values[i]!;
    out.push(sum / (end - start));
  }
  return out.reverse();
}
