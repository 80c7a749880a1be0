import { describe, expect, it } from 'vitest';
import type { JobView } from '../../src/core/dashboard-state.js';
import { INITIAL_KEYS, onKey, promptOf, reconcileSelection, type Key, type KeyState } from '../../src/ui/dashboard-keys.js';
import { segsText } from '../../src/ui/layout.js';

function jv(id: string, over: Partial<JobView> = {}): JobView {
  return {
    id,
    queue: 'default',
    submitter: 'laptop:1',
    processors: ['demo'],
    status: 'running',
    total: 100,
    done: 40,
    failed: 2,
    running: 4,
    createdAt: 0,
    finishedAt: null,
    itemsPerSec: 1,
    tokensPerSec: null,
    etaMs: 58_000,
    ageMs: 1000,
    history: false,
    ...over,
  };
}

const JOBS: JobView[] = [jv('a'), jv('b'), jv('c'), jv('d', { status: 'done', history: true, finishedAt: 5 }), jv('e', { status: 'cancelled', history: true, finishedAt: 4 })];

const k = (input: string, over: Partial<Key> = {}): Key => ({ input, ...over });
const DOWN = k('', { downArrow: true });
const UP = k('', { upArrow: true });
const ENTER = k('\r', { return: true });
const ESC = k('', { escape: true });
const CTRL_C = k('c', { ctrl: true });

/** Runs keys in order; returns the last state and every effect. */
function press(keys: Key[], jobs: readonly JobView[] = JOBS, from: KeyState = INITIAL_KEYS): { state: KeyState; effects: unknown[] } {
  let state = from;
  const effects: unknown[] = [];
  for (const key of keys) {
    const r = onKey(state, key, jobs);
    state = r.state;
    effects.push(r.effect);
  }
  return { state, effects };
}

const at = (id: string): KeyState => ({ ...INITIAL_KEYS, selected: id });
const msg = (s: KeyState): string | null => (s.message ? segsText(s.message) : null);

describe('onKey: moving the selection', () => {
  it('j and down move down, k and up move up, with no effect', () => {
    expect(press([k('j')], JOBS, at('a')).state.selected).toBe('b');
    expect(press([DOWN], JOBS, at('a')).state.selected).toBe('b');
    expect(press([k('j'), DOWN], JOBS, at('a')).state.selected).toBe('c');
    expect(press([k('k')], JOBS, at('c')).state.selected).toBe('b');
    expect(press([UP], JOBS, at('c')).state.selected).toBe('b');
    expect(press([k('j'), k('j'), k('k')], JOBS, at('a')).effects).toEqual([null, null, null]);
  });

  it('clamps at both ends', () => {
    expect(press([k('k'), UP, k('k')], JOBS, at('a')).state.selected).toBe('a');
    expect(press(Array.from({ length: 12 }, () => k('j')), JOBS, at('a')).state.selected).toBe('e');
    expect(press([DOWN, DOWN], JOBS, at('e')).state.selected).toBe('e');
  });

  it('g goes to the first job, G to the last', () => {
    expect(press([k('G')], JOBS, at('b')).state.selected).toBe('e');
    expect(press([k('g')], JOBS, at('d')).state.selected).toBe('a');
  });

  it('page down and up move by 10, clamped', () => {
    const many = Array.from({ length: 25 }, (_, i) => jv(`j${i}`));
    expect(press([k('', { pageDown: true })], many, at('j0')).state.selected).toBe('j10');
    expect(press([k('', { pageDown: true }), k('', { pageDown: true }), k('', { pageDown: true })], many, at('j0')).state.selected).toBe('j24');
    expect(press([k('', { pageUp: true })], many, at('j12')).state.selected).toBe('j2');
    expect(press([k('', { pageUp: true })], many, at('j3')).state.selected).toBe('j0');
  });

  it('moves from the first job when nothing (or a vanished job) was selected', () => {
    expect(press([k('j')], JOBS, INITIAL_KEYS).state.selected).toBe('b');
    expect(press([k('k')], JOBS, INITIAL_KEYS).state.selected).toBe('a');
    expect(press([k('j')], JOBS, at('gone')).state.selected).toBe('b');
  });

  it('does nothing with no jobs', () => {
    const r = press([k('j'), DOWN, k('G')], [], INITIAL_KEYS);
    expect(r.state.selected).toBeNull();
    expect(r.effects).toEqual([null, null, null]);
  });
});

