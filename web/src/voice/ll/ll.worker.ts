// The dc path's packet work off the main thread (PCM): a dedicated Worker owns one transferred
// RTCDataChannel per peer (negotiated id 1, `voice-w`, unordered, no retransmits) and talks to
// the AudioWorklets over MessagePorts of its own, so a captured quantum goes worklet → worker →
// channel, and a packet channel → worker → playout worklet, with no main-thread task in between
// (a busy main thread held every packet of the main-thread mode; bench/voice/REPORT.md).
// Same packets as dc-voice.ts's main-thread mode (packet.ts), so the two modes talk to each other.
//
// From the page:  {t:'capture', port}            the capture worklet's quanta arrive on `port`
//                 {t:'peer', id, ch, port}        a peer: its channel (transferred) and its playout worklet's port
//                 {t:'gone', id}                  the peer is gone
//                 {t:'send', ids, maxQueuedBytes} send to exactly these peers ([] = to nobody)
// To the page:    {t:'stats', id, received, lost} per peer, every 250 ms
import { decode_packet, encode_packet, pcm_decode, pcm_encode, SeqTracker, Unwrapper } from './packet';
import type { CaptureMsg, PlayoutIn } from './ll.worklet';

export type WorkerIn =
  | { t: 'capture'; port: MessagePort; rate: number; maxPacketFrames: number }
  | { t: 'peer'; id: string; ch: RTCDataChannel; port: MessagePort }
  | { t: 'gone'; id: string }
  | { t: 'send'; ids: string[]; maxQueuedBytes: number };
export type WorkerOut = { t: 'stats'; id: string; received: number; lost: number; sent: number; skipped: number };

type Peer = { ch: RTCDataChannel; port: MessagePort; seq: SeqTracker; ts: Unwrapper; talk: number; sendSeq: number };

const peers = new Map<string, Peer>();
let sendTo: string[] = [];
let maxQueued = 16384;
let rate = 48000;
let maxPacketFrames = 512;
let talk = 0;
let current = -1; // talk being captured (-1: none)
let batch: { ts: number; end: number; talk: number; first: boolean; parts: Float32Array[] } | null = null;
let flushQueued = false;
const sent = { packets: 0, skipped: 0 };

function send(pkt: Uint8Array<ArrayBuffer>): void {
  for (const id of sendTo) {
    const p = peers.get(id);
    if (!p || p.ch.readyState !== 'open') continue;
    if (p.ch.bufferedAmount > maxQueued) { sent.skipped++; continue; }
    pkt[2] = p.sendSeq >> 8;
    pkt[3] = p.sendSeq & 0xff;
    p.sendSeq = (p.sendSeq + 1) & 0xffff;
    try { p.ch.send(pkt); sent.packets++; } catch { sent.skipped++; }
  }
}

function flush(): void {
  const b = batch;
  if (!b) return;
  batch = null;
  const all = new Float32Array(b.end - b.ts);
  let at = 0;
  for (const part of b.parts) { all.set(part, at); at += part.length; }
  send(encode_packet({ codec: 'pcm', first: b.first, last: false, seq: 0, ts: b.ts, rate, talk: b.talk }, pcm_encode(all)));
}

function onQuantum(q: CaptureMsg): void {
  if (q.first) { talk = (talk + 1) & 0xff; current = talk; }
  if (current < 0) return;
  if (q.data.length > 0) {
    if (batch && (batch.talk !== current || batch.end !== q.frame)) flush();
    if (!batch) batch = { ts: q.frame, end: q.frame, talk: current, first: q.first, parts: [] };
    batch.parts.push(q.data);
    batch.end = q.frame + q.data.length;
    // The quanta of one audio callback come in one burst: they leave as one packet, a task later.
    if (batch.end - batch.ts >= maxPacketFrames) flush();
    else if (!flushQueued) { flushQueued = true; setTimeout(() => { flushQueued = false; flush(); }, 0); }
  }
  if (q.last) {
    flush();
    send(encode_packet({ codec: 'pcm', first: false, last: true, seq: 0, ts: 0, rate, talk: current }, new Uint8Array(0)));
    current = -1;
  }
}

function onPacket(p: Peer, buf: ArrayBuffer): void {
  const pkt = decode_packet(buf);
  if (!pkt || pkt.codec !== 'pcm') return; // Opus stays on the main-thread mode
  if (pkt.talk !== p.talk) { p.talk = pkt.talk; p.seq.new_talk(); p.ts.reset(); }
  if (p.seq.on_packet(pkt.seq) === null) return;
  if (pkt.last && pkt.payload.byteLength === 0) { p.port.postMessage({ t: 'end', talk: pkt.talk } satisfies PlayoutIn); return; }
  const data = pcm_decode(pkt.payload);
  p.port.postMessage({ t: 'frames', pos: p.ts.unwrap(pkt.ts), rate: pkt.rate, talk: pkt.talk, data } satisfies PlayoutIn, [data.buffer]);
}

self.onmessage = (e: MessageEvent<WorkerIn>) => {
  const m = e.data;
  if (m.t === 'capture') {
    rate = m.rate;
    maxPacketFrames = m.maxPacketFrames;
    m.port.onmessage = (ev: MessageEvent<CaptureMsg>) => onQuantum(ev.data);
  } else if (m.t === 'peer') {
    peers.get(m.id)?.ch.close();
    const p: Peer = { ch: m.ch, port: m.port, seq: new SeqTracker(), ts: new Unwrapper(32), talk: -1, sendSeq: 0 };
    m.ch.binaryType = 'arraybuffer';
    m.ch.onmessage = (ev: MessageEvent) => { if (ev.data instanceof ArrayBuffer) onPacket(p, ev.data); };
    peers.set(m.id, p);
  } else if (m.t === 'gone') {
    const p = peers.get(m.id);
    peers.delete(m.id);
    if (p) { p.ch.onmessage = null; p.ch.close(); p.port.close(); }
  } else if (m.t === 'send') {
    sendTo = m.ids.slice();
    maxQueued = m.maxQueuedBytes;
  }
};

setInterval(() => {
  for (const [id, p] of peers) {
    self.postMessage({ t: 'stats', id, received: p.seq.received, lost: p.seq.lost, sent: sent.packets, skipped: sent.skipped } satisfies WorkerOut);
  }
}, 250);
