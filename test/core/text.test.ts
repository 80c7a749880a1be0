import { describe, expect, it } from 'vitest';
import stringWidth from 'string-width';
import {
  codePointLength,
  displayWidth,
  fitWidth,
  headCodePoints,
  sanitizeForLine,
  tailCodePoints,
  toOneLine,
  toWellFormed,
  truncateEnd,
  truncateMiddle,
  truncateStart,
} from '../../src/core/text.js';

const hasLoneSurrogate = (s: string): boolean => /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(s);

describe('sanitizeForLine', () => {
  it('replaces newlines, tabs and control characters one for one', () => {
    expect(sanitizeForLine('a\nb\r\nc\td\u0000e\u001b[31mf\u007fg\u009bh\u2028i')).toBe('a b  c d e [31mf g h i');
  });
  it('returns the same string when clean', () => {
    const s = 'hello 😀 世界';
    expect(sanitizeForLine(s)).toBe(s);
  });
  it('keeps surrogate halves so split pairs rejoin', () => {
    const emoji = '😀';
    expect(sanitizeForLine(emoji[0]!) + sanitizeForLine(emoji[1]!)).toBe(emoji);
  });
  it('toOneLine collapses and trims', () => {
    expect(toOneLine('\n\n  Hello\n\n  world \t')).toBe('Hello world');
  });
});

describe('code point slicing', () => {
  const s = 'ab😀c👍🏽d';
  it('tailCodePoints never splits a pair', () => {
    expect(tailCodePoints(s, 1)).toBe('d');
    expect(tailCodePoints(s, 2)).toBe('🏽d');
    expect(tailCodePoints(s, 4)).toBe('c👍🏽d');
    expect(tailCodePoints(s, 100)).toBe(s);
    expect(tailCodePoints(s, 0)).toBe('');
    for (let n = 0; n <= 8; n++) expect(hasLoneSurrogate(tailCodePoints(s, n))).toBe(false);
  });
  it('headCodePoints never splits a pair', () => {
    expect(headCodePoints(s, 3)).toBe('ab😀');
    for (let n = 0; n <= 8; n++) expect(hasLoneSurrogate(headCodePoints(s, n))).toBe(false);
  });
  it('codePointLength counts pairs once', () => {
    expect(codePointLength(s)).toBe(7);
  });
  it('toWellFormed drops a trailing lone high surrogate and replaces others', () => {
    expect(toWellFormed('ab\ud83d')).toBe('ab');
    expect(toWellFormed('a\ude00b')).toBe('a\ufffdb');
    expect(toWellFormed('a😀b')).toBe('a😀b');
  });
});

describe('truncation by display width', () => {
  const samples = [
    'plain ascii text that is rather long for a cell',
    '中文字符测试中文字符测试中文字符测试',
    'emoji 😀😀😀 flags 🇺🇸🇫🇷 family 👨‍👩‍👧 skin 👍🏽 heart ❤️ end',
    'mixed ａｂｃ全角 and half',
    'combining e\u0301e\u0301e\u0301e\u0301',
  ];
  for (const text of samples) {
    it(`fits every width: ${text.slice(0, 12)}`, () => {
      for (let w = 0; w <= 50; w++) {
        for (const fn of [truncateEnd, truncateStart, truncateMiddle]) {
          const out = fn(text, w);
          expect(stringWidth(out)).toBeLessThanOrEqual(w);
          expect(hasLoneSurrogate(out)).toBe(false);
          if (stringWidth(text) <= w) expect(out).toBe(text);
        }
      }
    });
  }
  it('keeps the newest text with truncateStart', () => {
    expect(truncateStart('abcdefghij', 5)).toBe('…ghij');
    expect(truncateEnd('abcdefghij', 5)).toBe('abcd…');
    expect(truncateMiddle('abcdefghij', 5)).toBe('ab…ij');
  });
  it('handles wide characters at the cut', () => {
    expect(truncateStart('中文字符', 4)).toBe('…符');
    expect(truncateEnd('中文字符', 4)).toBe('中…');
  });
  it('fitWidth pads to exactly the width', () => {
    expect(fitWidth('ab', 4)).toBe('ab  ');
    expect(fitWidth('ab', 4, 'right')).toBe('  ab');
    expect(stringWidth(fitWidth('中文字符', 5))).toBe(5);
    expect(displayWidth(fitWidth('abcdefgh', 4))).toBe(4);
  });
});
