// The low-latency voice path: talk over the mesh's unordered, no-retransmit RTCDataChannel
// (negotiated id 0, label `voice`), captured and played by AudioWorklets with a few ms of buffer.
// It runs beside the RTP path; the mesh picks one with `__downbeat.voice.setPath('rtp' | 'dc')`.
//
//   const dc = new DcVoice(ctx, { codec: 'pcm' });   // loads the worklets on `ctx`
//   await dc.start(micStream);                        // capture (once; a listener without a mic skips it)
//   mixerInput(peer, dc.addPeer(peer, pc_dataChannel)); // per peer connection: that talker's output node
//   dc.setSending(channelsOfTo);                      // on PTT / ptt.state: [] = not sending
//   dc.removePeer(peer);                              // peer gone
//   dc.stats(peer)                                    // for metrics.report links
//
// Sending: the capture worklet posts each 128-frame quantum while sending; PCM sends the quanta
// of one audio callback as one packet (int16, ~800 kbit/s at 48 kHz), Opus feeds WebCodecs' AudioEncoder
// (`frameMs` frames) and sends each chunk. Every packet is packet.ts's 12-byte header + payload;
// a talk ends with an empty packet flagged `last`. A channel with more than `maxQueuedBytes`
// waiting is skipped: late audio is worth nothing.
// Receiving: per peer, packets are unwrapped (sequence, timestamp), counted, decoded (Opus:
// AudioDecoder, which exposes neither PLC nor FEC, so loss is concealed in the worklet) and
// posted to that peer's playout worklet.

import { decode_packet, encode_packet, pcm_decode, pcm_encode, SeqTracker, Unwrapper, type Codec } from './packet';
import type { CaptureMsg, PlayoutIn, PlayoutStats } from './ll.worklet';
import workletUrl from './ll.worklet.ts?worker&url';
import { LiveSource } from '../source';
import type { WorkerIn, WorkerOut } from './ll.worker';

export type DcVoiceOptions = {
  codec?: Codec; // default 'pcm'
  frameMs?: 2.5 | 5 | 10; // Opus frame; default 5
  bitrate?: number; // Opus; default 48000
  targetBufferMs?: number; // starting jitter-buffer target; default 5
  maxBufferMs?: number; // the target never grows beyond; default 40
  maxQueuedBytes?: number; // default 16 KiB
  maxPacketFrames?: number; // PCM: quanta of one burst are sent together up to this many frames; default 512 (1036 bytes)
  /**
   * PCM: the packet work in a Worker (ll.worker.ts) that owns a second negotiated channel (id 1)
   * per peer, fed by the worklets over MessagePorts: no main-thread hop. Default true where a
   * Worker exists; false = everything on the main thread (the fallback). Either mode receives
   * both channels, so the two interoperate.
   */
  worker?: boolean;
};

/** The Worker mode's channel: negotiated on both ends of a link (id 0 is the mesh's `voice`). */
export const WORKER_CHANNEL = { label: 'voice-w', init: { negotiated: true, id: 1, ordered: false, maxRetransmits: 0 } as RTCDataChannelInit };

export type DcPeerStats = {
  bufferMs: number; // buffered now
  targetMs: number; // jitter-buffer target now: margin + jitter + boost after underruns
  jitterMs: number; // arrival jitter (95th percentile above the fastest packet of the talk)
  underruns: number;
  late: number; // packets dropped for arriving after their playout time
  received: number;
  lost: number; // from sequence numbers, per talk
  concealed: number; // output frames made up (loss, underruns)
  played: number; // output frames during talks (concealed / played = concealment ratio)
  skips: number; // jumps ahead after a stall
  talks: number;
  decodeMs: number | null; // Opus: decode() → output, mean
  // Same-clock latency (capture graph frame → playout graph frame), mean and max over the last
  // 100 ms report; meaningful only when sender and receiver share one AudioContext (tests).
  clockLatencyMs: number | null;
  clockLatencyMaxMs: number | null;
};

const OPUS_RATE = 48000;
// The decoder gets no OpusHead, so it does not drop the encoder's lookahead (libopus: 312 frames at
// 48 kHz, measured: the impulse comes out 312 frames late): decoded audio is placed that much later.
const OPUS_PRESKIP = 312;
const moduleLoads = new WeakMap<BaseAudioContext, Promise<void>>();

