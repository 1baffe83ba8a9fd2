import { describe, expect, it } from 'vitest';
import { JitterBuffer, type JitterConfig } from './jitter';

const Q = 128;
const RATE = 48000;

// A talker holding a constant 0.5: any gap, fade or click shows as a departure from it.
function chunk(_pos: number, n: number): Float32Array {
  const s = new Float32Array(n);
  for (let i = 0; i < n; i++) s[i] = 0.5;
  return s;
}

function jb(extra: Partial<JitterConfig> = {}): JitterBuffer {
  return new JitterBuffer({ outRate: RATE, targetMs: 4, ...extra });
}

function pull(b: JitterBuffer, quanta = 1): Float32Array {
  const all = new Float32Array(Q * quanta);
  const q = new Float32Array(Q);
  for (let i = 0; i < quanta; i++) { b.pull(q); all.set(q, i * Q); }
  return all;
}

function maxStep(a: Float32Array): number {
  let m = 0;
  for (let i = 1; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - a[i - 1]));
  return m;
}

describe('JitterBuffer', () => {
  it('is silent while nobody talks', () => {
    const b = jb();
    const out = pull(b, 10);
    expect(out.every((v) => v === 0)).toBe(true);
    expect(b.stats.bufferMs).toBe(0);
  });

  it('plays a steady talk `target` behind, without concealment or underruns', () => {
    const b = jb();
    let pos = 1000;
    let heard = 0;
    for (let i = 0; i < 400; i++) {
      b.push(pos, chunk(pos, Q), RATE, 1);
      pos += Q;
      const out = pull(b);
      heard += out.filter((v) => Math.abs(v - 0.5) < 1e-6).length;
      if (i > 10) expect(b.stats.bufferMs).toBeGreaterThan(3);
      if (i > 10) expect(b.stats.bufferMs).toBeLessThan(4 + (Q / RATE) * 1000 + 0.01);
    }
    expect(b.stats.underruns).toBe(0);
    expect(b.stats.concealed).toBe(0);
    expect(b.stats.late).toBe(0);
    expect(heard).toBeGreaterThan(390 * Q);
  });

  it('fades in at the start of a talk and ends in silence after the last packet', () => {
    const b = jb({ targetMs: 0 });
    b.push(0, chunk(0, Q), RATE, 1);
    const first = pull(b);
    expect(first[0]).toBeLessThan(0.05);
    expect(maxStep(first)).toBeLessThan(0.02);
    b.push(Q, chunk(Q, Q), RATE, 1, true);
    pull(b);
    const after = pull(b, 3);
    expect(after.every((v) => v === 0)).toBe(true);
    expect(b.playing).toBe(false);
    expect(b.stats.underruns).toBe(0);
  });

  it('conceals a lost packet without a click and counts it', () => {
    const b = jb();
    let pos = 0;
    const out: number[] = [];
    for (let i = 0; i < 100; i++) {
      if (i % 10 !== 5) b.push(pos, chunk(pos, Q), RATE, 1);
      pos += Q;
      out.push(...pull(b));
    }
    expect(b.stats.underruns).toBe(0);
    expect(b.stats.concealed).toBeGreaterThanOrEqual(9 * Q);
    expect(b.stats.concealed).toBeLessThanOrEqual(10 * Q);
    // constant 0.5 signal: concealment fades it, the cross-fade brings it back; no jump above 3 % full scale
    expect(maxStep(Float32Array.from(out.slice(1000)))).toBeLessThan(0.03);
  });

  it('a lost newest packet costs concealment, not an underrun or latency', () => {
    const b = jb();
    let pos = 0;
    // one packet of 4 quanta per 4 pulls (one audio callback), every 10th lost
    for (let i = 0; i < 400; i++) {
      if (i % 4 === 0) {
        if ((i / 4) % 10 !== 4) b.push(pos, chunk(pos, 4 * Q), RATE, 1);
        pos += 4 * Q;
      }
      pull(b);
    }
    expect(b.stats.underruns).toBe(0);
    expect(b.stats.concealed).toBeGreaterThanOrEqual(9 * 4 * Q);
    expect(b.stats.concealed).toBeLessThanOrEqual(11 * 4 * Q);
    expect(b.stats.targetMs).toBeLessThan(4 + 11); // margin + one packet of jitter, no boost
    expect(b.position).toBeGreaterThan(400 * Q - (b.stats.targetMs / 1000) * RATE - 4 * Q);
  });

  it('on an underrun stops, rebuffers and grows its target; shrinks it slowly afterwards', () => {
    const b = jb({ growMs: 2, decayEveryMs: 1000 });
    let pos = 0;
    for (let i = 0; i < 50; i++) { b.push(pos, chunk(pos, Q), RATE, 1); pos += Q; pull(b); }
    for (let i = 0; i < 4; i++) pull(b); // the network stalls for 4 quanta
    expect(b.stats.underruns).toBe(1);
    expect(b.stats.targetMs).toBe(6);
    for (let i = 0; i < 4; i++) { b.push(pos, chunk(pos, Q), RATE, 1); pos += Q; } // the backlog arrives at once
    for (let i = 0; i < 3000; i++) { b.push(pos, chunk(pos, Q), RATE, 1); pos += Q; pull(b); }
    expect(b.stats.underruns).toBe(1);
    expect(b.stats.targetMs).toBeLessThan(5);
    expect(b.stats.targetMs).toBeGreaterThanOrEqual(4);
    // the backlog has been played off by running fast: back near the target
    expect(b.stats.bufferMs).toBeLessThan(b.stats.targetMs + 3);
  });

  it('measures bursty arrival as jitter and keeps just enough buffer for it', () => {
    // the sender's device renders 4 quanta per callback, so its packets come 4 at a time
    const b = jb({ targetMs: 1 });
    let pos = 0;
    let minBuf = Infinity;
    for (let i = 0; i < 3000; i++) {
      if (i % 4 === 0) for (let k = 0; k < 4; k++) { b.push(pos, chunk(pos, Q), RATE, 1); pos += Q; }
      pull(b);
      if (i > 1500) minBuf = Math.min(minBuf, b.stats.bufferMs);
    }
    expect(b.stats.underruns).toBeLessThanOrEqual(1);
    expect(b.stats.jitterMs).toBeGreaterThan(7.5); // 3 quanta: 8 ms
    expect(b.stats.jitterMs).toBeLessThan(11);
    expect(minBuf).toBeGreaterThan(0);
    expect(minBuf).toBeLessThan(4); // not more than margin + a quantum or so at the emptiest point
  });

  it('a long stall costs its length in concealment, then plays at the old latency', () => {
    const b = jb();
    let pos = 0;
    for (let i = 0; i < 100; i++) { b.push(pos, chunk(pos, Q), RATE, 1); pos += Q; pull(b); }
    const before = b.position - pos;
    const concealedBefore = b.stats.concealed;
    const stall = 38; // ~100 ms: the main thread was away
    for (let i = 0; i < stall; i++) pull(b);
    for (let i = 0; i < stall; i++) { b.push(pos, chunk(pos, Q), RATE, 1); pos += Q; } // the backlog, at once
    for (let i = 0; i < 50; i++) { b.push(pos, chunk(pos, Q), RATE, 1); pos += Q; pull(b); }
    expect((b.stats.concealed - concealedBefore) / Q).toBeGreaterThan(stall - 2);
    expect((b.stats.concealed - concealedBefore) / Q).toBeLessThan(stall + 6);
    // back within a few ms of the latency before the stall (the boost and the cross-fade)
    expect(Math.abs(b.position - pos - before)).toBeLessThan(0.004 * RATE);
    expect(b.stats.late).toBeGreaterThan(stall / 2);
  });

  it('drops a packet that arrives after its playout time', () => {
    const b = jb();
    let pos = 0;
    for (let i = 0; i < 20; i++) {
      if (i !== 10) b.push(pos, chunk(pos, Q), RATE, 1);
      pos += Q;
      pull(b);
    }
    b.push(10 * Q, chunk(10 * Q, Q), RATE, 1); // far too late now
    expect(b.stats.late).toBe(1);
  });

  it('a straggler of a finished talk does not restart it', () => {
    const b = jb({ targetMs: 0 });
    b.push(0, chunk(0, Q), RATE, 1);
    b.push(2 * Q, chunk(2 * Q, Q), RATE, 1, true);
    pull(b, 5);
    expect(b.playing).toBe(false);
    b.push(Q, chunk(Q, Q), RATE, 1);
    expect(b.playing).toBe(false);
    expect(b.stats.late).toBe(1);
  });

  it('ends at the end marker even when the tail is missing (an Opus tail stuck in the encoder)', () => {
    const b = jb({ targetMs: 0 });
    for (let i = 0; i < 5; i++) { b.push(i * Q, chunk(0, Q), RATE, 1); pull(b); }
    b.end(1);
    pull(b, 2);
    expect(b.playing).toBe(false);
    expect(b.stats.underruns).toBe(0);
  });

  it('goes idle when a talk stops without its last packet', () => {
    const b = jb({ idleMs: 50 });
    let pos = 0;
    for (let i = 0; i < 10; i++) { b.push(pos, chunk(pos, Q), RATE, 1); pos += Q; pull(b); }
    pull(b, 30);
    expect(b.playing).toBe(false);
    expect(pull(b).every((v) => v === 0)).toBe(true);
  });

  it('plays a 48 kHz stream on a 44.1 kHz context at the right speed', () => {
    const b = new JitterBuffer({ outRate: 44100, targetMs: 5 });
    let pos = 0;
    let t = 0; // output frames
    for (let i = 0; i < 2000; i++) {
      while (pos < (t + Q) * (48000 / 44100) + 240) { b.push(pos, chunk(pos, 480), 48000, 2); pos += 480; }
      pull(b);
      t += Q;
    }
    expect(b.stats.underruns).toBe(0);
    expect(b.stats.concealed).toBe(0);
    // read position tracks output time × 48000/44100, minus the target
    expect(Math.abs(b.position - t * (48000 / 44100) + 0.005 * 48000)).toBeLessThan(480);
  });

  it('a new talk number restarts the stream at its own position', () => {
    const b = jb();
    for (let i = 0; i < 5; i++) { b.push(i * Q, chunk(0, Q), RATE, 1); pull(b); }
    b.push(1e9, chunk(0, Q), RATE, 2);
    expect(b.stats.talks).toBe(2);
    expect(Math.abs(b.position - (1e9 - 0.004 * RATE))).toBeLessThan(1);
  });
});
