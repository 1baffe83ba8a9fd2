import { describe, it, expect } from 'vitest';
import { pttStep, pttIdle, spaceTalks, LATCH_TAP_MS, type PttInput, type PttMachine, type PttAction } from './ptt';

function run(inputs: PttInput[], m: PttMachine = pttIdle): { m: PttMachine; actions: PttAction[] } {
  const actions: PttAction[] = [];
  for (const i of inputs) { const r = pttStep(m, i); m = r.m; actions.push(r.action); }
  return { m, actions };
}

describe('Talk button: hold, latch, release', () => {
  it('holding talks until the button is let go', () => {
    const r = run([{ kind: 'down', at: 0 }, { kind: 'up', at: 1200 }]);
    expect(r.actions).toEqual(['press', 'release']);
    expect(r.m.mode).toBe('idle');
  });

  it('a short tap latches; the next tap releases at once and its up does nothing', () => {
    const r = run([{ kind: 'down', at: 0 }, { kind: 'up', at: LATCH_TAP_MS - 1 }]);
    expect(r.actions).toEqual(['press', null]);
    expect(r.m.mode).toBe('latched');
    const r2 = run([{ kind: 'down', at: 5000 }, { kind: 'up', at: 5100 }], r.m);
    expect(r2.actions).toEqual(['release', null]);
    expect(r2.m.mode).toBe('idle');
  });

  it('a hold of exactly the tap limit is a hold, not a latch', () => {
    expect(run([{ kind: 'down', at: 10 }, { kind: 'up', at: 10 + LATCH_TAP_MS }]).actions).toEqual(['press', 'release']);
  });

  it('a lost gesture while holding releases; while latched it keeps talking', () => {
    expect(run([{ kind: 'down', at: 0 }, { kind: 'cancel' }]).actions).toEqual(['press', 'release']);
    const latched = run([{ kind: 'down', at: 0 }, { kind: 'up', at: 50 }]).m;
    const r = run([{ kind: 'cancel' }], latched);
    expect(r.actions).toEqual([null]);
    expect(r.m.mode).toBe('latched');
  });

  it('a second pointer (or the space bar) while held is still one talk', () => {
    const r = run([{ kind: 'down', at: 0 }, { kind: 'down', at: 100 }, { kind: 'up', at: 900 }]);
    expect(r.actions).toEqual(['press', null, 'release']);
  });

  it('the server ending the talk resets without sending anything', () => {
    const latched = run([{ kind: 'down', at: 0 }, { kind: 'up', at: 50 }]).m;
    const r = run([{ kind: 'reset' }, { kind: 'down', at: 1000 }], latched);
    expect(r.actions).toEqual([null, 'press']);
  });

  it('an up without a down does nothing', () => {
    expect(run([{ kind: 'up', at: 3 }]).actions).toEqual([null]);
  });
});

describe('space bar', () => {
  const el = (tagName: string, extra: Record<string, unknown> = {}) => ({ tagName, ...extra }) as unknown as EventTarget;
  it('talks on the page and on buttons, not while typing', () => {
    expect(spaceTalks(null)).toBe(true);
    expect(spaceTalks(el('BODY'))).toBe(true);
    expect(spaceTalks(el('BUTTON'))).toBe(true);
    expect(spaceTalks(el('INPUT', { type: 'text' }))).toBe(false);
    expect(spaceTalks(el('INPUT', { type: 'number' }))).toBe(false);
    expect(spaceTalks(el('INPUT', { type: 'checkbox' }))).toBe(true);
    expect(spaceTalks(el('TEXTAREA'))).toBe(false);
    expect(spaceTalks(el('SELECT'))).toBe(false);
    expect(spaceTalks(el('DIV', { isContentEditable: true }))).toBe(false);
  });
});
