/**
 * The manager's list of remote processor endpoints: registration (checked by calling the
 * endpoint's GET /meta back), periodic health checks, and which endpoint takes the next item.
 * Endpoints are keyed by id; the same id registered again replaces the old one (a restarted
 * processor). See wire.ts for the contract.
 */
import { RegistrationError } from './errors.js';
import { applyCheck, markDown, newEndpoint, pickEndpoint, toInfo, type EndpointState, type HealthTransition, type RemoteEndpointInfo } from './endpoints.js';
import { checkMeta } from './meta-check.js';
import { normalizeEndpointUrl, type RegisterRequest } from './wire.js';

export type { EndpointState, RemoteEndpointInfo } from './endpoints.js';

export interface RegistryOptions {
  /** Between the end of one round of checks and the start of the next (default 2000). */
  readonly healthIntervalMs?: number;
  /** Time limit of one health check (default 1000). */
  readonly checkTimeoutMs?: number;
  /** Failed checks in a row after which an endpoint is dropped (default 30). */
  readonly maxFailures?: number;
  /** Time limit of the GET /meta a registration makes (default 3000). */
  readonly registerTimeoutMs?: number;
  /** Sent as a Bearer token on GET /meta, for processors that check it. */
  readonly token?: string;
}

/** What happened to an endpoint; the broker listens to route waiting items and re-send lost ones. */
export interface EndpointChange {
  /** `room`: a full endpoint freed a slot. */
  readonly kind: 'registered' | 'replaced' | 'room' | Exclude<HealthTransition, null>;
  /** For `replaced`, the old registration (its items in flight are lost with its process). */
  readonly endpoint: EndpointState;
}

export class RemoteProcessorRegistry {
  private readonly byId = new Map<string, EndpointState>();
  private readonly listeners = new Set<(change: EndpointChange) => void>();
  private readonly healthIntervalMs: number;
  private readonly checkTimeoutMs: number;
  private readonly maxFailures: number;
  private readonly registerTimeoutMs: number;
  private readonly token: string | undefined;
  private timer: NodeJS.Timeout | null = null;
  private checking: AbortController | null = null;
  private running = false;
  private picks = 0;

  constructor(opts: RegistryOptions = {}) {
    this.healthIntervalMs = Math.max(10, opts.healthIntervalMs ?? 2000);
    this.checkTimeoutMs = Math.max(10, opts.checkTimeoutMs ?? 1000);
    this.maxFailures = Math.max(1, opts.maxFailures ?? 30);
    this.registerTimeoutMs = Math.max(10, opts.registerTimeoutMs ?? 3000);
    this.token = opts.token;
  }

  /** Checks the endpoint answers as `name`/`id` at `url`, then lists it (healthy). */
  async register(req: RegisterRequest): Promise<RemoteEndpointInfo> {
    const url = normalizeEndpointUrl(req.url);
    if (url === null) throw new RegistrationError(400, `url must be an http: or https: URL without credentials, query or fragment (got "${req.url}")`);
    const check = await checkMeta(url, req, { timeoutMs: this.registerTimeoutMs, token: this.token });
    if (!check.ok) throw new RegistrationError(check.kind === 'mismatch' ? 409 : 502, `cannot register ${req.name} (id ${req.id}): ${check.error}`);
    const endpoint = newEndpoint(req.name, req.id, url, check.meta.concurrency ?? null, new Date(), check.meta.accepts === 'messages');
    const old = this.byId.get(req.id);
    this.byId.set(req.id, endpoint);
    if (old) {
      old.retired = true;
      this.emit({ kind: 'replaced', endpoint: old });
    }
    this.emit({ kind: 'registered', endpoint });
    return toInfo(endpoint);
  }

  /** Whether any endpoint (healthy or not) is registered under `name`. */
  has(name: string): boolean {
    for (const ep of this.byId.values()) if (ep.name === name) return true;
    return false;
  }

