// A MediaStream into Web Audio that does not grow late. Chromium's MediaStreamAudioSourceNode
// buffers between the track's 10 ms chunks and the graph's render quanta, and every scheduling
// hiccup on either side leaves that buffer fuller for good: on the benchmark rig the rig's own
// floor (mic → destination) starts at ~35 ms and creeps up to ~150 ms within half a minute, and a
// fresh node starts again from the bottom (bench/voice/REPORT.md, "floor … fresh source").
// So the node is replaced every `refreshMs`, the new one cross-faded in over `fadeS` (the two
// carry the same audio; the fade covers the jump by what the old one had gathered).
export type LiveSourceOptions = { refreshMs?: number; fadeS?: number };

export const REFRESH_MS = 1000;

/** `localStorage['downbeat.voice.sourceRefreshMs']` (0 = never) overrides REFRESH_MS, for benchmarks. */
export function refreshMs(): number {
  try {
    const v = globalThis.localStorage?.getItem('downbeat.voice.sourceRefreshMs');
    const n = v === null || v === undefined || v.trim() === '' ? NaN : Number(v);
    return Number.isFinite(n) && n >= 0 ? n : REFRESH_MS;
  } catch {
    return REFRESH_MS;
  }
}

export class LiveSource {
  /** Connect this to where the stream's audio should go. */
  readonly out: GainNode;
  private cur: { node: MediaStreamAudioSourceNode; gain: GainNode } | null = null;
  private timer: ReturnType<typeof setInterval> | null = null;
  private readonly fadeS: number;
  private closed = false;
  refreshes = 0;

  constructor(private readonly ctx: AudioContext, private readonly stream: MediaStream, opts: LiveSourceOptions = {}) {
    this.out = ctx.createGain();
    this.fadeS = opts.fadeS ?? 0.004;
    this.refresh();
    const every = opts.refreshMs ?? refreshMs();
    if (every > 0) this.timer = setInterval(() => this.refresh(), every);
  }

  /** A new node now (e.g. when a talk starts): whatever the old one had gathered is dropped. */
  refresh(): void {
    if (this.closed) return;
    const node = this.ctx.createMediaStreamSource(this.stream);
    const gain = this.ctx.createGain();
    const old = this.cur;
    const now = this.ctx.currentTime;
    if (old) {
      gain.gain.setValueAtTime(0, now);
      gain.gain.linearRampToValueAtTime(1, now + this.fadeS);
      old.gain.gain.setValueAtTime(1, now);
      old.gain.gain.linearRampToValueAtTime(0, now + this.fadeS);
      setTimeout(() => { old.node.disconnect(); old.gain.disconnect(); }, this.fadeS * 1000 + 50);
    }
    node.connect(gain).connect(this.out);
    this.cur = { node, gain };
    this.refreshes++;
  }

  close(): void {
    this.closed = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.cur?.node.disconnect();
    this.cur?.gain.disconnect();
    this.cur = null;
    this.out.disconnect();
  }
}
