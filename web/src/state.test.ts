import { describe, it, expect } from 'vitest';
import { reduce, emptyState, currentSong, itemView, mySlot, visibleCues, currentCues, dismissCue, type RoomState } from './state';
import type { Snapshot, ServerEvent } from './model';
import { wantedBodies, missingBodies, withBody, withBodyError, pruneBodies } from './state';
import vectors from '../../protocol/vectors/room_events.json';

const item = (song: string) => ({ song, key: null, bpm: null, notes: null });
const snap: Snapshot = {
  seq: 10,
  room: { id: 'r1', name: 'Sunday', settings: { self_claim: false, talk_all: [], song_count_in: 0, voice_path: 'dc' } },
  participants: [
    { id: 'p1', name: 'Ann', role: 'md', online: true, slot: null },
    { id: 'p2', name: 'Bo', role: 'musician', online: true, slot: null },
  ],
  slots: [{ id: 's1', name: 'Keys', instrument: 'piano', group: 'band', transpose: 2, capo: 0, pitch: 'C', participant: null, order: 0 }],
  songs: [{ id: 'g1', title: 'Amazing', artist: null, key: 'Bb', bpm: 72, meter: { beats: 3, unit: 4 }, body_rev: 0, body_bytes: 0 }],
  setlists: [{ id: 'l1', title: 'AM', items: [{ song: 'g1', key: null, bpm: null, notes: null }] }],
  active_setlist: null, song_current: null, tempo: { running: false, bpm: 120, meter: { beats: 4, unit: 4 }, accents: [], subdivision: 1, count_in_bars: 0, anchor: { t: 0, bar: 0 }, rev: 0, prev: null }, ptt: [], cues: [],
};

function apply(s: RoomState, ...evs: ServerEvent[]): RoomState {
  return evs.reduce((acc, e) => reduce(acc, e, 1), s);
}

const start = apply(emptyState,
  { type: 'hello', data: { protocol: 1, server_time: 5, participant: snap.participants[1], room: snap.room, resumed: false } },
  { type: 'snapshot', data: snap });