function load_worklet(ctx: BaseAudioContext): Promise<void> {
  let p = moduleLoads.get(ctx);
  if (!p) { p = ctx.audioWorklet.addModule(workletUrl); moduleLoads.set(ctx, p); }
  return p;
}

type Peer = {
  channel: RTCDataChannel;
  extra: RTCDataChannel | null; // main-thread mode: the Worker channel (id 1), listened to as well
  workerPort: MessagePort | null; // Worker mode: the playout worklet's end of the Worker's port
  out: GainNode;
  node: AudioWorkletNode | null;
  onMessage: (e: MessageEvent) => void;
  seq: SeqTracker;
  ts: Unwrapper;
  talk: number;
  decoder: AudioDecoder | null;
  decoderBase: number; // stream position of the talk's first packet (chunk timestamps count from it)
  worklet: PlayoutStats | null;
  closed: boolean;
  // Pending decodes, in order: one Opus packet gives one output. Chromium stamps outputs by counting
  // decoded frames from the first timestamp, so after a lost packet its timestamps run early: the
  // position comes from here instead.
  decodes: Array<{ pos: number; t0: number }>;
  decodeMs: number | null;
};

export class DcVoice {
  /** AudioWorklet everywhere; for Opus also WebCodecs (check `opus_supported` for the config). */
  static supported(codec: Codec = 'pcm'): boolean {
    if (typeof AudioWorkletNode !== 'function') return false;
    return codec === 'pcm' || (typeof AudioEncoder === 'function' && typeof AudioDecoder === 'function');
  }

  private static transferable: boolean | null = null;
  /** Whether this browser can move an RTCDataChannel into a Worker (else the main-thread mode). */
  static canTransferChannel(): boolean {
    if (DcVoice.transferable !== null) return DcVoice.transferable;
    let ok = false;
    if (typeof Worker === 'function' && typeof RTCPeerConnection === 'function' && typeof MessageChannel === 'function') {
      let pc: RTCPeerConnection | null = null;
      const mc = new MessageChannel();
      try {
        pc = new RTCPeerConnection();
        const ch = pc.createDataChannel('probe', { negotiated: true, id: 7 });
        mc.port1.postMessage(ch, [ch as unknown as Transferable]);
        ok = true;
      } catch { ok = false; }
      pc?.close();
      mc.port1.close();
      mc.port2.close();
    }
    DcVoice.transferable = ok;
    return ok;
  }

  static async opus_supported(ctxRate: number, frameMs: number = 5): Promise<boolean> {
    if (!DcVoice.supported('opus')) return false;
    try {
      const e = await AudioEncoder.isConfigSupported(DcVoice.encoder_config(ctxRate, frameMs, 48000));
      const d = await AudioDecoder.isConfigSupported({ codec: 'opus', sampleRate: OPUS_RATE, numberOfChannels: 1 });
      return !!e.supported && !!d.supported;
    } catch { return false; }
  }

  private static encoder_config(rate: number, frameMs: number, bitrate: number): AudioEncoderConfig {
    return {
      codec: 'opus', sampleRate: rate, numberOfChannels: 1, bitrate,
      opus: { frameDuration: frameMs * 1000, complexity: 5, useinbandfec: false, usedtx: false, packetlossperc: 0 },
    } as AudioEncoderConfig;
  }

  readonly codec: Codec;
  private readonly opts: Required<DcVoiceOptions>;
  private readonly ready: Promise<void>;
  private capture: AudioWorkletNode | null = null;
  private micWanted: MediaStream | null = null;
  private closed = false;
  private source: LiveSource | null = null;
  private sendTo: RTCDataChannel[] = [];
  private sending = false;
  private talk = 0;
  // Talks asked for (setSending) whose first quantum has not come yet, and the one being captured.
  private readonly starts: Array<{ talk: number; encoder: AudioEncoder | null }> = [];
  private current: { talk: number; encoder: AudioEncoder | null } | null = null;
  private readonly seqs = new WeakMap<RTCDataChannel, number>();
  private readonly peers = new Map<string, Peer>();
  /** Packets sent / skipped because a channel was backed up (all channels together). */
  readonly sent = { packets: 0, skipped: 0, bytes: 0, encoderHoldMs: null as number | null };
  private pcmBatch: { ts: number; end: number; talk: number; first: boolean; parts: Float32Array[] } | null = null;
  private flushTimer: ReturnType<typeof setTimeout> | null = null;
  private fedTo = 0; // Opus: end (graph frame) of the last quantum given to the encoder
  private readonly worker: Worker | null = null;
  private readonly workerStats = new Map<string, WorkerOut>();
  private sendIds: string[] = [];

