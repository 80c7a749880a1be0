/**
 * Follows one job's events stream from any point (0 replays it all) on its own blocking
 * connection: `XREAD BLOCK` with a finite timeout, from the last entry id seen, so a reconnect
 * or a late attach loses nothing and repeats nothing. Stops at the job's end event.
 */
import type { Redis } from 'ioredis';
import { JobLostError, describeError } from '../../core/errors.js';
import { decodeEntry, type DecodedEvent } from './wire.js';
import { HungReadError, withWatchdog } from './watchdog.js';

const BLOCK_MS = 5000;
const COUNT = 1000;

export interface ReaderHandlers {
  /**
   * Events of one read, in order, and when each was added (epoch ms of its entry id, Redis's
   * clock): a replayed history keeps its own times. Throwing stops the reader with that error.
   */
  readonly onEvents: (events: DecodedEvent[], times: number[]) => void;
  /** The job's events stream and hash are gone (expired, or never existed). */
  readonly isGone?: () => Promise<boolean>;
  /** For the message when the job is gone. */
  readonly jobId?: string;
}

export class EventsReader {
  private lastId: string;
  private stopped = false;
  private clientId: number | null = null;
  readonly done: Promise<void>;

  constructor(
    private readonly redis: Redis,
    private readonly key: string,
    private readonly handlers: ReaderHandlers,
    from = '0',
  ) {
    this.lastId = from;
    this.done = this.loop();
  }

  /** The id of the last entry delivered: where a later reader may resume. */
  get position(): string {
    return this.lastId;
  }

  stop(): void {
    this.stopped = true;
    this.redis.disconnect();
  }

  private async loop(): Promise<void> {
    this.clientId = Number(await this.redis.client('ID'));
    let idleReads = 0;
    while (!this.stopped) {
      let reply: unknown;
      try {
        reply = await withWatchdog(this.redis.xread('COUNT', COUNT, 'BLOCK', BLOCK_MS, 'STREAMS', this.key, this.lastId), this.redis);
      } catch (err) {
        if (this.stopped) return;
        if (err instanceof HungReadError) continue; // reconnected: read on from lastId
        throw new Error(`reading the job's events failed: ${describeError(err)}`);
      }
      const entries = (reply as [string, [string, string[]][]][] | null)?.[0]?.[1] ?? [];
      if (entries.length === 0) {
        // Nothing for a while: make sure the job still exists (it may have expired or been deleted).
        if (++idleReads % 2 === 0 && this.handlers.isGone && (await this.handlers.isGone())) {
          const job = this.handlers.jobId ? `job ${this.handlers.jobId}` : 'the job';
          throw new JobLostError(`${job} is gone from Redis (Redis restarted without its data, or the job expired or was deleted)`);
        }
        continue;
      }
      idleReads = 0;
      const events: DecodedEvent[] = [];
      const times: number[] = [];
      let ended = false;
      for (const [id, kv] of entries) {
        this.lastId = id;
        const at = Number(id.slice(0, id.indexOf('-')));
        for (let k = 0; k + 1 < kv.length; k += 2) {
          if (kv[k] !== 'e') continue;
          for (const e of decodeEntry(kv[k + 1]!)) {
            events.push(e);
            times.push(at);
            if (e.type === 'job-done' || e.type === 'job-cancelled') ended = true;
          }
        }
        if (ended) break;
      }
      this.handlers.onEvents(events, times);
      if (ended) return;
    }
  }

  get id(): number | null {
    return this.clientId;
  }
}
