// The console's pure pieces: reordering, accents, the song tempo a setlist item asks for,
// shortcuts pausing while typing (the print page's chords in the item key are checked end to
// end in e2e/console.mjs).
import { describe, expect, it } from 'vitest';
import { moveItem } from './sortable';
import { accentsFor } from './TempoPanel';
import { songTempo, tempoMatches } from './live';
import { isTyping } from './util';
import { emptyState, type RoomState } from '../../state';
import type { Tempo } from '../../model';

const state = (extra: Partial<RoomState> = {}): RoomState => ({
  ...emptyState,
  songs: [
    { id: 's1', title: 'Alpha', artist: null, key: 'C', bpm: 128, meter: { beats: 6, unit: 8 }, body_rev: 0, body_bytes: 0 },
    { id: 's2', title: 'Bravo', artist: null, key: 'G', bpm: null, meter: null, body_rev: 0, body_bytes: 0 },
  ],
  setlists: [{ id: 'l1', title: 'Sunday', items: [{ song: 's1', key: null, bpm: 132, notes: null }, { song: 's1', key: null, bpm: null, notes: null }, { song: 's2', key: null, bpm: null, notes: null }] }],
  ...extra,
});
const tempo = (bpm: number, beats: number, unit: number): Tempo => ({
  running: false, bpm, meter: { beats, unit }, accents: [], subdivision: 1, count_in_bars: 0, anchor: { t: 0, bar: 0 }, rev: 1, prev: null,
});

describe('setlist reordering', () => {
  it('moves the dragged song to where it was dropped', () => {
    expect(moveItem(['a', 'b', 'c'], 0, 2)).toEqual(['b', 'c', 'a']);
    expect(moveItem(['a', 'b', 'c'], 2, 0)).toEqual(['c', 'a', 'b']);
  });
  it('leaves the list alone for a move off either end', () => {
    const l = ['a', 'b'];
    expect(moveItem(l, 0, -1)).toBe(l);
    expect(moveItem(l, 1, 2)).toBe(l);
  });
});

describe('accents', () => {
  it('defaults to an accented downbeat and fills a longer meter', () => {
    expect(accentsFor(4, [])).toEqual([2, 1, 1, 1]);
    expect(accentsFor(3, [2, 0])).toEqual([2, 0, 1]);
  });
});

describe('the tempo a song asks for', () => {
  it('takes the item bpm over the song bpm, and the song meter', () => {
    expect(songTempo(state(), 'l1', 0)).toEqual({ bpm: 132, meter: { beats: 6, unit: 8 } });
    expect(songTempo(state(), 'l1', 1)).toEqual({ bpm: 128, meter: { beats: 6, unit: 8 } });
  });
  it('asks for nothing when neither the item nor the song has a tempo', () => {
    expect(songTempo(state(), 'l1', 2)).toBeNull();
    expect(songTempo(state(), 'l1', 9)).toBeNull();
  });
  it('knows when the click already runs it (so no second tempo.set goes out)', () => {
    const want = { bpm: 132, meter: { beats: 6, unit: 8 } };
    expect(tempoMatches(tempo(132, 6, 8), want)).toBe(true);
    expect(tempoMatches(tempo(120, 6, 8), want)).toBe(false);
    expect(tempoMatches(tempo(132, 4, 4), want)).toBe(false);
    expect(tempoMatches(null, want)).toBe(false);
  });
});

describe('shortcuts pause while typing', () => {
  it('treats text fields and selects as typing, buttons and checkboxes not', () => {
    const el = (tagName: string, type = '') => ({ tagName, type, isContentEditable: false }) as unknown as EventTarget;
    expect(isTyping(el('INPUT', 'text'))).toBe(true);
    expect(isTyping(el('INPUT', 'number'))).toBe(true);
    expect(isTyping(el('TEXTAREA'))).toBe(true);
    expect(isTyping(el('SELECT'))).toBe(true);
    expect(isTyping(el('INPUT', 'checkbox'))).toBe(false);
    expect(isTyping(el('BUTTON'))).toBe(false);
    expect(isTyping(null)).toBe(false);
  });
});
