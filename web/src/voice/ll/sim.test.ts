// The jitter buffer in a simulated loopback call: both ends render 128-frame quanta in audio
// callbacks of 10 ms (as Chromium does), the sender sends one packet per callback, the network
// adds 1 ms plus jitter. Same clock on both ends, so the latency is exact: what the dc path's
// buffering adds on top of the capture → playout floor (the real figures are in bench/voice).
import { describe, expect, it } from 'vitest';
import { JitterBuffer } from './jitter';

type Sim = { p50: number; p95: number; max: number; concealed: number; underruns: number; late: number; targetMs: number };

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => { s = (s * 1664525 + 1013904223) >>> 0; return s / 2 ** 32; };
}

function simulate(o: { seconds: number; jitterMs: number; lossEvery?: number; stallEveryS?: number; stallMs?: number; seed?: number }): Sim {
  const RATE = 48000, CB = 480, Q = 128;
  const rand = rng(o.seed ?? 1);
  const b = new JitterBuffer({ outRate: RATE, targetMs: 5 });
  const sendPhase = rand() * 10, recvPhase = rand() * 10;
  const packets: Array<{ at: number; pos: number; data: Float32Array }> = [];
  let sent = 0, sFrame = 0, n = 0;
  for (let k = 0; (k * 10 + sendPhase) < o.seconds * 1000; k++) {
    const t = k * 10 + sendPhase;
    const pos = sFrame;
    while (sFrame < (k + 1) * CB) sFrame += Q;
    let delay = 1 + rand() * o.jitterMs;
    if (o.stallEveryS) {
      // everything sent during a stall (the main thread was away) leaves when it ends
      const start = Math.floor(t / (o.stallEveryS * 1000)) * o.stallEveryS * 1000;
      if (t < start + (o.stallMs ?? 0)) delay = Math.max(delay, start + (o.stallMs ?? 0) - t + 1);
    }
    n++;
    if (o.lossEvery && n % o.lossEvery === 0) continue;
    packets.push({ at: t + delay, pos, data: new Float32Array(sFrame - pos).fill(0.5) });
    sent++;
  }
  packets.sort((x, y) => x.at - y.at);
  const lat: number[] = [];
  const q = new Float32Array(Q);
  let rFrame = 0, next = 0;
  for (let j = 0; (j * 10 + recvPhase) < o.seconds * 1000; j++) {
    const t = j * 10 + recvPhase;
    while (next < packets.length && packets[next].at <= t) { const p = packets[next++]; b.push(p.pos, p.data, RATE, 1); }
    while (rFrame < (j + 1) * CB) {
      // the receiver renders frame rFrame at wall time ≈ t (callback) — the sender captured
      // stream frame x at ≈ x / RATE s; latency = render time − capture time of what plays now
      const playing = b.playing && b.position >= 0;
      const pos = b.position;
      b.pull(q);
      if (playing && t > 1000) lat.push(t - (pos / RATE) * 1000);
      rFrame += Q;
    }
  }
  lat.sort((x, y) => x - y);
  return {
    p50: lat[Math.floor(lat.length / 2)], p95: lat[Math.floor(lat.length * 0.95)], max: lat[lat.length - 1],
    concealed: b.stats.concealed / Math.max(1, b.stats.played), underruns: b.stats.underruns, late: b.stats.late, targetMs: b.stats.targetMs,
  };
}

describe('jitter buffer in a simulated call (10 ms callbacks both ends)', () => {
  it('quiet LAN: settles about one callback plus the margin behind capture, nothing concealed', () => {
    const r = simulate({ seconds: 20, jitterMs: 1 });
    expect(r.p50).toBeLessThan(27); // capture callback 10 + render callback 10 + margin 5 + network
    expect(r.p95).toBeLessThan(30);
    expect(r.concealed).toBeLessThan(0.002);
    expect(r.underruns).toBeLessThanOrEqual(2);
  });

  it('every 10th packet lost: concealment about 10 %, latency unchanged', () => {
    const quiet = simulate({ seconds: 20, jitterMs: 1, seed: 3 });
    const r = simulate({ seconds: 20, jitterMs: 1, lossEvery: 10, seed: 3 });
    expect(r.concealed).toBeGreaterThan(0.08);
    expect(r.concealed).toBeLessThan(0.13);
    expect(r.p50 - quiet.p50).toBeLessThan(3);
  });

  it('a 100 ms stall every 2 s costs concealment, and latency comes back between stalls', () => {
    const quiet = simulate({ seconds: 20, jitterMs: 1, seed: 4 });
    const r = simulate({ seconds: 20, jitterMs: 1, stallEveryS: 2, stallMs: 100, seed: 4 });
    expect(r.p50 - quiet.p50).toBeLessThan(8);
    expect(r.concealed).toBeLessThan(0.05); // 100 ms in 2 s is 5 %: a stall costs no more than its length
  });
});