  constructor(private readonly ctx: AudioContext, opts: DcVoiceOptions = {}) {
    this.opts = { codec: 'pcm', frameMs: 5, bitrate: 48000, targetBufferMs: 5, maxBufferMs: 40, maxQueuedBytes: 16384, maxPacketFrames: 512, worker: true, ...opts };
    this.codec = this.opts.codec;
    this.ready = load_worklet(ctx);
    if (this.opts.worker && this.codec === 'pcm' && DcVoice.canTransferChannel()) {
      try {
        this.worker = new Worker(new URL('./ll.worker.ts', import.meta.url), { type: 'module' });
        this.worker.onmessage = (e: MessageEvent<WorkerOut>) => { if (e.data.t === 'stats') this.workerStats.set(e.data.id, e.data); };
      } catch (e) {
        console.warn('voice dc: no Worker, packets on the main thread', e);
      }
    }
  }

  /**
   * Taps the microphone; again with another stream replaces it, null detaches it. Sends nothing
   * until `setSending` names channels.
   */
  async start(mic: MediaStream | null): Promise<void> {
    this.micWanted = mic;
    await this.ready;
    if (this.micWanted !== mic || this.closed) return; // superseded while the module loaded
    if (!this.capture) {
      this.capture = new AudioWorkletNode(this.ctx, 'downbeat-ll-capture', { numberOfInputs: 1, numberOfOutputs: 0, channelCount: 1, channelCountMode: 'explicit' });
      this.capture.port.onmessage = (e: MessageEvent<CaptureMsg>) => this.on_quantum(e.data);
      if (this.worker) {
        // The quanta go straight to the Worker from now on.
        const mc = new MessageChannel();
        this.capture.port.postMessage({ port: mc.port1 }, [mc.port1]);
        this.post({ t: 'capture', port: mc.port2, rate: this.ctx.sampleRate, maxPacketFrames: this.opts.maxPacketFrames }, [mc.port2]);
      }
      if (this.sending) { this.begin_talk(); this.capture.port.postMessage({ send: true }); }
    }
    this.source?.close();
    this.source = null;
    if (mic) {
      // A fresh source node every second: Chromium's grows late otherwise (../source.ts).
      this.source = new LiveSource(this.ctx, mic);
      this.source.out.connect(this.capture);
    }
  }

  /** Worker mode: whether the packets go through the Worker (else the main thread). */
  get inWorker(): boolean { return !!this.worker; }

  private post(m: WorkerIn, transfer: Transferable[] = []): void { this.worker?.postMessage(m, transfer); }

  /**
   * Sends to exactly these channels (main-thread mode) / peers (`ids`, Worker mode) from now on;
   * [] ends the talk (with a fade and an end marker).
   */
  setSending(channels: RTCDataChannel[], ids: string[] = []): void {
    this.sendTo = channels.slice();
    const idsChanged = ids.length !== this.sendIds.length || ids.some((x, i) => x !== this.sendIds[i]);
    this.sendIds = ids.slice();
    if (this.worker && idsChanged) this.post({ t: 'send', ids, maxQueuedBytes: this.opts.maxQueuedBytes });
    const on = channels.length > 0;
    if (on === this.sending) return;
    this.sending = on;
    if (!this.capture) return; // no mic tapped yet: start() picks `sending` up
    if (on) { this.source?.refresh(); this.begin_talk(); }
    this.capture.port.postMessage({ send: on });
  }

