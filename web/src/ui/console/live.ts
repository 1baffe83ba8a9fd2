// Moving the band: song and section changes shared by the buttons and the keyboard shortcuts.
import { Store } from '../../store';
import type { Room } from '../../room';
import { currentSong, activeSetlist, type RoomState } from '../../state';
import type { Meter, Tempo } from '../../model';
import { sectionNames } from '../../chart';
import { run, sendLoose } from './util';

/** "Load each song's bpm and meter into the click" (off: song.current with keep_tempo). */
export const followTempo = new Store<boolean>(true);

export type SongTempo = { bpm: number | null; meter: Meter | null };

/** The tempo a setlist item asks for: the item's bpm over the song's, the song's meter. */
export function songTempo(s: RoomState, setlistId: string, index: number): SongTempo | null {
  const item = s.setlists.find((x) => x.id === setlistId)?.items[index];
  if (!item) return null;
  const song = s.songs.find((x) => x.id === item.song);
  const bpm = item.bpm ?? song?.bpm ?? null;
  const meter = song?.meter ?? null;
  return bpm === null && meter === null ? null : { bpm, meter };
}

/** Whether the click already runs at the tempo a song asks for. */
export function tempoMatches(t: Tempo | null, want: SongTempo): boolean {
  if (!t) return false;
  if (want.bpm !== null && Math.abs(t.bpm - want.bpm) > 0.05) return false;
  if (want.meter && (t.meter.beats !== want.meter.beats || t.meter.unit !== want.meter.unit)) return false;
  return true;
}

export function tempoData(want: SongTempo): Record<string, unknown> {
  const d: Record<string, unknown> = {};
  if (want.bpm !== null) d.bpm = want.bpm;
  if (want.meter) d.meter = { beats: want.meter.beats, unit: want.meter.unit };
  return d;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * COMPAT (drop once every server loads the tempo on song.current, protocol round 2): an older
 * server leaves the click at the last song's tempo, so the console sends the item's bpm and the
 * song's meter right after song.current. A newer server's tempo.anchor arrives with the song
 * change; when the click already matches nothing is sent, and a song changed again meanwhile is
 * never given a stale tempo.
 */
async function loadTempoAfterSongChange(room: Room, setlistId: string, index: number): Promise<void> {
  const want = songTempo(room.state.get(), setlistId, index);
  if (!want) return;
  for (let waited = 0; waited < 400; waited += 50) {
    if (tempoMatches(room.state.get().tempo, want)) return;
    await sleep(50);
  }
  const s = room.state.get();
  if (s.songCurrent?.setlist !== setlistId || s.songCurrent.index !== index) return;
  if (tempoMatches(s.tempo, want)) return;
  await run('Could not set the tempo', room.connection.sendFrame('tempo.set', tempoData(want)));
}

/** song.current: moves the band to a song (and section); loads its tempo unless the MD keeps it. */
export async function goTo(room: Room, setlistId: string, index: number, section?: string | null): Promise<boolean> {
  const s = room.state.get();
  const list = s.setlists.find((x) => x.id === setlistId);
  if (!list || index < 0 || index >= list.items.length) return false;
  const changes = s.songCurrent?.setlist !== setlistId || s.songCurrent?.index !== index;
  const keep = !followTempo.get();
  const data: Record<string, unknown> = { setlist: setlistId, index };
  if (section) data.section = section;
  if (changes && keep) data.keep_tempo = true;
  const ack = await run('Could not change the song', sendLoose(room, 'song.current', data, ['keep_tempo']));
  if (!ack) return false;
  // The next step (a second ↓ pressed quickly) starts from this change, not from the state before it.
  if (ack.seq !== undefined) await room.waitForSeq(ack.seq, 2000).catch(() => null);
  if (changes && !keep) await loadTempoAfterSongChange(room, setlistId, index);
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
