// Clock sync (DESIGN.md §5): the room (server) clock from time.ping / time.pong samples, estimated
// by core/clock_sync — the C++ estimator the SDK runs — through the WebAssembly module
// (src/timing.ts). This wrapper only converts shapes; the method is in core/clock_sync.hpp.
import { timingModule, whenTimingReady, type CoreClock, type CoreClockConfig } from './timing';

/** One ping round trip: t0/t3 local send/receive, t1/t2 server receive/send (all µs). */
export type ClockSample = { t0: number; t1: number; t2: number; t3: number };

export type ClockStats = {
  synced: boolean;       // core: burstCount consistent samples since the start (or a server clock step)
  offsetUs: number;      // server − local now
  skewPpm: number;
  uncertaintyUs: number; // hard bound on |offset error| until the next ping is due (core::ClockSync::uncertainty_us)
  rttUs: number;         // newest round trip (δ)
  rttMinUs: number;
  jitterUs: number;      // standard deviation of δ over the window
  samples: number;
};

/** core::ClockSyncConfig; steadyIntervalUs must be the rate the caller really pings at. */
export type ClockOptions = CoreClockConfig;

/** Samples kept while the module loads (the connect burst can arrive first). */
const EARLY_MAX = 64;

export class ClockSync {
  private core: CoreClock | null = null;
  private early: (ClockSample | null)[] = []; // null: a lost ping
  private readonly opt: ClockOptions;

  constructor(opt: ClockOptions = {}) {
    this.opt = { ...opt };
    whenTimingReady(() => this.clock());
  }

  /** The core instance, made (and fed what came early) once the module is there. */
  private clock(): CoreClock | null {
    if (this.core) return this.core;
    const m = timingModule();
    if (!m) return null;
    this.core = new m.ClockSync(this.opt);
    for (const s of this.early.splice(0)) {
      if (s) this.core.addSample(s.t0, s.t1, s.t2, s.t3);
      else this.core.noteLostPing();
    }
    return this.core;
  }

  /** Forgets every sample (a new server, say). */
  reset(): void {
    this.core?.delete();
    this.core = null;
    this.early = [];
    this.clock();
  }

  /** Adds a sample; false when it is impossible (t3 < t0 or t2 < t1) and was ignored. */
  addSample(s: ClockSample): boolean {
    const c = this.clock();
    if (c) return c.addSample(s.t0, s.t1, s.t2, s.t3);
    if (!(s.t3 >= s.t0 && s.t2 >= s.t1)) return false;
    this.early.push(s);
    if (this.early.length > EARLY_MAX) this.early.shift();
    return true;
  }

  /** A ping that got no pong: widens the bound until the next sample. */
  noteLostPing(): void {
    const c = this.clock();
    if (c) c.noteLostPing();
    else this.early.push(null);
  }

  get synced(): boolean { return this.clock()?.locked() ?? false; }

  /** server − local (µs) at local time `localUs`. */
  offsetAt(localUs: number): number {
    return this.clock()?.offsetUs(localUs) ?? 0;
  }

  toServer(localUs: number): number {
    const c = this.clock();
    return c ? c.toServer(localUs) : localUs;
  }

  toLocal(serverUs: number): number {
    const c = this.clock();
    return c ? c.toLocal(serverUs) : serverUs;
  }

  /** Bound on |offset error| at local time `localUs`. */
  uncertaintyAt(localUs: number): number {
    return this.clock()?.uncertaintyAtUs(localUs) ?? Infinity;
  }

  /** When to send the next ping: the burst spacing until locked, then the steady interval. */
  nextPingDelayUs(): number {
    return this.clock()?.nextPingDelayUs() ?? (this.opt.burstIntervalUs ?? 50_000);
  }

  stats(nowLocalUs?: number): ClockStats {
    const c = this.clock();
    if (!c) return { synced: false, offsetUs: 0, skewPpm: 0, uncertaintyUs: Infinity, rttUs: 0, rttMinUs: 0, jitterUs: 0, samples: 0 };
    const n = c.sampleCount();
    const now = nowLocalUs ?? (typeof performance !== 'undefined' ? performance.now() * 1000 : 0);
    return {
      synced: c.locked(),
      offsetUs: n ? c.offsetUs(now) : 0,
      skewPpm: c.skewPpm(),
      uncertaintyUs: c.uncertaintyUs(),
      rttUs: c.lastRttUs(),
      rttMinUs: c.minRttUs(),
      jitterUs: c.jitterUs(),
      samples: n,
    };
  }
}
