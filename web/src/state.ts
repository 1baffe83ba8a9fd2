// Room state reducer: snapshot + events → the state every screen draws from. Pure functions.
import type {
  Participant, Slot, Song, Setlist, SongCurrent, Tempo, PttState, RoomInfo, ServerEvent, UnknownEvent, LinkReport, Cue,
} from './model';
import { EVENT_DURABLE, type EventType } from './protocol.gen';

export type { Cue } from './model';
/** A fetched chart: the revision it is, the text (null: the song has none), when it was fetched (local ms). */
export type SongBody = { rev: number; chordpro: string | null; at: number };
/** Where a song's chart stands on this device. */
export type ChartState =
  | { status: 'none' }                       // the song has no chart
  | { status: 'ready'; chordpro: string }
  | { status: 'loading' }
  | { status: 'error'; message: string };
export type PeerMetrics = { rtt_ms?: number; jitter_ms?: number; clock_uncertainty_ms?: number; links?: LinkReport[]; at: number };

export type RoomState = {
  seq: number;
  room: RoomInfo | null;
  me: string | null;               // my participant id
  participants: Participant[];
  slots: Slot[];
  songs: Song[];
  setlists: Setlist[];
  activeSetlist: string | null;
  songCurrent: SongCurrent | null;
  tempo: Tempo | null;
  tempoBeat: { rev: number; bar: number; beat: number } | null;
  ptt: PttState[];
  /** The current cue per group (group null = everyone), oldest first; kept by the server (in the snapshot). */
  cues: Cue[];
  /** Cue ids this device dismissed (kept across reloads with the rest of the state). */
  dismissedCues: string[];
  lastSeen: Record<string, number>;  // participant id → local ms of the last sign of life
  metrics: Record<string, PeerMetrics>;
  /** Charts fetched on demand, per song id (kept across reloads, bounded by pruneBodies). */
  bodies: Record<string, SongBody>;
  /** Why a chart could not be fetched, per song id (cleared when it arrives). */
  bodyErrors: Record<string, string>;
};

export const emptyState: RoomState = {
  seq: 0, room: null, me: null, participants: [], slots: [], songs: [], setlists: [],
  activeSetlist: null, songCurrent: null, tempo: null, tempoBeat: null, ptt: [], cues: [], dismissedCues: [],
  lastSeen: {}, metrics: {}, bodies: {}, bodyErrors: {},
};

function upsert<T extends { id: string }>(list: T[], item: T): T[] {
  const i = list.findIndex((x) => x.id === item.id);
  if (i < 0) return [...list, item];
  const copy = list.slice();
  copy[i] = item;
  return copy;
}

function isDurable(type: string): boolean {
  return (EVENT_DURABLE as Record<string, boolean>)[type as EventType] === true;
}

/** Applies one server event. `now` is local ms (for cue time / last seen). */
export function reduce(state: RoomState, ev: ServerEvent | UnknownEvent, now = 0): RoomState {
  // Resume replays events we may already have: a durable event at or below our seq is old news.
  if (ev.seq !== undefined && ev.type !== 'snapshot' && isDurable(ev.type) && ev.seq <= state.seq) return state;
  const s = applyEvent(state, ev as ServerEvent, now);
  if (ev.seq !== undefined && ev.type !== 'snapshot' && s !== state) return { ...s, seq: Math.max(s.seq, ev.seq) };
  return s;
}

