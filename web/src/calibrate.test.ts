import { describe, expect, it } from 'vitest';
import { clickSchedule, findRoundTrips, micOffset, tapOffset, CLICKS, MIN_HEARD } from './calibrate';

const RATE = 48000;

/** A recording of clicks coming back `delayMs` after each scheduled frame, with noise and an echo. */
function recording(delayMs: number, opts: { noise?: number; drop?: number[]; jitterMs?: number[]; gain?: number } = {}) {
  const startFrame = 12_345;
  const first = startFrame + Math.round(0.4 * RATE);
  const clickFrames = clickSchedule().map((s) => first + Math.round(s * RATE));
  const len = clickFrames[clickFrames.length - 1] - startFrame + RATE;
  const rec = new Float32Array(len);
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff) * 2 - 1;
  for (let i = 0; i < len; i++) rec[i] = (opts.noise ?? 0.002) * rand();
  clickFrames.forEach((cf, k) => {
    if (opts.drop?.includes(k)) return;
    const at = cf - startFrame + Math.round(((delayMs + (opts.jitterMs?.[k] ?? 0)) / 1000) * RATE);
    for (let i = 0; i < 0.03 * RATE; i++) {
      const env = Math.exp(-i / (0.006 * RATE)) * (opts.gain ?? 0.5);
      rec[at + i] += env * Math.sin((2 * Math.PI * 1760 * i) / RATE);
      rec[at + i + Math.round(0.012 * RATE)] += 0.2 * env * Math.sin((2 * Math.PI * 1760 * i) / RATE); // a room echo
    }
  });
  return { rec, startFrame, clickFrames };
}

describe('mic calibration', () => {
  it('finds a Bluetooth-like round trip to within a millisecond', () => {
    const { rec, startFrame, clickFrames } = recording(183.4);
    const rts = findRoundTrips(rec, startFrame, RATE, clickFrames);
    expect(rts.every((x) => x !== null)).toBe(true);
    for (const rt of rts) expect(Math.abs((rt as number) - 183.4)).toBeLessThan(1);
    const r = micOffset(rts, 20, 8);
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.offsetMs).toBe(155); // 183 − 20 reported − 8 input
  });

  it('finds a short wired round trip', () => {
    const { rec, startFrame, clickFrames } = recording(22);
    const r = micOffset(findRoundTrips(rec, startFrame, RATE, clickFrames), 12, 5);
    expect(r.ok && r.offsetMs).toBe(5);
  });

  it('says the microphone heard nothing when the speaker is muted', () => {
    const { rec, startFrame, clickFrames } = recording(100, { gain: 0 });
    const r = micOffset(findRoundTrips(rec, startFrame, RATE, clickFrames), 10, 0);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.message).toMatch(/heard none/);
  });

  it('needs enough clicks, and clicks that agree', () => {
    const drop = Array.from({ length: CLICKS - MIN_HEARD + 1 }, (_, i) => i);
    const few = recording(100, { drop });
    const r1 = micOffset(findRoundTrips(few.rec, few.startFrame, RATE, few.clickFrames), 10, 0);
    expect(r1.ok).toBe(false);
    if (!r1.ok) expect(r1.message).toMatch(new RegExp(`only \\d of ${CLICKS}`));
    const uneven = recording(100, { jitterMs: [0, 40, 15, 80, -20, 25, 55, 60, -45, 100, 35, -70] });
    const r2 = micOffset(findRoundTrips(uneven.rec, uneven.startFrame, RATE, uneven.clickFrames), 10, 0);
    expect(r2.ok).toBe(false);
    if (!r2.ok) expect(r2.message).toMatch(/different delays/);
  });

  it('takes the delay most clicks agree on when three stray', () => {
    const { rec, startFrame, clickFrames } = recording(120, { jitterMs: [-60, 0, 1, 0, -1, 0, 70, 0, 0, -1, 90, 1] });
    const r = micOffset(findRoundTrips(rec, startFrame, RATE, clickFrames), 0, 0);
    expect(r.ok && Math.abs(r.offsetMs - 120) <= 1).toBe(true);
    expect(r.ok && r.heard).toBe(CLICKS - 3);
  });

  it('is not fooled by noise louder than the quiet part but far below the click', () => {
    const { rec, startFrame, clickFrames } = recording(150, { noise: 0.02 });
    const r = micOffset(findRoundTrips(rec, startFrame, RATE, clickFrames), 0, 0);
    expect(r.ok && Math.abs(r.offsetMs - 150) <= 1).toBe(true);
  });
});

describe('tap along', () => {
  const beats = Array.from({ length: 16 }, (_, i) => 1000 + i * 600);
  it('takes the median delay of steady taps', () => {
    const taps = beats.map((b, i) => b + 140 + ((i * 13) % 9) - 4);
    const r = tapOffset(taps, beats);
    expect(r.ok).toBe(true);
    if (r.ok) expect(Math.abs(r.offsetMs - 140)).toBeLessThanOrEqual(3);
  });
  it('accepts a device that sounds early (negative offset)', () => {
    const r = tapOffset(beats.map((b) => b - 30), beats);
    expect(r.ok && r.offsetMs).toBe(-30);
  });
  it('asks for more taps, and for steadier ones', () => {
    const r1 = tapOffset(beats.slice(0, 5).map((b) => b + 100), beats);
    expect(r1.ok).toBe(false);
    if (!r1.ok) expect(r1.message).toMatch(/8 are needed/);
    const r2 = tapOffset(beats.map((b, i) => b + (i % 2 ? 0 : 200)), beats);
    expect(r2.ok).toBe(false);
    if (!r2.ok) expect(r2.message).toMatch(/uneven/);
  });
});
