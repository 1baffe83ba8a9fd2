// Shared bits of the MD console: toasts, command helpers that tolerate an older server, and
// readers for the fields this round of the protocol adds (cues list, slot capo/pitch).
import { Store } from '../../store';
import { CommandError } from '../../connection';
import type { Room } from '../../room';
import type { RoomState } from '../../state';
import type { Ack, Setlist, Slot, Song } from '../../model';

export type Toast = { id: number; text: string; kind: 'error' | 'ok' };
export const toasts = new Store<Toast[]>([]);
let toastId = 0;
export function toast(text: string, kind: Toast['kind'] = 'error') {
  const id = ++toastId;
  toasts.set((t) => [...t.slice(-3), { id, text, kind }]);
  setTimeout(() => toasts.set((t) => t.filter((x) => x.id !== id)), kind === 'error' ? 6000 : 2500);
}

/** What a refusal says to the MD; an older server that lacks a command gets a plain hint. */
export function refusal(what: string, e: unknown): string {
  if (e instanceof CommandError && e.code === 'unsupported') return `${what}: this server is older than the console (${e.message}); update downbeatd.`;
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

/**
 * Sends a command the generated types may not know yet. Fields in `optional` that an older server
 * refuses ("data.move is not a known field") are dropped and the command is sent once more.
 */
export async function sendLoose(room: Room, type: string, data: Record<string, unknown>, optional: string[] = []): Promise<Ack> {
  try {
    return await room.connection.sendFrame(type, data);
  } catch (e) {
    const unknown = optional.filter((k) => k in data && e instanceof CommandError && e.code === 'bad_request' && e.message.includes(`${k} is not a known field`));
    if (!unknown.length) throw e;
    const copy = { ...data };
    for (const k of optional) delete copy[k];
    return room.connection.sendFrame(type, copy);
  }
}

export type Pitch = 'C' | 'Bb' | 'Eb' | 'F';
export const PITCHES: Array<[Pitch, string]> = [['C', 'C (concert)'], ['Bb', 'B♭'], ['Eb', 'E♭'], ['F', 'F']];
export type SlotX = Slot & { capo?: number | null; pitch?: Pitch | null };
export type CueX = { id?: string; from: string; text: string; color: string | null; group: string | null; at: number };

/** The current cue per group: the snapshot's `cues` (new servers), else the last cue event. */
export function currentCues(s: RoomState): CueX[] {
  const loose = s as unknown as { cues?: CueX[]; cue?: CueX | null };
  if (Array.isArray(loose.cues)) return loose.cues;
  // Older servers: cues are not kept, and the band's screens drop one after 12 s.
  return loose.cue && Date.now() - loose.cue.at < 12_000 ? [loose.cue] : [];
}

/** Slot groups in the room (for group cues), in first-seen order. */
export function slotGroups(s: RoomState): string[] {
  const out: string[] = [];
  for (const sl of s.slots) if (sl.group && sl.group !== 'tech' && !out.includes(sl.group)) out.push(sl.group);
  return out;
}

export type ItemView = { index: number; song: Song | null; key: string | null; bpm: number | null; meter: { beats: number; unit: number } | null; notes: string | null };

export function itemView(s: RoomState, list: Setlist | null, index: number): ItemView | null {
  const item = list?.items[index];
  if (!item) return null;
  const song = s.songs.find((x) => x.id === item.song) ?? null;
  return { index, song, key: item.key ?? song?.key ?? null, bpm: item.bpm ?? song?.bpm ?? null, meter: song?.meter ?? null, notes: item.notes ?? null };
}

/** Musical flats and sharps for display ("Bb" → "B♭"). */
export function pretty(key: string | null | undefined): string {
  return (key ?? '').replace(/([A-G])b/g, '$1♭').replace(/([A-G])#/g, '$1♯');
}

export function fmtBpm(x: number | null | undefined): string {
  if (x === null || x === undefined) return '—';
  return Number.isInteger(x) ? String(x) : x.toFixed(1);
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
