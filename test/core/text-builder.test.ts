import { describe, expect, it } from 'vitest';
import { TextBuilder } from '../../src/core/text-builder.js';

describe('TextBuilder', () => {
  it('gives back exactly the pieces appended, in order, whatever their number', () => {
    for (const n of [0, 1, 511, 512, 513, 512 * 512 + 7]) {
      const b = new TextBuilder();
      let expected = '';
      for (let k = 0; k < n; k++) {
        const piece = k % 3 === 0 ? `<${k}>` : k % 3 === 1 ? '' : 'é';
        b.append(piece);
        expected += piece;
      }
      expect(b.length).toBe(expected.length);
      expect(b.toString()).toBe(expected);
    }
  });

  it('can be read and appended to again', () => {
    const b = new TextBuilder();
    b.append('ab');
    expect(b.toString()).toBe('ab');
    b.append('c');
    expect(b.toString()).toBe('abc');
    expect(b.length).toBe(3);
  });
});
