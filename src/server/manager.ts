/**
 * The manager behind `slowwork serve`: knows the processors (local ones on the broker, remote
 * ones registered over HTTP), groups single requests into jobs, runs actions, and counts
 * everything for `/meta` and `/metrics`. Routes talk only to this; it talks only to brokers. It
 * knows no HTTP: what it refuses it throws as a domain error (errors.ts) the app maps to a status.
 */
import { randomBytes } from 'node:crypto';
import type { Broker, JobRun } from '../brokers/broker.js';
import type { DashSample, DashWorker } from '../core/dashboard-sample.js';
import type { JobEvent } from '../core/events.js';
import type { ItemInput, JobSpec, Params } from '../core/types.js';
import { describeError } from '../core/errors.js';
import { DEFAULT_SAME_CAUSE, FailFast } from '../core/fail-fast.js';
import { outputLimitOf } from '../core/output-limit.js';
import { checkParams } from '../processors/params.js';
import { loadProcessor } from '../processors/registry.js';
import { Action, ActionStore } from './actions.js';
import { EmptyPipelineError, InvalidParamsError, PipelineNotAllowedError, UnknownProcessorError } from './errors.js';
import type { RemoteEndpointInfo } from '../brokers/remote/registry.js';
import { JobBoard, type BoardJob, type BoardJobKind } from './job-board.js';
import { ServerMetrics } from './metrics.js';
import { RequestGroups, type ItemObserver, type ItemTicket } from './request-groups.js';

/** What the manager needs of the remote processors' registry (src/brokers/remote). */
export interface RemoteProcessors {
  has(name: string): boolean;
  /** Chat requests hand it the `{messages}` object rather than the conversation as text. */
  takesMessages(name: string): boolean;
  names(): string[];
  list(): readonly RemoteProcessorInfo[];
  readonly broker: Broker;
}

/** A registered remote endpoint, as the registry shows it. */
export type RemoteProcessorInfo = RemoteEndpointInfo;

export interface ManagerSettings {
  /** Local processors offered, name → module URL; the first is the default. */
  readonly processors: ReadonlyMap<string, string>;
  /** Local processors whose contract says `accepts: 'messages'`. */
  readonly messageProcessors?: ReadonlySet<string>;
  readonly params: Params;
  readonly batchSize: number;
  readonly batchWindowMs: number;
  readonly maxRequestsPerJob: number;
  /** A job of single requests ends after this long without a new one (default 30 s). */
  readonly requestJobIdleMs?: number;
  readonly retries: number;
  readonly timeoutMs: number;
  /** Bound on one item's output, in characters; 0 for none (default: DEFAULT_MAX_OUTPUT_CHARS). */
  readonly maxOutputChars?: number;
  /** Items in flight per action. */
  readonly actionConcurrency: number;
  /** Finished actions kept for `GET /actions/:id`: this long, and at most this many (default 1 hour, 1000). */
  readonly keepActions?: { readonly finishedMs: number; readonly maxFinished: number };
  /** The dashboard's name for where the broker's items wait (default `pool`; `redis`), told by whoever chose the broker. */
  readonly dashboardQueue?: string;
}

export interface ActionRequest {
  readonly pipeline: readonly string[];
  readonly items: readonly { id: string; input: ItemInput }[];
  readonly params?: Params;
  readonly retries?: number;
  readonly timeoutMs?: number;
}

export interface ModelInfo {
  readonly name: string;
  readonly kind: 'local' | 'remote';
}

/** A job of single requests stays open this long after its latest request (the batch window cuts batches). */
const DEFAULT_REQUEST_JOB_IDLE_MS = 30_000;
const GROUP_MIN_IDLE_MS = 50;

const newId = (prefix: string): string => `${prefix}${randomBytes(8).toString('hex')}`;

interface JobTrack {
  readonly processors: readonly string[];
  readonly running: Set<number>;
  board: BoardJob | null;
}

export class Manager {
  readonly metrics = new ServerMetrics();
  readonly startedAt = Date.now();
  /** Every job started here, for the dashboard and the /jobs routes. */
  readonly board = new JobBoard();
  private readonly groups: RequestGroups;
  private readonly actions: ActionStore;
  private readonly tracks = new WeakMap<JobRun, JobTrack>();
  private readonly runs = new Set<JobRun>();

  constructor(
    private readonly broker: Broker,
    private readonly settings: ManagerSettings,
    private readonly remote: RemoteProcessors | null = null,
  ) {
    this.actions = new ActionStore(settings.keepActions ?? { finishedMs: 3600_000, maxFinished: 1000 });
    this.groups = new RequestGroups((key, listener) => this.startJob([key], listener, { concurrency: settings.maxRequestsPerJob }, { kind: 'requests', id: null, total: null }), {
      maxPerJob: settings.maxRequestsPerJob,
      idleMs: Math.max(GROUP_MIN_IDLE_MS, settings.batchWindowMs, settings.requestJobIdleMs ?? DEFAULT_REQUEST_JOB_IDLE_MS),
      abandoned: (run, index) => {
        const track = this.tracks.get(run);
        if (!track) return;
        this.metrics.abandoned(track.processors, track.running, index);
        if (track.board) this.board.dropItem(track.board, index);
      },
    });
  }