  /**
   * That talker's output node (silent unless they talk to us); connect it to the mixer. With `pc`
   * the Worker channel (id 1) is made on it: handed to the Worker (Worker mode) or listened to here.
   */
  addPeer(peerId: string, channel: RTCDataChannel, pc?: RTCPeerConnection): AudioNode {
    this.removePeer(peerId);
    channel.binaryType = 'arraybuffer';
    const out = this.ctx.createGain();
    let extra: RTCDataChannel | null = null, workerPort: MessagePort | null = null;
    if (pc && pc.signalingState !== 'closed') {
      try {
        const ch = pc.createDataChannel(WORKER_CHANNEL.label, WORKER_CHANNEL.init);
        if (this.worker) {
          // Transferred in the task that made it (a channel can move only before it is used).
          const mc = new MessageChannel();
          this.post({ t: 'peer', id: peerId, ch: ch as unknown as RTCDataChannel, port: mc.port2 }, [ch as unknown as Transferable, mc.port2]);
          workerPort = mc.port1;
        } else {
          ch.binaryType = 'arraybuffer';
          extra = ch;
        }
      } catch (e) {
        console.warn('voice dc: no Worker channel for this peer', e);
      }
    }
    const peer: Peer = {
      channel, extra, workerPort, out, node: null, seq: new SeqTracker(), ts: new Unwrapper(32), talk: -1, decoder: null, decoderBase: 0, worklet: null, closed: false, decodes: [], decodeMs: null,
      onMessage: (e: MessageEvent) => { if (e.data instanceof ArrayBuffer) this.on_packet(peer, e.data); },
    };
    channel.addEventListener('message', peer.onMessage);
    extra?.addEventListener('message', peer.onMessage);
    this.peers.set(peerId, peer);
    void this.ready.then(() => {
      if (peer.closed || this.closed) return;
      const node = new AudioWorkletNode(this.ctx, 'downbeat-ll-playout', {
        numberOfInputs: 0, numberOfOutputs: 1, outputChannelCount: [1],
        processorOptions: { targetMs: this.opts.targetBufferMs, maxTargetMs: this.opts.maxBufferMs },
      });
      node.port.onmessage = (e: MessageEvent<PlayoutStats>) => { peer.worklet = e.data; };
      if (peer.workerPort) node.port.postMessage({ t: 'port', port: peer.workerPort } satisfies PlayoutIn, [peer.workerPort]);
      node.connect(out);
      peer.node = node;
    });
    return out;
  }

  removePeer(peerId: string): void {
    const p = this.peers.get(peerId);
    if (!p) return;
    this.peers.delete(peerId);
    p.closed = true;
    p.channel.removeEventListener('message', p.onMessage);
    if (p.extra) { p.extra.removeEventListener('message', p.onMessage); p.extra.close(); }
    if (this.worker) this.post({ t: 'gone', id: peerId });
    this.workerStats.delete(peerId);
    if (p.node) { p.node.port.postMessage({ t: 'close' } satisfies PlayoutIn); p.node.disconnect(); }
    p.out.disconnect();
    if (p.decoder && p.decoder.state !== 'closed') p.decoder.close();
  }

  stats(peerId: string): DcPeerStats | null {
    const p = this.peers.get(peerId);
    if (!p) return null;
    const w = p.worklet;
    return {
      bufferMs: w?.bufferMs ?? 0, targetMs: w?.targetMs ?? this.opts.targetBufferMs, jitterMs: w?.jitterMs ?? 0,
      underruns: w?.underruns ?? 0, late: w?.late ?? 0,
      received: p.seq.received + (this.workerStats.get(peerId)?.received ?? 0), lost: p.seq.lost + (this.workerStats.get(peerId)?.lost ?? 0),
      concealed: w?.concealed ?? 0,
      played: w?.played ?? 0, skips: w?.skips ?? 0, talks: w?.talks ?? 0, decodeMs: p.decodeMs,
      clockLatencyMs: w && w.latN > 0 ? w.latSum / w.latN : null,
      clockLatencyMaxMs: w && w.latN > 0 ? w.latMax : null,
    };
  }

