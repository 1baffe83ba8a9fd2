// Adaptive jitter buffer of the low-latency voice path, one per talker. Pure: no Web Audio, no
// clock of its own — the playout worklet pushes decoded samples and pulls one render quantum at
// a time, tests drive it directly.
//
// Samples sit in a ring indexed by stream position (the sender's sample frames, unwrapped).
// The read position advances by (stream rate / output rate) per output frame, with linear
// interpolation, so a 48 kHz Opus stream plays on a 44.1 kHz context and the latency can be
// steered by playing 1 % fast or slow.
//   - The buffer's clock is the number of output frames pulled. Each packet's arrival offset
//     (clock − its stream position, ms; the two devices' clock offset cancels out) is compared
//     with the smallest offset of the talk; the `quantile` of that excess, over a histogram that
//     forgets with a time constant of `forgetMs`, is the jitter. On a quiet LAN it is mostly the
//     audio callback period, since both ends render several quanta per callback; a rare stall
//     (a busy main thread) does not raise it, its packets are concealed instead.
//   - target = targetMs (margin) + jitter + boost. A talk starts playing `target` behind its
//     first packet; then the latency is steered toward (smallest offset + target): 1 % fast or
//     slow within `skipMs` of it, a jump (cross-faded) when more than `skipMs` too late.
//   - A missing sample that a later packet has already passed is lost: concealed (the last few
//     ms played back and forth, fading out), and the read position moves on.
//   - No data at all ahead of the read position is an underrun: the read position stops (the
//     output fades out) for up to `holdMs`, then runs on as if the audio were lost; playing
//     resumes when `target` is buffered again or data reaches the read position; `boost` grows by `growMs` — unless
//     the next data comes from beyond a hole: then it was a loss, and the held time is caught
//     up (a lost newest packet costs concealment, not latency). Without
//     underruns it shrinks by `decayMs` every `decayEveryMs`. After `idleMs` of nothing the talk
//     is over (silence); after the talk's end marker, running out of data ends it at once.
//   - A packet whose samples are all behind the read position is late and dropped.
//   - Coming back from concealment or silence cross-fades over ~1.3 ms: no clicks.

export type JitterConfig = {
  outRate: number;
  targetMs: number; // margin on top of the measured jitter
  maxTargetMs?: number;
  quantile?: number;
  forgetMs?: number;
  growMs?: number;
  decayMs?: number;
  decayEveryMs?: number;
  skipMs?: number;
  holdMs?: number;
  idleMs?: number;
  ringFrames?: number; // power of two
};

export type JitterStats = {
  bufferMs: number; // buffered ahead of the read position now
  targetMs: number;
  jitterMs: number; // the `quantile` of arrival offsets above the talk's smallest
  underruns: number;
  late: number; // packets dropped for arriving after their playout time
  concealed: number; // output frames produced by concealment (loss and underruns)
  played: number; // output frames produced while a talk was playing
  skips: number; // jumps ahead after a stall
  talks: number;
};

