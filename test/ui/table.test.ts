import { describe, expect, it } from 'vitest';
import { displayWidth } from '../../src/core/text.js';
import { segsText, type Seg } from '../../src/ui/layout.js';
import { fitTable, headerLine, rowLine, text, type Column } from '../../src/ui/table.js';

interface Row {
  readonly name: string;
  readonly n: number;
  readonly note: string;
}

const ROWS: Row[] = [
  { name: 'alpha', n: 7, note: 'first' },
  { name: 'beta-longer', n: 12345, note: 'second note' },
];

/** NAME (flex 6..20) prio 10, COUNT (right) prio 8, NOTE prio 2, X prio 5. */
function cols(over: Partial<Record<'name' | 'count' | 'note' | 'x', Partial<Column<Row>>>> = {}): Column<Row>[] {
  return [
    { header: 'NAME', priority: 10, flex: true, min: 6, max: 20, cell: (r) => text(r.name), ...over.name },
    { header: 'COUNT', priority: 8, align: 'right', cell: (r) => text(String(r.n)), ...over.count },
    { header: 'NOTE', priority: 2, cell: (r) => text(r.note), ...over.note },
    { header: 'X', priority: 5, cell: () => text('xx'), ...over.x },
  ];
}

const headers = (t: { columns: readonly Column<Row>[] }): string[] => t.columns.map((c) => c.header);
const lineText = (segs: readonly Seg[]): string => segsText(segs);

describe('fitTable', () => {
  it('keeps every column when there is room, the flex column growing to its max', () => {
    const t = fitTable(cols(), ROWS, 200);
    expect(headers(t)).toEqual(['NAME', 'COUNT', 'NOTE', 'X']);
    // NAME flex up to 20; COUNT natural max("COUNT", "12345") = 5; NOTE "second note" = 11; X "xx" = 2.
    expect(t.widths).toEqual([20, 5, 11, 2]);
  });

  it('drops columns lowest priority first as the width shrinks', () => {
    // Least widths: NAME 6, COUNT 5, NOTE 11, X 2; gaps of 2.
    const all = 6 + 5 + 11 + 2 + 3 * 2; // 30
    expect(headers(fitTable(cols(), ROWS, all))).toEqual(['NAME', 'COUNT', 'NOTE', 'X']);
    expect(headers(fitTable(cols(), ROWS, all - 1))).toEqual(['NAME', 'COUNT', 'X']); // NOTE (2) first
    const three = 6 + 5 + 2 + 2 * 2; // 17
    expect(headers(fitTable(cols(), ROWS, three))).toEqual(['NAME', 'COUNT', 'X']);
    expect(headers(fitTable(cols(), ROWS, three - 1))).toEqual(['NAME', 'COUNT']); // then X (5)
    const two = 6 + 5 + 2; // 13
    expect(headers(fitTable(cols(), ROWS, two))).toEqual(['NAME', 'COUNT']);
    expect(headers(fitTable(cols(), ROWS, two - 1))).toEqual(['NAME']); // then COUNT (8)
    expect(headers(fitTable(cols(), ROWS, 3))).toEqual(['NAME']); // the last one always stays
  });

  it('the set of columns only ever shrinks as the width shrinks, and always by priority', () => {
    let prev = headers(fitTable(cols(), ROWS, 60));
    for (let width = 59; width >= 1; width--) {
      const now = headers(fitTable(cols(), ROWS, width));
      for (const h of now) expect(prev, `width ${width}`).toContain(h);
      prev = now;
    }
  });

  it('keeps the column order of the definition', () => {
    const c = cols({ note: { priority: 100 } });
    expect(headers(fitTable(c, ROWS, 22))).toEqual(['NAME', 'NOTE']);
  });

  it('gives the flex column the spare width, up to its max', () => {
    const fixed = 5 + 11 + 2 + 3 * 2; // everything but NAME: 24
    expect(fitTable(cols(), ROWS, fixed + 6).widths[0]).toBe(6);
    expect(fitTable(cols(), ROWS, fixed + 9).widths[0]).toBe(9);
    expect(fitTable(cols(), ROWS, fixed + 20).widths[0]).toBe(20);
    expect(fitTable(cols(), ROWS, fixed + 35).widths[0]).toBe(20);
    // The total never exceeds the width.
    for (let width = 1; width <= 80; width++) {
      const t = fitTable(cols(), ROWS, width);
      const total = t.widths.reduce((a, b) => a + b, 0) + 2 * (t.widths.length - 1);
      expect(total, `width ${width}`).toBeLessThanOrEqual(width);
    }
  });

  it('caps a column at its max and never makes it narrower than its header (unless alone)', () => {
    const c = cols({ note: { max: 6 } });
    const t = fitTable(c, ROWS, 200);
    expect(t.widths[2]).toBe(6);
    const wideHeader: Column<Row>[] = [{ header: 'A-LONG-HEADER', priority: 1, cell: () => text('x') }];
    expect(fitTable(wideHeader, ROWS, 100).widths).toEqual([13]);
    expect(fitTable(wideHeader, ROWS, 5).widths).toEqual([5]);
  });

  it('measures wide characters by display width', () => {
    const wide: Row[] = [{ name: '工作者', n: 1, note: '東京東京' }];
    const t = fitTable(cols(), wide, 200);
    expect(t.widths[2]).toBe(8);
  });
});

