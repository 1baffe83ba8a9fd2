import { describe, expect, it } from 'vitest';
import { decode_packet, encode_packet, HEADER_BYTES, pcm_decode, pcm_encode, SeqTracker, Unwrapper } from './packet';

describe('packet header', () => {
  it('round-trips every field', () => {
    const payload = new Uint8Array([1, 2, 3, 4]);
    const bytes = encode_packet({ codec: 'opus', first: true, last: false, seq: 65535, ts: 0xfffffff0, rate: 48000, talk: 255 }, payload);
    expect(bytes.byteLength).toBe(HEADER_BYTES + 4);
    const p = decode_packet(bytes.buffer as ArrayBuffer)!;
    expect(p).toMatchObject({ codec: 'opus', first: true, last: false, seq: 65535, ts: 0xfffffff0, rate: 48000, talk: 255 });
    expect([...p.payload]).toEqual([1, 2, 3, 4]);
    const q = decode_packet(encode_packet({ codec: 'pcm', first: false, last: true, seq: 7, ts: 12345, rate: 44100, talk: 3 }, new Uint8Array(256)))!;
    expect(q).toMatchObject({ codec: 'pcm', first: false, last: true, seq: 7, ts: 12345, rate: 44100, talk: 3 });
  });

  it('refuses what is not a packet of this version', () => {
    expect(decode_packet(new Uint8Array(5))).toBeNull();
    const ok = encode_packet({ codec: 'pcm', first: false, last: false, seq: 1, ts: 1, rate: 48000, talk: 0 }, new Uint8Array(4));
    const badVersion = ok.slice(); badVersion[0] = 0x20;
    expect(decode_packet(badVersion)).toBeNull();
    const badCodec = ok.slice(); badCodec[0] = 0x17;
    expect(decode_packet(badCodec)).toBeNull();
    const oddPcm = encode_packet({ codec: 'pcm', first: false, last: false, seq: 1, ts: 1, rate: 48000, talk: 0 }, new Uint8Array(3));
    expect(decode_packet(oddPcm)).toBeNull();
    const badRate = encode_packet({ codec: 'pcm', first: false, last: false, seq: 1, ts: 1, rate: 100, talk: 0 }, new Uint8Array(2));
    expect(decode_packet(badRate)).toBeNull();
  });

  it('PCM survives int16 within one step and clips', () => {
    const s = new Float32Array([0, 0.5, -0.5, 0.999, -1, 1.5, -1.5]);
    const back = pcm_decode(pcm_encode(s));
    for (let i = 0; i < 5; i++) expect(Math.abs(back[i] - s[i])).toBeLessThan(1 / 16384);
    expect(back[5]).toBeCloseTo(1, 3);
    expect(back[6]).toBeCloseTo(-1, 3);
  });
});

describe('Unwrapper', () => {
  it('counts on across the 16-bit wrap and keeps reordered values in place', () => {
    const u = new Unwrapper(16);
    expect([65533, 65534, 65535, 0, 1, 65535, 2].map((v) => u.unwrap(v))).toEqual([65533, 65534, 65535, 65536, 65537, 65535, 65538]);
  });
  it('counts on across the 32-bit wrap', () => {
    const u = new Unwrapper(32);
    expect(u.unwrap(0xffffff80)).toBe(0xffffff80);
    expect(u.unwrap(0x00000000)).toBe(2 ** 32);
    expect(u.unwrap(0x00000080)).toBe(2 ** 32 + 128);
    expect(u.unwrap(0xffffffc0)).toBe(0xffffffc0); // late packet from before the wrap
  });
});

describe('SeqTracker', () => {
  it('counts every 10th packet lost across the wrap', () => {
    const t = new SeqTracker();
    let seq = 65500;
    for (let i = 0; i < 100; i++, seq = (seq + 1) & 0xffff) if (i % 10 !== 9) t.on_packet(seq);
    t.on_packet(seq); // closes the last gap
    expect(t.received).toBe(91);
    expect(t.lost).toBe(10);
  });
  it('ignores duplicates and reordering', () => {
    const t = new SeqTracker();
    for (const s of [1, 3, 2, 2, 4, 3]) t.on_packet(s);
    expect(t.received).toBe(4);
    expect(t.lost).toBe(0);
  });
  it('does not take the gap between talks for loss', () => {
    const t = new SeqTracker();
    for (let s = 0; s < 10; s++) t.on_packet(s);
    t.new_talk();
    for (let s = 5000; s < 5010; s++) if (s !== 5004) t.on_packet(s);
    expect(t.received).toBe(19);
    expect(t.lost).toBe(1);
  });
});
