/**
 * An incremental Server-Sent Events parser (the WHATWG event-stream format, the parts an
 * OpenAI-style stream uses). Bytes or text go in as they arrive from the network, in pieces of
 * any size; whole events come out. Pure: no I/O, no timers.
 *
 * - lines end with LF, CRLF or CR, even when a CR and its LF arrive in different pieces;
 * - `data:` lines of one event are joined with "\n"; a blank line ends the event;
 * - `:` lines are comments (keep-alives), other fields than data/event/id are ignored;
 * - UTF-8 characters split across byte pieces are decoded whole.
 */

export interface SseEvent {
  /** The `event:` field; "message" when absent. */
  readonly event: string;
  readonly data: string;
  readonly id: string | undefined;
}

/** A line longer than this is not an event stream we can hold: fail instead of growing forever. */
export const MAX_SSE_LINE_CHARS = 8 * 1024 * 1024;

export class SseLineTooLongError extends Error {
  constructor() {
    super(`event stream line longer than ${MAX_SSE_LINE_CHARS} characters`);
    this.name = 'SseLineTooLongError';
  }
}

const LF = 10;
const CR = 13;

export class SseParser {
  private readonly decoder = new TextDecoder('utf-8');
  /** The unfinished line from the previous piece. */
  private partial = '';
  /** The previous piece ended with CR: a LF starting the next one belongs to that line end. */
  private skipLf = false;
  private data: string[] = [];
  private eventType = '';
  private lastId: string | undefined = undefined;

  /** Feeds raw bytes (decoded as UTF-8, split characters kept for the next piece). */
  pushBytes(bytes: Uint8Array): SseEvent[] {
    return this.push(this.decoder.decode(bytes, { stream: true }));
  }

  /** Feeds text; returns the events it completed, in order. */
  push(text: string): SseEvent[] {
    const events: SseEvent[] = [];
    let start = 0;
    if (this.skipLf && text.charCodeAt(0) === LF) start = 1;
    if (text.length > 0) this.skipLf = false;
    for (let i = start; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c !== LF && c !== CR) continue;
      const line = this.partial + text.slice(start, i);
      this.partial = '';
      if (c === CR) {
        if (i + 1 === text.length) this.skipLf = true;
        else if (text.charCodeAt(i + 1) === LF) i++;
      }
      start = i + 1;
      this.takeLine(line, events);
    }
    if (start < text.length) {
      this.partial += text.slice(start);
      if (this.partial.length > MAX_SSE_LINE_CHARS) throw new SseLineTooLongError();
    }
    return events;
  }

  /**
   * The stream ended: a last line without its line end, and a last event without its blank
   * line, still count (lenient, as servers that end with `data: [DONE]\n` exist).
   */
  end(): SseEvent[] {
    const events = this.push(this.decoder.decode());
    if (this.partial !== '') {
      const line = this.partial;
      this.partial = '';
      this.takeLine(line, events);
    }
    this.dispatch(events);
    return events;
  }

  private takeLine(line: string, events: SseEvent[]): void {
    if (line === '') return this.dispatch(events);
    if (line.charCodeAt(0) === 58 /* : */) return; // a comment
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32 /* space */) value = value.slice(1);
    if (field === 'data') this.data.push(value);
    else if (field === 'event') this.eventType = value;
    else if (field === 'id' && !value.includes('\0')) this.lastId = value;
  }

  private dispatch(events: SseEvent[]): void {
    if (this.data.length > 0) events.push({ event: this.eventType || 'message', data: this.data.join('\n'), id: this.lastId });
    this.data = [];
    this.eventType = '';
  }
}