const IDLE = 0;
const PLAYING = 1;
const STARVED = 2;
const HISTORY = 256;
const XFADE = 64;
const NUDGE = 0.01; // playout speed change while steering the latency (1 % ≈ 1/6 semitone)
const BUCKET_MS = 0.5;
const STEER_AFTER_MS = 300; // a talk's smallest arrival offset needs a few callbacks to show

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
  private ended = false; // the talk's end marker came
  private boost = 0; // ms added after underruns
  private sinceUnderrun = 0; // output frames
  private starvedFor = 0; // output frames since the underrun
  private heldFor = 0; // of which the read position stood still
  private clock = 0; // output frames pulled so far
  private talkClock = 0; // clock at the start of the talk
  private base = Infinity; // smallest arrival offset of the talk, ms
  private readonly hist: Float32Array; // weights of arrival offsets above `base`, BUCKET_MS each
  private jitter = 0; // ms
  private arrivalClock = -1;
  private arrivalRun = 0;
  // concealment: the last output samples, replayed back and forth with a falling gain
  private readonly past = new Float32Array(HISTORY);
  private pastPos = 0;
  private pastFill = 0;
  private concealing = false;
  private cIdx = 0;
  private cDir = -1;
  private cGain = 0;
  private readonly cDecay: number;
  private xfade = 0; // frames left in a cross-fade from concealment to real samples
  readonly stats: JitterStats = { bufferMs: 0, targetMs: 0, jitterMs: 0, underruns: 0, late: 0, concealed: 0, played: 0, skips: 0, talks: 0 };

  constructor(cfg: JitterConfig) {
    this.cfg = {
      maxTargetMs: 40, quantile: 0.95, forgetMs: 2000, growMs: 1, decayMs: 0.5, decayEveryMs: 500, skipMs: 15, holdMs: 10, idleMs: 120,
      ringFrames: 16384, ...cfg,
    };
    this.ring = new Float32Array(this.cfg.ringFrames);
    this.have = new Uint8Array(this.cfg.ringFrames);
    this.mask = this.cfg.ringFrames - 1;
    this.hist = new Float32Array(Math.ceil(this.cfg.maxTargetMs / BUCKET_MS) + 1);
    this.stats.targetMs = this.target_ms();
    this.cDecay = Math.exp(-1 / (cfg.outRate * 0.004));
  }

  get playing(): boolean { return this.state !== IDLE; }
  /** Stream position (frames of `streamRate`) played at the start of the next pull. */
  get position(): number { return this.readPos; }
  get streamRate(): number { return this.rate; }

  /** The sender ended the talk: play what is buffered, then go silent. */
  end(talk: number): void {
    if (this.state !== IDLE && talk === this.talk) this.ended = true;
  }

  push(pos: number, samples: ArrayLike<number>, rate: number, talk: number, last = false): void {
    const n = samples.length;
    const end = pos + n;
    const same = talk === this.talk && rate === this.rate;
    if (this.state !== IDLE && same) {
      this.note_arrival(pos, n);
      if (end <= this.readPos) { this.stats.late++; return; }
      if (pos - this.readPos > this.cfg.ringFrames / 2) this.begin(pos, rate, talk); // the sender's clock jumped
    } else if (this.state === IDLE && same && end <= this.endPos) {
      this.stats.late++; // a straggler of the talk that just ended
      return;
    } else {
      this.begin(pos, rate, talk);
      this.note_arrival(pos, n);
    }
    if (pos < this.readPos) this.stats.late++;
    const from = Math.max(0, Math.floor(this.readPos) - pos);
    for (let i = from; i < n; i++) {
      const k = (pos + i) & this.mask;
      this.ring[k] = samples[i];
      this.have[k] = 1;
    }
    if (end > this.endPos) this.endPos = end;
    if (last) this.ended = true;
  }

  pull(out: Float32Array): void {
    this.fill(out);
    this.tick(out.length);
  }

  private fill(out: Float32Array): void {
    const n = out.length;
    if (this.state === IDLE) { out.fill(0); this.stats.bufferMs = 0; return; }
    const targetFrames = (this.target_ms() / 1000) * this.rate;
    if (this.state === STARVED) {
      const k = Math.floor(this.readPos);
      if (this.endPos > k + 1 && !this.have[k & this.mask]) {
        // Data came from beyond the hole: the packet we waited for was lost, not late. Not an
        // underrun after all; catch up the time we held (concealed) and carry on.
        this.stats.underruns--;
        this.boost = Math.max(0, this.boost - this.cfg.growMs);
        let first = k;
        while (first < this.endPos && !this.have[first & this.mask]) first++;
        this.readPos = Math.min(first, this.readPos + this.heldFor * (this.rate / this.cfg.outRate));
        this.state = PLAYING;
      } else if (this.heldFor < this.starvedFor && this.have[k & this.mask]) {
        // after a long stall the read position ran on and data caught up with it: give back the
        // time held at first too, as far as the buffer allows
        const back = this.readPos + this.heldFor * (this.rate / this.cfg.outRate);
        this.readPos = Math.max(this.readPos, Math.min(back, this.endPos - targetFrames));
        this.state = PLAYING;
      } else if (this.endPos - this.readPos >= targetFrames) {
        this.state = PLAYING;
      } else if (this.starvedFor >= (this.cfg.idleMs / 1000) * this.cfg.outRate) {
        this.stop();
        out.fill(0);
        return;
      }
    }
    const step = (this.rate / this.cfg.outRate) * (1 + this.steer());
    let over = false;
    for (let i = 0; i < n; i++) {
      if (over) { out[i] = 0; continue; }
      if (this.state === STARVED) {
        out[i] = this.conceal();
        this.starvedFor++;
        // hold the read position for short gaps (their audio comes late, not never); after
        // `holdMs` run on as if lost, so a long stall costs its length in concealment, not latency
        if (this.heldFor < (this.cfg.holdMs / 1000) * this.cfg.outRate) this.heldFor++;
        else this.readPos += step;
        this.stats.concealed++;
        this.stats.played++;
        continue;
      }
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
      } else if (this.ended && k >= this.endPos) {
        out[i] = 0; // the talk ended (its sender faded it out)
        over = true;
      } else if (k >= this.endPos) {
        this.state = STARVED;
        this.starvedFor = 0;
        this.heldFor = 0;
        this.stats.underruns++;
        this.boost = Math.min(this.cfg.maxTargetMs, this.boost + this.cfg.growMs);
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
    if (over) this.stop();
    else this.stats.bufferMs = Math.max(0, this.endPos - this.readPos) / this.rate * 1000;
  }

  private note_arrival(pos: number, n: number): void {
    const offset = (this.clock / this.cfg.outRate - pos / this.rate) * 1000;
    const nb = this.hist.length;
    // A faster packet than any before lowers the base; the excesses noted so far are not moved up
    // (only the first callbacks of a talk do this, and the histogram also holds earlier talks).
    if (offset < this.base) this.base = offset;
    const forget = Math.exp(-(n / this.rate) * 1000 / this.cfg.forgetMs);
    let total = 0;
    for (let i = 0; i < nb; i++) { this.hist[i] *= forget; total += this.hist[i]; }
    // Packets that arrive together (same clock: between the same two render quanta) weigh 1, ½,
    // ⅓, …: a stall's backlog counts about once, not once per packet, so one busy moment of the
    // main thread does not raise the target for seconds (its cost is concealment instead).
    if (this.clock === this.arrivalClock) this.arrivalRun++;
    else { this.arrivalClock = this.clock; this.arrivalRun = 1; }
    const w = (1 - forget) / this.arrivalRun;
    const b = Math.min(nb - 1, Math.round((offset - this.base) / BUCKET_MS));
    this.hist[b] += w;
    total += w;
    let acc = 0;
    let q = 0;
    for (; q < nb; q++) { acc += this.hist[q]; if (acc >= this.cfg.quantile * total) break; }
    this.jitter = Math.min(this.cfg.maxTargetMs, q * BUCKET_MS);
  }

  /** Call after every pull, also while idle: the buffer's clock and its slow adaptation. */
  private tick(n: number): void {
    this.clock += n;
    this.sinceUnderrun += n;
    if (this.sinceUnderrun >= (this.cfg.decayEveryMs / 1000) * this.cfg.outRate) {
      this.sinceUnderrun = 0;
      this.boost = Math.max(0, this.boost - this.cfg.decayMs);
    }
    this.stats.targetMs = this.target_ms();
    this.stats.jitterMs = this.jitter;
  }

  private target_ms(): number {
    return Math.min(this.cfg.maxTargetMs, this.cfg.targetMs + this.jitter + this.boost);
  }

  /** Speed offset for this pull (latency = clock − read position against base + target); may jump. */
  private steer(): number {
    if (this.state !== PLAYING || this.base === Infinity) return 0;
    if (this.clock - this.talkClock < (STEER_AFTER_MS / 1000) * this.cfg.outRate) return 0;
    const latency = (this.clock / this.cfg.outRate - this.readPos / this.rate) * 1000;
    const want = this.base + this.target_ms();
    const excess = latency - want;
    if (excess > this.cfg.skipMs) {
      this.readPos += (excess / 1000) * this.rate;
      this.stats.skips++;
      this.concealing = false;
      this.conceal(); // cross-fade from where the output was
      return 0;
    }
    if (excess > 1) return NUDGE;
    if (excess < -1) return -NUDGE;
    return 0;
  }

  private begin(pos: number, rate: number, talk: number): void {
    this.have.fill(0);
    this.talk = talk;
    this.rate = rate;
    this.start = pos;
    this.endPos = pos;
    this.ended = false;
    this.readPos = pos - (this.target_ms() / 1000) * rate;
    this.clearedTo = Math.floor(this.readPos);
    this.talkClock = this.clock;
    this.base = Infinity; // offsets compare within a talk (the sender may have restarted its clock); the histogram stays
    this.state = PLAYING;
    this.pastFill = 0;
    this.cGain = 0;
    this.concealing = true; // start from silence, cross-fade in
    this.xfade = 0;
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
    this.past[this.pastPos] = v;
    this.pastPos = (this.pastPos + 1) % HISTORY;
    if (this.pastFill < HISTORY) this.pastFill++;
  }

  /** Concealment after real samples: an unfinished cross-fade is dropped, concealment restarts at the newest sample. */
  private conceal_fresh(): number {
    if (this.xfade > 0) { this.xfade = 0; this.concealing = false; }
    return this.conceal();
  }

  /** Next concealment sample: the recent output played backwards from its newest sample, then forwards, … */
  private conceal(): number {
    if (!this.concealing) {
      this.concealing = true;
      this.cIdx = this.pastFill - 1;
      this.cDir = -1;
      this.cGain = this.pastFill > 0 ? 1 : 0;
    }
    if (this.pastFill === 0 || this.cGain < 1e-4) return 0;
    const v = this.past[(this.pastPos - this.pastFill + this.cIdx + HISTORY) % HISTORY] * this.cGain;
    this.cGain *= this.cDecay;
    this.cIdx += this.cDir;
    if (this.cIdx < 0 || this.cIdx >= this.pastFill) { this.cDir = -this.cDir; this.cIdx += 2 * this.cDir; }
    return v;
  }
}
