// Clock sync in the app is core/clock_sync through WebAssembly. First the shared traces
// (protocol/vectors/clock_sync.json, replayed natively by core/clock_sync_vectors.test.cpp): the
// same samples must give the same numbers, bit for bit. Then the wrapper on links simulated at the
// rate the app pings (connection.ts: 8 pings 25 ms apart, then one every 250 ms).
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { ClockSync, type ClockSample } from './clock';
import { timingModule } from './timing';
import { loadTiming } from './timing.testutil';

type Trace = {
  name: string;
  truth: { offset_us: number; skew_ppm: number; step_at_s: number; step_us: number };
  samples: (number[] | 'lost')[];
  reports: (number | boolean)[][];
};
const vectors = JSON.parse(readFileSync(new URL('../../protocol/vectors/clock_sync.json', import.meta.url), 'utf8')) as {
  config: { burstCount: number; burstIntervalUs: number; steadyIntervalUs: number };
  cases: Trace[];
};

beforeAll(loadTiming);

describe('clock-sync traces (WebAssembly)', () => {
  it('has the shared traces', () => {
    expect(vectors.cases.length).toBeGreaterThanOrEqual(4);
  });
  for (const c of vectors.cases) {
    it(c.name, () => {
      const core = new (timingModule()!.ClockSync)(vectors.config);
      const got: (number | boolean)[][] = [];
      let outside = 0;
      for (const s of c.samples) {
        if (s === 'lost') { core.noteLostPing(); continue; }
        const [t0, t1, t2, t3] = s;
        core.addSample(t0, t1, t2, t3);
        const at = t3 + 100_000;
        const server = core.toServer(at);
        got.push([core.offsetUs(at), core.uncertaintyAtUs(at), core.uncertaintyUs(), core.skewPpm(), core.skewUncertaintyPpm(),
          core.locked(), server, core.toLocal(server), core.minRttUs(), core.lastRttUs(), core.jitterUs(), core.sampleCount()]);
        // Hand-derivable: the link's true offset at `at` lies within the reported bound.
        const { offset_us, skew_ppm, step_at_s, step_us } = c.truth;
        const truth = offset_us + skew_ppm * 1e-6 * at + (step_at_s >= 0 && (t0 - 1e9) * 1e-6 >= step_at_s ? step_us : 0);
        if (Math.abs(core.offsetUs(at) - truth) > core.uncertaintyAtUs(at) + 1) outside++;
      }
      core.delete();
      expect(got).toEqual(c.reports); // the same numbers as core natively
      expect(outside).toBe(0);
    });
  }
});

// A simulated link: true server time = local + offset + skew·local; one-way delays are a base plus
// one-sided (exponential) jitter, optionally asymmetric, with loss. Pinged as connection.ts does.
type Sim = { offsetUs: number; skewPpm: number; upUs: number; downUs: number; jitterUs: number; loss: number; seed: number };

function rng(seed: number) {
  let s = seed >>> 0;
  return () => { s = (s * 1664525 + 1013904223) >>> 0; return s / 2 ** 32; };
}

const appConfig = { burstCount: 8, burstIntervalUs: 25_000, steadyIntervalUs: 250_000 };

function run(sim: Sim, seconds: number, clock = new ClockSync(appConfig), startLocal = 1_000_000) {
  const rand = rng(sim.seed);
  const server = (local: number) => local + sim.offsetUs + (local * sim.skewPpm) / 1e6;
  const exp = () => -Math.log(1 - rand()) * sim.jitterUs;
  let local = startLocal;
  const step = (gapUs: number) => {
    local += gapUs;
    if (rand() < sim.loss) { clock.noteLostPing(); return; }
    const t0 = local;
    const arrive = t0 + sim.upUs + exp();
    const t1 = Math.round(server(arrive));
    const t2 = t1 + 30;
    const back = arrive + 30 + sim.downUs + exp();
    const s: ClockSample = { t0, t1, t2, t3: back };
    clock.addSample(s);
  };
  for (let i = 0; i < 8; i++) step(25_000); // connect burst
  for (let t = 0; t < seconds * 1e6; t += 250_000) step(250_000); // then every 250 ms
  return { clock, local, server };
}