function applyEvent(state: RoomState, ev: ServerEvent, now: number): RoomState {
  switch (ev.type) {
    case 'hello': {
      const p = ev.data.participant;
      // Who is talking is live state: a new connection starts from nobody, and the server follows
      // its hello with the current talkers (in the snapshot, or as ptt.state after a replay).
      return { ...state, me: p.id, room: ev.data.room, ptt: [], participants: upsert(state.participants, p) };
    }
    case 'snapshot': {
      const d = ev.data;
      return {
        ...state,
        seq: d.seq,
        room: d.room,
        participants: d.participants ?? [],
        slots: d.slots ?? [],
        songs: d.songs ?? [],
        setlists: d.setlists ?? [],
        activeSetlist: d.active_setlist ?? d.song_current?.setlist ?? null,
        songCurrent: d.song_current ?? null,
        tempo: d.tempo ?? null,
        ptt: (d.ptt ?? []).filter((p) => p.talking),
        cues: d.cues,
        // Dismissals of cues that are no longer current are forgotten.
        dismissedCues: state.dismissedCues.filter((id) => d.cues.some((c) => c.id === id)),
      };
    }
    case 'participant.join': {
      const p = ev.data.participant;
      return { ...state, participants: upsert(state.participants, p), lastSeen: { ...state.lastSeen, [p.id]: now } };
    }
    case 'participant.leave': {
      const { participant: id, reason } = ev.data;
      const ptt = state.ptt.filter((p) => p.participant !== id);
      if (reason === 'offline') {
        return {
          ...state, ptt,
          participants: state.participants.map((p) => (p.id === id ? { ...p, online: false } : p)),
          lastSeen: { ...state.lastSeen, [id]: now },
        };
      }
      return {
        ...state, ptt,
        participants: state.participants.filter((p) => p.id !== id),
        slots: state.slots.map((sl) => (sl.participant === id ? { ...sl, participant: null } : sl)),
      };
    }
    case 'slot.create':
    case 'slot.update':
      return { ...state, slots: upsert(state.slots, ev.data.slot) };
    case 'slot.assign':
    case 'slot.release': {
      const slot = ev.data.slot;
      // A participant holds at most one slot: assigning moves them.
      const slots = upsert(
        state.slots.map((sl) => (slot.participant && sl.id !== slot.id && sl.participant === slot.participant ? { ...sl, participant: null } : sl)),
        slot,
      );
      const participants = state.participants.map((p) => {
        if (p.id === slot.participant) return { ...p, slot: slot.id };
        if (p.slot === slot.id) return { ...p, slot: null };
        return p;
      });
      return { ...state, slots, participants };
    }
    case 'slot.order': {
      // The MD's new order; a slot the list does not name stays, after the named ones.
      const ids = ev.data.slots;
      const named = ids.map((id) => state.slots.find((sl) => sl.id === id)).filter((sl): sl is Slot => !!sl);
      return { ...state, slots: [...named, ...state.slots.filter((sl) => !ids.includes(sl.id))] };
    }
    case 'slot.delete': {
      const id = ev.data.slot;
      return {
        ...state,
        slots: state.slots.filter((sl) => sl.id !== id),
        participants: state.participants.map((p) => (p.slot === id ? { ...p, slot: null } : p)),
      };
    }
    case 'song.create':
    case 'song.update':
      return { ...state, songs: upsert(state.songs, ev.data.song) };
    case 'song.delete': {
      const { [ev.data.id]: _gone, ...bodies } = state.bodies;
      return { ...state, songs: state.songs.filter((x) => x.id !== ev.data.id), bodies };
    }
    case 'setlist.update':
      return { ...state, setlists: upsert(state.setlists, ev.data.setlist) };
    case 'setlist.delete': {
      const id = ev.data.id;
      return {
        ...state,
        setlists: state.setlists.filter((x) => x.id !== id),
        activeSetlist: state.activeSetlist === id ? null : state.activeSetlist,
        songCurrent: state.songCurrent?.setlist === id ? null : state.songCurrent,
      };
    }
    case 'song.current':
      return { ...state, songCurrent: { ...ev.data, section: ev.data.section ?? null }, activeSetlist: ev.data.setlist };
    case 'tempo.anchor':
      return { ...state, tempo: ev.data.tempo };
    case 'tempo.update':
      return { ...state, tempoBeat: ev.data };
    case 'cue': {
      const cue: Cue = { ...ev.data.cue, color: ev.data.cue.color ?? null, group: ev.data.cue.group ?? null };
      // A cue to everyone replaces every current cue; a cue to a group replaces that group's.
      const cues = [...(cue.group === null ? [] : state.cues.filter((c) => c.group !== cue.group)), cue];
      return { ...state, cues };
    }
    case 'cue.clear': {
      const group = ev.data.group ?? null;
      const cues = group === null ? [] : state.cues.filter((c) => c.group !== group);
      return { ...state, cues, dismissedCues: state.dismissedCues.filter((id) => cues.some((c) => c.id === id)) };
    }
    case 'ptt.state': {
      const others = state.ptt.filter((p) => p.participant !== ev.data.participant);
      return {
        ...state,
        ptt: ev.data.talking ? [...others, ev.data] : others,
        lastSeen: { ...state.lastSeen, [ev.data.participant]: now },
      };
    }
    case 'room.settings':
      return state.room ? { ...state, room: { ...state.room, settings: { ...state.room.settings, ...ev.data.settings } } } : state;
    case 'metrics.report': {
      // A relayed report {participant, rtt_ms, links, …} feeds the health tables.
      const id = ev.data.participant;
      return {
        ...state,
        metrics: { ...state.metrics, [id]: { ...ev.data, at: now } },
        lastSeen: { ...state.lastSeen, [id]: now },
      };
    }
    default:
      return state;
  }
}

