/**
 * One typed function per Lua script (lua/*.lua, loaded by scripts.ts): each names the script's
 * KEYS once, from the key layout, takes named arguments in the script's ARGV order and reads its
 * reply into a type. The submitter, the worker, the reaper and the admin commands call these,
 * never a script with a positional key list. The scripts' headers stay the contract.
 */
import { GROUP, type JobKeys, type QueueKeys } from './keys.js';
import type { ScriptedRedis } from './scripts.js';
import { INLINE_INPUT_BYTES, type WorkEntry } from './work-entry.js';

/** What lua/includes/finalize.lua is given, in its order: every key a job's end touches. */
const finalizeKeys = (jk: JobKeys): string[] => [jk.hash, jk.events, jk.run, jk.fin, jk.input];

/** A script's 'NOJOB' error reply (the job's hash is gone): null, other errors thrown. */
async function unlessNoJob<T>(call: Promise<T>): Promise<T | null> {
  try {
    return await call;
  } catch (err) {
    if (err instanceof Error && err.message.includes('NOJOB')) return null;
    throw err;
  }
}

// ---- the submitter -----------------------------------------------------------------------------

export interface NewJob {
  readonly id: string;
  readonly now: number;
  /** Null while the job's size is not known (it is sealed later). */
  readonly total: number | null;
  /** How long a finished job's keys are kept. */
  readonly ttlMs: number;
  readonly retries: number;
  /** The job's spec as JSON (job-spec.ts). */
  readonly spec: string;
  readonly submitter: string;
  /** The results file, absolute ('' if none). */
  readonly out: string;
}

/** create-job: 'created', or the status of the job that exists already. */
export async function createJob(redis: ScriptedRedis, keys: QueueKeys, job: NewJob): Promise<string> {
  const jk = keys.job(job.id);
  return String(
    await redis.createJob(jk.hash, keys.jobs, jk.events, job.id, job.now, job.total ?? -1, job.ttlMs, job.retries, job.spec, job.submitter, job.out),
  );
}

/** One item for `enqueue`: its first attempt. */
export interface NewItem {
  readonly index: number;
  /** Its header in the work stream (work-entry.ts `itemHeader`). */
  readonly header: string;
  /** The input as JSON text. */
  readonly payload: string;
}

/**
 * enqueue: the items added, or null if the job is gone. Nothing is added unless it runs. A
 * payload of INLINE_INPUT_BYTES at most goes in its entry, a bigger one to the input hash.
 */
export async function enqueue(
  redis: ScriptedRedis,
  keys: QueueKeys,
  jobId: string,
  call: { readonly now: number; readonly entryItems: number; readonly items: readonly NewItem[] },
): Promise<{ status: string; added: number } | null> {
  const jk = keys.job(jobId);
  const args: (string | number)[] = [jobId, call.now, call.entryItems, INLINE_INPUT_BYTES];
  for (const item of call.items) args.push(item.index, item.header, item.payload);
  const reply = (await unlessNoJob(redis.enqueue(keys.items, jk.hash, jk.input, ...args))) as [string, number] | null;
  return reply && { status: reply[0], added: Number(reply[1]) };
}

/** seal: the job's status once its total is what was enqueued, or null if it is gone. */
export async function seal(redis: ScriptedRedis, keys: QueueKeys, jobId: string, now: number): Promise<string | null> {
  const status = String(await redis.seal(...finalizeKeys(keys.job(jobId)), now));
  return status === 'NOJOB' ? null : status;
}

/** cancel: the job's status afterwards, or null if there is no such job. */
export async function cancel(
  redis: ScriptedRedis,
  keys: QueueKeys,
  jobId: string,
  how: { readonly now: number; readonly mode: 'drain' | 'abort'; readonly reason: string },
): Promise<string | null> {
  const status = String(await redis.cancel(...finalizeKeys(keys.job(jobId)), how.now, how.mode, how.reason, keys.ctl, jobId));
  return status === 'NOJOB' ? null : status;
}

/** cancel-item: true if the item was given up (false: it had its result, or the job is over). */
export async function cancelItem(redis: ScriptedRedis, keys: QueueKeys, jobId: string, index: number, now: number): Promise<boolean> {
  return Number(await redis.cancelItem(...finalizeKeys(keys.job(jobId)), index, now, keys.ctl, jobId)) === 1;
}

// ---- the worker --------------------------------------------------------------------------------

export interface ClaimCall {
  readonly worker: string;
  /** Ask for the job's spec (the worker has not seen the job yet). */
  readonly wantSpec: boolean;
  readonly freeSlots: number;
  /** Most bytes of payloads handed out from the input hash (one item at least). */
  readonly maxBytes: number;
  /** The job's entries as read, in increasing id order. */
  readonly entries: readonly WorkEntry[];
}

export interface ClaimedEntry {
  /** One character per item of the entry: '1' taken, '0' not. */
  readonly taken: string;
  /** The taken items' payloads (JSON text), in order: the entry's, or those the claim handed out. */
  readonly payloads: readonly string[];
}

export interface ClaimReply {
  /** The job's status, null if it is gone. */
  readonly status: string | null;
  readonly spec: string | null;
  readonly retries: number;
  /** Per entry items were taken from, by entry id. */
  readonly claimed: ReadonlyMap<string, ClaimedEntry>;
}