  /** Stops capture and every peer. */
  close(): void {
    this.setSending([]);
    this.closed = true;
    for (const id of [...this.peers.keys()]) this.removePeer(id);
    this.source?.close();
    this.capture?.disconnect();
    this.capture = null;
    for (const t of [...this.starts, ...(this.current ? [this.current] : [])]) if (t.encoder && t.encoder.state !== 'closed') t.encoder.close();
    this.starts.length = 0;
    this.current = null;
    this.worker?.terminate();
  }

  // --- sending ---

  private begin_talk(): void {
    if (this.worker) return; // the Worker numbers the talks it sends
    this.talk = (this.talk + 1) & 0xff;
    this.starts.push({ talk: this.talk, encoder: this.codec === 'opus' ? this.new_encoder(this.talk) : null });
  }

  private on_quantum(q: CaptureMsg): void {
    if (q.first) this.current = this.starts.shift() ?? null;
    const cur = this.current;
    if (!cur) return;
    if (q.data.length === 0) {
      // a talk that ended before its first quantum
    } else if (this.codec === 'pcm') {
      this.batch_pcm(q, cur.talk);
    } else if (cur.encoder && cur.encoder.state === 'configured') {
      const rate = this.ctx.sampleRate;
      const data = new AudioData({ format: 'f32', sampleRate: rate, numberOfFrames: q.data.length, numberOfChannels: 1, timestamp: Math.round((q.frame * 1e6) / rate), data: q.data });
      cur.encoder.encode(data);
      data.close();
      this.fedTo = q.frame + q.data.length;
    }
    if (q.last) { this.flush_pcm(); this.end_talk(cur); this.current = null; }
  }

  /**
   * PCM: the quanta of one audio callback (3–4 at 10 ms) come in one burst, so they leave as one
   * packet — a task later, or at once when `maxPacketFrames` are together. Same latency, a third
   * of the packets (SCTP, DTLS, Wi-Fi airtime and receiver tasks are paid per packet).
   */
  private batch_pcm(q: CaptureMsg, talk: number): void {
    const b = this.pcmBatch;
    if (b && (b.talk !== talk || b.end !== q.frame)) this.flush_pcm();
    if (!this.pcmBatch) this.pcmBatch = { ts: q.frame, end: q.frame, talk, first: q.first, parts: [] };
    const batch = this.pcmBatch;
    batch.parts.push(q.data);
    batch.end = q.frame + q.data.length;
    if (batch.end - batch.ts >= this.opts.maxPacketFrames) this.flush_pcm();
    else if (this.flushTimer === null) this.flushTimer = setTimeout(() => { this.flushTimer = null; this.flush_pcm(); }, 0);
  }

  private flush_pcm(): void {
    const b = this.pcmBatch;
    if (!b) return;
    this.pcmBatch = null;
    const all = new Float32Array(b.end - b.ts);
    let at = 0;
    for (const part of b.parts) { all.set(part, at); at += part.length; }
    this.send(encode_packet({ codec: 'pcm', first: b.first, last: false, seq: 0, ts: b.ts, rate: this.ctx.sampleRate, talk: b.talk }, pcm_encode(all)));
  }

  private end_talk(cur: { talk: number; encoder: AudioEncoder | null }): void {
    const marker = () => this.send(encode_packet({ codec: this.codec, first: false, last: true, seq: 0, ts: 0, rate: this.codec === 'opus' ? OPUS_RATE : this.ctx.sampleRate, talk: cur.talk }, new Uint8Array(0)));
    const enc = cur.encoder;
    if (!enc || enc.state !== 'configured') { marker(); return; }
    enc.flush().then(marker, marker).finally(() => { if (enc.state !== 'closed') enc.close(); });
  }

