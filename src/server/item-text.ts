/**
 * What one HTTP client has been sent of its item's text, across attempts. Pure.
 *
 * A stream cannot take text back: when an attempt fails after some text went out and the item
 * is retried, the new attempt's text is held back until it passes what was already sent, and
 * only the rest goes out. A processor that answers the same way each time (seeded, temperature
 * 0) therefore streams cleanly through a retry; one whose second answer differs from the text
 * already sent ends the request with an error rather than a garbled mix of two answers.
 */
export type TextUpdate =
  /** New text for the client ('' when nothing new is visible yet). */
  | { readonly kind: 'text'; readonly delta: string }
  /** The current attempt no longer agrees with the text already sent. */
  | { readonly kind: 'diverged' };

const NOTHING: TextUpdate = { kind: 'text', delta: '' };
const DIVERGED: TextUpdate = { kind: 'diverged' };

export class ItemText {
  /** Everything the client has been sent. */
  private delivered = '';
  /** The current attempt's text. */
  private current = '';

  /** The text sent so far (what a cumulative stream shows). */
  get text(): string {
    return this.delivered;
  }

  /** A new attempt starts from nothing. */
  restart(): void {
    this.current = '';
  }

  /** A chunk of the current attempt. */
  chunk(text: string): TextUpdate {
    this.current += text;
    return this.advance();
  }

  /** The final output of the attempt that succeeded: whatever of it was not sent yet. */
  finish(output: string): TextUpdate {
    this.current = output;
    const update = this.advance();
    return this.delivered === output ? update : DIVERGED;
  }

  private advance(): TextUpdate {
    const sent = this.delivered;
    if (this.current.length <= sent.length) return sent.startsWith(this.current) ? NOTHING : DIVERGED;
    if (!this.current.startsWith(sent)) return DIVERGED;
    this.delivered = this.current;
    return { kind: 'text', delta: this.current.slice(sent.length) };
  }
}