/** |error| of the estimate at `at`, and the bound the estimator claims there. */
function errorAt(clock: ClockSync, server: (l: number) => number, at: number) {
  return { err: Math.abs(clock.toServer(at) - server(at)), bound: clock.uncertaintyAt(at) };
}

describe('ClockSync wrapper', () => {
  it('is not synced before the connect burst, and is after it', () => {
    const clock = new ClockSync(appConfig);
    expect(clock.synced).toBe(false);
    expect(clock.stats().uncertaintyUs).toBe(Infinity);
    run({ offsetUs: 5_000, skewPpm: 0, upUs: 200, downUs: 200, jitterUs: 50, loss: 0, seed: 1 }, 0, clock);
    expect(clock.synced).toBe(true);
    expect(clock.stats().samples).toBe(8);
  });

  it('holds the truth within its own bound on a quiet link, between pings too', () => {
    const { clock, local, server } = run({ offsetUs: 123_456_789, skewPpm: 40, upUs: 200, downUs: 200, jitterUs: 50, loss: 0, seed: 1 }, 10);
    for (const at of [local, local + 125_000, local + 250_000]) {
      const { err, bound } = errorAt(clock, server, at);
      expect(err).toBeLessThanOrEqual(bound + 1);
    }
    // The bound near the samples is about δ_min / 2 (0.2 ms each way): well under a millisecond.
    expect(clock.stats().uncertaintyUs).toBeLessThan(1_000);
  });

  it('is not pulled off by Wi-Fi style one-sided jitter (δ ≈ 40 ms on average)', () => {
    const { clock, local, server } = run({ offsetUs: 42_000, skewPpm: 0, upUs: 1500, downUs: 1500, jitterUs: 20_000, loss: 0.1, seed: 3 }, 30);
    const { err, bound } = errorAt(clock, server, local);
    expect(err).toBeLessThanOrEqual(bound + 1);
    expect(err).toBeLessThan(5_000); // far better than δ/2 ≈ 20 ms
  });

  it('stays within its reported bound under asymmetric delay, which no ping can see', () => {
    const { clock, local, server } = run({ offsetUs: 7_000, skewPpm: 0, upUs: 3000, downUs: 500, jitterUs: 200, loss: 0, seed: 4 }, 20);
    const { err, bound } = errorAt(clock, server, local);
    expect(err).toBeGreaterThan(500); // (3 − 0.5) / 2 ms off…
    expect(err).toBeLessThanOrEqual(bound + 1); // …and the bound says so
  });

  it('toLocal inverts toServer to the microsecond', () => {
    const { clock } = run({ offsetUs: 9e9, skewPpm: 50, upUs: 400, downUs: 400, jitterUs: 100, loss: 0, seed: 6 }, 30);
    for (const l of [0, 5e6, 1e9]) expect(Math.abs(clock.toLocal(clock.toServer(l)) - l)).toBeLessThanOrEqual(1);
  });

  it('re-locks after the server clock steps (server restarted)', () => {
    const clock = new ClockSync(appConfig);
    const first = run({ offsetUs: 1_000_000, skewPpm: 0, upUs: 300, downUs: 300, jitterUs: 50, loss: 0, seed: 7 }, 10, clock);
    const { local, server } = run({ offsetUs: 90_000_000, skewPpm: 0, upUs: 300, downUs: 300, jitterUs: 50, loss: 0, seed: 8 }, 10, clock, first.local);
    expect(errorAt(clock, server, local).err).toBeLessThan(1_000);
  });

  it('ignores an impossible sample (pong before ping)', () => {
    const { clock, local, server } = run({ offsetUs: 0, skewPpm: 0, upUs: 300, downUs: 300, jitterUs: 50, loss: 0, seed: 9 }, 5);
    const n = clock.stats().samples;
    expect(clock.addSample({ t0: local + 10, t1: local + 500, t2: local + 510, t3: local + 5 })).toBe(false);
    expect(clock.stats().samples).toBe(n);
    expect(errorAt(clock, server, local).err).toBeLessThan(1_000);
  });
});
