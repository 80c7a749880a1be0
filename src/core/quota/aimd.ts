/**
 * How many requests to one endpoint may be in flight at once, for a server that says nothing of
 * its limits (no x-ratelimit-* headers, no retry-after) and only answers 429 or 503 when pushed:
 * additive increase, multiplicative decrease, as TCP finds a path's capacity. Pure.
 *
 * The window starts at the ceiling (the job's concurrency: until the server pushes back, nothing
 * is held back). An overload halves what was in flight, once per burst: the other requests of the
 * burst that overloaded the server were sent before the decrease and say nothing new. Each
 * success adds 1/window, so a whole window of successes adds one slot.
 */
export interface AimdState {
  /** Requests allowed in flight; a fraction grows into the next slot. */
  readonly window: number;
  readonly inFlight: number;
  /** Slots handed out so far: each slot's ticket. */
  readonly issued: number;
  /** `issued` at the last decrease: an overload of a ticket up to it belongs to that burst. */
  readonly decreasedAt: number;
}

export interface AimdConfig {
  /** The most in flight (the job's concurrency); Infinity for no bound. */
  readonly ceiling: number;
  /** The least the window falls to. */
  readonly floor: number;
  /** What a decrease keeps of the requests in flight. */
  readonly decrease: number;
}

export const aimdConfig = (ceiling: number): AimdConfig => ({ ceiling: Math.max(1, ceiling), floor: 1, decrease: 0.5 });

export const aimdStart = (config: AimdConfig): AimdState => ({ window: config.ceiling, inFlight: 0, issued: 0, decreasedAt: 0 });

/** True when a slot is free now. */
export const hasRoom = (state: AimdState): boolean => state.inFlight < Math.floor(state.window);

/** Takes a slot (check `hasRoom` first); the ticket names it at its overload. */
export function takeSlot(state: AimdState): { state: AimdState; ticket: number } {
  const ticket = state.issued + 1;
  return { state: { ...state, inFlight: state.inFlight + 1, issued: ticket }, ticket };
}

/** The server pushed back on the request holding `ticket` (a 429 or 503 that said nothing more). */
export function overloaded(state: AimdState, ticket: number, config: AimdConfig): AimdState {
  if (ticket <= state.decreasedAt) return state;
  const basis = Math.min(state.window, state.inFlight);
  return { ...state, window: Math.max(config.floor, basis * config.decrease), decreasedAt: state.issued };
}

/** A slot comes back; a success grows the window (up to the ceiling). */
export function freeSlot(state: AimdState, succeeded: boolean, config: AimdConfig): AimdState {
  const inFlight = Math.max(0, state.inFlight - 1);
  const window = succeeded && state.window < config.ceiling ? Math.min(config.ceiling, state.window + 1 / state.window) : state.window;
  return { ...state, inFlight, window };
}
