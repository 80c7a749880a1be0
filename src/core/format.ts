/** Small pure formatters for durations, rates, counts and progress bars. */

/** "850ms", "12.3s", "4m05s", "1h02m". Negative or non-finite values count as 0. */
export function formatDuration(ms: number): string {
  const v = Number.isFinite(ms) && ms > 0 ? ms : 0;
  if (Math.round(v) < 1000) return `${Math.round(v)}ms`;
  const tenths = Math.round(v / 100);
  if (tenths < 600) return `${(tenths / 10).toFixed(1)}s`;
  const totalSeconds = Math.round(v / 1000);
  if (totalSeconds < 3600) {
    const m = Math.floor(totalSeconds / 60);
    const s = totalSeconds % 60;
    return `${m}m${String(s).padStart(2, '0')}s`;
  }
  const totalMinutes = Math.round(v / 60_000);
  const h = Math.floor(totalMinutes / 60);
  const m = totalMinutes % 60;
  return `${h}h${String(m).padStart(2, '0')}m`;
}

/** "0.5", "12.3", "456", "1.2k", "45.6k", "1.2M": at most 5 characters for any magnitude < 1e12. */
export function formatCompact(x: number): string {
  const v = Number.isFinite(x) && x > 0 ? x : 0;
  if (v < 100) {
    const r = Math.round(v * 10) / 10;
    if (r < 100) return Number.isInteger(r) ? String(r) : r.toFixed(1);
  }
  if (v < 999.5) return String(Math.round(v));
  const units: readonly [number, string][] = [
    [1e3, 'k'],
    [1e6, 'M'],
    [1e9, 'G'],
  ];
  for (let i = 0; i < units.length; i++) {
    const [base, suffix] = units[i]!;
    const scaled = v / base;
    if (scaled < 9.95) return `${scaled.toFixed(1)}${suffix}`;
    if (scaled < 999.5) return `${Math.round(scaled)}${suffix}`;
  }
  return `${Math.round(v / 1e12)}T`;
}

/** "12.3/s", "1.2k/s", "0/s". */
export function formatRate(perSecond: number): string {
  return `${formatCompact(perSecond)}/s`;
}

/** Exact below 100 000 ("812", "99999"), compact above ("123k", "1.2M"). */
export function formatCount(n: number): string {
  const v = Number.isFinite(n) && n > 0 ? Math.round(n) : 0;
  return v < 100_000 ? String(v) : formatCompact(v);
}

/** "5s" or "?" when unknown. */
export function formatEta(ms: number | null): string {
  return ms === null ? '?' : formatDuration(ms);
}

/** "64%" ("99%" until everything is done, never rounding up to 100%). */
export function formatPercent(fraction: number): string {
  const f = clamp01(fraction);
  const p = Math.floor(f * 100);
  return `${p}%`;
}

const EIGHTHS = ['', '▏', '▎', '▍', '▌', '▋', '▊', '▉'] as const;

/**
 * A progress bar of exactly `width` columns. `blocks`: "█████▍    " with eighth-block
 * precision, the empty part drawn with `track` (one column, default a space); `ascii`:
 * "[####----]" (brackets included in the width).
 */
export function progressBar(
  fraction: number,
  width: number,
  style: 'blocks' | 'ascii' = 'blocks',
  track: string = ' ',
): string {
  const w = Math.max(0, Math.floor(width));
  const f = clamp01(fraction);
  if (style === 'ascii') {
    if (w < 3) return '#'.repeat(Math.round(f * w)).padEnd(w, '-');
    const inner = w - 2;
    const filled = Math.floor(f * inner);
    return `[${'#'.repeat(filled)}${'-'.repeat(inner - filled)}]`;
  }
  const eighths = Math.floor(f * w * 8);
  const full = Math.floor(eighths / 8);
  const part = full < w ? EIGHTHS[eighths % 8]! : '';
  const used = full + (part ? 1 : 0);
  return '█'.repeat(full) + part + track.repeat(w - used);
}

function clamp01(x: number): number {
  if (!Number.isFinite(x) || x <= 0) return 0;
  return x >= 1 ? 1 : x;
}

/** `$12.34`, `$0.0123`, `$0.0000080`: cents from a dollar up, then four decimals, then two significant digits. */
export function formatUsd(usd: number): string {
  if (!(usd > 0)) return '$0';
  return `$${usd >= 1 ? usd.toFixed(2) : usd >= 0.01 ? usd.toFixed(4) : usd.toFixed(Math.min(12, 1 - Math.floor(Math.log10(usd))))}`;
}