describe('room state reducer', () => {
  it('draws the whole screen from hello + snapshot', () => {
    expect(start.me).toBe('p2');
    expect(start.seq).toBe(10);
    expect(start.songs).toHaveLength(1);
  });

  it('assigns a slot and moves a participant out of their old slot', () => {
    let s = apply(start,
      { type: 'slot.create', seq: 11, data: { slot: { id: 's2', name: 'Drums', instrument: null, group: null, transpose: 0, capo: 0, pitch: 'C', participant: null, order: 1 } } },
      { type: 'slot.assign', seq: 12, data: { slot: { ...snap.slots[0], participant: 'p2' } } });
    expect(mySlot(s)?.name).toBe('Keys');
    s = apply(s, { type: 'slot.assign', seq: 13, data: { slot: { id: 's2', name: 'Drums', instrument: null, group: null, transpose: 0, capo: 0, pitch: 'C', participant: 'p2', order: 1 } } });
    expect(mySlot(s)?.name).toBe('Drums');
    expect(s.slots.find((x) => x.id === 's1')?.participant).toBeNull();
    expect(s.participants.find((p) => p.id === 'p2')?.slot).toBe('s2');
    expect(s.seq).toBe(13);
  });

  it('ignores durable events replayed at or below its seq (resume overlap)', () => {
    const s = apply(start, { type: 'song.delete', seq: 9, data: { id: 'g1' } });
    expect(s.songs).toHaveLength(1);
    expect(s).toBe(start);
  });

  it('resolves the current song with the setlist override and the slot transposition target', () => {
    const s = apply(start,
      { type: 'setlist.update', seq: 11, data: { setlist: { id: 'l1', title: 'AM', items: [{ song: 'g1', key: 'C', bpm: 80, notes: 'soft' }] } } },
      { type: 'song.current', seq: 12, data: { setlist: 'l1', index: 0, section: 'Verse 1' } });
    const cur = currentSong(s)!;
    expect(cur.song?.title).toBe('Amazing');
    expect(cur.key).toBe('C');
    expect(cur.bpm).toBe(80);
    expect(cur.meter).toEqual({ beats: 3, unit: 4 });
    expect(cur.section).toBe('Verse 1');
    expect(s.activeSetlist).toBe('l1');
    // Without an item key and bpm the song's are played; past the end there is no item.
    expect(itemView(start, start.setlists[0], 0)).toMatchObject({ key: 'Bb', bpm: 72, notes: null });
    expect(itemView(start, start.setlists[0], 1)).toBeNull();
  });

  it('marks a dropped participant away, removes one that timed out and frees its slot', () => {
    let s = apply(start, { type: 'slot.assign', seq: 11, data: { slot: { ...snap.slots[0], participant: 'p2' } } });
    s = apply(s, { type: 'participant.leave', seq: 12, data: { participant: 'p2', reason: 'offline' } });
    expect(s.participants.find((p) => p.id === 'p2')?.online).toBe(false);
    s = apply(s, { type: 'participant.leave', seq: 13, data: { participant: 'p2', reason: 'timeout' } });
    expect(s.participants.find((p) => p.id === 'p2')).toBeUndefined();
    expect(s.slots[0].participant).toBeNull();
  });

  it('keeps live state: who is talking, tempo, the current cue', () => {
    const s = apply(start,
      { type: 'cue', seq: 11, data: { cue: { id: 'cu11', from: 'p1', text: 'Chorus', color: 'blue', group: null, at: 5000 } } },
      { type: 'ptt.state', data: { participant: 'p1', talking: true, target: 'all', to: ['p2'] } },
      { type: 'tempo.anchor', data: { tempo: { running: true, bpm: 90, meter: { beats: 4, unit: 4 }, accents: [], subdivision: 1, count_in_bars: 1, anchor: { t: 1, bar: -1 }, rev: 3, prev: null } } });
    expect(visibleCues(s)).toMatchObject([{ text: 'Chorus', color: 'blue' }]);
    expect(s.ptt).toHaveLength(1);
    expect(s.tempo?.bpm).toBe(90);
    expect(s.seq).toBe(11); // re-sent anchors without seq do not move seq
    const quiet = apply(s, { type: 'ptt.state', data: { participant: 'p1', talking: false, target: null, to: [] } });
    expect(quiet.ptt).toHaveLength(0);
  });

  it('clears the current song when its setlist is deleted', () => {
    const s = apply(start,
      { type: 'song.current', seq: 11, data: { setlist: 'l1', index: 0, section: null } },
      { type: 'setlist.delete', seq: 12, data: { id: 'l1' } });
    expect(s.songCurrent).toBeNull();
    expect(currentSong(s)).toBeNull();
  });

  it('accepts a relayed metrics.report for the health table', () => {
    const s = reduce(start, { type: 'metrics.report', data: { participant: 'p2', rtt_ms: 3.5 } }, 42);
    expect(s.metrics.p2).toMatchObject({ rtt_ms: 3.5, at: 42 });
  });

  it('applies room.settings (who may talk to everyone) and keeps the rest of the settings', () => {
    const s = reduce(start, { type: 'room.settings', seq: 11, data: { settings: { self_claim: false, talk_all: ['musician'], song_count_in: 2, voice_path: 'rtp' } } }, 1);
    expect(s.room?.settings).toEqual({ self_claim: false, talk_all: ['musician'], song_count_in: 2, voice_path: 'rtp' });
  });

  it('forgets who was talking when a new connection says hello (the server re-sends the talkers)', () => {
    let s = reduce(start, { type: 'ptt.state', data: { participant: 'p1', talking: true, target: 'all', to: ['p2'] } }, 1);
    s = reduce(s, { type: 'hello', data: { protocol: 1, server_time: 9, participant: snap.participants[1], room: snap.room, resumed: true } }, 2);
    expect(s.ptt).toEqual([]);
    expect(s.seq).toBe(start.seq);
  });

  it('keeps who a talker talks to (ptt.state to) and drops them on release', () => {
    let s = reduce(start, { type: 'ptt.state', data: { participant: 'p1', talking: true, target: 'all', to: ['p2'] } }, 1);
    expect(s.ptt).toEqual([{ participant: 'p1', talking: true, target: 'all', to: ['p2'] }]);
    s = reduce(s, { type: 'ptt.state', data: { participant: 'p1', talking: false, target: null, to: [] } }, 2);
    expect(s.ptt).toEqual([]);
  });

  describe('cues, kept by the server', () => {
    const cue = (id: string, text: string, group: string | null, at: number) =>
      ({ type: 'cue' as const, seq: Number(id.slice(2)), data: { cue: { id, from: 'p1', text, color: 'red' as const, group, at } } });
    // Bo (p2) holds Keys, in group "band".
    const inBand = apply(start, { type: 'slot.assign', seq: 11, data: { slot: { ...snap.slots[0], participant: 'p2' } } });

    it('a group cue replaces that group\'s, a cue to everyone replaces them all', () => {
      let s = apply(inBand, cue('cu12', 'Tag', 'band', 1), cue('cu13', 'Check', 'tech', 2));
      expect(s.cues.map((c) => c.text)).toEqual(['Tag', 'Check']);
      s = apply(s, cue('cu14', 'Out', 'band', 3));
      expect(s.cues.map((c) => c.text)).toEqual(['Check', 'Out']);
      s = apply(s, cue('cu15', 'Stop', null, 4));
      expect(s.cues.map((c) => c.text)).toEqual(['Stop']);
      expect(s.seq).toBe(15);
    });

    it('shows me cues to everyone and to my group, not to other groups', () => {
      const s = apply(inBand, cue('cu12', 'Tag', 'band', 1), cue('cu13', 'Check', 'tech', 2), cue('cu14', 'Vox in', 'vocals', 3));
      expect(visibleCues(s).map((c) => c.text)).toEqual(['Tag']);
      const md = { ...s, me: 'p1' };
      expect(visibleCues(md).map((c) => c.text)).toEqual(['Vox in', 'Check', 'Tag']); // the MD sees every group's, newest first
    });

    it('shows a group cue to that group, and to every md and tech; lists all current cues newest first', () => {
      const s = apply(inBand, cue('cu12', 'Tag', 'band', 1), cue('cu13', 'Check', 'tech', 2), cue('cu14', 'Vox in', 'vocals', 3));
      expect(currentCues(s).map((c) => c.text)).toEqual(['Vox in', 'Check', 'Tag']);
      const tech = { ...s, participants: [...s.participants, { id: 'p3', name: 'Cy', role: 'tech' as const, online: true, slot: null }], me: 'p3' };
      expect(visibleCues(tech).map((c) => c.text)).toEqual(['Vox in', 'Check', 'Tag']);
      const free = { ...s, slots: [] }; // Bo holds no slot: only cues to everyone
      expect(visibleCues(free)).toEqual([]);
    });

    it('cue.clear clears one group or all', () => {
      let s = apply(inBand, cue('cu12', 'Tag', 'band', 1), cue('cu13', 'Check', 'tech', 2));
      s = apply(s, { type: 'cue.clear', seq: 14, data: { group: 'band' } });
      expect(s.cues.map((c) => c.text)).toEqual(['Check']);
      expect(visibleCues(s)).toEqual([]); // the tech group's cue is not for the band
      s = apply(s, { type: 'cue.clear', seq: 15, data: { group: null } });
      expect(s.cues).toEqual([]);
    });

    it('a reload or a late joiner gets the current cues from the snapshot; a dismissal is kept', () => {
      const current = { id: 'cu20', from: 'p1', text: 'Bridge', color: 'blue' as const, group: null, at: 9 };
      let s = apply(emptyState, { type: 'snapshot', data: { ...snap, seq: 20, cues: [current] } });
      expect(visibleCues(s).map((c) => c.text)).toEqual(['Bridge']);
      s = dismissCue(s, 'cu20');
      expect(visibleCues(s)).toEqual([]);
      s = apply(s, { type: 'snapshot', data: { ...snap, seq: 21, cues: [current] } });
      expect(visibleCues(s)).toEqual([]); // still dismissed on this device
      s = apply(s, cue('cu22', 'Chorus', null, 10));
      expect(visibleCues(s).map((c) => c.text)).toEqual(['Chorus']); // the next cue shows again
    });
  });

  it('slot.update edits a slot in place, keeping who holds it', () => {
    const s = apply(start,
      { type: 'slot.assign', seq: 11, data: { slot: { ...snap.slots[0], participant: 'p2' } } },
      { type: 'slot.update', seq: 12, data: { slot: { ...snap.slots[0], participant: 'p2', capo: 3, pitch: 'Bb' } } });
    expect(mySlot(s)).toMatchObject({ name: 'Keys', capo: 3, pitch: 'Bb' });
    expect(s.participants.find((p) => p.id === 'p2')?.slot).toBe('s1');
  });

  it('a move is a slot.release then a slot.assign', () => {
    const drums = { id: 's2', name: 'Drums', instrument: null, group: null, transpose: 0, capo: 0, pitch: 'C' as const, participant: null, order: 1 };
    let s = apply(start,
      { type: 'slot.create', seq: 11, data: { slot: drums } },
      { type: 'slot.assign', seq: 12, data: { slot: { ...snap.slots[0], participant: 'p2' } } });
    s = apply(s,
      { type: 'slot.release', seq: 13, data: { slot: { ...snap.slots[0], participant: null } } },
      { type: 'slot.assign', seq: 14, data: { slot: { ...drums, participant: 'p2' } } });
    expect(mySlot(s)?.name).toBe('Drums');
    expect(s.slots.find((x) => x.id === 's1')?.participant).toBeNull();
    expect(s.seq).toBe(14);
  });

  // The same vectors as client/room_state.test.cpp: both reducers must end in the same room.
  describe('shared reducer vectors', () => {
    for (const c of vectors.cases) {
      it(c.name, () => {
        const s = apply(emptyState, { type: 'snapshot', data: vectors.snapshot as unknown as Snapshot }, ...(c.events as unknown as ServerEvent[]));
        const expect_ = c.expect as {
          cues?: string[]; holders?: Record<string, string | null>; participant_slots?: Record<string, string | null>;
          slots?: Record<string, Record<string, unknown>>; seq?: number;
          songs?: Record<string, Record<string, unknown>>; setlists?: string[]; no_bodies?: boolean;
          song_current?: unknown; active_setlist?: string | null;
        };
        if (expect_.cues) expect(s.cues.map((q) => `${q.group ?? '*'}:${q.text}`)).toEqual(expect_.cues);
        for (const [slot, holder] of Object.entries(expect_.holders ?? {})) expect(s.slots.find((x) => x.id === slot)?.participant).toBe(holder);
        for (const [p, slot] of Object.entries(expect_.participant_slots ?? {})) expect(s.participants.find((x) => x.id === p)?.slot).toBe(slot);
        for (const [slot, fields] of Object.entries(expect_.slots ?? {})) expect(s.slots.find((x) => x.id === slot)).toMatchObject(fields);
        if (expect_.seq !== undefined) expect(s.seq).toBe(expect_.seq);
        for (const [id, fields] of Object.entries(expect_.songs ?? {})) expect(s.songs.find((x) => x.id === id)).toMatchObject(fields);
        if (expect_.no_bodies) for (const x of s.songs) expect(x).not.toHaveProperty('chordpro');
        if (expect_.setlists) expect(s.setlists.map((x) => x.id)).toEqual(expect_.setlists);
        if ('song_current' in expect_) expect(s.songCurrent).toEqual(expect_.song_current);
        if ('active_setlist' in expect_) expect(s.activeSetlist).toBe(expect_.active_setlist);
      });
    }
  });

  describe('charts on demand', () => {
    const meta = (rev: number, bytes = 20): Snapshot => ({
      ...snap,
      songs: [
        { id: 'g1', title: 'Amazing', artist: null, key: 'Bb', bpm: 72, meter: { beats: 3, unit: 4 }, body_rev: rev, body_bytes: bytes },
        { id: 'g2', title: 'Quiet', artist: null, key: 'C', bpm: null, meter: null, body_rev: 3, body_bytes: 0 },
        { id: 'g3', title: 'Other', artist: null, key: 'D', bpm: null, meter: null, body_rev: 4, body_bytes: 9 },
      ],
      setlists: [{ id: 'l1', title: 'AM', items: [item('g1'), item('g2')] }, { id: 'l2', title: 'PM', items: [item('g3')] }],
      active_setlist: 'l1', song_current: { setlist: 'l1', index: 0, section: null },
    });
    const s0 = apply(emptyState, { type: 'snapshot', data: meta(5) });

    it('wants the current song first, then the active setlist, never a song without a chart', () => {
      expect(wantedBodies(s0)).toEqual(['g1']);
      expect(wantedBodies(s0, ['g3'])).toEqual(['g1', 'g3']);
      expect(currentSong(s0)?.chart).toEqual({ status: 'loading' });
      expect(itemView(s0, s0.setlists[0], 1)?.chart).toEqual({ status: 'none' });
    });

    it('shows a fetched chart, and asks again when a song event brings a new revision', () => {
      let s = withBody(s0, 'g1', 5, '[Bb]Amazing', 100);
      expect(currentSong(s)?.chart).toEqual({ status: 'ready', chordpro: '[Bb]Amazing' });
      expect(currentSong(s)?.song?.chordpro).toBe('[Bb]Amazing');
      expect(missingBodies(s)).toEqual([]);
      // A title change keeps the revision: the chart stays.
      s = reduce(s, { type: 'song.update', seq: 11, data: { song: { ...meta(5).songs[0], title: 'Amazing Grace' } } });
      expect(currentSong(s)?.chart.status).toBe('ready');
      // A new chart: the old one is not shown as if it were current.
      s = reduce(s, { type: 'song.update', seq: 12, data: { song: { ...meta(12).songs[0] } } });
      expect(currentSong(s)?.chart).toEqual({ status: 'loading' });
      expect(missingBodies(s)).toEqual(['g1']);
      s = withBodyError(s, 'g1', 'no network');
      expect(currentSong(s)?.chart).toEqual({ status: 'error', message: 'no network' });
      s = withBody(s, 'g1', 12, '[Bb]New', 200);
      expect(currentSong(s)?.chart).toEqual({ status: 'ready', chordpro: '[Bb]New' });
      expect(s.bodyErrors).toEqual({});
    });

    it('keeps every chart of the active setlist and at most a budget of others; a deleted song loses its chart', () => {
      let s = withBody(s0, 'g1', 5, 'x'.repeat(30_000), 1);
      s = withBody(s, 'g3', 4, 'y'.repeat(30_000), 2);
      expect(Object.keys(pruneBodies(s, 40_000).bodies).sort()).toEqual(['g1', 'g3']);
      expect(Object.keys(pruneBodies(s, 10_000).bodies)).toEqual(['g1']);
      s = reduce(s, { type: 'song.delete', seq: 11, data: { id: 'g3' } });
      expect(Object.keys(s.bodies)).toEqual(['g1']);
    });
  });
});