  get defaultProcessor(): string {
    return this.settings.processors.keys().next().value ?? 'demo';
  }

  describeBroker(): string {
    return this.broker.describe();
  }

  /** Local processors first (the default leads), then remote ones not shadowed by a local name. */
  models(): ModelInfo[] {
    const local = [...this.settings.processors.keys()].map((name) => ({ name, kind: 'local' as const }));
    const remote = (this.remote?.names() ?? []).filter((n) => !this.settings.processors.has(n)).map((name) => ({ name, kind: 'remote' as const }));
    return [...local, ...remote];
  }

  hasProcessor(name: string): boolean {
    return this.settings.processors.has(name) || (this.remote?.has(name) ?? false);
  }

  /** What a chat request hands `name`: the `{messages}` object, or (the default) the conversation as text. */
  takesMessages(name: string): boolean {
    if (this.settings.processors.has(name)) return this.settings.messageProcessors?.has(name) ?? false;
    return this.remote?.takesMessages(name) ?? false;
  }

  remoteProcessors(): readonly RemoteProcessorInfo[] {
    return this.remote?.list() ?? [];
  }

  /** Requests waiting for or running their item. */
  get pendingRequests(): number {
    return this.groups.pending;
  }

  /** One request's item, in the open job for its processor. */
  runItem(processor: string, input: ItemInput, observer: ItemObserver): { requestId: string; ticket: ItemTicket } {
    this.checkProcessors([processor]);
    const requestId = newId('req_');
    return { requestId, ticket: this.groups.submit(processor, requestId, input, observer) };
  }

  /**
   * Checks an action's params as the CLI checks `--param`: its own keys against what the
   * pipeline's local processors declare, and every value (the server's params under its own)
   * with their `validate`. A remote processor checks its params itself.
   */
  async checkActionParams(pipeline: readonly string[], params: Params | undefined): Promise<void> {
    this.checkProcessors(pipeline);
    const urls = pipeline.map((name) => this.settings.processors.get(name));
    if (urls.some((url) => url === undefined)) return;
    const processors = await Promise.all(urls.map((url) => loadProcessor(url!)));
    try {
      checkParams(processors, { ...this.settings.params, ...(params ?? {}) }, { keys: Object.keys(params ?? {}) });
    } catch (err) {
      throw new InvalidParamsError(describeError(err));
    }
  }

  startAction(req: ActionRequest): Action {
    this.checkProcessors(req.pipeline);
    const action = new Action(newId('act_'), req.pipeline, req.items);
    // As `submit` does: when the same non-item error (a refused connection, a 401) ends several
    // items, the rest would go the same way: stop taking them, let those running finish.
    const failFast = new FailFast({ sameCause: DEFAULT_SAME_CAUSE, maxFailures: null }, req.items.length);
    const run: JobRun = this.startJob(
      req.pipeline,
      (events) => {
        const why = failFast.observe(events);
        if (why !== null) action.stopReason = why;
        action.apply(events);
        if (why !== null) run.drain(why);
      },
      {
        concurrency: this.settings.actionConcurrency,
        params: req.params,
        retries: req.retries,
        timeoutMs: req.timeoutMs,
      },
      { kind: 'action', id: action.id, total: req.items.length },
    );
    this.actions.add(action);
    this.actionRuns.set(action.id, run);
    const forget = (): void => void this.actionRuns.delete(action.id);
    run.finished.then(forget, forget);
    run.add(req.items.map((it, index) => ({ id: it.id, index, input: it.input }))).then(
      () => run.end(),
      () => run.abort('the action could not start'),
    );
    return action;
  }

  getAction(id: string): Action | undefined {
    return this.actions.get(id);
  }

  /** Stops an action everywhere: waiting items dropped, running ones aborted. */
  cancelAction(id: string): Action | undefined {
    const action = this.actions.get(id);
    if (!action) return undefined;
    if (!action.finished) this.actionRuns.get(id)?.abort('cancelled by DELETE /actions');
    return action;
  }

  /** Set by drain(): the server takes no new requests (the app refuses them). */
  draining = false;

  /** Stop taking requests into jobs; running items go on. */
  drain(): void {
    this.draining = true;
    this.groups.closeAll();
  }

  /** Abort everything still running, and wait (bounded) until the jobs said so. */
  async abortAll(reason: string, waitMs: number): Promise<void> {
    this.groups.abortAll(reason);
    for (const run of this.runs) run.abort(reason);
    const all = Promise.allSettled([...this.runs].map((r) => r.finished));
    await Promise.race([all, new Promise((resolve) => setTimeout(resolve, waitMs).unref())]);
  }