/** claim: takes items of one job's entries, up to the free slots and the byte budget. */
export async function claim(redis: ScriptedRedis, keys: QueueKeys, jobId: string, call: ClaimCall): Promise<ClaimReply> {
  const jk = keys.job(jobId);
  const args: (string | number)[] = [call.worker, GROUP, call.wantSpec ? '1' : '0', call.freeSlots, call.maxBytes];
  for (const e of call.entries) {
    const fresh = e.items.every((it) => it.attempt === 1 && it.reclaims === 0);
    const hashed = e.items.some((it) => it.payload === '') ? e.items.map((it) => (it.payload === '' ? '1' : '0')).join('') : '';
    args.push(e.id, e.items.length, fresh ? '1' : '0', hashed);
    for (const item of e.items) args.push(item.index);
  }
  const reply = (await redis.claim(keys.items, jk.hash, jk.run, jk.fin, jk.input, ...args)) as [string | null, string | null, number, ...unknown[]];
  const byId = new Map(call.entries.map((e) => [e.id, e]));
  const claimed = new Map<string, ClaimedEntry>();
  for (let k = 3; k + 2 < reply.length; k += 3) {
    const id = reply[k] as string;
    const taken = reply[k + 1] as string;
    claimed.set(id, { taken, payloads: takenPayloads(byId.get(id)!, taken, reply[k + 2] as (string | null)[]) });
  }
  return { status: reply[0], spec: reply[1], retries: Number(reply[2]) || 0, claimed };
}

/** The taken items' payloads: a short one from the entry, a long one from the claim (in order). */
function takenPayloads(entry: WorkEntry, taken: string, fromHash: readonly (string | null)[]): string[] {
  const out: string[] = [];
  let h = 0;
  entry.items.forEach((item, k) => {
    if (taken[k] !== '1') return;
    // Gone from the hash only if its job ended meanwhile (it is dropped then).
    out.push(item.payload !== '' ? item.payload : (fromHash[h++] ?? 'null'));
  });
  return out;
}

export interface ReportCall {
  readonly worker: string;
  readonly now: number;
  /** The worker's report sequence number: a report sent again after a lost reply is applied once. */
  readonly seq: number;
  /** The records, in report.lua's layout (report-buffer.ts `reportArgs`). */
  readonly records: readonly string[];
}

/** report: the job's status (null if gone) and the entries whose records were refused (stale). */
export async function report(redis: ScriptedRedis, keys: QueueKeys, jobId: string, call: ReportCall): Promise<{ status: string | null; stale: string[] }> {
  const jk = keys.job(jobId);
  const reply = (await redis.report(
    keys.items, jk.hash, jk.events, jk.run, jk.fin, keys.delayed, keys.dlq, jk.seq, jk.input,
    call.worker, GROUP, call.now, jobId, call.seq, ...call.records,
  )) as (string | null)[];
  const [status = null, ...stale] = reply;
  return { status, stale: stale.map((id) => id ?? '') };
}

/** promote: due retries back to the work stream; how many, and when the next one is due. */
export async function promote(redis: ScriptedRedis, keys: QueueKeys, now: number, max: number): Promise<{ moved: number; nextDue: number | null }> {
  const [moved, next] = (await redis.promote(keys.delayed, keys.items, now, max)) as [number, string | null];
  return { moved: Number(moved), nextDue: next === null || next === undefined ? null : Number(next) };
}

/** heartbeat: the worker's figures; false if its heartbeat had expired meanwhile. */
export async function heartbeat(
  redis: ScriptedRedis,
  keys: QueueKeys,
  worker: string,
  beat: { readonly now: number; readonly ttlMs: number; readonly fields: readonly (string | number)[] },
): Promise<boolean> {
  return Number(await redis.heartbeat(keys.workers, keys.worker(worker), worker, beat.now, beat.ttlMs, ...beat.fields)) === 1;
}

// ---- the reaper --------------------------------------------------------------------------------

export interface RequeueCall {
  /** The consumer holding the entries. */
  readonly from: string;
  readonly now: number;
  /** 'reclaim' (a dead worker's: counts against the item's reclaim limit) or 'handback' (free). */
  readonly mode: 'reclaim' | 'handback';
  readonly maxReclaims: number;
  readonly reason: string;
  /** Entry ids, all of this job. */
  readonly entries: readonly string[];
}

/** requeue: entries requeued or settled, or -1 if a reclaimed worker turned out alive. */
export async function requeue(redis: ScriptedRedis, keys: QueueKeys, jobId: string, call: RequeueCall): Promise<number> {
  const jk = keys.job(jobId);
  return Number(
    await redis.requeue(
      keys.items, jk.hash, jk.events, jk.run, jk.fin, keys.dlq, jk.input, keys.worker(call.from),
      call.from, GROUP, call.now, call.mode, call.maxReclaims, call.reason, ...call.entries,
    ),
  );
}

/** forget-worker: true if the dead consumer was deleted; workers last seen before `cutoff` leave the list. */
export async function forgetWorker(redis: ScriptedRedis, keys: QueueKeys, worker: string, cutoff: number): Promise<boolean> {
  return Number(await redis.forgetWorker(keys.items, keys.workers, keys.worker(worker), GROUP, worker, cutoff)) === 1;
}

/** trim: entries trimmed from the work stream, up to the oldest still needed. */
export async function trim(redis: ScriptedRedis, keys: QueueKeys): Promise<number> {
  return Number(await redis.trim(keys.items, GROUP));
}
