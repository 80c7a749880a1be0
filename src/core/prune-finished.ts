/**
 * Forgets finished entries of a map (insertion order: oldest first): those finished longer ago
 * than `keepMs`, and the oldest beyond `maxFinished`. Running entries (finishedAt null) stay.
 */
export function pruneFinished<T>(entries: Map<string, T>, finishedAt: (entry: T) => number | null, keepMs: number, maxFinished: number, now: number): void {
  let excess = -maxFinished;
  for (const e of entries.values()) if (finishedAt(e) !== null) excess++;
  for (const [key, e] of entries) {
    const at = finishedAt(e);
    if (at === null) continue;
    if (excess > 0 || now - at > keepMs) {
      entries.delete(key);
      excess--;
    }
  }
}
