import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { SignalLadder, onStopSignals } from '../../src/app/signal-ladder.js';

function ladder() {
  const steps: string[] = [];
  const l = new SignalLadder({ drain: () => steps.push('drain'), abort: () => steps.push('abort'), beyond: () => steps.push('beyond') });
  return { l, steps };
}

describe('onStopSignals', () => {
  it('hears SIGINT and SIGTERM, naming which, until unlistened', () => {
    const signals = new EventEmitter();
    const heard: string[] = [];
    const unlisten = onStopSignals(signals, (s) => heard.push(s));
    signals.emit('SIGINT');
    signals.emit('SIGTERM');
    signals.emit('SIGHUP');
    unlisten();
    signals.emit('SIGINT');
    expect(heard).toEqual(['SIGINT', 'SIGTERM']);
    expect(signals.listenerCount('SIGINT') + signals.listenerCount('SIGTERM')).toBe(0);
  });
});

describe('SignalLadder', () => {
  it('drains on the first step, aborts on the second, and goes beyond after', () => {
    const { l, steps } = ladder();
    expect(l.step).toBe(0);
    l.climb();
    expect(steps).toEqual(['drain']);
    l.climb();
    l.climb();
    l.climb();
    expect(steps).toEqual(['drain', 'abort', 'beyond', 'beyond']);
    expect(l.step).toBe(4);
  });

  it('without a step beyond, later signals do nothing', () => {
    const steps: string[] = [];
    const l = new SignalLadder({ drain: () => steps.push('drain'), abort: () => steps.push('abort') });
    for (let k = 0; k < 4; k++) l.climb();
    expect(steps).toEqual(['drain', 'abort']);
  });

  it('abort drains first if not yet, and does nothing once aborting', () => {
    const { l, steps } = ladder();
    l.abort();
    expect(steps).toEqual(['drain', 'abort']);
    l.abort();
    expect(steps).toEqual(['drain', 'abort']);
  });

  it('drained() skips the drain step: the next climb aborts', () => {
    const { l, steps } = ladder();
    l.drained();
    expect(l.step).toBe(1);
    l.climb();
    expect(steps).toEqual(['abort']);
    // Never goes back down.
    l.drained();
    expect(l.step).toBe(2);
  });

  it('listens: each signal climbs one step; with termAborts SIGTERM aborts at once', () => {
    const signals = new EventEmitter();
    const a = ladder();
    const unlisten = a.l.listen(signals);
    signals.emit('SIGTERM');
    expect(a.steps).toEqual(['drain']);
    signals.emit('SIGINT');
    expect(a.steps).toEqual(['drain', 'abort']);
    unlisten();
    signals.emit('SIGINT');
    expect(a.steps).toEqual(['drain', 'abort']);

    const b = ladder();
    const stop = b.l.listen(signals, { termAborts: true });
    signals.emit('SIGTERM');
    expect(b.steps).toEqual(['drain', 'abort']);
    signals.emit('SIGINT');
    expect(b.steps).toEqual(['drain', 'abort', 'beyond']);
    stop();
    expect(signals.listenerCount('SIGINT') + signals.listenerCount('SIGTERM')).toBe(0);
  });
});
