import { describe, it, expect } from 'vitest';
import { ClockSync, type ClockSample } from './clock';

// A simulated link: true server time = (local + offset) · (1 + skew); one-way delays are drawn
// from a base plus one-sided (exponential) jitter, optionally asymmetric, with loss.
type Sim = { offsetUs: number; skewPpm: number; upUs: number; downUs: number; jitterUs: number; loss: number; seed: number };

function rng(seed: number) {
  let s = seed >>> 0;
  return () => { s = (s * 1664525 + 1013904223) >>> 0; return s / 2 ** 32; };
}

function run(sim: Sim, seconds: number, clock = new ClockSync()) {
  const rand = rng(sim.seed);
  const server = (local: number) => local + sim.offsetUs + (local * sim.skewPpm) / 1e6;
  const exp = () => -Math.log(1 - rand()) * sim.jitterUs;
  let local = 1_000_000;
  const step = (gapUs: number) => {
    local += gapUs;
    if (rand() < sim.loss) return;
    const t0 = local;
    const arrive = t0 + sim.upUs + exp();
    const t1 = Math.round(server(arrive));
    const t2 = t1 + 30;
    const back = arrive + 30 + sim.downUs + exp();
    const s: ClockSample = { t0, t1, t2, t3: back };
    clock.addSample(s);
  };
  for (let i = 0; i < 8; i++) step(50_000);       // connect burst
  for (let t = 0; t < seconds; t += 2) step(2_000_000); // then every 2 s
  return { clock, local, server };
}

describe('ClockSync', () => {
  it('locks onto a fixed offset within a fraction of a millisecond on a quiet link', () => {
    const { clock, local, server } = run({ offsetUs: 123_456_789, skewPpm: 0, upUs: 200, downUs: 200, jitterUs: 50, loss: 0, seed: 1 }, 10);
    expect(Math.abs(clock.toServer(local) - server(local))).toBeLessThan(100);
    expect(clock.stats().uncertaintyUs).toBeLessThan(400);
  });

  it('tracks skew so the estimate holds between pings', () => {
    const { clock, local, server } = run({ offsetUs: -5_000_000, skewPpm: 80, upUs: 1000, downUs: 1000, jitterUs: 300, loss: 0, seed: 2 }, 60);
    // 1 s after the last ping, 80 ppm would be 80 µs of drift; the fit must absorb it.
    const later = local + 1_000_000;
    expect(Math.abs(clock.toServer(later) - server(later))).toBeLessThan(250);
    expect(clock.stats().skewPpm).toBeGreaterThan(40);
    expect(clock.stats().skewPpm).toBeLessThan(120);
  });

  it('ignores Wi-Fi style one-sided jitter by weighting the fastest round trips', () => {
    const { clock, local, server } = run({ offsetUs: 42_000, skewPpm: 0, upUs: 1500, downUs: 1500, jitterUs: 20_000, loss: 0.1, seed: 3 }, 60);
    // Mean δ here is ~40 ms; the estimate must be far better than δ/2.
    expect(Math.abs(clock.toServer(local) - server(local))).toBeLessThan(2_000);
  });

  it('stays within its reported uncertainty under asymmetric delay', () => {
    const { clock, local, server } = run({ offsetUs: 7_000, skewPpm: 0, upUs: 3000, downUs: 500, jitterUs: 200, loss: 0, seed: 4 }, 20);
    const err = Math.abs(clock.toServer(local) - server(local));
    expect(err).toBeGreaterThan(500); // asymmetry is invisible to ping/pong…
    expect(err).toBeLessThanOrEqual(clock.stats().uncertaintyUs + 200); // …but bounded by δ_min/2
  });

  it('survives heavy loss', () => {
    const { clock, local, server } = run({ offsetUs: 1_000, skewPpm: 20, upUs: 400, downUs: 400, jitterUs: 500, loss: 0.5, seed: 5 }, 60);
    expect(clock.synced).toBe(true);
    expect(Math.abs(clock.toServer(local) - server(local))).toBeLessThan(600);
  });

  it('toLocal inverts toServer', () => {
    const { clock } = run({ offsetUs: 9e9, skewPpm: 50, upUs: 400, downUs: 400, jitterUs: 100, loss: 0, seed: 6 }, 30);
    for (const l of [0, 5e6, 1e9]) expect(Math.abs(clock.toLocal(clock.toServer(l)) - l)).toBeLessThan(0.01);
  });

  it('re-locks after the server clock steps (server restarted)', () => {
    const clock = new ClockSync();
    run({ offsetUs: 1_000_000, skewPpm: 0, upUs: 300, downUs: 300, jitterUs: 50, loss: 0, seed: 7 }, 10, clock);
    const { local, server } = run({ offsetUs: 90_000_000, skewPpm: 0, upUs: 300, downUs: 300, jitterUs: 50, loss: 0, seed: 8 }, 10, clock);
    expect(Math.abs(clock.toServer(local) - server(local))).toBeLessThan(200);
  });

  it('rejects a single wild sample', () => {
    const { clock, local, server } = run({ offsetUs: 0, skewPpm: 0, upUs: 300, downUs: 300, jitterUs: 50, loss: 0, seed: 9 }, 10);
    expect(clock.addSample({ t0: local + 10, t1: local + 5_000_000, t2: local + 5_000_010, t3: local + 900 })).toBe(false);
    expect(Math.abs(clock.toServer(local) - server(local))).toBeLessThan(100);
  });
});
