/**
 * A table that fits a width: columns are dropped, lowest priority first, until the rest fit;
 * one flexible column takes what is left. Pure: rows in, styled lines out, every line exactly
 * `width` columns or less.
 */
import { displayWidth, truncateMiddle } from '../core/text.js';
import { segWidth, truncateSegs, type Seg } from './layout.js';

export interface Column<T> {
  readonly header: string;
  /** Higher stays longer on a narrow terminal. */
  readonly priority: number;
  readonly align?: 'left' | 'right';
  /** The cell's content in at most `width` columns (longer is cut). */
  readonly cell: (row: T, width: number) => readonly Seg[];
  /** The content's natural width is capped here. */
  readonly max?: number;
  /** The narrowest a flexible column gets before the table drops columns instead. */
  readonly min?: number;
  /** Takes the width left over (up to `max`). At most one column should flex. */
  readonly flex?: boolean;
  /** How text too long for the cell is cut. Default: at the end. */
  readonly cut?: 'end' | 'middle';
  /** Left out when no row has a value in it (every cell empty or '-'). */
  readonly optional?: boolean;
}

export interface FittedTable<T> {
  readonly columns: readonly Column<T>[];
  readonly widths: readonly number[];
}

const GAP = 2;

/** Which columns fit `width`, and how wide each is, for these rows. */
export function fitTable<T>(all: readonly Column<T>[], rows: readonly T[], width: number): FittedTable<T> {
  const columns = all.filter((c) => !c.optional || rows.some((r) => !isBlank(c.cell(r, c.max ?? 200))));
  const natural = columns.map((c) => {
    let w = displayWidth(c.header);
    // A flexible column with a cap grows to it; without one, to its widest cell.
    if (!c.flex || c.max === undefined) for (const r of rows) w = Math.max(w, segWidth(c.cell(r, c.max ?? 200)));
    else w = Math.max(w, c.max);
    return Math.min(c.max ?? Number.MAX_SAFE_INTEGER, w);
  });
  const least = columns.map((c, k) => (c.flex ? Math.min(natural[k]!, Math.max(displayWidth(c.header), c.min ?? 1)) : natural[k]!));
  const kept = columns.map((_, k) => k);
  const need = (): number => kept.reduce((sum, k) => sum + least[k]!, 0) + GAP * Math.max(0, kept.length - 1);
  while (kept.length > 1 && need() > width) {
    let drop = 0;
    for (let i = 1; i < kept.length; i++) if (columns[kept[i]!]!.priority < columns[kept[drop]!]!.priority) drop = i;
    kept.splice(drop, 1);
  }
  const widths = kept.map((k) => least[k]!);
  let spare = width - need();
  kept.forEach((k, i) => {
    if (!columns[k]!.flex || spare <= 0) return;
    const grow = Math.min(spare, natural[k]! - widths[i]!);
    widths[i]! += grow;
    spare -= grow;
  });
  if (kept.length === 1) widths[0] = Math.min(widths[0]!, width);
  return { columns: kept.map((k) => columns[k]!), widths };
}

function isBlank(segs: readonly Seg[]): boolean {
  const t = segs.map((s) => s.text).join('').trim();
  return t === '' || t === '-';
}

export function headerLine<T>(t: FittedTable<T>, width: number): Seg[] {
  return line(
    t,
    t.columns.map((c) => [{ text: c.header, bold: true }]),
    width,
  );
}

export function rowLine<T>(t: FittedTable<T>, row: T, width: number): Seg[] {
  return line(
    t,
    t.columns.map((c, k) => c.cell(row, t.widths[k]!)),
    width,
  );
}

function line<T>(t: FittedTable<T>, cells: readonly (readonly Seg[])[], width: number): Seg[] {
  const out: Seg[] = [];
  t.columns.forEach((c, k) => {
    const w = t.widths[k]!;
    if (k > 0) out.push({ text: ' '.repeat(GAP) });
    out.push(...fitCell(cells[k]!, w, c.align ?? 'left', c.cut ?? 'end'));
  });
  // Trailing spaces are left out: the line is as long as its content.
  while (out.length > 0 && out[out.length - 1]!.text.trim() === '') out.pop();
  const last = out[out.length - 1];
  if (last) out[out.length - 1] = { ...last, text: last.text.trimEnd() };
  return truncateSegs(out, width);
}

/** Cell segments in exactly `width` columns: cut (end or middle) or padded. */
function fitCell(segs: readonly Seg[], width: number, align: 'left' | 'right', cut: 'end' | 'middle'): Seg[] {
  let fitted: Seg[];
  if (segWidth(segs) <= width) fitted = [...segs];
  else if (cut === 'middle' && segs.length === 1) fitted = [{ ...segs[0]!, text: truncateMiddle(segs[0]!.text, width) }];
  else fitted = truncateSegs(segs, width);
  const pad = width - segWidth(fitted);
  if (pad <= 0) return fitted;
  return align === 'right' ? [{ text: ' '.repeat(pad) }, ...fitted] : [...fitted, { text: ' '.repeat(pad) }];
}

/** One plain cell. */
export const text = (t: string, style: Omit<Seg, 'text'> = {}): Seg[] => [{ text: t, ...style }];
