// What a musician's screen reads: the key and chords per slot (setlist key first), and which
// chart section the MD's section name points at (which cues a device shows: state.test.ts).
import { existsSync, readFileSync } from 'node:fs';
import { beforeAll, describe, it, expect } from 'vitest';
import { emptyState, type RoomState } from '../state';
import type { Slot } from '../model';
import { readerKey, pretty } from './common';
import { pickSection } from './ChartView';
import { renderChart, initChart } from '../chart';

beforeAll(async () => {
  // The WebAssembly build of the charts reads its module from src/gen (node has no fetch for files).
  const wasm = new URL('../gen/chart.wasm', import.meta.url);
  await initChart(existsSync(wasm) ? { wasmBinary: readFileSync(wasm) } : {});
});

const CHART = '{start_of_verse}\n[C]Walk the [F]road\n{end_of_verse}\n{start_of_bridge}\n[F]Night is [G]long, [Am]morning [C/E]comes\n{end_of_bridge}';

function withSlot(slot: Partial<Slot> & { capo?: number; pitch?: string }, extra: Partial<RoomState> = {}): RoomState {
  const s: Slot = { id: 's1', name: 'Slot', instrument: null, group: 'band', transpose: null, participant: 'me', ...slot } as Slot;
  return {
    ...emptyState, me: 'me', slots: [s],
    participants: [{ id: 'me', name: 'Me', role: 'musician', online: true, slot: 's1' }], ...extra,
  };
}

function bridge(view: Parameters<typeof renderChart>[1]): string[] {
  const sec = renderChart(CHART, view).sections.find((x) => x.name === 'Bridge')!;
  return sec.lines.flatMap((l) => (l.kind === 'lyrics' ? l.segments.map((g) => g.chord).filter((c): c is string => !!c) : []));
}

describe('reader key', () => {
  it('uses the setlist key over the song key (the card and the chords agree)', () => {
    const s = withSlot({});
    expect(readerKey(s, 'C', 'D').key).toBe('D');
    expect(bridge({ songKey: 'C', playKey: 'D', capo: 0, pitch: 'C', transpose: 0, nashville: false })).toEqual(['G', 'A', 'Bm', 'D/F#']);
  });
  it('says capo and shapes for a guitar, and shows the shapes', () => {
    const r = readerKey(withSlot({ capo: 2 }), 'C', 'D');
    expect(r.key).toBe('D');
    expect(r.shapesKey).toBe('C');
    expect(r.how).toEqual(['Capo 2 · shapes C']);
    expect(bridge({ songKey: 'C', playKey: 'D', capo: 2, pitch: 'C', transpose: 0, nashville: false })).toEqual(['F', 'G', 'Am', 'C/E']);
  });
  it('names a transposing instrument by its pitch, not by a number', () => {
    const r = readerKey(withSlot({ pitch: 'Eb' }), 'C', 'D');
    expect(r.key).toBe('B');
    expect(r.how).toEqual(['E♭ instrument']);
    expect(readerKey(withSlot({ pitch: 'Bb' }), 'C', 'D').key).toBe('E');
    expect(readerKey(withSlot({ pitch: 'F' }), 'C', 'D').key).toBe('A');
    expect(bridge({ songKey: 'C', playKey: 'D', capo: 0, pitch: 'Eb', transpose: 0, nashville: false })).toEqual(['E', 'F#', 'G#m', 'B/D#']);
  });
  it('spells chords with flats in a flat key', () => {
    expect(bridge({ songKey: 'C', playKey: 'Eb', capo: 0, pitch: 'C', transpose: 0, nashville: false })).toEqual(['Ab', 'Bb', 'Cm', 'Eb/G']);
    expect(readerKey(withSlot({}), 'C', 'Gb').key).toBe('Gb');
    expect(pretty('Bb/Ab')).toBe('B♭/A♭');
  });
  it('writes Nashville numbers in the reader key', () => {
    expect(bridge({ songKey: 'C', playKey: 'D', capo: 0, pitch: 'C', transpose: 0, nashville: true })).toEqual(['4', '5', '6m', '1/3']);
  });
});

describe('section to highlight', () => {
  const names = ['Verse 1', 'Chorus', 'Verse 2', 'Chorus', 'Bridge', 'Chorus'];
  it('finds the named section, the next chorus each time, and "Verse" in "Verse 1"', () => {
    expect(pickSection(names, 'Bridge', null)).toBe(4);
    expect(pickSection(names, 'Chorus', null)).toBe(1);
    expect(pickSection(names, 'Chorus', 2)).toBe(3);
    expect(pickSection(names, 'Chorus', 4)).toBe(5);
    expect(pickSection(names, 'Chorus', 3)).toBe(3);
    expect(pickSection(names, 'verse', null)).toBe(0);
    expect(pickSection(names, 'Tag', 1)).toBeNull();
  });
});
