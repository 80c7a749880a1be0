/**
 * A worker's read loop: XREADGROUP on its own blocking connection for as many entries as fill its
 * free slots, then one `claim` per job of what it read. Work-conserving: it reads again the moment
 * a slot frees, and the free slots are shared out among a read's jobs in read order, so items
 * past a job's share go back to the stream for any worker instead of waiting here.
 *
 * A read whose reply was lost with the connection left entries in our PEL that `>` never
 * returns: the PEL is read again (from 0, a page at a time) at start, after every reconnect and
 * after a failed read or claim.
 */
import { describeError } from '../../../core/errors.js';
import { ensureGroup } from '../group.js';
import { GROUP, type QueueKeys } from '../keys.js';
import { claim } from '../script-calls.js';
import type { ScriptedRedis } from '../scripts.js';
import { withWatchdog } from '../watchdog.js';
import { parseReadReply, type ReadEntry, type WorkEntry } from '../work-entry.js';
import type { Lease, Leases } from './leases.js';
import type { LocalRuns } from './local-runs.js';
import type { Outcomes } from './outcomes.js';
import type { WorkerStats } from './stats.js';

const BLOCK_MS = 5000;
const PEL_PAGE = 100;
/**
 * Most bytes of payloads from the input hash one claim takes (at least one item): the claim's
 * reply carries them, and Redis serves nobody else meanwhile. What does not fit goes back to the
 * stream for any worker. (Short payloads come in the entries, with the read.)
 */
const CLAIM_BYTES = 8 * 1024 * 1024;

export interface ReadLoopParts {
  readonly worker: string;
  readonly slots: number;
  readonly keys: QueueKeys;
  readonly cmd: ScriptedRedis;
  /** Only for XREADGROUP … BLOCK: a blocking read holds up everything behind it. */
  readonly blocking: ScriptedRedis;
  readonly leases: Leases;
  readonly runs: LocalRuns;
  readonly outcomes: Outcomes;
  readonly stats: WorkerStats;
  readonly log: (line: string) => void;
  /** The worker is stopping: read nothing more, hand back what was read. */
  readonly stopping: () => boolean;
  /** Requeues entries read but not claimed, free of charge. */
  readonly handBack: (ids: string[], entries: ReadEntry[]) => Promise<void>;
}

export class ReadLoop {
  private readPel = true;
  private pelCursor = '0';
  /** Items per entry seen lately: how many entries make the free slots' worth. */
  private entryItems = 1;
  /** Claims in flight: idle runs are not closed under them. */
  private claims = 0;
  private blockingId: number | null = null;

  constructor(private readonly p: ReadLoopParts) {}

  /** Learns the blocking connection's id (to unblock it) and follows its reconnects. */
  async attach(): Promise<void> {
    const { blocking } = this.p;
    this.blockingId = Number(await blocking.client('ID'));
    blocking.on('ready', () => {
      this.readPel = true;
      void blocking.client('ID').then((id) => (this.blockingId = Number(id)), () => undefined);
    });
  }

  get claiming(): boolean {
    return this.claims > 0;
  }

  /** Ends a blocked read or a wait for a slot at once (the worker is stopping). */
  unblock(): void {
    this.p.leases.wake();
    if (this.blockingId !== null) void this.p.cmd.client('UNBLOCK', this.blockingId).catch(() => undefined);
  }