/** This device hides a cue (until the next one): remembered by id. */
export function dismissCue(state: RoomState, id: string): RoomState {
  return state.dismissedCues.includes(id) ? state : { ...state, dismissedCues: [...state.dismissedCues, id] };
}

// ---- selectors -------------------------------------------------------------------------------

/** The tech crew's cue group: a tech may send and clear cues to this group only. */
export const TECH_GROUP = 'tech';

/**
 * Whether a cue is addressed to this device: cues to everyone; a group's cue to that slot group's
 * members, and to the MD and techs (who see every group's).
 */
export function isForMe(state: RoomState, cue: Cue): boolean {
  if (cue.group === null) return true;
  const role = me(state)?.role;
  if (role === 'md' || role === 'tech') return true;
  return mySlot(state)?.group === cue.group;
}

/** Every current cue in the room (what the band's screens show), newest first. */
export function currentCues(state: RoomState): Cue[] {
  return state.cues.slice().sort((a, b) => b.at - a.at);
}

/** The current cues addressed to me that this device has not dismissed, newest first. */
export function visibleCues(state: RoomState): Cue[] {
  return currentCues(state).filter((c) => isForMe(state, c) && !state.dismissedCues.includes(c.id));
}

export function me(state: RoomState): Participant | null {
  return state.participants.find((p) => p.id === state.me) ?? null;
}

export function mySlot(state: RoomState): Slot | null {
  if (!state.me) return null;
  return state.slots.find((s) => s.participant === state.me) ?? null;
}

export function activeSetlist(state: RoomState): Setlist | null {
  const id = state.songCurrent?.setlist ?? state.activeSetlist;
  return state.setlists.find((s) => s.id === id) ?? null;
}

/** A setlist item as the band plays it: the item's key and bpm over the song's, the song's meter. */
export type ItemView = {
  index: number;
  /** The song with its chart joined in (`chordpro` set once the body is here). */
  song: Song | null;
  chart: ChartState;
  key: string | null; bpm: number | null; meter: { beats: number; unit: number } | null; notes: string | null;
};

/** A song's body revision (0 for a server older than revisions). */
export const bodyRev = (song: Song): number => song.body_rev ?? 0;

/** Where the song's chart is on this device: here (at its current revision), coming, failed, or none. */
export function chartOf(state: RoomState, song: Song | null | undefined): ChartState {
  if (!song) return { status: 'none' };
  if (typeof song.chordpro === 'string') return song.chordpro ? { status: 'ready', chordpro: song.chordpro } : { status: 'none' };
  if (song.body_bytes === 0 || (song.body_bytes === undefined && song.chordpro === null)) return { status: 'none' };
  const body = state.bodies[song.id];
  if (body && body.rev === bodyRev(song)) return body.chordpro ? { status: 'ready', chordpro: body.chordpro } : { status: 'none' };
  const err = state.bodyErrors[song.id];
  return err ? { status: 'error', message: err } : { status: 'loading' };
}

/** The song with its chart text filled in where this device has it (views read `song.chordpro`). */
export function withChart(state: RoomState, song: Song | null): Song | null {
  if (!song) return null;
  const chart = chartOf(state, song);
  return { ...song, chordpro: chart.status === 'ready' ? chart.chordpro : null };
}

