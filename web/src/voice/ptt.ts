// The Talk button as a state machine: hold to talk, a short tap latches, the next tap releases.
// Pointer, touch and the space bar all feed the same inputs. Pure: time comes in with each input.

export const LATCH_TAP_MS = 250;

export type PttMode =
  | 'idle'
  | 'holding'    // down, talking; a quick up latches, a long one releases
  | 'latched'    // talking with nothing held
  | 'unlatching'; // the tap that released a latch is still down

export type PttInput =
  | { kind: 'down'; at: number }
  | { kind: 'up'; at: number }
  | { kind: 'cancel' }   // the gesture was lost (pointercancel, window blur, page hidden)
  | { kind: 'reset' };   // the talk ended elsewhere (server released it, the press was refused)

export type PttMachine = { mode: PttMode; downAt: number };
export type PttAction = 'press' | 'release' | null;

export const pttIdle: PttMachine = { mode: 'idle', downAt: 0 };

export function pttStep(m: PttMachine, input: PttInput): { m: PttMachine; action: PttAction } {
  if (input.kind === 'reset') return { m: pttIdle, action: null };
  switch (m.mode) {
    case 'idle':
      if (input.kind === 'down') return { m: { mode: 'holding', downAt: input.at }, action: 'press' };
      return { m, action: null };
    case 'holding':
      if (input.kind === 'up') {
        return input.at - m.downAt < LATCH_TAP_MS
          ? { m: { mode: 'latched', downAt: m.downAt }, action: null }
          : { m: pttIdle, action: 'release' };
      }
      if (input.kind === 'cancel') return { m: pttIdle, action: 'release' };
      return { m, action: null }; // a second pointer or the key while held: still one talk
    case 'latched':
      if (input.kind === 'down') return { m: { mode: 'unlatching', downAt: input.at }, action: 'release' };
      return { m, action: null }; // a lost gesture does not end a latched talk
    case 'unlatching':
      if (input.kind === 'up' || input.kind === 'cancel') return { m: pttIdle, action: null };
      return { m, action: null };
  }
}

export const isTalkingMode = (m: PttMode): boolean => m === 'holding' || m === 'latched';

/** The space bar talks unless the user is typing. */
export function spaceTalks(target: EventTarget | null): boolean {
  const el = target as (HTMLElement & { isContentEditable?: boolean }) | null;
  if (!el || typeof el.tagName !== 'string') return true;
  const tag = el.tagName.toLowerCase();
  if (tag === 'textarea' || tag === 'select' || el.isContentEditable) return false;
  if (tag === 'input') {
    const type = ((el as HTMLInputElement).type || 'text').toLowerCase();
    return ['checkbox', 'radio', 'range', 'button', 'submit', 'reset', 'color'].includes(type);
  }
  return true;
}