  async run(): Promise<void> {
    const { leases, stopping } = this.p;
    while (!stopping()) {
      const free = leases.free;
      if (free <= 0) {
        await leases.waitForSlot();
        continue;
      }
      const fromPel = this.readPel;
      // Entries, each a batch: as many as fill the free slots, at least one (what does not fit
      // goes back at claim time). Our PEL is read page by page.
      const count = fromPel ? PEL_PAGE : Math.max(1, Math.floor(free / this.entryItems));
      let reply: unknown;
      try {
        reply = await withWatchdog(
          this.p.blocking.xreadgroup('GROUP', GROUP, this.p.worker, 'COUNT', count, 'BLOCK', BLOCK_MS, 'STREAMS', this.p.keys.items, fromPel ? this.pelCursor : '>'),
          this.p.blocking,
        );
      } catch (err) {
        if (stopping()) break;
        if (/NOGROUP/.test(describeError(err))) await ensureGroup(this.p.cmd, this.p.keys).catch(() => undefined);
        else this.p.log(`worker ${this.p.worker}: reading the queue failed: ${describeError(err)}`);
        await this.rereadPel();
        continue;
      }
      const entries = parseReadReply(reply);
      if (fromPel) {
        if (entries.length === 0) {
          this.readPel = false;
          this.pelCursor = '0';
          continue;
        }
        this.pelCursor = entries[entries.length - 1]!.id;
      }
      if (entries.length === 0) continue;
      // Entries of ours already (our PEL read again) are running or being finished here.
      const fresh = entries.filter((e) => !leases.knows(e.id));
      if (stopping()) {
        await this.p.handBack(fresh.map((e) => e.id), fresh);
        break;
      }
      try {
        await this.claim(fresh);
      } catch (err) {
        // Entries we could not claim stay in our PEL: read it again.
        this.p.log(`worker ${this.p.worker}: claiming items failed: ${describeError(err)}`);
        await this.rereadPel();
      }
    }
  }

  private async rereadPel(): Promise<void> {
    this.readPel = true;
    this.pelCursor = '0';
    await new Promise<void>((resolve) => setTimeout(resolve, 500));
  }

  private async claim(entries: ReadEntry[]): Promise<void> {
    const gone = entries.filter((e) => e.entry === null);
    if (gone.length > 0) await this.p.cmd.xack(this.p.keys.items, GROUP, ...gone.map((e) => e.id));
    const byJob = new Map<string, WorkEntry[]>();
    let most = 1;
    for (const { entry } of entries) {
      if (!entry) continue;
      most = Math.max(most, entry.items.length);
      let list = byJob.get(entry.jobId);
      if (!list) byJob.set(entry.jobId, (list = []));
      list.push(entry);
    }
    // Up at once, down slowly: a lone one-item entry (a retry) must not make the next read take
    // far more full batches than the free slots hold (they would all be split and handed back).
    this.entryItems = Math.max(most, Math.floor(this.entryItems * 0.9));
    // The free slots shared out in read order: a job's claim takes at most its share.
    let free = Math.max(0, this.p.leases.free);
    const claims: Promise<void>[] = [];
    for (const [jobId, list] of byJob) {
      const want = list.reduce((sum, e) => sum + e.items.length, 0);
      const share = Math.min(free, want);
      free -= share;
      claims.push(this.claimForJob(jobId, list, share));
    }
    // Every claim settles before a failure is thrown: the loop then reads our PEL again, and an
    // entry whose claim were still in flight would be claimed twice.
    const failed = (await Promise.allSettled(claims)).find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  private async claimForJob(jobId: string, entries: WorkEntry[], freeSlots: number): Promise<void> {
    const { leases, runs } = this.p;
    const known = runs.get(jobId);
    this.claims++;
    let reply: Awaited<ReturnType<typeof claim>>;
    try {
      reply = await claim(this.p.cmd, this.p.keys, jobId, { worker: this.p.worker, wantSpec: !known, freeSlots, maxBytes: CLAIM_BYTES, entries });
    } finally {
      this.claims--;
    }
    if (reply.status !== 'running' || reply.claimed.size === 0) return;
    const job = known ?? runs.open(jobId, reply.spec);
    const started: [number, Lease][] = [];
    for (const e of entries) {
      const claimed = reply.claimed.get(e.id);
      if (claimed === undefined) continue;
      const held = leases.hold(jobId, e.id);
      let p = 0;
      e.items.forEach((item, k) => {
        if (claimed.taken[k] !== '1') return;
        started.push(leases.add(held, item, claimed.payloads[p++]!, e.enqueuedAt));
        job.leases++;
      });
    }
    this.p.stats.busy(leases.size);
    if (started.length === 0) return;
    if (job.pipeline) runs.run(job, started);
    else this.p.outcomes.cannotRun(job, started);
  }
}
