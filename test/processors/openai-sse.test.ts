/** The SSE parser of the `openai` processor: pure, fed in pieces of every size. */
import { describe, expect, test } from 'vitest';
import { MAX_SSE_LINE_CHARS, SseLineTooLongError, SseParser, type SseEvent } from '../../src/processors/openai/sse.js';

/** Feeds `text` cut at every given offset; returns every event, `end()` included. */
function parseIn(pieces: readonly string[]): SseEvent[] {
  const parser = new SseParser();
  return [...pieces.flatMap((p) => parser.push(p)), ...parser.end()];
}

const datas = (events: readonly SseEvent[]): string[] => events.map((e) => e.data);

/** Every way to cut `text` in two, and one character at a time. */
function cuts(text: string): string[][] {
  const out: string[][] = [[text], [...text]];
  for (let k = 1; k < text.length; k++) out.push([text.slice(0, k), text.slice(k)]);
  return out;
}

describe('SseParser', () => {
  const stream = 'data: {"a":1}\n\ndata: {"b":2}\n\ndata: [DONE]\n\n';

  test('events with LF line ends, whole or cut anywhere', () => {
    for (const pieces of cuts(stream)) expect(datas(parseIn(pieces)), JSON.stringify(pieces)).toEqual(['{"a":1}', '{"b":2}', '[DONE]']);
  });

  test('CRLF and lone CR line ends, with the CR and its LF in different pieces', () => {
    const crlf = stream.replaceAll('\n', '\r\n');
    for (const pieces of cuts(crlf)) expect(datas(parseIn(pieces)), JSON.stringify(pieces)).toEqual(['{"a":1}', '{"b":2}', '[DONE]']);
    const cr = stream.replaceAll('\n', '\r');
    for (const pieces of cuts(cr)) expect(datas(parseIn(pieces)), JSON.stringify(pieces)).toEqual(['{"a":1}', '{"b":2}', '[DONE]']);
  });

  test('a CR at the end of a piece does not swallow a blank line that follows as LF CR LF', () => {
    // "data: x\r" + "\n\r\n": the LF ends the CR's line, then CRLF is the blank line.
    expect(datas(parseIn(['data: x\r', '\n\r\n', 'data: y\n\n']))).toEqual(['x', 'y']);
  });

  test('an event is complete only at its blank line', () => {
    const parser = new SseParser();
    expect(parser.push('data: {"a":')).toEqual([]);
    expect(parser.push('1}\n')).toEqual([]);
    expect(datas(parser.push('\n'))).toEqual(['{"a":1}']);
  });

  test('comments, blank lines and unknown fields are ignored; event and id are kept', () => {
    const events = parseIn([': keep-alive\n\n\n\nretry: 100\nfoo: bar\nevent: error\nid: 7\ndata: boom\n\n:ping\n\n']);
    expect(events).toEqual([{ event: 'error', data: 'boom', id: '7' }]);
    expect(parseIn(['data: x\n\n'])).toEqual([{ event: 'message', data: 'x', id: undefined }]);
  });

  test('several data lines make one event joined with newlines; only one leading space is dropped', () => {
    expect(datas(parseIn(['data: line one\ndata:line two\ndata:  indented\ndata\n\n']))).toEqual(['line one\nline two\n indented\n']);
  });

  test('the event type resets after each event', () => {
    const events = parseIn(['event: error\ndata: a\n\ndata: b\n\n']);
    expect(events.map((e) => e.event)).toEqual(['error', 'message']);
  });

  test('a last event without its blank line or line end still counts at the end', () => {
    expect(datas(parseIn(['data: a\n\ndata: [DONE]\n']))).toEqual(['a', '[DONE]']);
    expect(datas(parseIn(['data: a\n\ndata: [DONE]']))).toEqual(['a', '[DONE]']);
    const parser = new SseParser();
    expect(parser.push('data: tail')).toEqual([]);
    expect(datas(parser.end())).toEqual(['tail']);
  });

  test('UTF-8 bytes cut inside a character are decoded whole', () => {
    const bytes = new TextEncoder().encode('data: {"t":"héllo 🌍 世界"}\n\n');
    for (let k = 1; k < bytes.length; k++) {
      const parser = new SseParser();
      const events = [...parser.pushBytes(bytes.subarray(0, k)), ...parser.pushBytes(bytes.subarray(k)), ...parser.end()];
      expect(datas(events), `cut at byte ${k}`).toEqual(['{"t":"héllo 🌍 世界"}']);
    }
  });

  test('an endless line fails instead of growing without bound', () => {
    const parser = new SseParser();
    const piece = 'x'.repeat(1024 * 1024);
    let threw: unknown;
    for (let k = 0; k <= MAX_SSE_LINE_CHARS / piece.length + 1 && threw === undefined; k++) {
      try {
        parser.push(k === 0 ? `data: ${piece}` : piece);
      } catch (err) {
        threw = err;
      }
    }
    expect(threw).toBeInstanceOf(SseLineTooLongError);
  });
});
