/**
 * Builds a long text from many small pieces without a rope. `text += piece` makes V8 keep one
 * cons-string node per piece until the text is read: an item streaming 3 million tokens held
 * some 500 MB for a 20 MB answer. Here pieces are joined into one flat string every so often,
 * so memory stays close to the text's own size. A one-piece text (most items) allocates nothing.
 */
const PIECES_PER_PART = 512;

export class TextBuilder {
  /** The text while it is a single piece. */
  private only = '';
  private pending: string[] | null = null;
  private parts: string[] = [];
  private chars = 0;

  /** UTF-16 code units so far (what `string.length` would say). */
  get length(): number {
    return this.chars;
  }

  append(piece: string): void {
    if (piece.length === 0) return;
    if (this.chars === 0) {
      this.only = piece;
      this.chars = piece.length;
      return;
    }
    this.chars += piece.length;
    if (this.pending === null) {
      this.pending = [this.only, piece];
      this.only = '';
    } else this.pending.push(piece);
    if (this.pending.length === PIECES_PER_PART) {
      this.parts.push(this.pending.join(''));
      this.pending = [];
      // Keep the parts few as well: a long answer is a handful of big flat strings.
      if (this.parts.length === PIECES_PER_PART) this.parts = [this.parts.join('')];
    }
  }

  toString(): string {
    if (this.pending === null) return this.only;
    if (this.pending.length > 0) {
      this.parts.push(this.pending.join(''));
      this.pending = [];
    }
    if (this.parts.length > 1) this.parts = [this.parts.join('')];
    return this.parts[0] ?? '';
  }
}
