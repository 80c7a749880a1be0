/**
 * The work stream's entries. One entry carries a batch of items of one job (the job's batch
 * size at most), so enqueueing, reading, claiming and acknowledging cost one stream operation a
 * batch, not one an item. Fields, in order:
 *
 *   j  <job id>
 *   q  <first enqueue time, epoch ms>
 *   then per item:  "<index>,<attempt>,<charged>,<reclaims>,<item id>"  <payload JSON text, or ''>
 *
 * A payload (the input as JSON text, never empty) of INLINE_INPUT_BYTES at most rides in the
 * entry: the worker gets it with its read, and no script touches it but to copy it along when an
 * entry is split or requeued. A bigger one waits in the job's input hash (keys.ts), its value here
 * '', and the claim hands it out with its item. So what a script copies per item is bounded
 * whatever the prompts weigh, and short prompts, most of them, cost no hash operation at all.
 * Entries written by earlier versions read the same (every payload inline, or every one '').
 *
 * The item's id comes last in its header so it may hold commas; a header starts with a digit, so
 * it never collides with `j` or `q`. Lua scripts read the same layout (see enqueue.lua).
 * The one-letter names stay on the wire (here and in the scripts); the types below use words.
 */

export interface WorkItem {
  readonly index: number;
  readonly id: string;
  /** Attempt number (1 for the first run). */
  readonly attempt: number;
  /** Charged failures before this attempt. */
  readonly charged: number;
  /** Times the item was reclaimed from a dead worker. */
  readonly reclaims: number;
  /** Its input as JSON text, or '' when the input waits in the job's input hash. */
  readonly payload: string;
}

export interface WorkEntry {
  readonly id: string;
  readonly jobId: string;
  /** When its items were first enqueued (epoch ms). */
  readonly enqueuedAt: number;
  readonly items: readonly WorkItem[];
}

/** An entry as read: `entry` is null when it was deleted while pending (only its id is left). */
export interface ReadEntry {
  readonly id: string;
  readonly entry: WorkEntry | null;
}

/** Most items in one entry: bounds a script's argument lists. */
export const MAX_ENTRY_ITEMS = 256;

/**
 * Most payload bytes carried in an entry; a bigger payload waits in the input hash. A prompt of
 * a paragraph or two then costs no hash field (a field set, measured, read and deleted per item
 * cost redis-server a third more CPU per no-op item), while what splitting or requeueing an
 * entry copies stays bounded: MAX_ENTRY_ITEMS of these, 256 KB (4 KB would still pay off per
 * item, but let a requeue of a page of entries copy 100 MB).
 */
export const INLINE_INPUT_BYTES = 1024;

/** An item's header in an entry (the wire's layout above). */
export function itemHeader(index: number, attempt: number, charged: number, reclaims: number, id: string): string {
  return `${index},${attempt},${charged},${reclaims},${id}`;
}

/** An item's next attempt, waiting out its backoff in the delayed set. */
export interface NextAttempt {
  readonly jobId: string;
  readonly item: WorkItem;
  readonly enqueuedAt: number;
}

/**
 * Its member of the delayed set, in the one-letter names and string values promote.lua reads
 * (`j`, `i`, `k`, `a`, `c`, `r`, `q`, and `p`: the payload when the entry carried it; without
 * `p`, as in members of older versions, the input waits in the input hash).
 */
export function delayedMember({ jobId, item, enqueuedAt }: NextAttempt): string {
  const member = {
    j: jobId,
    i: String(item.index),
    k: item.id,
    a: String(item.attempt),
    c: String(item.charged),
    r: String(item.reclaims),
    q: String(enqueuedAt),
  };
  return JSON.stringify(item.payload === '' ? member : { ...member, p: item.payload });
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
  return jobId === null ? null : { id, jobId, enqueuedAt: q || Date.now(), items };
}

function parseHeader(h: string, payload: string): WorkItem | null {
  const c1 = h.indexOf(',');
  const c2 = h.indexOf(',', c1 + 1);
  const c3 = h.indexOf(',', c2 + 1);
  const c4 = h.indexOf(',', c3 + 1);
  if (c1 < 1 || c4 < 0) return null;
  const i = Number(h.slice(0, c1));
  if (!Number.isInteger(i) || i < 0) return null;
  return { index: i, attempt: Number(h.slice(c1 + 1, c2)) || 1, charged: Number(h.slice(c2 + 1, c3)) || 0, reclaims: Number(h.slice(c3 + 1, c4)) || 0, id: h.slice(c4 + 1), payload };
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
