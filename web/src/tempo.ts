// Beat arithmetic from a tempo anchor (docs/protocol.md "Tempo"): core/tempo_math, the C++ the
// server and the SDK use, through the WebAssembly module (src/timing.ts). Integer µs, no drift:
// beat k after the anchor sounds at t + floor(k · 60 000 000 000 / round(bpm · 1000)). Nothing is
// computed here: these functions pass the wire `tempo` to core and return what it says. Before
// initTiming() has finished there is no click (no ticks, no position).
import type { Tempo, TempoCore } from './model';
import { timingModule } from './timing';

export type Tick = {
  bar: number;       // negative bars are count-in
  beat: number;      // 0-based beat within the bar
  sub: number;       // 0 = the beat itself, 1.. = subdivisions
  serverTime: number;
  accent: number;    // 0 silent, 1 normal, 2 accented (core::Tick::accent)
  countIn: boolean;
  rev: number;       // tempo revision the tick belongs to (rev − 1 while `prev` still sounds)
};

export type Position = { bar: number; beat: number; countIn: boolean; running: boolean; bpm: number; beats: number };

/** Most ticks one call returns (a 60 s window at 400 bpm with 4 subdivisions is 1600). */
const MAX_TICKS = 4096;

/** All ticks in [from, to): the previous state until anchor.t, then the current one (core::ticks_between). */
export function ticksInWindow(tempo: Tempo | null, from: number, to: number, subdivide = true): Tick[] {
  const m = timingModule();
  if (!m || !tempo || !tempo.anchor || !(to > from)) return [];
  return m.ticksBetween(tempo, from, to, subdivide, MAX_TICKS) as Tick[];
}

/** Where the music is at server time `t` (the latest beat at or before t), or null when silent (core::beat_at_or_before). */
export function positionAt(tempo: Tempo | null, t: number): Position | null {
  const m = timingModule();
  if (!m || !tempo || !tempo.anchor) return null;
  return m.positionAt(tempo, t) as Position | null;
}

/** Server time of beat k (k ≥ 0) of one segment (core::beat_time). */
export function beatTime(seg: TempoCore, k: number): number {
  const m = timingModule();
  if (!m) throw new Error('the timing module is not loaded yet: await initTiming() at start');
  return m.beatTime(seg, k);
}

/** Bar length in µs (core::bar_duration_us; used to detect missed anchors). */
export function barDurationUs(seg: TempoCore): number {
  const m = timingModule();
  if (!m) return 2_000_000; // a 4/4 bar at 120 bpm until the module is there
  return m.barDurationUs(seg);
}
