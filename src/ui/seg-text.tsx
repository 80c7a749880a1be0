/**
 * Styled lines drawn through placeholders: ink lays out `columns` spaces (one string per
 * terminal width, measured once, so its caches stay bounded however the text changes) and the
 * styled text replaces them at output time through <Transform>. Shared by the submit view and
 * the dashboard.
 */
import type { ReactNode } from 'react';
import { Box, Transform } from 'ink';
import chalk from 'chalk';
import { truncateSegs, type Seg, type SegColor } from './layout.js';

/**
 * One line of the live area as ink sees it: `columns` spaces (one string per terminal width,
 * so ink's measure and wrap caches hold a bounded set however the text changes), replaced at
 * output time by `text`, which is already styled and fitted to `columns`. Should ink's box be
 * narrower (a resize not yet seen), ink wraps the spaces and hands over a narrower first line:
 * `cut(width)` then makes the text for that width; the wrapped lines after it stay empty.
 */
export function PlaceholderLine({
  columns,
  text,
  cut,
}: {
  readonly columns: number;
  readonly text: string;
  readonly cut: (width: number) => string;
}): ReactNode {
  const transform = (line: string, index: number): string => {
    if (index > 0) return '';
    return line.length < columns ? cut(line.length) : text;
  };
  return (
    <Box height={1}>
      <Transform transform={transform}>{placeholder(columns)}</Transform>
    </Box>
  );
}

let placeholderCache = '';
/** `width` spaces (one shared string per width). */
function placeholder(width: number): string {
  if (placeholderCache.length !== width) placeholderCache = ' '.repeat(Math.max(0, width));
  return placeholderCache;
}

/** One line of styled segments (already fitted to `columns`; cut again if ink is narrower). */
export function SegText({ segs, columns }: { readonly segs: readonly Seg[]; readonly columns: number }): ReactNode {
  return <PlaceholderLine columns={columns} text={styleSegs(segs)} cut={(w) => styleSegs(truncateSegs(segs, w))} />;
}

/**
 * Segments as one styled string, styled the way nested ink <Text>s would be (dim, then the
 * color, then bold), so the terminal shows exactly what the <Text> version showed.
 */
export function styleSegs(segs: readonly Seg[]): string {
  let out = '';
  for (const s of segs) out += style(s.text, s.color, s.dim === true, s.bold === true);
  return out;
}

export function style(text: string, color: SegColor | undefined, dim: boolean, bold = false): string {
  if (text === '') return text;
  let out = dim ? chalk.dim(text) : text;
  if (color) out = chalk[color](out);
  return bold ? chalk.bold(out) : out;
}

