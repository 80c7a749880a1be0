/**
 * Plain lines shared by every reporter: counts with their noun, and the final summary. Apart from
 * layout.ts (widths, string-width) so that the plain and JSON reporters load without it.
 */
import { formatCount, formatDuration, formatUsd } from '../core/format.js';
import { sanitizeForLine } from '../core/code-points.js';
import type { FinalSummary } from './reporter.js';
import type { TokenTotals } from '../core/token-tally.js';

/** Display text from user data: no control characters, no line breaks. */
export const oneLine = sanitizeForLine;

/** `1 item`, `2 items`, `1,000 items`. */
export function plural(n: number, one: string, many: string = `${one}s`): string {
  return `${formatCount(n)} ${n === 1 ? one : many}`;
}

let grouped: Intl.NumberFormat | null = null;
/** Made when first needed: building a number format costs start-up time. */
const exact = (): Intl.NumberFormat => (grouped ??= new Intl.NumberFormat('en-US'));

/** `1,200 prompt + 3,400 completion = 4,600` (exact: it is a bill), `(some estimated)` when slowwork counted some itself. */
export function tokensText(t: TokenTotals): string {
  const sum = `${exact().format(t.prompt)} prompt + ${exact().format(t.completion)} completion = ${exact().format(t.prompt + t.completion)}`;
  const parts = [t.estimated ? `${sum} (some estimated)` : sum];
  if (t.costUsd !== undefined) parts.push(formatUsd(t.costUsd));
  // Said only beside a cost: with none priced, the run simply has no cost line.
  if (t.costUsd !== undefined && t.unpriced) parts.push(`${exact().format(t.unpriced)} unpriced (no price for their model: --param price_in/price_out)`);
  return parts.join(' · ');
}

/** The final summary as plain lines (no styling, no width limit: paths must stay whole). */
export function summaryLines(summary: FinalSummary, skipped = 0): string[] {
  const c = summary.counts;
  const parts = [`${formatCount(c.done)} done`, `${formatCount(c.failed)} failed`];
  if (c.unfinished > 0) parts.push(`${formatCount(c.unfinished)} unfinished`);
  const how = summary.cancelReason ? 'cancelled' : summary.stopReason ? 'stopped' : summary.interrupted ? 'interrupted' : 'finished';
  let first = `${how}: ${parts.join(', ')} of ${formatCount(c.total)} in ${formatDuration(summary.elapsedMs)}`;
  if (summary.cancelReason) first += ` (${oneLine(summary.cancelReason)})`;
  if (skipped > 0) first += ` (${formatCount(skipped)} skipped, done before)`;
  const lines = [first];
  if (summary.stopReason) lines.push(`cause:   ${oneLine(summary.stopReason)}`);
  if (summary.tokens) lines.push(`tokens:  ${tokensText(summary.tokens)}`);
  lines.push(`results: ${oneLine(summary.outPath)}`);
  if (summary.resumeCommand) lines.push(`resume:  ${oneLine(summary.resumeCommand)}`);
  return lines;
}
