import { IndexSet } from '../core/index-set.js';

/**
 * Duplicate-id detection over all items, in memory that does not grow with position ids.
 *
 * Position ids ("1", "2", ...) never collide with each other, so they are kept as one bit per
 * item; only ids named by the input go in a map. A million-line .txt file costs 125 KB here.
 */
export class IdTracker {
  /** Named id -> index of the item that first used it. */
  private readonly named = new Map<string, number>();
  /** Item i took its position id, String(i + 1). */
  private readonly positional = new IndexSet();

  /**
   * Records item `index` (0-based, increasing). `namedId` is undefined when the item takes its
   * position id. Returns the index of an earlier item with the same id, if there is one.
   */
  add(index: number, namedId: string | undefined): number | undefined {
    if (namedId === undefined) {
      this.positional.add(index);
      return this.named.get(String(index + 1));
    }
    const earlier = this.named.get(namedId) ?? this.positionalHolder(namedId, index);
    if (earlier === undefined) this.named.set(namedId, index);
    return earlier;
  }

  /** The earlier item whose position id equals `id`, if any. */
  private positionalHolder(id: string, index: number): number | undefined {
    if (!/^[1-9][0-9]{0,15}$/.test(id)) return undefined;
    const at = Number(id) - 1;
    return at < index && this.positional.has(at) ? at : undefined;
  }
}
