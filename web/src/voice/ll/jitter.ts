// Adaptive jitter buffer of the low-latency voice path, one per talker. Pure: no Web Audio, no
// clock of its own — the playout worklet pushes decoded samples and pulls one render quantum at
// a time, tests drive it directly.
//
// Samples sit in a ring indexed by stream position (the sender's sample frames, unwrapped).
// The read position advances by (stream rate / output rate) per output frame, with linear
// interpolation, so a 48 kHz Opus stream plays on a 44.1 kHz context and a slight speed-up
// drains excess buffer.
//   - A talk starts playing `target` behind its first packet.
//   - A missing sample that a later packet has already passed is lost: concealed (the last few
//     ms played back and forth, fading out), and the read position moves on.
//   - No data at all ahead of the read position is an underrun: the read position stops (the
//     output fades out) until `target` is buffered again, and the target grows by `growMs`.
//     After `idleMs` of nothing the talk is over and the buffer goes idle (silence).
//   - Without underruns the target shrinks back by `decayMs` every `decayEveryMs`; when even the
//     smallest depth over the last window exceeded the target, playout runs 1 % fast until it is back.
//   - A packet whose samples are all behind the read position is late and dropped.
//   - Coming back from concealment or silence cross-fades over ~1.3 ms: no clicks.

export type JitterConfig = {
  outRate: number;
  targetMs: number;
  maxTargetMs?: number;
  growMs?: number;
  decayMs?: number;
  decayEveryMs?: number;
  idleMs?: number;
  windowMs?: number;
  ringFrames?: number; // power of two
};

export type JitterStats = {
  bufferMs: number; // buffered ahead of the read position now
  targetMs: number;
  underruns: number;
  late: number; // packets dropped for arriving after their playout time
  concealed: number; // output frames produced by concealment (loss and underruns)
  played: number; // output frames produced while a talk was playing
  talks: number;
};

const IDLE = 0;
const PLAYING = 1;
const STARVED = 2;
const HISTORY = 256;
const XFADE = 64;
const SPEEDUP = 1.01;

export class JitterBuffer {
  private readonly cfg: Required<JitterConfig>;
  private readonly ring: Float32Array;
  private readonly have: Uint8Array;
  private readonly mask: number;
  private state = IDLE;
  private talk = -1;
  private rate = 48000;
  private readPos = 0;
  private clearedTo = 0; // every slot below this stream position is cleared
  private start = 0; // stream position of the talk's first packet
  private endPos = 0; // end of the furthest packet received
  private lastEnd = Infinity; // end of the talk's last packet, once it came
  private target: number; // ms
  private sinceUnderrun = 0; // output frames
  private starvedFor = 0; // output frames
  private windowLeft = 0;
  private windowMin = Infinity;
  private prevWindowMin = 0;
  // concealment: the last output samples, replayed back and forth with a falling gain
  private readonly hist = new Float32Array(HISTORY);
  private histPos = 0;
  private histFill = 0;
  private concealing = false;
  private cIdx = 0;
  private cDir = -1;
  private cGain = 0;
  private readonly cDecay: number;
  private xfade = 0; // frames left in a cross-fade from concealment to real samples
  readonly stats: JitterStats = { bufferMs: 0, targetMs: 0, underruns: 0, late: 0, concealed: 0, played: 0, talks: 0 };

  constructor(cfg: JitterConfig) {
    this.cfg = {
      maxTargetMs: 40, growMs: 2, decayMs: 0.5, decayEveryMs: 2000, idleMs: 120, windowMs: 500, ringFrames: 16384,
      ...cfg,
    };
    this.ring = new Float32Array(this.cfg.ringFrames);
    this.have = new Uint8Array(this.cfg.ringFrames);
    this.mask = this.cfg.ringFrames - 1;
    this.target = cfg.targetMs;
    this.stats.targetMs = this.target;
    this.cDecay = Math.exp(-1 / (cfg.outRate * 0.004));
  }

  get playing(): boolean { return this.state !== IDLE; }
  /** Stream position (frames of `streamRate`) played at the start of the next pull. */
  get position(): number { return this.readPos; }
  get streamRate(): number { return this.rate; }

  push(pos: number, samples: ArrayLike<number>, rate: number, talk: number, last = false): void {
    const n = samples.length;
    const end = pos + n;
    const same = talk === this.talk && rate === this.rate;
    if (this.state !== IDLE && same) {
      if (end <= this.readPos) { this.stats.late++; return; }
      if (pos - this.readPos > this.cfg.ringFrames / 2) this.begin(pos, rate, talk); // the sender's clock jumped
    } else if (this.state === IDLE && same && end <= this.endPos) {
      this.stats.late++; // a straggler of the talk that just ended
      return;
    } else {
      this.begin(pos, rate, talk);
    }
    if (pos < this.readPos) this.stats.late++;
    const from = Math.max(0, Math.floor(this.readPos) - pos);
    for (let i = from; i < n; i++) {
      const k = (pos + i) & this.mask;
      this.ring[k] = samples[i];
      this.have[k] = 1;
    }
    if (end > this.endPos) this.endPos = end;
    if (last) this.lastEnd = end;
  }