  /** Whether an endpoint of `name` is in rotation (it may be full). */
  hasHealthy(name: string): boolean {
    for (const ep of this.byId.values()) if (ep.name === name && ep.healthy) return true;
    return false;
  }

  /** Whether chat requests hand `name` the `{messages}` object: every endpoint of it said so. */
  takesMessages(name: string): boolean {
    const eps = this.endpointsOf(name);
    return eps.length > 0 && eps.every((ep) => ep.takesMessages);
  }

  names(): string[] {
    return [...new Set([...this.byId.values()].map((ep) => ep.name))].sort();
  }

  list(): RemoteEndpointInfo[] {
    return [...this.byId.values()].map(toInfo);
  }

  /** Takes a slot on the best endpoint for `name` (see pickEndpoint); null when none can take it. */
  acquire(name: string, avoid?: string): EndpointState | null {
    const ep = pickEndpoint(this.endpointsOf(name), avoid);
    if (!ep) return null;
    ep.inflight++;
    ep.lastPicked = ++this.picks;
    return ep;
  }

  /** Gives the slot back with the attempt's outcome (`ms`: the item's time, when it finished). */
  release(ep: EndpointState, outcome: { readonly kind: 'done'; readonly ms: number } | { readonly kind: 'failed' | 'cancelled' }): void {
    ep.inflight = Math.max(0, ep.inflight - 1);
    if (outcome.kind === 'done') {
      ep.processed++;
      ep.totalMs += outcome.ms;
    } else if (outcome.kind === 'failed') ep.failed++;
    // A freed slot on a full endpoint lets waiting items go.
    if (ep.capacity !== null && ep.inflight === ep.capacity - 1 && ep.healthy && !ep.retired) this.emit({ kind: 'room', endpoint: ep });
  }

  /** An attempt found the endpoint gone: out of rotation until its next good check. */
  reportDown(ep: EndpointState, error: string): void {
    if (!ep.retired && markDown(ep, error)) this.emit({ kind: 'unhealthy', endpoint: ep });
  }

  /** True while `ep` is the current registration of its id and in rotation. */
  isUsable(ep: EndpointState): boolean {
    return ep.healthy && !ep.retired;
  }

  onChange(listener: (change: EndpointChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Starts the periodic health checks (one round at a time; the timer does not hold the process). */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule();
  }

  /** Stops the health checks, cancelling a round under way. */
  close(): void {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.checking?.abort();
    this.checking = null;
  }

  /** One round: every endpoint checked at once, each bounded by checkTimeoutMs. */
  async checkAll(): Promise<void> {
    const controller = new AbortController();
    this.checking = controller;
    const endpoints = [...this.byId.values()];
    await Promise.all(
      endpoints.map(async (ep) => {
        const check = await checkMeta(ep.url, ep, { timeoutMs: this.checkTimeoutMs, token: this.token, signal: controller.signal });
        if (controller.signal.aborted || this.byId.get(ep.id) !== ep) return; // closed, or replaced meanwhile
        const outcome = check.ok ? { ok: true as const, capacity: check.meta.concurrency ?? null } : { ok: false as const, error: check.error };
        const transition = applyCheck(ep, outcome, new Date(), this.maxFailures);
        if (transition === 'dropped') {
          this.byId.delete(ep.id);
          ep.retired = true;
          ep.healthy = false;
        }
        if (transition) this.emit({ kind: transition, endpoint: ep });
      }),
    );
    if (this.checking === controller) this.checking = null;
  }

  private endpointsOf(name: string): EndpointState[] {
    const out: EndpointState[] = [];
    for (const ep of this.byId.values()) if (ep.name === name) out.push(ep);
    return out;
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.checkAll().finally(() => {
        if (this.running && !this.timer) this.schedule();
      });
    }, this.healthIntervalMs);
    this.timer.unref();
  }

  private emit(change: EndpointChange): void {
    for (const listener of this.listeners) {
      try {
        listener(change);
      } catch {
        // A listener's failure is its own; the registry and the other listeners go on.
      }
    }
  }
}
