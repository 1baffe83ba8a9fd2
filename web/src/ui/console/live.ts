// Moving the band: song and section changes shared by the buttons and the keyboard shortcuts.
import { Store } from '../../store';
import type { Room } from '../../room';
import { currentSong, activeSetlist, itemView, type RoomState } from '../../state';
import type { Meter, Tempo } from '../../model';
import type { CommandMap } from '../../protocol.gen';
import { sectionNames } from '../../chart';
import { run } from './util';

/** "Load each song's bpm and meter into the click" (the server does it on song.current; off: keep_tempo). */
export const followTempo = new Store<boolean>(true);

export type SongTempo = { bpm: number | null; meter: Meter | null };

/** The tempo a setlist item asks for: the item's bpm over the song's, the song's meter. */
export function songTempo(s: RoomState, setlistId: string, index: number): SongTempo | null {
  const item = itemView(s, s.setlists.find((x) => x.id === setlistId), index);
  if (!item || (item.bpm === null && item.meter === null)) return null;
  return { bpm: item.bpm, meter: item.meter };
}

/** Whether the click already runs at the tempo a song asks for. */
export function tempoMatches(t: Tempo | null, want: SongTempo): boolean {
  if (!t) return false;
  if (want.bpm !== null && Math.abs(t.bpm - want.bpm) > 0.05) return false;
  if (want.meter && (t.meter.beats !== want.meter.beats || t.meter.unit !== want.meter.unit)) return false;
  return true;
}

export function tempoData(want: SongTempo): CommandMap['tempo.set'] {
  const d: CommandMap['tempo.set'] = {};
  if (want.bpm !== null) d.bpm = want.bpm;
  if (want.meter) d.meter = want.meter as NonNullable<CommandMap['tempo.set']['meter']>; // a song's meter passed the same schema
  return d;
}

/** song.current: moves the band to a song (and section); loads its tempo unless the MD keeps it. */
export async function goTo(room: Room, setlistId: string, index: number, section?: string | null): Promise<boolean> {
  const s = room.state.get();
  const list = s.setlists.find((x) => x.id === setlistId);
  if (!list || index < 0 || index >= list.items.length) return false;
  const changes = s.songCurrent?.setlist !== setlistId || s.songCurrent?.index !== index;
  const keep = !followTempo.get();
  const data: CommandMap['song.current'] = { setlist: setlistId, index };
  if (section) data.section = section;
  if (changes && keep) data.keep_tempo = true;
  const ack = await run('Could not change the song', room.send('song.current', data));
  if (!ack) return false;
  // The next step (a second ↓ pressed quickly) starts from this change, not from the state before it.
  if (ack.seq !== undefined) await room.waitForSeq(ack.seq, 2000).catch(() => null);
  return true;
}

export function sectionsOf(s: RoomState): string[] {
  const cur = currentSong(s);
  if (!cur?.song?.chordpro) return [];
  try {
    return sectionNames(cur.song.chordpro);
  } catch {
    return []; // the chart module is still loading: no section buttons for a moment
  }
}

// Song and section steps run one after another, each from the state the previous one left.
let queue: Promise<unknown> = Promise.resolve();
function serial(f: () => Promise<boolean>): Promise<boolean> {
  const p = queue.then(f, f);
  queue = p.catch(() => false);
  return p;
}

/** Next (+1) or previous (−1) song of the live setlist; from nothing, the first song. */
export function stepSong(room: Room, d: 1 | -1): Promise<boolean> {
  return serial(() => stepSongNow(room, d));
}

/** Next (+1) or previous (−1) section of the current song's chart. */
export function stepSection(room: Room, d: 1 | -1): Promise<boolean> {
  return serial(() => stepSectionNow(room, d));
}

function stepSongNow(room: Room, d: 1 | -1): Promise<boolean> {
  const s = room.state.get();
  const list = activeSetlist(s) ?? s.setlists[0] ?? null;
  if (!list) return Promise.resolve(false);
  const cur = s.songCurrent?.setlist === list.id ? s.songCurrent.index : null;
  const next = cur === null ? 0 : cur + d;
  return goTo(room, list.id, next);
}

function stepSectionNow(room: Room, d: 1 | -1): Promise<boolean> {
  const s = room.state.get();
  const sc = s.songCurrent;
  const names = sectionsOf(s);
  if (!sc || names.length === 0) return Promise.resolve(false);
  const at = sc.section ? names.indexOf(sc.section) : -1;
  const next = at < 0 ? (d > 0 ? 0 : names.length - 1) : at + d;
  if (next < 0 || next >= names.length) return Promise.resolve(false);
  return goTo(room, sc.setlist, sc.index, names[next]);
}