  private new_encoder(talk: number): AudioEncoder {
    let first = true;
    const enc = new AudioEncoder({
      output: (chunk) => {
        const payload = new Uint8Array(chunk.byteLength);
        chunk.copyTo(payload);
        const ts = Math.round((chunk.timestamp * OPUS_RATE) / 1e6);
        // how much audio the encoder holds back: fed so far − end of this chunk (frame + lookahead + queueing)
        const hold = (this.fedTo / this.ctx.sampleRate - (chunk.timestamp + (chunk.duration ?? 0)) / 1e6) * 1000;
        this.sent.encoderHoldMs = this.sent.encoderHoldMs === null ? hold : this.sent.encoderHoldMs + (hold - this.sent.encoderHoldMs) * 0.05;
        this.send(encode_packet({ codec: 'opus', first, last: false, seq: 0, ts, rate: OPUS_RATE, talk }, payload));
        first = false;
      },
      error: (e) => console.warn(`voice dc: Opus encoder failed (${e.message}); switch the voice path to rtp`),
    });
    enc.configure(DcVoice.encoder_config(this.ctx.sampleRate, this.opts.frameMs, this.opts.bitrate));
    return enc;
  }

  /** One packet to every channel in `sendTo`, each with its own sequence number (bytes 2..3). */
  private send(pkt: Uint8Array<ArrayBuffer>): void {
    for (const ch of this.sendTo) {
      if (ch.readyState !== 'open') continue;
      if (ch.bufferedAmount > this.opts.maxQueuedBytes) { this.sent.skipped++; continue; }
      const seq = this.seqs.get(ch) ?? 0;
      this.seqs.set(ch, (seq + 1) & 0xffff);
      pkt[2] = seq >> 8;
      pkt[3] = seq & 0xff;
      try { ch.send(pkt); this.sent.packets++; this.sent.bytes += pkt.byteLength; } catch { this.sent.skipped++; }
    }
  }

  // --- receiving ---

  private on_packet(p: Peer, buf: ArrayBuffer): void {
    const pkt = decode_packet(buf);
    if (!pkt || !p.node) return;
    if (pkt.talk !== p.talk) {
      p.talk = pkt.talk;
      p.seq.new_talk();
      p.ts.reset();
      if (p.decoder && p.decoder.state !== 'closed') p.decoder.close();
      p.decoder = null; // a fresh decoder per talk: each talk starts a fresh encoder (its pre-skip)
    }
    if (p.seq.on_packet(pkt.seq) === null) return;
    const node = p.node;
    const talk = pkt.talk;
    if (pkt.last && pkt.payload.byteLength === 0) {
      const end = () => node.port.postMessage({ t: 'end', talk } satisfies PlayoutIn);
      if (p.decoder && p.decoder.state === 'configured') p.decoder.flush().then(end, end);
      else end();
      return;
    }
    const pos = p.ts.unwrap(pkt.ts);
    if (pkt.codec === 'pcm') {
      const data = pcm_decode(pkt.payload);
      node.port.postMessage({ t: 'frames', pos, rate: pkt.rate, talk, data } satisfies PlayoutIn, [data.buffer]);
      return;
    }
    if (typeof AudioDecoder !== 'function') return;
    if (!p.decoder) { p.decoder = this.new_decoder(p, node, talk); p.decoderBase = pos; }
    // Timestamps relative to the talk's first packet: small, so whole microseconds round-trip exactly.
    p.decodes.push({ pos, t0: performance.now() });
    p.decoder.decode(new EncodedAudioChunk({ type: 'key', timestamp: Math.round(((pos - p.decoderBase) * 1e6) / OPUS_RATE), data: pkt.payload }));
  }

  private new_decoder(p: Peer, node: AudioWorkletNode, talk: number): AudioDecoder {
    const queue: Peer['decodes'] = [];
    p.decodes = queue;
    const dec = new AudioDecoder({
      output: (d) => {
        const e = queue.shift();
        if (!e) { d.close(); return; }
        const ms = performance.now() - e.t0;
        p.decodeMs = p.decodeMs === null ? ms : p.decodeMs + (ms - p.decodeMs) * 0.05;
        const data = new Float32Array(d.numberOfFrames);
        d.copyTo(data, { planeIndex: 0, format: 'f32-planar' });
        const pos = e.pos + OPUS_PRESKIP;
        node.port.postMessage({ t: 'frames', pos, rate: d.sampleRate, talk, data } satisfies PlayoutIn, [data.buffer]);
        d.close();
      },
      error: (e) => console.warn(`voice dc: Opus decoder failed (${e.message})`),
    });
    dec.configure({ codec: 'opus', sampleRate: OPUS_RATE, numberOfChannels: 1 });
    return dec;
  }
}
