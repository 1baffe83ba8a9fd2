// AudioWorklet of the output-latency calibration (calibrate.ts): records the microphone with the
// graph frame of every render quantum, so a click scheduled at a context time and the moment it
// comes back through the microphone are on one clock. Posts batches of ~20 ms; stops on 'stop'.

declare const currentFrame: number;
declare function registerProcessor(name: string, ctor: unknown): void;
declare class AudioWorkletProcessor {
  readonly port: MessagePort;
  constructor(options?: unknown);
}

export type RecordedBlock = { frame: number; data: Float32Array<ArrayBuffer> };

const BATCH = 8; // render quanta per message (8 × 128 frames ≈ 21 ms at 48 kHz)

class Recorder extends AudioWorkletProcessor {
  private stopped = false;
  private buf: Float32Array<ArrayBuffer> | null = null;
  private filled = 0;
  private startFrame = 0;

  constructor() {
    super();
    this.port.onmessage = () => { this.stopped = true; };
  }

  process(inputs: Float32Array[][]): boolean {
    if (this.stopped) return false;
    const ch = inputs[0]?.[0];
    const n = ch?.length ?? 128;
    if (!this.buf) { this.buf = new Float32Array(n * BATCH); this.filled = 0; this.startFrame = currentFrame; }
    if (ch) this.buf.set(ch, this.filled);  // an input with no channels yet is silence (zeros)
    this.filled += n;
    if (this.filled >= this.buf.length) {
      const msg: RecordedBlock = { frame: this.startFrame, data: this.buf };
      this.port.postMessage(msg, [this.buf.buffer]);
      this.buf = null;
    }
    return true;
  }
}

registerProcessor('downbeat-calibrate-recorder', Recorder);
