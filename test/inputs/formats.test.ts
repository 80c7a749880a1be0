import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/core/errors.js';
import { formatForPath, isBlank, parseJsonLine, parseLine, sniffFormat } from '../../src/inputs/formats.js';

describe('formatForPath', () => {
  it.each([
    ['a.jsonl', 'jsonl'],
    ['dir/B.NDJSON', 'jsonl'],
    ['a.json', 'txt'],
    ['prompts.txt', 'txt'],
    ['README', 'txt'],
  ] as const)('%s -> %s', (path, format) => {
    expect(formatForPath(path)).toBe(format);
  });

  it('a forced format wins over the extension', () => {
    expect(formatForPath('a.txt', 'jsonl')).toBe('jsonl');
    expect(formatForPath('a.jsonl', 'txt')).toBe('txt');
  });
});

describe('sniffFormat', () => {
  it('is jsonl only when the first line is a JSON object', () => {
    expect(sniffFormat('{"prompt":"hi"}')).toBe('jsonl');
    expect(sniffFormat('  {"a":1}  ')).toBe('jsonl');
    expect(sniffFormat('[1,2]')).toBe('txt');
    expect(sniffFormat('"a string"')).toBe('txt');
    expect(sniffFormat('{not json')).toBe('txt');
    expect(sniffFormat('Write a haiku')).toBe('txt');
    expect(sniffFormat(undefined)).toBe('txt');
  });
});

describe('isBlank', () => {
  it('is true for empty and whitespace-only text', () => {
    expect(isBlank('')).toBe(true);
    expect(isBlank(' \t ')).toBe(true);
    expect(isBlank(' x ')).toBe(false);
  });
});

describe('parseLine', () => {
  it('txt: the whole line is the input, untrimmed', () => {
    expect(parseLine('txt', '  hello  ', 'f:1')).toEqual({ input: '  hello  ' });
  });

  it('jsonl {prompt}: the prompt string is the input, id from a string or number id', () => {
    expect(parseJsonLine('{"id":"a","prompt":"hi"}', 'f:1')).toEqual({ id: 'a', input: 'hi' });
    expect(parseJsonLine('{"id":7,"prompt":"hi","temperature":1}', 'f:1')).toEqual({ id: '7', input: 'hi' });
    expect(parseJsonLine('{"prompt":"hi"}', 'f:1')).toEqual({ input: 'hi' });
  });

  it('jsonl other object: the whole object is the input; non-scalar ids are ignored', () => {
    expect(parseJsonLine('{"id":"x","text":"t"}', 'f:1')).toEqual({ id: 'x', input: { id: 'x', text: 't' } });
    expect(parseJsonLine('{"id":{"a":1},"q":2}', 'f:1')).toEqual({ input: { id: { a: 1 }, q: 2 } });
    expect(parseJsonLine('{"prompt":5}', 'f:1')).toEqual({ input: { prompt: 5 } });
  });

  it('jsonl OpenAI batch-input: custom_id is the id, body is the input', () => {
    const line = JSON.stringify({
      custom_id: 'req-1',
      method: 'POST',
      url: '/v1/chat/completions',
      body: { model: 'm', messages: [{ role: 'user', content: 'hi' }] },
    });
    expect(parseJsonLine(line, 'f:1')).toEqual({
      id: 'req-1',
      input: { model: 'm', messages: [{ role: 'user', content: 'hi' }] },
    });
  });

  it('jsonl with custom_id but no object body falls back to the generic mapping', () => {
    expect(parseJsonLine('{"custom_id":"c","body":"s","id":3}', 'f:1')).toEqual({
      id: '3',
      input: { custom_id: 'c', body: 's', id: 3 },
    });
  });

  it('rejects invalid JSON with a short parser message and the location', () => {
    const line = `{"prompt": "${'x'.repeat(500)}`;
    let err: unknown;
    try {
      parseJsonLine(line, 'f.jsonl:4');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InputError);
    const { message, where } = err as InputError;
    expect(where).toBe('f.jsonl:4');
    expect(message).toMatch(/^f\.jsonl:4: invalid JSON: \S/);
    expect(message.length).toBeLessThan(160);
  });

  it.each([
    ['[1,2]', 'an array'],
    ['"s"', 'a string'],
    ['42', 'a number'],
    ['true', 'a boolean'],
    ['null', 'null'],
  ])('rejects non-object %s', (line, type) => {
    expect(() => parseJsonLine(line, 'f.jsonl:2')).toThrow(
      new InputError(`expected a JSON object, got ${type}`, 'f.jsonl:2'),
    );
  });
});
