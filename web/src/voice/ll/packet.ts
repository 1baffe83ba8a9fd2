// Wire format of one low-latency voice packet: one RTCDataChannel message, 12-byte header + payload.
//
//   0      version (high 4 bits, = 1) | codec (low 4 bits: 0 = PCM s16le, 1 = Opus)
//   1      flags: bit 0 first packet of a talk, bit 1 last packet of a talk
//   2..3   sequence number, uint16 big-endian, wraps
//   4..7   timestamp of the first sample, in stream sample frames, uint32 big-endian, wraps
//   8..10  stream sample rate in Hz, uint24 big-endian (PCM: the sender's AudioContext rate; Opus: 48000)
//   11     talk number, uint8, wraps: a new value starts a new stream at the receiver
//
// PCM payload: little-endian int16 samples, mono. Opus payload: one Opus packet.

export const HEADER_BYTES = 12;
export const VERSION = 1;
export const CODEC_PCM = 0;
export const CODEC_OPUS = 1;
export const FLAG_FIRST = 1;
export const FLAG_LAST = 2;

export type Codec = 'pcm' | 'opus';

export type PacketHeader = {
  codec: Codec;
  first: boolean;
  last: boolean;
  seq: number; // 0…65535
  ts: number; // 0…2^32-1
  rate: number;
  talk: number; // 0…255
};

export type Packet = PacketHeader & { payload: Uint8Array };

export function encode_packet(h: PacketHeader, payload: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(HEADER_BYTES + payload.byteLength);
  const v = new DataView(out.buffer);
  v.setUint8(0, (VERSION << 4) | (h.codec === 'opus' ? CODEC_OPUS : CODEC_PCM));
  v.setUint8(1, (h.first ? FLAG_FIRST : 0) | (h.last ? FLAG_LAST : 0));
  v.setUint16(2, h.seq & 0xffff);
  v.setUint32(4, h.ts >>> 0);
  v.setUint8(8, (h.rate >>> 16) & 0xff);
  v.setUint16(9, h.rate & 0xffff);
  v.setUint8(11, h.talk & 0xff);
  out.set(payload, HEADER_BYTES);
  return out;
}

/** Parses a received message; null for anything that is not a packet of this version (never throws). */
export function decode_packet(buf: ArrayBuffer | Uint8Array): Packet | null {
  const bytes = buf instanceof Uint8Array ? buf : new Uint8Array(buf);
  if (bytes.byteLength < HEADER_BYTES) return null;
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const b0 = v.getUint8(0);
  if (b0 >> 4 !== VERSION) return null;
  const c = b0 & 0x0f;
  if (c !== CODEC_PCM && c !== CODEC_OPUS) return null;
  const rate = (v.getUint8(8) << 16) | v.getUint16(9);
  if (rate < 8000 || rate > 192000) return null;
  const payload = bytes.subarray(HEADER_BYTES);
  if (c === CODEC_PCM && payload.byteLength % 2 !== 0) return null;
  const flags = v.getUint8(1);
  return {
    codec: c === CODEC_OPUS ? 'opus' : 'pcm',
    first: (flags & FLAG_FIRST) !== 0,
    last: (flags & FLAG_LAST) !== 0,
    seq: v.getUint16(2),
    ts: v.getUint32(4),
    rate,
    talk: v.getUint8(11),
    payload,
  };
}

/** Float samples → int16 little-endian bytes (clipped). */
export function pcm_encode(samples: Float32Array): Uint8Array {
  const out = new Uint8Array(samples.length * 2);
  const v = new DataView(out.buffer);
  for (let i = 0; i < samples.length; i++) {
    const s = Math.max(-1, Math.min(1, samples[i]));
    v.setInt16(i * 2, Math.round(s * 32767), true);
  }
  return out;
}

export function pcm_decode(payload: Uint8Array): Float32Array {
  const n = payload.byteLength >> 1;
  const out = new Float32Array(n);
  const v = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  for (let i = 0; i < n; i++) out[i] = v.getInt16(i * 2, true) / 32768;
  return out;
}

/**
 * Turns a wrapping counter (sequence number, timestamp) into a number that keeps increasing:
 * each value is taken as the one nearest to the previous (a step of less than half the range
 * either way), so reordering and wraparound both come out right.
 */
export class Unwrapper {
  private last: number | null = null;
  constructor(private readonly bits: 16 | 32) {}

  unwrap(v: number): number {
    const range = 2 ** this.bits;
    if (this.last === null) { this.last = v; return v; }
    const lastMod = ((this.last % range) + range) % range;
    let d = v - lastMod;
    if (d > range / 2) d -= range;
    else if (d < -range / 2) d += range;
    const out = this.last + d;
    if (out > this.last) this.last = out; // a late (reordered) value does not move the reference back
    return out;
  }

  reset(): void { this.last = null; }
}

/**
 * Loss accounting from sequence numbers, RTP-style, per talk: expected = highest − first + 1,
 * lost = expected − received (a duplicate is not counted twice). `new_talk()` starts counting
 * afresh and keeps the totals, so the silence between talks is never taken for loss.
 */
export class SeqTracker {
  private readonly unwrap = new Unwrapper(16);
  private first: number | null = null;
  private highest = -1;
  private seen = new Set<number>();
  private talkReceived = 0;
  private doneExpected = 0;
  private doneReceived = 0;

  /** Returns the unwrapped sequence number, or null for a duplicate. */
  on_packet(seq: number): number | null {
    const s = this.unwrap.unwrap(seq);
    if (this.seen.has(s)) return null;
    this.seen.add(s);
    if (this.seen.size > 512) {
      for (const k of this.seen) { if (k < s - 256) this.seen.delete(k); }
    }
    if (this.first === null || s < this.first) this.first = s;
    if (s > this.highest) this.highest = s;
    this.talkReceived++;
    return s;
  }

  new_talk(): void {
    this.doneExpected += this.talkExpected();
    this.doneReceived += this.talkReceived;
    this.first = null;
    this.highest = -1;
    this.talkReceived = 0;
    this.seen.clear();
    this.unwrap.reset();
  }

  private talkExpected(): number { return this.first === null ? 0 : this.highest - this.first + 1; }
  get received(): number { return this.doneReceived + this.talkReceived; }
  get expected(): number { return this.doneExpected + this.talkExpected(); }
  get lost(): number { return Math.max(0, this.expected - this.received); }
}
