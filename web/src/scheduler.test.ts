import { beforeAll, describe, it, expect } from 'vitest';
import { BeatScheduler, type TickSink } from './scheduler';
import type { Tempo } from './model';
import { beatTime, type Tick } from './tempo';
import { loadTiming } from './timing.testutil';

beforeAll(loadTiming);

class FakeSink implements TickSink<number> {
  played = new Map<number, Tick>();
  cancelled: Tick[] = [];
  next = 1;
  schedule(t: Tick) { const h = this.next++; this.played.set(h, t); return h; }
  cancel(h: number) { const t = this.played.get(h); if (t) { this.cancelled.push(t); this.played.delete(h); } }
  times() { return [...this.played.values()].map((t) => t.serverTime).sort((a, b) => a - b); }
}

const t120: Tempo = {
  running: true, bpm: 120, meter: { beats: 4, unit: 4 }, accents: [], subdivision: 1,
  count_in_bars: 0, anchor: { t: 1_000_000, bar: 1 }, rev: 1, prev: null,
};

function drive(s: BeatScheduler<number>, from: number, to: number, stepUs = 25_000) {
  for (let now = from; now < to; now += stepUs) s.pump(now);
}

describe('BeatScheduler', () => {
  it('hands every beat to the sink exactly once, ahead of time', () => {
    const sink = new FakeSink();
    const s = new BeatScheduler(sink, { horizonUs: 120_000 });
    s.setTempo(t120, 0);
    const seenAt = new Map<number, number>();
    for (let now = 0; now < 3_000_000; now += 25_000) for (const t of s.pump(now)) seenAt.set(t.serverTime, now);
    expect(sink.times()).toEqual([1_000_000, 1_500_000, 2_000_000, 2_500_000, 3_000_000]);
    for (const [beat, at] of seenAt) expect(beat - at).toBeGreaterThanOrEqual(90_000); // ≥ horizon − timer period
  });

  it('catches up without a burst of stale beats after the timer stalls', () => {
    const sink = new FakeSink();
    const s = new BeatScheduler(sink, { horizonUs: 120_000 });
    s.setTempo(t120, 0);
    s.pump(900_000);
    s.pump(2_200_000); // the tab slept for 1.3 s: the missed beats are not played late
    s.pump(2_400_000);
    expect(sink.times()).toEqual([1_000_000, 2_500_000]);
  });

  it('cancels planned beats that a tempo change removes and plans the new ones', () => {
    const sink = new FakeSink();
    const s = new BeatScheduler(sink, { horizonUs: 800_000 });
    s.setTempo(t120, 0);
    drive(s, 0, 2_900_000); // planned through 3.675 s
    // The change lands late (slow network): 60 bpm from bar 2 (3.0 s).
    const next: Tempo = { ...t120, bpm: 60, anchor: { t: 3_000_000, bar: 2 }, rev: 2, prev: { ...t120 } };
    s.setTempo(next, 2_900_000);
    expect(sink.cancelled.map((t) => t.serverTime)).toEqual([3_500_000]);
    drive(s, 2_900_000, 5_000_000);
    expect(sink.times()).toEqual([1_000_000, 1_500_000, 2_000_000, 2_500_000, 3_000_000, 4_000_000, 5_000_000]);
  });

  it('treats a re-sent anchor (re-based to a later bar) as the same timeline', () => {
    const sink = new FakeSink();
    const s = new BeatScheduler(sink, { horizonUs: 600_000 });
    const odd: Tempo = { ...t120, bpm: 133.3333 };
    s.setTempo(odd, 0);
    drive(s, 0, 2_000_000);
    const rebased = { ...odd, anchor: { t: beatTime(odd, 4) + 1, bar: 2 } };
    s.setTempo(rebased, 2_000_000);
    expect(sink.cancelled).toEqual([]);
  });

  it('stops on the stop anchor', () => {
    const sink = new FakeSink();
    const s = new BeatScheduler(sink, { horizonUs: 120_000 });
    s.setTempo(t120, 0);
    drive(s, 0, 1_800_000);
    s.setTempo({ ...t120, running: false, anchor: { t: 3_000_000, bar: 2 }, rev: 2, prev: { ...t120 } }, 1_800_000);
    drive(s, 1_800_000, 6_000_000);
    expect(sink.times()).toEqual([1_000_000, 1_500_000, 2_000_000, 2_500_000]);
  });

  it('remembers what it scheduled (test hook / UI)', () => {
    const s = new BeatScheduler(new FakeSink(), { horizonUs: 120_000, historyMax: 3 });
    s.setTempo(t120, 0);
    drive(s, 0, 3_000_000);
    expect(s.scheduled().map((t) => [t.bar, t.beat])).toEqual([[1, 2], [1, 3], [2, 0]]);
  });
});