  /** Resolves when every job has ended, or after `waitMs`. */
  async settled(waitMs: number): Promise<boolean> {
    const all = Promise.allSettled([...this.runs].map((r) => r.finished)).then(() => true);
    return Promise.race([all, new Promise<boolean>((resolve) => setTimeout(() => resolve(false), waitMs).unref())]);
  }

  private readonly actionRuns = new Map<string, JobRun>();

  private checkProcessors(names: readonly string[]): void {
    if (names.length === 0) throw new EmptyPipelineError();
    for (const name of names) {
      if (!this.hasProcessor(name)) throw new UnknownProcessorError(name, this.models().map((m) => m.name));
    }
    const remote = names.filter((n) => !this.settings.processors.has(n));
    if (remote.length > 0 && names.length > 1) {
      throw new PipelineNotAllowedError(remote[0]!);
    }
  }

  /** One dashboard sample: the jobs, the workers seen in their events, remote processors, the pool as a queue. */
  dashboardSample(): DashSample {
    const remote: DashWorker[] = this.remoteProcessors().map((p) => ({
      name: p.id,
      host: hostOf(p.url),
      pid: 0,
      queue: p.name,
      slots: 0,
      busy: p.inflight,
      cpu: null,
      rssBytes: null,
      processed: p.processed,
      failed: p.failed,
      chunks: 0,
      avgMs: p.processed + p.failed > 0 ? p.avgMs : null,
      lastBeatAt: null,
      heartbeatMs: null,
      alive: p.healthy,
    }));
    return this.board.sample(this.broker.describe(), this.settings.dashboardQueue ?? 'pool', remote);
  }

  /** Stops any job this server runs (a group of requests or an action). */
  cancelJob(id: string): BoardJob | undefined {
    const job = this.board.get(id);
    if (!job) return undefined;
    if (job.finishedAt === null) job.run.abort('cancelled by DELETE /jobs');
    return job;
  }

  private startJob(
    pipeline: readonly string[],
    listener: (events: readonly JobEvent[]) => void,
    o: { concurrency: number; params?: Params | undefined; retries?: number | undefined; timeoutMs?: number | undefined },
    board: { kind: BoardJobKind; id: string | null; total: number | null },
  ): JobRun {
    const local = pipeline.every((n) => this.settings.processors.has(n));
    const broker = local ? this.broker : this.remote!.broker;
    const spec: JobSpec = {
      jobId: randomBytes(4).toString('hex'),
      // A remote processor's endpoints are found by name: it has no module here.
      pipeline: pipeline.map((name) => ({ name, url: local ? this.settings.processors.get(name)! : '' })),
      params: { ...this.settings.params, ...(o.params ?? {}) },
      concurrency: o.concurrency,
      batchSize: this.settings.batchSize,
      batchWindowMs: this.settings.batchWindowMs,
      retries: o.retries ?? this.settings.retries,
      timeoutMs: o.timeoutMs ?? this.settings.timeoutMs,
      maxOutputChars: outputLimitOf(this.settings),
    };
    const track: JobTrack = { processors: pipeline, running: new Set(), board: null };
    const run = broker.startJob(
      spec,
      (events) => {
        this.metrics.observe(track.processors, track.running, events);
        if (track.board) this.board.observe(track.board, events);
        listener(events);
      },
    );
    // A group of requests learns its size as requests join: count what is added.
    const counted: JobRun = board.total === null ? countingAdds(run, (n) => void (track.board && (track.board.total = (track.board.total ?? 0) + n))) : run;
    track.board = this.board.add(board.id ?? spec.jobId, board.kind, pipeline, board.total, run);
    this.tracks.set(counted, track);
    this.tracks.set(run, track);
    this.runs.add(run);
    const forget = (): void => {
      this.runs.delete(run);
      this.metrics.jobEnded(track.processors, track.running);
      // A run that failed ends without its last event: the board (and anyone attached) still
      // sees it end.
      if (track.board && track.board.finishedAt === null) this.board.end(track.board, 'the job failed');
    };
    run.finished.then(forget, forget);
    return counted;
  }
}

/** The same run, telling `onAdd` how many items each `add` brings (every call delegates). */
function countingAdds(run: JobRun, onAdd: (n: number) => void): JobRun {
  return {
    get jobId() {
      return run.jobId;
    },
    get finished() {
      return run.finished;
    },
    add: (items) => {
      onAdd(items.length);
      return run.add(items);
    },
    end: () => run.end(),
    drain: (reason) => run.drain(reason),
    abort: (reason) => run.abort(reason),
    ...(run.detach ? { detach: () => run.detach!() } : {}),
    ...(run.cancelItem ? { cancelItem: (index: number, reason: string) => run.cancelItem!(index, reason) } : {}),
  };
}

function hostOf(url: string): string {
  try {
    return new URL(url).hostname;
  } catch {
    return '';
  }
}