/**
 * The charts this device should hold, most needed first: the current song, then the rest of the
 * active setlist, then `extra` (a setlist being printed, a song being edited). Songs without a chart
 * are left out.
 */
export function wantedBodies(state: RoomState, extra: string[] = []): string[] {
  const ids: string[] = [];
  const add = (id: string | undefined) => { if (id && !ids.includes(id)) ids.push(id); };
  const cur = state.songCurrent;
  const curList = cur ? state.setlists.find((x) => x.id === cur.setlist) : null;
  add(curList?.items[cur!.index]?.song);
  for (const it of activeSetlist(state)?.items ?? []) add(it.song);
  for (const id of extra) add(id);
  return ids.filter((id) => {
    const song = state.songs.find((x) => x.id === id);
    return !!song && typeof song.chordpro !== 'string' && song.body_bytes !== 0;
  });
}

/** The ids of `wantedBodies` whose chart is missing or stale. */
export function missingBodies(state: RoomState, extra: string[] = []): string[] {
  return wantedBodies(state, extra).filter((id) => {
    const song = state.songs.find((x) => x.id === id)!;
    return state.bodies[id]?.rev !== bodyRev(song);
  });
}

/** A fetched chart arrives: stored under its revision, any earlier failure forgotten. */
export function withBody(state: RoomState, id: string, rev: number, chordpro: string | null, now = Date.now()): RoomState {
  const { [id]: _e, ...bodyErrors } = state.bodyErrors;
  return pruneBodies({ ...state, bodies: { ...state.bodies, [id]: { rev, chordpro, at: now } }, bodyErrors });
}

export function withBodyError(state: RoomState, id: string, message: string): RoomState {
  return state.bodyErrors[id] === message ? state : { ...state, bodyErrors: { ...state.bodyErrors, [id]: message } };
}

/** Bytes of charts kept beyond the active setlist's (which are always kept). */
export const BODY_CACHE_BYTES = 1 << 20;

/**
 * Bounds the kept charts: every chart of the active setlist and the current song stays (≤ 100 songs
 * of ≤ 32 KiB); others, newest first, while they fit in BODY_CACHE_BYTES; charts of deleted songs go.
 */
export function pruneBodies(state: RoomState, budget = BODY_CACHE_BYTES): RoomState {
  const keep = new Set(wantedBodies(state));
  const known = new Set(state.songs.map((x) => x.id));
  const others = Object.entries(state.bodies)
    .filter(([id]) => !keep.has(id) && known.has(id))
    .sort((a, b) => b[1].at - a[1].at);
  const bodies: Record<string, SongBody> = {};
  for (const [id, b] of Object.entries(state.bodies)) if (keep.has(id)) bodies[id] = b;
  let used = 0;
  for (const [id, b] of others) {
    used += (b.chordpro?.length ?? 0) + 64;
    if (used > budget) break;
    bodies[id] = b;
  }
  return Object.keys(bodies).length === Object.keys(state.bodies).length ? state : { ...state, bodies };
}

export function itemView(state: RoomState, setlist: Setlist | null | undefined, index: number): ItemView | null {
  const item = setlist?.items[index];
  if (!item) return null;
  const meta = state.songs.find((x) => x.id === item.song) ?? null;
  const song = withChart(state, meta);
  return {
    index, song, chart: chartOf(state, meta),
    key: item.key ?? song?.key ?? null,
    bpm: item.bpm ?? song?.bpm ?? null,
    meter: song?.meter ?? null,
    notes: item.notes ?? null,
  };
}

export type CurrentSong = ItemView & { setlist: Setlist; section: string | null };

export function currentSong(state: RoomState): CurrentSong | null {
  const sc = state.songCurrent;
  if (!sc) return null;
  const setlist = state.setlists.find((s) => s.id === sc.setlist);
  const item = itemView(state, setlist, sc.index);
  return setlist && item ? { ...item, setlist, section: sc.section ?? null } : null;
}

export function participantName(state: RoomState, id: string | null | undefined): string {
  if (!id) return '';
  return state.participants.find((p) => p.id === id)?.name ?? 'someone';
}
