// AudioWorklet processors of the low-latency voice path (loaded once per AudioContext by dc-voice.ts).
//   downbeat-ll-capture: on the microphone; while sending, posts every 128-frame render quantum
//     with its graph frame to the main thread (fading in at the first, out at the last).
//   downbeat-ll-playout: one per talker; a JitterBuffer fed by the main thread, pulled once per
//     quantum; reports its stats every 100 ms.
// Nothing here allocates per quantum except the posted copy of a captured quantum.

import { JitterBuffer } from './jitter';

// The AudioWorkletGlobalScope, which TypeScript's DOM library does not describe.
declare const sampleRate: number;
declare const currentFrame: number;
declare function registerProcessor(name: string, ctor: unknown): void;
declare class AudioWorkletProcessor {
  readonly port: MessagePort;
  constructor(options?: unknown);
}

export type CaptureMsg = { frame: number; data: Float32Array<ArrayBuffer>; first: boolean; last: boolean };
export type PlayoutIn =
  | { t: 'frames'; pos: number; rate: number; talk: number; data: Float32Array }
  | { t: 'port'; port: MessagePort } // more of the same messages arrive on this port (from the Worker)
  | { t: 'end'; talk: number }
  | { t: 'close' };
export type PlayoutStats = {
  t: 'stats';
  bufferMs: number; targetMs: number; jitterMs: number; underruns: number; late: number; concealed: number; played: number; skips: number; talks: number;
  outRate: number;
  // graph time of playout − stream position as time: the path's latency when sender and receiver share
  // one AudioContext (the test harness); otherwise it includes the clock offset between the two devices.
  latMin: number; latMax: number; latSum: number; latN: number;
};

class Capture extends AudioWorkletProcessor {
  private sending = false;
  private stopping = false;
  private fresh = false;
  private restart = false; // a new talk was asked for while the last one is still fading out
  private out: MessagePort | null = null; // the Worker's port: quanta go there instead of the main thread

  constructor() {
    super();
    // Every send:true starts a talk (its first quantum flagged `first`) and every send:false ends
    // one (`last`), in order, even when both come within one quantum: the main thread counts on it.
    this.port.onmessage = (e: MessageEvent<{ send?: boolean; port?: MessagePort }>) => {
      if (e.data.port) { this.out = e.data.port; return; }
      if (e.data.send) {
        if (!this.sending) { this.sending = true; this.fresh = true; }
        else if (this.stopping) this.restart = true;
      } else if (this.sending) {
        if (this.restart) this.restart = false;
        else if (this.fresh) { this.sending = false; this.fresh = false; (this.out ?? this.port).postMessage({ frame: currentFrame, data: new Float32Array(0), first: true, last: true } satisfies CaptureMsg); }
        else this.stopping = true;
      }
    };
  }

  process(inputs: Float32Array[][]): boolean {
    if (!this.sending) return true;
    const ch = inputs[0]?.[0];
    const data = new Float32Array(128);
    if (ch) data.set(ch.subarray(0, 128));
    const n = data.length;
    if (this.fresh) for (let i = 0; i < n; i++) data[i] *= i / n;
    else if (this.stopping) for (let i = 0; i < n; i++) data[i] *= 1 - (i + 1) / n;
    const msg: CaptureMsg = { frame: currentFrame, data, first: this.fresh, last: this.stopping };
    (this.out ?? this.port).postMessage(msg, [data.buffer]);
    this.fresh = false;
    if (this.stopping) {
      this.stopping = false;
      this.sending = this.restart;
      this.fresh = this.restart;
      this.restart = false;
    }
    return true;
  }
}

class Playout extends AudioWorkletProcessor {
  private readonly jb: JitterBuffer;
  private closed = false;
  private untilReport = 0;
  private latMin = Infinity;
  private latMax = -Infinity;
  private latSum = 0;
  private latN = 0;

  constructor(options: { processorOptions?: { targetMs?: number; maxTargetMs?: number } }) {
    super();
    const o = options.processorOptions ?? {};
    this.jb = new JitterBuffer({ outRate: sampleRate, targetMs: o.targetMs ?? 5, maxTargetMs: o.maxTargetMs ?? 40 });
    const on = (e: MessageEvent<PlayoutIn>) => {
      const m = e.data;
      if (m.t === 'frames') this.jb.push(m.pos, m.data, m.rate, m.talk);
      else if (m.t === 'end') this.jb.end(m.talk);
      else if (m.t === 'port') m.port.onmessage = on;
      else this.closed = true;
    };
    this.port.onmessage = on;
  }

  process(_inputs: Float32Array[][], outputs: Float32Array[][]): boolean {
    if (this.closed) return false;
    const out = outputs[0];
    const playing = this.jb.playing;
    const pos = this.jb.position;
    const rate = this.jb.streamRate;
    this.jb.pull(out[0]);
    for (let c = 1; c < out.length; c++) out[c].set(out[0]);
    if (playing && this.jb.playing) {
      const lat = (currentFrame / sampleRate - pos / rate) * 1000;
      if (lat < this.latMin) this.latMin = lat;
      if (lat > this.latMax) this.latMax = lat;
      this.latSum += lat;
      this.latN++;
    }
    this.untilReport -= out[0].length;
    if (this.untilReport <= 0) {
      this.untilReport = sampleRate / 10;
      const s = this.jb.stats;
      const msg: PlayoutStats = {
        t: 'stats', bufferMs: s.bufferMs, targetMs: s.targetMs, jitterMs: s.jitterMs, underruns: s.underruns, late: s.late, concealed: s.concealed,
        played: s.played, skips: s.skips, talks: s.talks, outRate: sampleRate,
        latMin: this.latMin, latMax: this.latMax, latSum: this.latSum, latN: this.latN,
      };
      this.port.postMessage(msg);
      this.latMin = Infinity; this.latMax = -Infinity; this.latSum = 0; this.latN = 0;
    }
    return true;
  }
}

registerProcessor('downbeat-ll-capture', Capture);
registerProcessor('downbeat-ll-playout', Playout);
