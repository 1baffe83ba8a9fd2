// Clock sync estimator (DESIGN.md §5): server clock from time.ping / time.pong samples.
// Plain code: time comes in as numbers (µs), so tests can simulate offset, skew, jitter and loss.

/** One ping round trip: t0/t3 local send/receive, t1/t2 server receive/send (all µs). */
export type ClockSample = { t0: number; t1: number; t2: number; t3: number };

export type ClockStats = {
  synced: boolean;
  offsetUs: number;      // server − local at the newest sample
  skewPpm: number;
  uncertaintyUs: number; // δ_min / 2 of the window
  rttUs: number;         // newest round trip
  rttMinUs: number;
  jitterUs: number;      // mean |Δδ| between consecutive samples (RFC 3550 style)
  samples: number;
};

type Point = { x: number; theta: number; delta: number };

export type ClockOptions = {
  window?: number;        // samples kept
  maxAgeUs?: number;      // samples older than this (relative to the newest) are dropped
  maxSkewPpm?: number;    // clamp for the fitted skew (quartz is within ±100 ppm)
  noiseFloorUs?: number;  // weight = 1 / (δ − δ_min + floor)²
  stepUs?: number;        // a residual beyond this on consecutive good samples means the server clock stepped
};

export class ClockSync {
  private points: Point[] = [];
  private a = 0;          // offset at xRef
  private b = 0;          // skew (dimensionless)
  private xRef = 0;
  private fitted = false;
  private strikes = 0;
  private lastDelta = 0;
  private jitter = 0;
  private readonly opt: Required<ClockOptions>;

  constructor(opt: ClockOptions = {}) {
    this.opt = {
      window: opt.window ?? 128,
      maxAgeUs: opt.maxAgeUs ?? 120e6,
      maxSkewPpm: opt.maxSkewPpm ?? 300,
      noiseFloorUs: opt.noiseFloorUs ?? 250,
      stepUs: opt.stepUs ?? 25_000,
    };
  }

  reset(): void {
    this.points = [];
    this.fitted = false;
    this.a = this.b = this.xRef = 0;
    this.strikes = 0;
    this.jitter = 0;
  }

  /** Adds a sample; returns false when it was rejected as an outlier. */
  addSample(s: ClockSample): boolean {
    const theta = ((s.t1 - s.t0) + (s.t2 - s.t3)) / 2;
    const delta = Math.max(0, (s.t3 - s.t0) - (s.t2 - s.t1));
    if (!(s.t3 >= s.t0) || !Number.isFinite(theta)) return false;
    const x = (s.t0 + s.t3) / 2;
    if (this.points.length > 0) this.jitter += (Math.abs(delta - this.lastDelta) - this.jitter) / 16;
    this.lastDelta = delta;

    if (this.fitted) {
      const residual = Math.abs(theta - this.offsetAt(x));
      const dMin = this.minDelta();
      // A sample that is tight (small δ) yet far off the fit means the server clock jumped.
      if (residual > Math.max(this.opt.stepUs, delta) && delta <= 2 * dMin + 5_000) {
        this.strikes++;
        if (this.strikes < 3) return false;
        this.reset();
      } else if (residual > Math.max(this.opt.stepUs, delta)) {
        return false;
      } else {
        this.strikes = 0;
      }
    }
    this.points.push({ x, theta, delta });
    const newest = x;
    while (this.points.length > this.opt.window || newest - this.points[0].x > this.opt.maxAgeUs) this.points.shift();
    this.fit();
    return true;
  }

  private minDelta(): number {
    let m = Infinity;
    for (const p of this.points) m = Math.min(m, p.delta);
    return m;
  }

  private fit(): void {
    const pts = this.points;
    if (pts.length === 0) { this.fitted = false; return; }
    const dMin = this.minDelta();
    const floor = this.opt.noiseFloorUs;
    let W = 0, mx = 0, my = 0;
    const w = pts.map((p) => { const e = p.delta - dMin + floor; return (floor * floor) / (e * e); });
    const xr = pts[pts.length - 1].x;
    for (let i = 0; i < pts.length; i++) { W += w[i]; mx += w[i] * (pts[i].x - xr); my += w[i] * pts[i].theta; }
    mx /= W; my /= W;
    let sxy = 0, sxx = 0;
    for (let i = 0; i < pts.length; i++) {
      const dx = pts[i].x - xr - mx;
      sxy += w[i] * dx * (pts[i].theta - my);
      sxx += w[i] * dx * dx;
    }
    // Ridge prior toward zero skew: σ_θ ≈ 500 µs, σ_skew ≈ 100 ppm. Short windows (the connect burst) give ~0 skew.
    const lambda = (500 * 500) / (100e-6 * 100e-6);
    let b = sxy / (sxx + lambda);
    const lim = this.opt.maxSkewPpm * 1e-6;
    b = Math.max(-lim, Math.min(lim, b));
    this.b = b;
    this.xRef = xr;
    this.a = my + b * (0 - mx); // offset at xr
    this.fitted = true;
  }

  get synced(): boolean { return this.fitted; }

  /** server − local (µs) at local time `localUs`. */
  offsetAt(localUs: number): number {
    return this.a + this.b * (localUs - this.xRef);
  }

  toServer(localUs: number): number {
    return localUs + this.offsetAt(localUs);
  }

  toLocal(serverUs: number): number {
    return (serverUs - this.a + this.b * this.xRef) / (1 + this.b);
  }

  stats(): ClockStats {
    const n = this.points.length;
    return {
      synced: this.fitted,
      offsetUs: this.fitted ? this.a : 0,
      skewPpm: this.b * 1e6,
      uncertaintyUs: n ? this.minDelta() / 2 : Infinity,
      rttUs: this.lastDelta,
      rttMinUs: n ? this.minDelta() : 0,
      jitterUs: this.jitter,
      samples: n,
    };
  }
}
