// Talk targets as the web app shows them: which a role may pick (the table in docs/voice.md; the
// server checks every press against core/talk.cpp), their labels, and who hears a talker.
import type { PttState } from '../model';
import type { Role } from '../protocol.gen';
import type { RoomState } from '../state';

export type TalkOption = { value: string; label: string };

export const VOICE_ROLES: readonly Role[] = ['md', 'musician', 'tech'];
export const isVoiceRole = (r: Role | undefined | null): boolean => !!r && VOICE_ROLES.includes(r);

type View = Pick<RoomState, 'me' | 'participants' | 'slots' | 'room'>;

function slotOf(s: View, id: string) {
  return s.slots.find((x) => x.participant === id) ?? null;
}

/** "Bo (Keys 1)": a participant's name and slot. */
export function personLabel(s: View, id: string): string {
  const p = s.participants.find((x) => x.id === id);
  const slot = slotOf(s, id);
  const name = p?.name ?? 'someone';
  return slot ? `${name} (${slot.name})` : name;
}

/** The groups of the slot plan, in plan order. */
export function talkGroups(s: View): string[] {
  const out: string[] = [];
  for (const sl of s.slots) if (sl.group && !out.includes(sl.group)) out.push(sl.group);
  return out;
}

/** The targets my role may use right now, in picker order. Empty for viewers. */
export function talkTargets(s: View): TalkOption[] {
  const me = s.participants.find((p) => p.id === s.me);
  if (!me || !isVoiceRole(me.role)) return [];
  const out: TalkOption[] = [];
  const talkAll = s.room?.settings?.talk_all ?? [];
  if (me.role === 'md' || ((me.role === 'musician' || me.role === 'tech') && talkAll.includes(me.role))) out.push({ value: 'all', label: 'All (everyone)' });
  out.push({ value: 'md', label: me.role === 'md' ? 'Other MDs' : 'MD (talkback)' });
  if (me.role === 'musician') {
    const g = slotOf(s, me.id)?.group;
    if (g) out.push({ value: g, label: `Group: ${g}` });
  } else {
    for (const g of talkGroups(s)) out.push({ value: g, label: `Group: ${g}` });
    for (const p of s.participants) {
      if (p.id === me.id || !p.online || !isVoiceRole(p.role)) continue;
      out.push({ value: `@${p.id}`, label: `${personLabel(s, p.id)} only` });
    }
  }
  return out;
}

export function defaultTarget(role: Role | undefined): string {
  return role === 'md' ? 'all' : 'md';
}

/** A target as the "who talks to whom" line says it. */
export function targetLabel(s: View, target: string | null): string {
  if (!target) return '';
  if (target === 'all') return 'everyone';
  if (target === 'md') return 'the MD';
  if (target.startsWith('@')) return target.slice(1) === s.me ? 'you' : personLabel(s, target.slice(1));
  return target;
}

/** Who hears a talker: the server's `to` (resolved from the target by the server). */
export function pttTo(e: PttState): string[] {
  return e.talking ? e.to : [];
}

/** The rule for playing a talker: only while their latest ptt.state says talking and names me in `to`. */
export function talkersToMe(s: View & Pick<RoomState, 'ptt'>): Set<string> {
  const out = new Set<string>();
  if (!s.me) return out;
  for (const e of s.ptt) if (e.talking && e.participant !== s.me && pttTo(e).includes(s.me)) out.add(e.participant);
  return out;
}

/** The peers my own talk goes to right now (from the server's ptt.state for me). */
export function mySendTo(s: View & Pick<RoomState, 'ptt'>): Set<string> {
  const mine = s.ptt.find((e) => e.participant === s.me && e.talking);
  return new Set(mine ? pttTo(mine).filter((id) => id !== s.me) : []);
}

/** Per-talker gain: gate × local mute × ducking (an MD talking to me ducks everybody else). */
export function talkerGains(
  s: View & Pick<RoomState, 'ptt'>, talkers: Iterable<string>, muted: ReadonlySet<string>, duckFactor: number,
): { gains: Map<string, number>; mdToMe: boolean } {
  const audible = talkersToMe(s);
  const isMd = (id: string) => s.participants.find((p) => p.id === id)?.role === 'md';
  const mdToMe = [...audible].some((id) => isMd(id) && !muted.has(id));
  const gains = new Map<string, number>();
  for (const id of talkers) {
    let g = audible.has(id) && !muted.has(id) ? 1 : 0;
    if (g && mdToMe && !isMd(id)) g *= duckFactor;
    gains.set(id, g);
  }
  return { gains, mdToMe };
}

/** −6 dB → 0.5; 0 dB (never duck) → 1. */
export function dbToGain(db: number): number {
  return Math.pow(10, Math.min(0, db) / 20);
}
