// Room objects and server → client event payloads (docs/protocol.md "Objects" and "Events").
// Command shapes come from protocol.gen.ts; the event names are checked against it below.
import type { EventType, Role, CommandMap } from './protocol.gen';

export type Meter = { beats: number; unit: number };
export type Participant = { id: string; name: string; role: Role; online: boolean; slot: string | null };
/** The instrument's transposition: "C" = concert pitch; a Bb instrument reads 2 semitones up, Eb 9 (−3), F 7. */
export type Pitch = 'C' | 'Bb' | 'Eb' | 'F';
/**
 * What a slot reads: the song's chords moved to the play key (setlist item key, else song key),
 * then written for `pitch`, then shown as shapes `capo` semitones lower, then moved by `transpose`.
 * `capo` and `pitch` read as 0 and "C" where a slot leaves them out.
 */
export type Slot = {
  id: string; name: string; instrument: string | null; group: string | null;
  transpose: number | null; capo?: number; pitch?: Pitch; participant: string | null; order?: number;
};
/**
 * A song as the snapshot and the song events carry it: metadata, not the chart. `body_rev` names the
 * chart's revision (a new one on every new chart) and `body_bytes` its size (0 = no chart); the chart
 * itself comes from GET /api/room/songs/<id> (api.ts fetchSongBody). `chordpro` is only set where the
 * body is at hand (a server older than body revisions, the import reply, a selector that joined it).
 */
export type Song = {
  id: string; title: string; artist: string | null; key: string | null;
  bpm: number | null; meter: Meter | null; body_rev?: number; body_bytes?: number; chordpro?: string | null;
};
export type SetlistItem = { song: string; key?: string | null; bpm?: number | null; notes?: string | null };
export type Setlist = { id: string; title: string; items: SetlistItem[] };
export type SongCurrent = { setlist: string; index: number; section: string | null };
export type Anchor = { t: number; bar: number };
export type TempoCore = {
  running: boolean; bpm: number; meter: Meter; accents: number[]; subdivision: number;
  count_in_bars: number; anchor: Anchor | null; rev: number;
};
export type Tempo = TempoCore & { prev?: TempoCore | null };
/** `to`: the participants the server resolved the target to (docs/voice.md). */
export type PttState = { participant: string; talking: boolean; target: string | null; to: string[] };
/** `song_count_in`: count-in bars played before bar 1 of the next song when the click runs (0..4). */
export type RoomSettings = CommandMap['room.settings'];
export type RoomInfo = { id: string; name: string; settings?: RoomSettings };
/** One peer connection as seen from the reporting end (metrics.report `links`). */
export type LinkReport = {
  peer: string; rtt_ms?: number; jitter_ms?: number; loss?: number; concealed?: number;
  jitter_buffer_ms?: number; stalled?: boolean; path?: 'rtp' | 'dc';
};
export type CueColor = NonNullable<CommandMap['cue']['color']>;
/** A cue as the server keeps it: the current one per group (group null = everyone). `at`: server ms. */
export type Cue = { id: string; from: string; text: string; color: CueColor | null; group: string | null; at: number };

export type Snapshot = {
  seq: number; room: RoomInfo; participants: Participant[]; slots: Slot[]; songs: Song[];
  setlists: Setlist[]; active_setlist: string | null; song_current: SongCurrent | null;
  tempo: Tempo | null; ptt: PttState[];
  /** The current cue per group (group null = everyone). */
  cues: Cue[];
};

/** Data of each event type; a key missing here that the schema lists is a compile error. */
export interface EventDataMap {
  hello: { protocol: number; server_time: number; participant: Participant | string; room: RoomInfo; resumed: boolean };
  snapshot: Snapshot;
  'time.pong': { t0: number; t1: number; t2: number };
  'participant.join': { participant: Participant };
  'participant.leave': { participant: string; reason: string };
  'slot.create': { slot: Slot };
  'slot.update': { slot: Slot };
  'slot.delete': { slot: string };
  'slot.order': { slots: string[] };
  'slot.assign': { slot: Slot };
  'slot.release': { slot: Slot };
  'song.create': { song: Song };
  'song.update': { song: Song };
  'song.delete': { id: string };
  'setlist.update': { setlist: Setlist };
  'setlist.delete': { id: string };
  'song.current': SongCurrent;
  'tempo.anchor': { tempo: Tempo };
  'tempo.update': { rev: number; bar: number; beat: number };
  cue: { cue: Cue };
  /** group null: every cue is cleared. */
  'cue.clear': { group: string | null };
  'ptt.state': PttState;
  'rtc.offer': { from: string; sdp: string };
  'rtc.answer': { from: string; sdp: string };
  'rtc.ice': { from: string; candidate: Record<string, unknown> };
  'rtc.restart': { from: string };
  'metrics.report': {
    participant: string; rtt_ms?: number; jitter_ms?: number; loss?: number; clock_uncertainty_ms?: number;
    clock_offset_ms?: number; links?: LinkReport[];
  };
  'room.settings': { settings: RoomSettings };
  /** To MD consoles only: the room's join codes after a rotation (on request or on schedule). */
  'room.codes': { codes: Record<string, string>; reason: 'requested' | 'expired' };
}
// Compile-time check that EventDataMap covers exactly the schema's events.
type _Missing = Exclude<EventType, keyof EventDataMap>;
type _Extra = Exclude<keyof EventDataMap, EventType>;
const _eventsCovered: [_Missing, _Extra] extends [never, never] ? true : never = true;
void _eventsCovered;

export type ServerEvent = { [K in EventType]: { type: K; seq?: number; ts?: number; data: EventDataMap[K] } }[EventType];
/** An event type this build does not know (the reducer leaves the state alone). */
export type UnknownEvent = { type: string; seq?: number; ts?: number; data: Record<string, unknown> };
export type Ack = { type: 'ack'; re: string; seq?: number };
export type ErrorFrame = { type: 'error'; re: string | null; code: string; message: string };