describe('onKey: attach, quit', () => {
  it('Enter attaches to the selected job', () => {
    expect(onKey(at('b'), ENTER, JOBS).effect).toEqual({ kind: 'attach', jobId: 'b' });
    // Enter typed before the view set raw mode arrives as a line feed, which ink does not call return.
    expect(onKey(at('b'), k('\n'), JOBS).effect).toEqual({ kind: 'attach', jobId: 'b' });
    expect(press([k('j'), k('j'), ENTER], JOBS, at('a')).effects.at(-1)).toEqual({ kind: 'attach', jobId: 'c' });
  });

  it('Enter with no jobs gives a message and no effect', () => {
    const r = onKey(INITIAL_KEYS, ENTER, []);
    expect(r.effect).toBeNull();
    expect(msg(r.state)).toBe('no job to attach to');
    expect(promptOf(r.state, [])).not.toBeNull();
  });

  it('q and Ctrl+C quit; Esc does not', () => {
    expect(onKey(at('a'), k('q'), JOBS).effect).toEqual({ kind: 'quit' });
    expect(onKey(at('a'), CTRL_C, JOBS).effect).toEqual({ kind: 'quit' });
    expect(onKey(INITIAL_KEYS, k('q'), []).effect).toEqual({ kind: 'quit' });
    expect(onKey(at('a'), ESC, JOBS).effect).toBeNull();
  });

  it('other keys do nothing', () => {
    for (const input of ['x', 'z', '1', ' ', 'Q']) {
      const r = onKey(at('b'), k(input), JOBS);
      expect(r.effect, input).toBeNull();
      expect(r.state.selected, input).toBe('b');
      expect(r.state.confirmCancel, input).toBeNull();
    }
  });

  it('a message lasts until the next key', () => {
    const first = onKey(INITIAL_KEYS, ENTER, []);
    expect(first.state.message).not.toBeNull();
    expect(onKey(first.state, k('x'), []).state.message).toBeNull();
  });
});

describe('onKey: cancel', () => {
  it('c asks to confirm; promptOf shows the job and its progress', () => {
    const r = onKey(at('b'), k('c'), JOBS);
    expect(r.effect).toBeNull();
    expect(r.state.confirmCancel).toBe('b');
    const prompt = segsText(promptOf(r.state, JOBS)!);
    expect(prompt).toContain('Cancel job b (42/100 finished) everywhere?');
    expect(prompt).toContain('y yes');
    expect(prompt).toContain('any other key no');
  });

  it('promptOf says ? for an unknown total and leaves the progress out for a job no longer listed', () => {
    const unknown = [jv('u', { total: null, done: 3, failed: 0 })];
    expect(segsText(promptOf({ ...INITIAL_KEYS, confirmCancel: 'u' }, unknown)!)).toContain('Cancel job u (3/? finished) everywhere?');
    expect(segsText(promptOf({ ...INITIAL_KEYS, confirmCancel: 'gone' }, unknown)!)).toContain('Cancel job gone everywhere?');
  });

  it('y (or Y) then cancels the job', () => {
    for (const yes of ['y', 'Y']) {
      const r = press([k('c'), k(yes)], JOBS, at('c'));
      expect(r.effects).toEqual([null, { kind: 'cancel', jobId: 'c' }]);
      expect(r.state.confirmCancel).toBeNull();
      expect(promptOf(r.state, JOBS)).toBeNull();
    }
  });

  it('any other key leaves it running, with a message, and no effect (q and Esc included)', () => {
    for (const no of [k('n'), k('x'), k('q'), ESC, ENTER, k('j'), k('c')]) {
      const r = press([k('c'), no], JOBS, at('a'));
      expect(r.effects, JSON.stringify(no)).toEqual([null, null]);
      expect(r.state.confirmCancel).toBeNull();
      expect(msg(r.state)).toBe('job a left running');
      expect(r.state.selected).toBe('a');
    }
  });

  it('Ctrl+C quits even while asking', () => {
    const r = press([k('c'), CTRL_C], JOBS, at('a'));
    expect(r.effects.at(-1)).toEqual({ kind: 'quit' });
  });

  it('c on a finished job gives a message and no prompt', () => {
    for (const [id, status] of [
      ['d', 'done'],
      ['e', 'cancelled'],
    ] as const) {
      const r = onKey(at(id), k('c'), JOBS);
      expect(r.effect).toBeNull();
      expect(r.state.confirmCancel).toBeNull();
      expect(msg(r.state)).toBe(`job ${id} is ${status} already`);
      expect(segsText(promptOf(r.state, JOBS)!)).not.toContain('Cancel job');
    }
  });

  it('c with no jobs gives a message', () => {
    const r = onKey(INITIAL_KEYS, k('c'), []);
    expect(r.state.confirmCancel).toBeNull();
    expect(msg(r.state)).toBe('no job selected');
  });

  it('the confirmation names the job it was asked for even if the list reorders meanwhile', () => {
    const asked = onKey(at('b'), k('c'), JOBS).state;
    const reordered = [JOBS[2]!, JOBS[1]!, JOBS[0]!];
    const r = onKey(asked, k('y'), reordered);
    expect(r.effect).toEqual({ kind: 'cancel', jobId: 'b' });
  });
});

