// Room objects and server → client frames (docs/protocol.md "Objects" and "Events"): every wire
// shape here is generated from protocol/schema.json into protocol.gen.ts; this module names them
// for the app and adds only what the app itself joins in (a song's fetched chart).
import type {
  Participant, Slot, Pitch, Song as SongMeta, SetlistItem, Setlist, SongCurrent, TempoAnchor, TempoSegment, Tempo, PttState,
  Room, Settings, Link, Cue, CueColor, Meter, SnapshotEventData, ServerEvent, EventDataMap, Ack, ErrorFrame,
} from './protocol.gen';

export type {
  Participant, Slot, Pitch, SetlistItem, Setlist, SongCurrent, Tempo, PttState, Cue, CueColor, Meter, ServerEvent, EventDataMap,
  Ack, ErrorFrame,
};
/**
 * A song as the snapshot and the song events carry it (metadata, not the chart), plus `chordpro`
 * where the app has the chart at hand (a selector that joined it, the import reply).
 */
export type Song = SongMeta & { chordpro?: string | null };
export type Anchor = TempoAnchor;
/** One tempo segment: the wire `prev`, and the part of `tempo` the beat arithmetic reads. */
export type TempoCore = TempoSegment;
/** `song_count_in`: count-in bars played before bar 1 of the next song when the click runs (0..4). */
export type RoomSettings = Settings;
/** The room as hello and snapshot carry it; the HTTP join reply (api.ts) has no `settings` yet. */
export type RoomInfo = Omit<Room, 'settings'> & { settings?: Settings };
/** One peer connection as seen from the reporting end (metrics.report `links`). */
export type LinkReport = Link;
export type Snapshot = SnapshotEventData;

/** An event type this build does not know (the reducer leaves the state alone). */
export type UnknownEvent = { type: string; seq?: number; ts?: number; data: Record<string, unknown> };
