// Web Audio click output. Maps performance.now() (ms) ↔ AudioContext time (s) through
// getOutputTimestamp() — whose performanceTime is when a frame actually leaves the speaker, so the
// output latency is already in it — and falls back to currentTime + outputLatency where it is missing.

export type ClickHandle = { osc: OscillatorNode; gain: GainNode };

// The context's render buffer. 'interactive' gives Chromium's hardware buffer (512 frames, 10.7 ms
// on Linux/PulseAudio); a number asks for that many seconds, 0 = the smallest the device allows
// (128 frames here, baseLatency 2.7 ms). Talk playout and the talk path's capture share this
// context: 0 took ~15 ms off mouth-to-ear (bench/voice/REPORT.md). The click is scheduled ahead
// on the context clock, so a smaller buffer does not move it. `localStorage['downbeat.audio.latencyHint']`
// overrides it (a number of seconds or a category), for benchmarks.
export const DEFAULT_LATENCY_HINT: AudioContextLatencyCategory | number = 0;
export function latencyHint(): AudioContextLatencyCategory | number {
  let v: string | null = null;
  try { v = localStorage.getItem('downbeat.audio.latencyHint'); } catch { /* no storage */ }
  if (v === null || v.trim() === '') return DEFAULT_LATENCY_HINT;
  const n = Number(v);
  if (Number.isFinite(n) && n >= 0) return n;
  return v === 'balanced' || v === 'playback' || v === 'interactive' ? v : DEFAULT_LATENCY_HINT;
}

export class ClickAudio {
  ctx: AudioContext | null = null;
  private master: GainNode | null = null;
  private offsetMs: number | null = null; // perf ms at which context time 0 is heard
  private volume = 0.8;
  private duck = 1;        // click gain factor while an MD talks to me (1: not ducked)
  private clickOn = false;
  private contextListeners = new Set<(ctx: AudioContext) => void>();
  /** Talk playout shares this context (voice/): muting the click must not suspend it. */
  keepRunning = false;
  latencyMs = 0; // manual offset: positive = this device sounds late, so play earlier

  /** The click is on and audible. */
  get running(): boolean {
    return this.clickOn && this.contextRunning;
  }

  get contextRunning(): boolean {
    return !!this.ctx && this.ctx.state === 'running';
  }

  /** Calls `fn` with the context once it exists (at once if it does). */
  onContext(fn: (ctx: AudioContext) => void): () => void {
    this.contextListeners.add(fn);
    if (this.ctx) fn(this.ctx);
    return () => this.contextListeners.delete(fn);
  }

  /** Makes (and resumes) the one AudioContext of the page; call it inside a user gesture. */
  unlock(): AudioContext {
    if (!this.ctx) {
      const Ctor: typeof AudioContext = window.AudioContext ?? (window as unknown as { webkitAudioContext: typeof AudioContext }).webkitAudioContext;
      this.ctx = new Ctor({ latencyHint: latencyHint() });
      this.master = this.ctx.createGain();
      this.master.connect(this.ctx.destination);
      this.applyGain();
      // iOS unlocks audio only once something was played inside the gesture.
      const b = this.ctx.createBuffer(1, 1, this.ctx.sampleRate);
      const src = this.ctx.createBufferSource();
      src.buffer = b;
      src.connect(this.ctx.destination);
      src.start();
      for (const fn of this.contextListeners) fn(this.ctx);
    }
    if (this.ctx.state !== 'running') void this.ctx.resume().catch(() => { /* a later gesture retries */ });
    return this.ctx;
  }

  /** Must be called from a user gesture (tap) the first time. */
  async enable(): Promise<void> {
    const ctx = this.unlock();
    if (ctx.state !== 'running') await ctx.resume();
    this.clickOn = true;
    this.applyGain();
    this.offsetMs = null;
    this.refreshMapping();
  }

  async disable(): Promise<void> {
    this.clickOn = false;
    this.applyGain();
    if (!this.keepRunning && this.ctx && this.ctx.state === 'running') await this.ctx.suspend();
  }

  setVolume(v: number): void { this.volume = Math.max(0, Math.min(1, v)); this.applyGain(); }
  /** Lowers the click by `factor` (1: not ducked) while an MD talks to this device. */
  setDuck(factor: number): void {
    const f = Math.max(0, Math.min(1, factor));
    if (f !== this.duck) { this.duck = f; this.applyGain(); }
  }

  private applyGain(): void {
    if (!this.master || !this.ctx) return;
    const g = this.clickOn ? this.volume * this.duck : 0;
    this.master.gain.setTargetAtTime(g, this.ctx.currentTime, 0.03);
  }

  /** Re-reads the audio clock against performance.now(); call before scheduling. */
  refreshMapping(): void {
    const ctx = this.ctx;
    if (!ctx || ctx.state !== 'running') return;
    let sample: number | null = null;
    const ts = typeof ctx.getOutputTimestamp === 'function' ? ctx.getOutputTimestamp() : null;
    if (ts && ts.performanceTime && ts.contextTime && ts.performanceTime > 0 && ts.contextTime > 0) {
      sample = ts.performanceTime - ts.contextTime * 1000;
    } else {
      const out = (ctx.outputLatency || 0) + (ctx.baseLatency || 0);
      sample = performance.now() - ctx.currentTime * 1000 + out * 1000;
    }
    if (this.offsetMs === null || Math.abs(sample - this.offsetMs) > 20) this.offsetMs = sample; // start, or the device changed
    else this.offsetMs += (sample - this.offsetMs) * 0.05; // getOutputTimestamp jitters by a render quantum: smooth it
  }

  /** Context time (s) at which a sound is heard at performance time `perfMs`. */
  perfToCtx(perfMs: number): number | null {
    if (this.offsetMs === null) return null;
    return (perfMs - this.offsetMs - this.latencyMs) / 1000;
  }

  ctxToPerf(ctxTime: number): number | null {
    if (this.offsetMs === null) return null;
    return ctxTime * 1000 + this.offsetMs + this.latencyMs;
  }

  /** A short click at context time `at`; accent 2 high, 1 mid, sub-beat low and soft. */
  click(at: number, accent: number, sub: boolean, countIn: boolean): ClickHandle | null {
    const ctx = this.ctx;
    if (!ctx || !this.master || accent === 0) return null;
    if (at < ctx.currentTime + 0.002) return null; // too late: never play a click out of time
    const freq = sub ? 800 : accent === 2 ? (countIn ? 1760 : 1568) : 1046;
    const peak = sub ? 0.25 : accent === 2 ? 0.9 : 0.6;
    return scheduleClick(ctx, this.master, at, freq, peak);
  }

  cancel(h: ClickHandle): void {
    try { h.osc.stop(); } catch { /* already stopped */ }
    h.osc.disconnect();
    h.gain.disconnect();
  }
}

/** A square-wave click into `dest` at context time `at`: 1 ms attack to `peak`, decay over `decayS`. */
export function scheduleClick(ctx: BaseAudioContext, dest: AudioNode, at: number, freq: number, peak: number, decayS = 0.045): ClickHandle {
  const osc = ctx.createOscillator();
  const gain = ctx.createGain();
  osc.type = 'square';
  osc.frequency.value = freq;
  gain.gain.setValueAtTime(0, at);
  gain.gain.linearRampToValueAtTime(peak, at + 0.001);
  gain.gain.exponentialRampToValueAtTime(0.0001, at + decayS);
  osc.connect(gain).connect(dest);
  osc.start(at);
  osc.stop(at + decayS + 0.005);
  return { osc, gain };
}
