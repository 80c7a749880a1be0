/**
 * The state of one registered endpoint and the pure rules over it: which endpoint takes the next
 * item, what a health check's outcome does to it, and how it is shown. No I/O, no timers.
 */

/** How an endpoint is shown (GET /processors, the manager's GET /meta). */
export interface RemoteEndpointInfo {
  readonly name: string;
  readonly id: string;
  readonly url: string;
  readonly healthy: boolean;
  /** When it registered (its latest registration), ISO 8601. */
  readonly connectedOn: string;
  readonly inflight: number;
  /** Items it finished. */
  readonly processed: number;
  /** Attempts that failed on it, whoever's fault. */
  readonly failed: number;
  /** Average time of the items it finished, ms (0 before the first). */
  readonly avgMs: number;
  /** Most items it takes at once, from its /meta `concurrency` (null: no limit). */
  readonly capacity: number | null;
  readonly lastCheck: string | null;
  readonly lastError: string | null;
}

export interface EndpointState {
  readonly name: string;
  readonly id: string;
  readonly url: string;
  readonly connectedOn: Date;
  healthy: boolean;
  capacity: number | null;
  inflight: number;
  processed: number;
  failed: number;
  totalMs: number;
  /** Failed checks in a row. */
  failures: number;
  lastCheck: Date | null;
  lastError: string | null;
  /** Sequence number of its latest pick: ties on in-flight go to the one picked longest ago. */
  lastPicked: number;
  /** Replaced by a newer registration of its id, or dropped: attempts on it still release here. */
  retired: boolean;
  /** Its /meta said `accepts: "messages"`: chat requests hand it the `{messages}` object. */
  readonly takesMessages: boolean;
}

export function newEndpoint(name: string, id: string, url: string, capacity: number | null, now: Date, takesMessages = false): EndpointState {
  return {
    takesMessages,
    name,
    id,
    url,
    connectedOn: now,
    healthy: true,
    capacity,
    inflight: 0,
    processed: 0,
    failed: 0,
    totalMs: 0,
    failures: 0,
    lastCheck: now,
    lastError: null,
    lastPicked: 0,
    retired: false,
  };
}

const hasRoom = (ep: EndpointState): boolean => ep.capacity === null || ep.inflight < ep.capacity;

/**
 * The endpoint for the next item: healthy, with room, least in flight, then least recently
 * picked. `avoid` (the endpoint an item just failed on) is taken only if nothing else can.
 */
export function pickEndpoint(candidates: Iterable<EndpointState>, avoid?: string): EndpointState | null {
  let best: EndpointState | null = null;
  let fallback: EndpointState | null = null;
  for (const ep of candidates) {
    if (!ep.healthy || ep.retired || !hasRoom(ep)) continue;
    if (ep.id === avoid) {
      fallback = ep;
      continue;
    }
    if (!best || ep.inflight < best.inflight || (ep.inflight === best.inflight && ep.lastPicked < best.lastPicked)) best = ep;
  }
  return best ?? fallback;
}

export type CheckOutcome = { readonly ok: true; readonly capacity: number | null } | { readonly ok: false; readonly error: string };

/** What a check changed: the endpoint came back, went out of rotation, or is to be dropped. */
export type HealthTransition = 'healthy' | 'unhealthy' | 'dropped' | null;

/** Applies a health check's outcome; `maxFailures` failures in a row drop the endpoint. */
export function applyCheck(ep: EndpointState, outcome: CheckOutcome, at: Date, maxFailures: number): HealthTransition {
  ep.lastCheck = at;
  if (outcome.ok) {
    ep.failures = 0;
    ep.capacity = outcome.capacity;
    ep.lastError = null;
    if (ep.healthy) return null;
    ep.healthy = true;
    return 'healthy';
  }
  ep.failures++;
  ep.lastError = outcome.error;
  if (ep.failures >= maxFailures) return 'dropped';
  if (!ep.healthy) return null;
  ep.healthy = false;
  return 'unhealthy';
}

/** An attempt on it found it gone (connection refused or reset): out of rotation until a good check. */
export function markDown(ep: EndpointState, error: string): boolean {
  ep.lastError = error;
  if (!ep.healthy) return false;
  ep.healthy = false;
  return true;
}

export function toInfo(ep: EndpointState): RemoteEndpointInfo {
  return {
    name: ep.name,
    id: ep.id,
    url: ep.url,
    healthy: ep.healthy,
    connectedOn: ep.connectedOn.toISOString(),
    inflight: ep.inflight,
    processed: ep.processed,
    failed: ep.failed,
    avgMs: ep.processed > 0 ? Math.round((ep.totalMs / ep.processed) * 10) / 10 : 0,
    capacity: ep.capacity,
    lastCheck: ep.lastCheck ? ep.lastCheck.toISOString() : null,
    lastError: ep.lastError,
  };
}