describe('headerLine and rowLine', () => {
  it('pads cells to their widths with two-space gaps, right-aligned cells padded on the left', () => {
    const c = cols();
    const t = fitTable(c, ROWS, 200); // widths 20, 5, 11, 2
    expect(lineText(headerLine(t, 200))).toBe(`${'NAME'.padEnd(20)}  COUNT  ${'NOTE'.padEnd(11)}  X`);
    expect(lineText(rowLine(t, ROWS[0]!, 200))).toBe(`${'alpha'.padEnd(20)}      7  ${'first'.padEnd(11)}  xx`);
    expect(lineText(rowLine(t, ROWS[1]!, 200))).toBe(`${'beta-longer'.padEnd(20)}  12345  second note  xx`);
  });

  it('makes header cells bold', () => {
    const t = fitTable(cols(), ROWS, 200);
    const h = headerLine(t, 200);
    expect(h.find((seg) => seg.text === 'NAME')?.bold).toBe(true);
  });

  it('leaves out trailing spaces', () => {
    const c: Column<Row>[] = [
      { header: 'COUNT', priority: 2, align: 'right', cell: (r) => text(String(r.n)) },
      { header: 'NOTE', priority: 1, max: 30, cell: (r) => text(r.note) },
    ];
    const t = fitTable(c, ROWS, 80);
    const line = lineText(rowLine(t, ROWS[0]!, 80));
    expect(line).toBe('    7  first');
    expect(line).toBe(line.trimEnd());
  });

  it('cuts an over-long cell at the end by default, in the middle when asked', () => {
    const long: Row = { name: 'host-aaaa-bbbb-cccc-dddd-zz:1234', n: 1, note: '' };
    const only = (cut: 'end' | 'middle'): Column<Row>[] => [{ header: 'NAME', priority: 1, max: 11, cut, cell: (r) => text(r.name) }];
    const end = lineText(rowLine(fitTable(only('end'), [long], 80), long, 80));
    expect(end).toBe('host-aaaa-…');
    const middle = lineText(rowLine(fitTable(only('middle'), [long], 80), long, 80));
    expect(displayWidth(middle)).toBe(11);
    expect(middle).toBe('host-…:1234');
  });

  it('passes the fitted width to the cell function', () => {
    const seen: number[] = [];
    const c: Column<Row>[] = [
      { header: 'A', priority: 2, cell: () => text('a') },
      { header: 'BAR', priority: 1, flex: true, min: 4, max: 30, cell: (_r, w) => (seen.push(w), text('#'.repeat(w))) },
    ];
    const t = fitTable(c, ROWS, 20);
    seen.length = 0;
    const line = lineText(rowLine(t, ROWS[0]!, 20));
    expect(seen).toEqual([17]);
    expect(line).toBe(`a  ${'#'.repeat(17)}`);
  });

  it('never gives a line wider than the width, wide characters and emoji included', () => {
    const rows: Row[] = [
      { name: '工作者-一号:77:ab', n: 88, note: '東京の処理サーバー' },
      { name: '🚀rocket👨‍👩‍👧:78', n: 123456, note: 'ｆｕｌｌ ｗｉｄｔｈ' },
      { name: 'plain', n: 0, note: 'ascii only here' },
    ];
    const variants: Column<Row>[][] = [cols(), cols({ name: { cut: 'middle' } }), cols({ note: { cut: 'middle', max: 7 } })];
    for (const c of variants) {
      for (let width = 1; width <= 70; width++) {
        const t = fitTable(c, rows, width);
        const lines = [headerLine(t, width), ...rows.map((r) => rowLine(t, r, width))];
        for (const l of lines) expect(displayWidth(lineText(l)), `width ${width}: "${lineText(l)}"`).toBeLessThanOrEqual(width);
      }
    }
  });

  it('pads a cell whose wide characters cannot fill it exactly, so the next column stays aligned', () => {
    const c: Column<Row>[] = [
      { header: 'NAME', priority: 2, max: 5, cell: (r) => text(r.name) },
      { header: 'N', priority: 1, align: 'right', cell: (r) => text(String(r.n)) },
    ];
    const rows: Row[] = [
      { name: '工作者者', n: 1, note: '' },
      { name: 'abcdefgh', n: 2, note: '' },
    ];
    const t = fitTable(c, rows, 40);
    const a = lineText(rowLine(t, rows[0]!, 40));
    const b = lineText(rowLine(t, rows[1]!, 40));
    expect(displayWidth(a)).toBe(displayWidth(b));
    expect(a.endsWith('  1')).toBe(true);
    expect(b.endsWith('  2')).toBe(true);
  });
});

describe('optional columns', () => {
  const withOptional = (): Column<Row>[] => [
    { header: 'NAME', priority: 10, cell: (r) => text(r.name) },
    { header: 'NOTE', priority: 5, optional: true, cell: (r) => text(r.note) },
    { header: 'ALWAYS', priority: 1, cell: (r) => text(r.note) },
  ];

  it('are left out when every cell is empty or "-"', () => {
    const blank: Row[] = [
      { name: 'a', n: 1, note: '' },
      { name: 'b', n: 2, note: '-' },
      { name: 'c', n: 3, note: '  ' },
    ];
    const t = fitTable(withOptional(), blank, 80);
    expect(headers(t)).toEqual(['NAME', 'ALWAYS']);
    expect(lineText(headerLine(t, 80))).toBe('NAME  ALWAYS');
  });

  it('stay when any row has a value', () => {
    const one: Row[] = [
      { name: 'a', n: 1, note: '-' },
      { name: 'b', n: 2, note: 'x' },
    ];
    expect(headers(fitTable(withOptional(), one, 80))).toEqual(['NAME', 'NOTE', 'ALWAYS']);
  });

  it('a blank column that is not optional stays', () => {
    const blank: Row[] = [{ name: 'a', n: 1, note: '-' }];
    expect(headers(fitTable(withOptional(), blank, 80))).toContain('ALWAYS');
  });
});
