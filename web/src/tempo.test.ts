// The shared beat vectors (protocol/vectors/beats.json) through the WebAssembly build of
// core/tempo_math, the file core/tempo_vectors.test.cpp replays natively: every click for 60 s of
// each case, the same on a phone as in the SDK. The hand-derived counts, checks and silent spans
// in the file are asserted here too.
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { barDurationUs, beatTime, positionAt, ticksInWindow, type Tick } from './tempo';
import type { Tempo } from './model';
import { loadTiming } from './timing.testutil';

type Check = { t: number; bar: number; beat: number; sub: number; accent: number; count_in: boolean };
type Case = {
  name: string; subdivide: boolean; ops: { at: number }[]; count: number; checks: Check[];
  silent?: [number, number][]; states: Tempo[]; ticks: number[][];
};
const vectors = JSON.parse(readFileSync(new URL('../../protocol/vectors/beats.json', import.meta.url), 'utf8')) as {
  until_us: number; cases: Case[];
};

const row = (t: Tick) => [t.serverTime, t.bar, t.beat, t.sub, t.accent, t.countIn ? 1 : 0, t.rev];

/** What a device holding each state from its op's `at` on plays, as core/tempo_vectors.test.cpp does it. */
function replay(c: Case): number[][] {
  const out: number[][] = [];
  c.states.forEach((s, i) => {
    const from = c.ops[i].at;
    const to = i + 1 < c.states.length ? c.ops[i + 1].at : vectors.until_us;
    out.push(...ticksInWindow(s, from, to, c.subdivide).map(row));
  });
  return out;
}

beforeAll(loadTiming);

describe('beat vectors (WebAssembly)', () => {
  it('has the shared cases', () => {
    expect(vectors.cases.length).toBeGreaterThanOrEqual(6);
  });
  for (const c of vectors.cases) {
    it(c.name, () => {
      const ticks = replay(c);
      expect(ticks).toEqual(c.ticks); // the same clicks as core natively
      expect(ticks.length).toBe(c.count); // hand-derived
      for (const e of c.checks) {
        const f = ticks.find((t) => t[0] === e.t);
        expect(f, `a click at ${e.t}`).toBeDefined();
        expect(f!.slice(1, 6)).toEqual([e.bar, e.beat, e.sub, e.accent, e.count_in ? 1 : 0]);
      }
      for (const [a, b] of c.silent ?? []) expect(ticks.filter((t) => t[0] >= a && t[0] < b)).toEqual([]);
    });
  }
});

describe('tempo wrapper', () => {
  const base: Tempo = {
    running: true, bpm: 120, meter: { beats: 4, unit: 4 }, accents: [2, 0, 1, 1], subdivision: 1,
    count_in_bars: 0, anchor: { t: 1_000_000, bar: 1 }, rev: 3, prev: null,
  };

  it('reports where the music is, and nothing before the anchor or after a stop', () => {
    expect(positionAt(base, 999_999)).toBeNull();
    expect(positionAt(base, 1_000_000)).toEqual({ bar: 1, beat: 0, countIn: false, running: true, bpm: 120, beats: 4 });
    expect(positionAt(base, 3_100_000)).toMatchObject({ bar: 2, beat: 0 });
    const stopped: Tempo = { ...base, running: false, anchor: { t: 2_000_000, bar: 2 }, rev: 4, prev: base };
    expect(positionAt(stopped, 1_600_000)).toMatchObject({ bar: 1, beat: 1 });
    expect(positionAt(stopped, 2_000_000)).toBeNull();
  });

  it('keeps silent beats (accent 0) so the scheduler knows them, and tags prev ticks with the old rev', () => {
    const next: Tempo = { ...base, bpm: 60, anchor: { t: 3_000_000, bar: 2 }, rev: 4, prev: base };
    const ticks = ticksInWindow(next, 2_000_000, 4_000_001);
    expect(ticks.map((t) => [t.serverTime, t.bar, t.beat, t.accent, t.rev])).toEqual([
      [2_000_000, 1, 2, 1, 3], [2_500_000, 1, 3, 1, 3], [3_000_000, 2, 0, 2, 4], [4_000_000, 2, 1, 0, 4],
    ]);
  });

  it('gives beat times and bar lengths from the integer formula', () => {
    // 7 200 000 beats of 97.3 bpm: floor(k·6e10 / 97300) exactly, beyond 2^53 in the product.
    const slow: Tempo = { ...base, bpm: 97.3, anchor: { t: 0, bar: 0 } };
    expect(beatTime(slow, 7_200_000)).toBe(Number((7_200_000n * 60_000_000_000n) / 97_300n));
    expect(barDurationUs(base)).toBe(2_000_000);
    expect(barDurationUs({ ...base, meter: { beats: 7, unit: 8 } })).toBe(3_500_000);
  });

  it('has no ticks without an anchor', () => {
    // The wire always has an anchor; a stored tempo from before anchors did not.
    expect(ticksInWindow({ ...base, anchor: null } as unknown as Tempo, 0, 10_000_000)).toEqual([]);
    expect(ticksInWindow(null, 0, 10_000_000)).toEqual([]);
  });
});