describe('promptOf', () => {
  it('is null with neither a question nor a message', () => {
    expect(promptOf(INITIAL_KEYS, JOBS)).toBeNull();
    expect(promptOf(at('a'), JOBS)).toBeNull();
  });

  it('shows the message', () => {
    const s: KeyState = { ...INITIAL_KEYS, message: [{ text: 'hello', dim: true }] };
    expect(promptOf(s, JOBS)).toEqual([{ text: 'hello', dim: true }]);
  });
});

describe('reconcileSelection', () => {
  it('selects the first job when nothing is selected', () => {
    expect(reconcileSelection(INITIAL_KEYS, JOBS).selected).toBe('a');
  });

  it('keeps the same job id when the list reorders', () => {
    const reordered = [JOBS[3]!, JOBS[2]!, JOBS[0]!, JOBS[1]!];
    const s = at('b');
    const r = reconcileSelection(s, reordered);
    expect(r.selected).toBe('b');
    expect(r).toBe(s);
    // And the next move is relative to its new place.
    expect(onKey(r, k('k'), reordered).state.selected).toBe('a');
  });

  it('falls back to the first job when the selected one disappears', () => {
    const remaining = [JOBS[2]!, JOBS[4]!];
    expect(reconcileSelection(at('b'), remaining).selected).toBe('c');
  });

  it('clears the selection when there are no jobs, and leaves the rest of the state alone', () => {
    const s: KeyState = { selected: 'a', confirmCancel: null, message: [{ text: 'm' }] };
    const r = reconcileSelection(s, []);
    expect(r.selected).toBeNull();
    expect(r.message).toEqual([{ text: 'm' }]);
    expect(reconcileSelection(INITIAL_KEYS, [])).toBe(INITIAL_KEYS);
  });
});

describe('confirming a cancel re-checks the job', () => {
  it('y on a job that ended or vanished while asked: a message, no cancel', () => {
    const asked: KeyState = { selected: 'a', confirmCancel: 'a', message: null };
    const ended = onKey(asked, k('y'), [jv('a', { status: 'done', history: true, finishedAt: 5 })]);
    expect(ended.effect).toBeNull();
    expect(segsText(ended.state.message ?? [])).toBe('job a is done already');
    const gone = onKey(asked, k('y'), [jv('b')]);
    expect(gone.effect).toBeNull();
    expect(segsText(gone.state.message ?? [])).toBe('job a is gone');
  });
});

describe('the cursor and new jobs', () => {
  it('follows the newest job while the user has not moved it; stays on the user\'s job once moved', () => {
    const older = JOBS;
    const newer = [{ ...JOBS[0]!, id: 'new' }, ...JOBS];
    // The dashboard opens: the top job is selected for the user.
    const first = reconcileSelection(INITIAL_KEYS, older);
    expect(first.selected).toBe(older[0]!.id);
    // A job arrives (newest first, at the top): the cursor goes to it.
    expect(reconcileSelection(first, newer).selected).toBe('new');
    // Moved by the user: it stays on their job when another arrives.
    const moved = onKey(first, { input: 'j' }, older).state;
    expect(moved.selected).toBe(older[1]!.id);
    expect(reconcileSelection(moved, newer).selected).toBe(older[1]!.id);
  });
});

