/**
 * The work stream's entries. One entry carries a batch of items of one job (the job's batch
 * size at most), so enqueueing, reading, claiming and acknowledging cost one stream operation a
 * batch, not one an item. Fields, in order:
 *
 *   j  <job id>
 *   q  <first enqueue time, epoch ms>
 *   then per item:  "<index>,<attempt>,<charged>,<reclaims>,<item id>"  ''
 *
 * The payloads (JSON text) are not in the entry but in the job's input hash (keys.ts), handed
 * out by the claim with the items it takes: splitting an entry at claim time or requeueing it
 * copies headers only, so no script's work grows with the prompts' size.
 *
 * The item's id comes last in its header so it may hold commas; a header starts with a digit, so
 * it never collides with `j` or `q`. Lua scripts read the same layout (see enqueue.lua).
 */

export interface WorkItem {
  readonly i: number;
  /** The item's id. */
  readonly k: string;
  /** Attempt number (1 for the first run). */
  readonly a: number;
  /** Charged failures before this attempt. */
  readonly c: number;
  /** Times the item was reclaimed from a dead worker. */
  readonly r: number;
  /** The entry's value for the item: '' (the payload is in the job's input hash). */
  readonly p: string;
}

export interface WorkEntry {
  readonly id: string;
  readonly jobId: string;
  /** When its items were first enqueued (epoch ms). */
  readonly q: number;
  readonly items: readonly WorkItem[];
}

/** An entry as read: `entry` is null when it was deleted while pending (only its id is left). */
export interface ReadEntry {
  readonly id: string;
  readonly entry: WorkEntry | null;
}

/** Most items in one entry: bounds a script's argument lists. */
export const MAX_ENTRY_ITEMS = 256;

export function itemHeader(i: number, a: number, c: number, r: number, k: string): string {
  return `${i},${a},${c},${r},${k}`;
}

/** Parses an entry's fields; null when it is not a work entry of this layout. */
export function parseWorkEntry(id: string, kv: readonly string[]): WorkEntry | null {
  let jobId: string | null = null;
  let q = 0;
  const items: WorkItem[] = [];
  for (let n = 0; n + 1 < kv.length; n += 2) {
    const f = kv[n]!;
    if (f === 'j') jobId = kv[n + 1]!;
    else if (f === 'q') q = Number(kv[n + 1]) || 0;
    else {
      const item = parseHeader(f, kv[n + 1]!);
      if (item) items.push(item);
    }
  }
  return jobId === null ? null : { id, jobId, q: q || Date.now(), items };
}

function parseHeader(h: string, p: string): WorkItem | null {
  const c1 = h.indexOf(',');
  const c2 = h.indexOf(',', c1 + 1);
  const c3 = h.indexOf(',', c2 + 1);
  const c4 = h.indexOf(',', c3 + 1);
  if (c1 < 1 || c4 < 0) return null;
  const i = Number(h.slice(0, c1));
  if (!Number.isInteger(i) || i < 0) return null;
  return { i, a: Number(h.slice(c1 + 1, c2)) || 1, c: Number(h.slice(c2 + 1, c3)) || 0, r: Number(h.slice(c3 + 1, c4)) || 0, k: h.slice(c4 + 1), p };
}

/** XREADGROUP's reply: [[stream, [[id, [k, v, ...] | null], ...]]] or null. */
export function parseReadReply(reply: unknown): ReadEntry[] {
  if (!Array.isArray(reply)) return [];
  const out: ReadEntry[] = [];
  for (const stream of reply as [string, [string, string[] | null][]][]) {
    for (const [id, kv] of stream[1] ?? []) out.push({ id, entry: kv ? parseWorkEntry(id, kv) : null });
  }
  return out;
}

/**
 * Items held by workers, from a job's run hash values (claim.lua's fences, "<n>:<indexes>": the
 * n items taken from an entry the worker is not finished with yet; an upper bound, as an item
 * that ended stays in its entry's fence until the entry's last item does).
 */
export function fencedItems(fences: readonly string[]): number {
  let n = 0;
  for (const f of fences) n += Number.parseInt(f, 10) || 0;
  return n;
}
