import { describe, it, expect, vi, afterEach } from 'vitest';
import { ChartLoader } from './bodies';
import { ApiError, type SongBodyReply } from './api';
import { Store } from './store';
import { reduce, emptyState, currentSong, type RoomState } from './state';
import type { Snapshot } from './model';

const snap: Snapshot = {
  seq: 10, room: { id: 'r1', name: 'R', settings: { self_claim: true, talk_all: [], song_count_in: 0, voice_path: 'dc' } }, participants: [], slots: [],
  songs: [
    { id: 'a', title: 'A', artist: null, key: 'C', bpm: null, meter: null, body_rev: 2, body_bytes: 5 },
    { id: 'b', title: 'B', artist: null, key: 'C', bpm: null, meter: null, body_rev: 3, body_bytes: 5 },
    { id: 'c', title: 'C', artist: null, key: 'C', bpm: null, meter: null, body_rev: 4, body_bytes: 5 },
  ],
  setlists: [{ id: 'l', title: 'L', items: [{ song: 'b', key: null, bpm: null, notes: null }, { song: 'a', key: null, bpm: null, notes: null }, { song: 'c', key: null, bpm: null, notes: null }] }],
  active_setlist: 'l', song_current: { setlist: 'l', index: 1, section: null }, tempo: { running: false, bpm: 120, meter: { beats: 4, unit: 4 }, accents: [], subdivision: 1, count_in_bars: 0, anchor: { t: 0, bar: 0 }, rev: 0, prev: null }, ptt: [], cues: [],
};

afterEach(() => { vi.useRealTimers(); });

describe('chart loader', () => {
  it('fetches the current song first, then the setlist, two at a time, with the session token', async () => {
    const state = new Store<RoomState>(reduce(emptyState, { type: 'snapshot', data: snap }));
    const asked: string[] = [];
    const waiting: Array<() => void> = [];
    const fetchBody = (token: string, id: string) => {
      asked.push(`${token}:${id}`);
      return new Promise<SongBodyReply>((resolve) => {
        const rev = snap.songs.find((s) => s.id === id)!.body_rev!;
        waiting.push(() => resolve({ id, body_rev: rev, body_bytes: 5, chordpro: `[C]${id}` }));
      });
    };
    const loader = new ChartLoader(state, () => 'tok', fetchBody);
    loader.start();
    expect(asked).toEqual(['tok:a', 'tok:b']);
    waiting.shift()!();
    await new Promise((r) => setTimeout(r, 0));
    expect(currentSong(state.get())?.chart).toEqual({ status: 'ready', chordpro: '[C]a' });
    expect(asked).toEqual(['tok:a', 'tok:b', 'tok:c']);
    waiting.splice(0).forEach((f) => f());
    await new Promise((r) => setTimeout(r, 0));
    expect(Object.keys(state.get().bodies).sort()).toEqual(['a', 'b', 'c']);
    loader.stop();
  });

  it('says why a chart failed and tries again later, not in a loop', async () => {
    vi.useFakeTimers();
    const state = new Store<RoomState>(reduce(emptyState, { type: 'snapshot', data: { ...snap, setlists: [{ id: 'l', title: 'L', items: [{ song: 'a' }] }], song_current: { setlist: 'l', index: 0, section: null } } }));
    let calls = 0;
    let up = false;
    const fetchBody = async (_t: string, id: string): Promise<SongBodyReply> => {
      calls++;
      if (!up) throw new ApiError(0, 'unreachable', "Can't reach the Downbeat server to load this chart");
      return { id, body_rev: 2, body_bytes: 5, chordpro: '[C]back' };
    };
    const loader = new ChartLoader(state, () => 't', fetchBody, () => Date.now());
    loader.start();
    await vi.advanceTimersByTimeAsync(10);
    expect(calls).toBe(1);
    expect(currentSong(state.get())?.chart).toEqual({ status: 'error', message: "Can't reach the Downbeat server to load this chart" });
    await vi.advanceTimersByTimeAsync(500);
    expect(calls).toBe(1);
    up = true;
    await vi.advanceTimersByTimeAsync(1000);
    expect(calls).toBe(2);
    expect(currentSong(state.get())?.chart).toEqual({ status: 'ready', chordpro: '[C]back' });
    loader.stop();
  });
});
