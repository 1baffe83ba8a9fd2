import { describe, it, expect } from 'vitest';
import { beatOffset, beatTime, ticksInWindow, positionAt, segmentTicks } from './tempo';
import type { Tempo, TempoCore } from './model';

const base: TempoCore = {
  running: true, bpm: 120, meter: { beats: 4, unit: 4 }, accents: [2, 1, 1, 1], subdivision: 1,
  count_in_bars: 0, anchor: { t: 1_000_000, bar: 1 }, rev: 1,
};

describe('tempo arithmetic', () => {
  it('uses the protocol integer formula (no float drift over hours)', () => {
    expect(beatOffset(120, 1)).toBe(500_000);
    // 7 200 000 beats of 97.3 bpm: floor(k·6e10 / 97300) exactly, beyond 2^53 in the product.
    const k = 7_200_000;
    expect(beatOffset(97.3, k)).toBe(Number((BigInt(k) * 60_000_000_000n) / 97_300n));
    expect(beatOffset(133.3333, 3)).toBe(Math.floor((3 * 60_000_000_000) / 133_333));
  });

  it('numbers bars and beats from the anchor and accents the downbeat', () => {
    const ticks = ticksInWindow({ ...base, prev: null }, 1_000_000, 3_000_000);
    expect(ticks.map((t) => [t.bar, t.beat, t.accent])).toEqual([
      [1, 0, 2], [1, 1, 1], [1, 2, 1], [1, 3, 1], // bar 1 at 1.0 s … 2.5 s
    ]);
    expect(ticks[3].serverTime).toBe(2_500_000);
  });

  it('splits beats into subdivisions', () => {
    const ticks = segmentTicks({ ...base, subdivision: 3 }, 1_000_000, 1_500_000);
    expect(ticks.map((t) => t.serverTime)).toEqual([1_000_000, 1_166_666, 1_333_333]);
    expect(ticks.map((t) => t.sub)).toEqual([0, 1, 2]);
  });

  it('plays count-in bars (negative) with every beat audible', () => {
    const t: Tempo = { ...base, accents: [2, 0, 0, 0], anchor: { t: 0, bar: -1 }, prev: null };
    const ticks = ticksInWindow(t, 0, 4_000_000);
    expect(ticks.slice(0, 4).every((x) => x.countIn && x.accent > 0)).toBe(true);
    expect(ticks[4]).toMatchObject({ bar: 0, beat: 0, countIn: false, accent: 2 });
    expect(ticks[5].accent).toBe(0); // the MD muted beat 2
  });

  it('keeps the previous tempo until the new anchor, then switches on the downbeat', () => {
    const prev: TempoCore = { ...base, bpm: 60, anchor: { t: 0, bar: 1 } };
    const t: Tempo = { ...base, bpm: 120, anchor: { t: 4_000_000, bar: 2 }, rev: 2, prev };
    const ticks = ticksInWindow(t, 2_000_000, 5_000_000);
    expect(ticks.map((x) => [x.bar, x.beat, x.serverTime])).toEqual([
      [1, 2, 2_000_000], [1, 3, 3_000_000], [2, 0, 4_000_000], [2, 1, 4_500_000],
    ]);
  });

  it('goes silent from anchor.t when stopped', () => {
    const t: Tempo = { ...base, running: false, anchor: { t: 2_000_000, bar: 2 }, rev: 2, prev: base };
    expect(ticksInWindow(t, 1_000_000, 5_000_000).map((x) => x.serverTime)).toEqual([1_000_000, 1_500_000]);
    expect(positionAt(t, 3_000_000)).toBeNull();
    expect(positionAt(t, 1_600_000)).toMatchObject({ bar: 1, beat: 1 });
  });

  it('finds the beat at any time', () => {
    const t: Tempo = { ...base, prev: null };
    expect(positionAt(t, 999_999)).toBeNull();
    expect(positionAt(t, 1_000_000)).toMatchObject({ bar: 1, beat: 0 });
    expect(positionAt(t, 3_100_000)).toMatchObject({ bar: 2, beat: 0 });
    expect(beatTime(t, 8)).toBe(5_000_000);
  });
});
