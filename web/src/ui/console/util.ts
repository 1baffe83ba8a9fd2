// Shared bits of the MD console: toasts, running a command with its refusal as a toast, slot
// groups for cues, shortcuts pausing while the MD types.
import { Store } from '../../store';
import { TECH_GROUP, type RoomState } from '../../state';

export type Toast = { id: number; text: string; kind: 'error' | 'ok' };
export const toasts = new Store<Toast[]>([]);
let toastId = 0;
export function toast(text: string, kind: Toast['kind'] = 'error') {
  const id = ++toastId;
  toasts.set((t) => [...t.slice(-3), { id, text, kind }]);
  setTimeout(() => toasts.set((t) => t.filter((x) => x.id !== id)), kind === 'error' ? 6000 : 2500);
}

/** What a refusal says to the MD: what did not happen, then the server's reason. */
export function refusal(what: string, e: unknown): string {
  return `${what}: ${(e as Error).message}`;
}

/** Runs a command; a refusal becomes a toast that says what went wrong. */
export async function run<T>(what: string, p: Promise<T>): Promise<T | null> {
  try {
    return await p;
  } catch (e) {
    toast(refusal(what, e));
    return null;
  }
}

/** Slot groups in the room (for group cues), in first-seen order. */
export function slotGroups(s: RoomState): string[] {
  const out: string[] = [];
  for (const sl of s.slots) if (sl.group && sl.group !== TECH_GROUP && !out.includes(sl.group)) out.push(sl.group);
  return out;
}

/** True when the key event comes from a field the MD is typing in (shortcuts must not fire). */
export function isTyping(target: EventTarget | null): boolean {
  const el = target as HTMLElement | null;
  if (!el || !el.tagName) return false;
  if (el.isContentEditable) return true;
  if (el.tagName === 'TEXTAREA' || el.tagName === 'SELECT') return true;
  if (el.tagName === 'INPUT') {
    const t = (el as HTMLInputElement).type;
    return !['checkbox', 'radio', 'button', 'submit', 'range', 'file'].includes(t);
  }
  return false;
}