  pull(out: Float32Array): void {
    const n = out.length;
    if (this.state === IDLE) { out.fill(0); this.stats.bufferMs = 0; return; }
    const targetFrames = (this.target / 1000) * this.rate;
    if (this.state === STARVED) {
      if (this.endPos - this.readPos >= targetFrames) {
        this.state = PLAYING;
      } else {
        this.starvedFor += n;
        if (this.starvedFor >= (this.cfg.idleMs / 1000) * this.cfg.outRate) { this.stop(); out.fill(0); return; }
      }
    }
    const speed = this.prevWindowMin > targetFrames + this.hysteresis() && this.endPos - this.readPos > targetFrames ? SPEEDUP : 1;
    const step = (this.rate / this.cfg.outRate) * speed;
    let over = false;
    for (let i = 0; i < n; i++) {
      if (over) { out[i] = 0; continue; }
      if (this.state === STARVED) { out[i] = this.conceal(); this.stats.concealed++; this.stats.played++; continue; }
      const p = this.readPos;
      const k = Math.floor(p);
      if (k < this.start) { out[i] = 0; this.readPos += step; continue; }
      if (this.have[k & this.mask]) {
        const a = this.ring[k & this.mask];
        const b = this.have[(k + 1) & this.mask] ? this.ring[(k + 1) & this.mask] : a;
        let v = a + (p - k) * (b - a);
        if (this.concealing) {
          if (this.xfade === 0) this.xfade = XFADE;
          const r = 1 - this.xfade / XFADE;
          v = v * r + this.conceal() * (1 - r);
          if (--this.xfade === 0) this.concealing = false;
        }
        out[i] = v;
        this.remember(v);
        this.readPos += step;
        this.stats.played++;
      } else if (k >= this.lastEnd) {
        out[i] = 0; // the talk ended (its sender faded it out)
        over = true;
      } else if (k >= this.endPos) {
        this.state = STARVED;
        this.starvedFor = 0;
        this.stats.underruns++;
        this.target = Math.min(this.cfg.maxTargetMs, this.target + this.cfg.growMs);
        this.sinceUnderrun = 0;
        out[i] = this.conceal_fresh();
        this.stats.concealed++;
        this.stats.played++;
      } else {
        out[i] = this.conceal_fresh();
        this.stats.concealed++;
        this.stats.played++;
        this.readPos += step;
      }
    }
    this.clear_behind();
    if (over) { this.stop(); return; }
    this.adapt(n);
    this.stats.bufferMs = Math.max(0, this.endPos - this.readPos) / this.rate * 1000;
    this.stats.targetMs = this.target;
  }

  private hysteresis(): number { return Math.max(0.001 * this.rate, (this.target / 1000) * this.rate * 0.25); }

  private adapt(n: number): void {
    if (this.state === PLAYING) this.windowMin = Math.min(this.windowMin, this.endPos - this.readPos);
    this.windowLeft -= n;
    if (this.windowLeft <= 0) {
      this.prevWindowMin = this.windowMin === Infinity ? 0 : this.windowMin;
      this.windowMin = Infinity;
      this.windowLeft = (this.cfg.windowMs / 1000) * this.cfg.outRate;
    }
    this.sinceUnderrun += n;
    if (this.sinceUnderrun >= (this.cfg.decayEveryMs / 1000) * this.cfg.outRate) {
      this.sinceUnderrun = 0;
      this.target = Math.max(this.cfg.targetMs, this.target - this.cfg.decayMs);
    }
  }

  private begin(pos: number, rate: number, talk: number): void {
    this.have.fill(0);
    this.talk = talk;
    this.rate = rate;
    this.start = pos;
    this.endPos = pos;
    this.lastEnd = Infinity;
    this.readPos = pos - (this.target / 1000) * rate;
    this.clearedTo = Math.floor(this.readPos);
    this.state = PLAYING;
    this.windowMin = Infinity;
    this.prevWindowMin = 0;
    this.windowLeft = (this.cfg.windowMs / 1000) * this.cfg.outRate;
    this.histFill = 0;
    this.cGain = 0;
    this.concealing = true; // start from silence, cross-fade in
    this.stats.talks++;
  }

  private stop(): void {
    this.state = IDLE;
    this.concealing = false;
    this.xfade = 0;
    this.stats.bufferMs = 0;
  }

  private clear_behind(): void {
    const upto = Math.floor(this.readPos);
    if (upto - this.clearedTo > this.cfg.ringFrames) this.clearedTo = upto - this.cfg.ringFrames;
    for (let k = this.clearedTo; k < upto; k++) this.have[k & this.mask] = 0;
    if (upto > this.clearedTo) this.clearedTo = upto;
  }

  private remember(v: number): void {
    this.hist[this.histPos] = v;
    this.histPos = (this.histPos + 1) % HISTORY;
    if (this.histFill < HISTORY) this.histFill++;
  }

  /** Concealment after real samples: an unfinished cross-fade is dropped, concealment restarts at the newest sample. */
  private conceal_fresh(): number {
    if (this.xfade > 0) { this.xfade = 0; this.concealing = false; }
    return this.conceal();
  }

  /** Next concealment sample: the history played backwards from its newest sample, then forwards, … */
  private conceal(): number {
    if (!this.concealing) {
      this.concealing = true;
      this.cIdx = this.histFill - 1;
      this.cDir = -1;
      this.cGain = this.histFill > 0 ? 1 : 0;
    }
    if (this.histFill === 0 || this.cGain < 1e-4) return 0;
    const v = this.hist[(this.histPos - this.histFill + this.cIdx + HISTORY) % HISTORY] * this.cGain;
    this.cGain *= this.cDecay;
    this.cIdx += this.cDir;
    if (this.cIdx < 0 || this.cIdx >= this.histFill) { this.cDir = -this.cDir; this.cIdx += 2 * this.cDir; }
    return v;
  }
}
