/** The concurrency window for servers that say nothing of their limits (src/core/quota/aimd.ts). */
import { describe, expect, it } from 'vitest';
import { aimdConfig, aimdStart, freeSlot, hasRoom, overloaded, takeSlot, type AimdState } from '../../src/core/quota/aimd.js';

const config = aimdConfig(32);

/** Takes `n` slots; the tickets and the state. */
function take(state: AimdState, n: number): { state: AimdState; tickets: number[] } {
  const tickets: number[] = [];
  for (let k = 0; k < n; k++) {
    expect(hasRoom(state)).toBe(true);
    const slot = takeSlot(state);
    state = slot.state;
    tickets.push(slot.ticket);
  }
  return { state, tickets };
}

describe('AIMD window', () => {
  it('starts at the ceiling: nothing is held back until the server pushes back', () => {
    const { state } = take(aimdStart(config), 32);
    expect(hasRoom(state)).toBe(false);
    expect(state.window).toBe(32);
  });

  it('an overload halves what was in flight, once per burst', () => {
    let { state, tickets } = take(aimdStart(config), 20);
    state = overloaded(state, tickets[3]!, config);
    expect(state.window).toBe(10); // min(window 32, 20 in flight) / 2
    // the rest of the burst was sent before the decrease: no further halving
    for (const t of tickets.slice(4)) state = overloaded(state, t, config);
    expect(state.window).toBe(10);
    // a slot issued after the decrease that overloads halves again
    for (const _ of tickets) state = freeSlot(state, false, config);
    const later = take(state, 1);
    expect(overloaded(later.state, later.tickets[0]!, config).window).toBe(1); // min(10, 1 in flight) / 2, floored at 1
  });

  it('never below the floor, and a full window holds callers back', () => {
    let { state, tickets } = take(aimdStart(aimdConfig(4)), 1);
    state = overloaded(state, tickets[0]!, aimdConfig(4));
    expect(state.window).toBe(1);
    expect(hasRoom(state)).toBe(false);
    state = freeSlot(state, false, aimdConfig(4));
    expect(hasRoom(state)).toBe(true);
  });

  it('each success adds 1/window: a window of successes adds one slot, up to the ceiling', () => {
    let state: AimdState = { window: 4, inFlight: 4, issued: 4, decreasedAt: 4 };
    for (let k = 0; k < 4; k++) state = freeSlot(state, true, config);
    expect(state.window).toBeGreaterThan(4.9);
    expect(state.window).toBeLessThan(5);
    expect(state.inFlight).toBe(0);
    let top: AimdState = { window: 31.99, inFlight: 1, issued: 1, decreasedAt: 0 };
    top = freeSlot(top, true, config);
    expect(top.window).toBe(32);
    // a failure that is not an overload frees its slot and grows nothing
    expect(freeSlot({ window: 4, inFlight: 1, issued: 1, decreasedAt: 0 }, false, config).window).toBe(4);
  });

  it('with no ceiling, only the requests in flight bound the first decrease', () => {
    const open = aimdConfig(Infinity);
    let { state, tickets } = take(aimdStart(open), 64);
    expect(hasRoom(state)).toBe(true);
    state = overloaded(state, tickets[0]!, open);
    expect(state.window).toBe(32);
  });
});
