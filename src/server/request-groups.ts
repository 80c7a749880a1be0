/**
 * Gathers single requests (one item each: `/generate`, `/v1/...`) into jobs. Requests for the
 * same processor that arrive together join one open job, and the job's slicer cuts them into
 * batches at run time (`--batch-size`, `--batch-window`), so a burst of requests travels as a few
 * batches while a lone request waits at most the batch window. A job stays open while requests
 * keep coming: it ends once no request has joined it for `idleMs`, or once it took `maxPerJob`
 * requests; the next request opens a new one. So a server busy with bursts of a few requests
 * runs one long job per processor (what `slowwork jobs` lists), not one per burst.
 */
import type { JobEvent, ItemEvent } from '../core/events.js';
import type { ItemInput } from '../core/types.js';
import type { JobRun } from '../brokers/broker.js';
import { describeError } from '../core/errors.js';

/** What a request hears of its item. */
export interface ItemObserver {
  event(event: ItemEvent): void;
  /** The item ended without a result (cancelled, dropped, or its job stopped). */
  unfinished(reason: string): void;
}

/** Gives up a request's item (its client went away). */
export interface ItemTicket {
  cancel(reason: string): void;
}

/** Starts a job for a group; the listener receives its events. */
export type GroupJobStarter = (key: string, listener: (events: readonly JobEvent[]) => void) => JobRun;

export interface RequestGroupsOptions {
  readonly maxPerJob: number;
  /** A job with no new request for this long ends (its running items finish). */
  readonly idleMs: number;
  /** Told when a request gives up its item (the item ends without an event). */
  readonly abandoned?: (run: JobRun, index: number) => void;
}

interface Group {
  readonly key: string;
  run: JobRun | null;
  size: number;
  closed: boolean;
  timer: NodeJS.Timeout | null;
  readonly observers: Map<number, ItemObserver>;
}

export class RequestGroups {
  private readonly open = new Map<string, Group>();
  private readonly live = new Set<Group>();

  constructor(
    private readonly start: GroupJobStarter,
    private readonly options: RequestGroupsOptions,
  ) {}

  /** Requests whose items have not ended. */
  get pending(): number {
    let n = 0;
    for (const g of this.live) n += g.observers.size;
    return n;
  }

  /** Runs one item in the open job for `key` (a new one if none is open). */
  submit(key: string, id: string, input: ItemInput, observer: ItemObserver): ItemTicket {
    const group = this.open.get(key) ?? this.openGroup(key);
    const index = group.size++;
    group.observers.set(index, observer);
    this.armIdle(group);
    const run = group.run!;
    run.add([{ id, index, input }]).catch((err: unknown) => this.settle(group, index, `could not start: ${describeError(err)}`));
    if (group.size >= this.options.maxPerJob) this.close(group);
    return {
      cancel: (reason) => {
        if (!group.observers.delete(index)) return;
        // A broker that cannot reach into a running item lets it finish unheard.
        run.cancelItem?.(index, reason);
        this.options.abandoned?.(run, index);
      },
    };
  }

  /** Stops taking requests into open jobs; running items go on. */
  closeAll(): void {
    for (const g of [...this.open.values()]) this.close(g);
  }

  /** Aborts every running item (the server stops for good). */
  abortAll(reason: string): void {
    this.closeAll();
    for (const g of this.live) g.run?.abort(reason);
  }

  private openGroup(key: string): Group {
    const group: Group = { key, run: null, size: 0, closed: false, timer: null, observers: new Map() };
    group.run = this.start(key, (events) => this.route(group, events));
    this.open.set(key, group);
    this.live.add(group);
    return group;
  }

  /** (Re)starts the group's idle timer: it ends idleMs after the latest request. */
  private armIdle(group: Group): void {
    if (group.closed) return;
    if (group.timer) clearTimeout(group.timer);
    group.timer = setTimeout(() => this.close(group), this.options.idleMs);
    group.timer.unref();
  }

  private close(group: Group): void {
    if (group.closed) return;
    group.closed = true;
    if (group.timer) clearTimeout(group.timer);
    if (this.open.get(group.key) === group) this.open.delete(group.key);
    group.run?.end();
  }

  private route(group: Group, events: readonly JobEvent[]): void {
    for (const e of events) {
      if (e.type === 'job-done' || e.type === 'job-cancelled') {
        const reason = e.type === 'job-cancelled' ? e.reason : 'the job ended without this item';
        for (const index of [...group.observers.keys()]) this.settle(group, index, reason);
        this.live.delete(group);
        continue;
      }
      if (e.type === 'job-total') continue;
      const observer = group.observers.get(e.index);
      if (!observer) continue;
      observer.event(e);
      if (e.type === 'item-done' || e.type === 'item-failed') group.observers.delete(e.index);
    }
  }

  private settle(group: Group, index: number, reason: string): void {
    const observer = group.observers.get(index);
    if (!observer) return;
    group.observers.delete(index);
    observer.unfinished(reason);
  }
}
