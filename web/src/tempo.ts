// Beat arithmetic from a tempo anchor (docs/protocol.md "Tempo"). Integer µs, no drift:
// beat k after the anchor sounds at t + floor(k · 60 000 000 000 / round(bpm · 1000)).
import type { Tempo, TempoCore } from './model';

export type Tick = {
  bar: number;       // negative bars are count-in
  beat: number;      // 0-based beat within the bar
  sub: number;       // 0 = the beat itself, 1.. = subdivisions
  serverTime: number;
  accent: number;    // 0 silent, 1 normal, 2 accented
  countIn: boolean;
  rev: number;
};

const MICROS_PER_MIN_MILLI = 60_000_000_000n;

export function bpmMilli(bpm: number): number {
  return Math.round(bpm * 1000);
}

/** µs from the anchor to beat k (k ≥ 0). */
export function beatOffset(bpm: number, k: number): number {
  return Number((BigInt(k) * MICROS_PER_MIN_MILLI) / BigInt(bpmMilli(bpm)));
}

export function beatTime(seg: TempoCore, k: number): number {
  return seg.anchor!.t + beatOffset(seg.bpm, k);
}

export function beatsPerBar(seg: TempoCore): number {
  return Math.max(1, seg.meter?.beats ?? 4);
}

export function accentOf(seg: TempoCore, bar: number, beat: number): number {
  if (bar < 0) return beat === 0 ? 2 : 1; // count-in: always audible
  const a = seg.accents?.[beat];
  if (a === 0 || a === 1 || a === 2) return a;
  return beat === 0 ? 2 : 1;
}

/** Index of the first beat at or after server time `t` (≥ 0). */
export function firstBeatAtOrAfter(seg: TempoCore, t: number): number {
  const anchorT = seg.anchor!.t;
  if (t <= anchorT) return 0;
  let k = Math.max(0, Math.floor(((t - anchorT) * bpmMilli(seg.bpm)) / 60_000_000_000));
  while (k > 0 && beatTime(seg, k - 1) >= t) k--;
  while (beatTime(seg, k) < t) k++;
  return k;
}

/** Ticks of one running segment with serverTime in [from, to) and before `until`. */
export function segmentTicks(seg: TempoCore, from: number, to: number, until = Infinity, subdivide = true): Tick[] {
  const out: Tick[] = [];
  if (!seg.running || !seg.anchor || !(seg.bpm > 0)) return out;
  const end = Math.min(to, until);
  if (end <= from) return out;
  const per = beatsPerBar(seg);
  const subs = subdivide ? Math.max(1, Math.min(4, seg.subdivision || 1)) : 1;
  // Start one beat early so the subdivisions of the beat before `from` are included.
  let k = Math.max(0, firstBeatAtOrAfter(seg, from) - 1);
  for (;; k++) {
    const t0 = beatTime(seg, k);
    if (t0 >= end) break;
    const bar = seg.anchor.bar + Math.floor(k / per);
    const beat = k % per;
    const countIn = bar < 0;
    const accent = accentOf(seg, bar, beat);
    const n = countIn ? 1 : subs;
    const span = n > 1 ? beatTime(seg, k + 1) - t0 : 0;
    for (let j = 0; j < n; j++) {
      const t = t0 + Math.floor((j * span) / n);
      if (t < from || t >= end) continue;
      out.push({ bar, beat, sub: j, serverTime: t, accent: j === 0 ? accent : (accent === 0 ? 0 : 1), countIn, rev: seg.rev });
    }
  }
  return out;
}

/** All ticks in [from, to): the previous state until anchor.t, then the current one. */
export function ticksInWindow(tempo: Tempo | null, from: number, to: number, subdivide = true): Tick[] {
  if (!tempo || !tempo.anchor) return [];
  const out: Tick[] = [];
  if (tempo.prev && from < tempo.anchor.t) {
    out.push(...segmentTicks(tempo.prev, from, to, tempo.anchor.t, subdivide));
  }
  out.push(...segmentTicks(tempo, Math.max(from, tempo.anchor.t), to, Infinity, subdivide));
  return out;
}

export type Position = { bar: number; beat: number; countIn: boolean; running: boolean; bpm: number; beats: number };

/** Where the music is at server time `t` (the latest beat at or before t), or null when silent. */
export function positionAt(tempo: Tempo | null, t: number): Position | null {
  if (!tempo || !tempo.anchor) return null;
  const seg = t < tempo.anchor.t ? tempo.prev : tempo;
  if (!seg || !seg.running || !seg.anchor || t < seg.anchor.t) return null;
  let k = firstBeatAtOrAfter(seg, t);
  if (beatTime(seg, k) > t) k--;
  if (k < 0) return null;
  const per = beatsPerBar(seg);
  const bar = seg.anchor.bar + Math.floor(k / per);
  return { bar, beat: k % per, countIn: bar < 0, running: true, bpm: seg.bpm, beats: per };
}

/** Bar length in µs (used to detect missed anchors). */
export function barDurationUs(seg: TempoCore): number {
  return beatOffset(seg.bpm, beatsPerBar(seg));
}
