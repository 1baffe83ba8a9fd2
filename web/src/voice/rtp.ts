// The RTP voice path: the microphone goes out on each link's audio transceiver (Opus, 10 ms frames,
// see sdp.ts) and the received track is played through Web Audio. Each link's sender carries a
// clone of the mic track, attached once (replaceTrack on a new mic only).
//
// Primed (`localStorage['downbeat.voice.rtp'] = '{"prime":true}'`; measured worse, so off by default): while the mic is on, every link's encoding stays active and the clone is
// *disabled* (`track.enabled = false`: Chromium encodes digital silence) except toward the peers in
// my `ptt.state.to`. The encoder, the packet flow and the listener's jitter buffer are warm when a
// press comes, and the switch is a synchronous flag on the track instead of an asynchronous
// setParameters. A peer that is not in `to` receives Opus-coded zeros (~45 kbit/s), never the
// microphone. Measured on the bench rig, the continuous stream lets NetEq's buffer creep up
// (335 ms after half a minute against ~100 ms when every talk starts the stream afresh), so
// press → audible got worse, not better (bench/voice/REPORT.md).
// Unprimed (the default): a press switches the encoding on or off (setParameters `active`): no
// packets toward a peer not in `to`.
// Switching by replaceTrack(mic | null) instead left, at times, ~0.8 s of extra delay in the
// listener's jitter buffer on the next press (about every other press in bench/voice: 770–810 ms
// instead of 10–45 ms); the encoding switch does not.
import type { PathCounters, PathHost, PeerLink, VoicePath } from './path';
import { registerPath } from './path';
import { LiveSource } from './source';

type Rx = {
  link: PeerLink;
  stream: MediaStream;
  el: HTMLAudioElement;
  source: LiveSource | null;
  sentTrack: MediaStreamTrack | null; // the clone on the sender (null: nothing attached)
  sentOf: MediaStreamTrack | null;     // the mic track it is a clone of
  active: boolean | null;              // the encoding's `active` last asked for
  chain: Promise<unknown>;             // sender calls, in order
  lastJb: { delay: number; count: number } | null;
};

export type RtpOptions = { prime?: boolean };

function options(): RtpOptions {
  try {
    const raw = globalThis.localStorage?.getItem('downbeat.voice.rtp');
    const o = raw ? (JSON.parse(raw) as RtpOptions) : {};
    return o && typeof o === 'object' ? o : {};
  } catch {
    return {};
  }
}

export class RtpPath implements VoicePath {
  readonly name = 'rtp' as const;
  /** Encoded silence toward every peer while not talking (see the top of this file). */
  readonly prime: boolean;
  private peers = new Map<string, Rx>();
  private mic: MediaStreamTrack | null;
  private sendTo: ReadonlySet<string> = new Set();
  private offAudio: () => void;

  constructor(private readonly host: PathHost, opts: RtpOptions = options()) {
    this.prime = opts.prime ?? false;
    this.mic = host.mic();
    this.offAudio = host.onAudio(() => { for (const rx of this.peers.values()) this.connect(rx); });
  }

  addPeer(link: PeerLink): void {
    this.removePeer(link.id);
    const track = link.transceiver.receiver.track;
    const stream = new MediaStream([track]);
    // Chromium plays a remote WebRTC track into Web Audio only while a media element also
    // consumes it; the element itself stays muted.
    const el = new Audio();
    el.muted = true;
    el.srcObject = stream;
    void el.play().catch(() => { /* autoplay refused: the element only has to exist */ });
    const rx: Rx = { link, stream, el, source: null, sentTrack: null, sentOf: null, active: null, chain: Promise.resolve(), lastJb: null };
    this.peers.set(link.id, rx);
    this.connect(rx);
    this.applySend(rx);
  }

  removePeer(id: string): void {
    const rx = this.peers.get(id);
    if (!rx) return;
    this.peers.delete(id);
    rx.source?.close();
    rx.el.srcObject = null;
    if (rx.link.pc.signalingState !== 'closed') void rx.link.transceiver.sender.replaceTrack(null).catch(() => {});
    rx.sentTrack?.stop();
    rx.sentTrack = rx.sentOf = null;
  }

  setMic(track: MediaStreamTrack | null): void {
    this.mic = track;
    for (const rx of this.peers.values()) this.applySend(rx);
  }

  setSendTo(peers: ReadonlySet<string>): void {
    this.sendTo = new Set(peers);
    for (const rx of this.peers.values()) this.applySend(rx);
  }

  counters(id: string, report: RTCStatsReport): PathCounters | null {
    const rx = this.peers.get(id);
    if (!rx) return null;
    const trackId = rx.link.transceiver.receiver.track.id;
    let c: PathCounters | null = null;
    report.forEach((s: Record<string, unknown>) => {
      if (s.type !== 'inbound-rtp' || s.kind !== 'audio') return;
      if (s.trackIdentifier !== undefined && s.trackIdentifier !== trackId && c) return;
      const delay = Number(s.jitterBufferDelay ?? 0), count = Number(s.jitterBufferEmittedCount ?? 0);
      // The buffering of the audio played since the last poll (none played: no figure).
      let jb: number | undefined;
      if (rx.lastJb ? count > rx.lastJb.count : count > 0) jb = ((delay - (rx.lastJb?.delay ?? 0)) / (count - (rx.lastJb?.count ?? 0))) * 1000;
      rx.lastJb = { delay, count };
      c = {
        packetsReceived: Number(s.packetsReceived ?? 0),
        packetsLost: Math.max(0, Number(s.packetsLost ?? 0)),
        samplesReceived: Number(s.totalSamplesReceived ?? 0),
        // Silence played while the talker sends nothing is not concealment anyone hears.
        concealedSamples: Math.max(0, Number(s.concealedSamples ?? 0) - Number(s.silentConcealedSamples ?? 0)),
        jitterMs: s.jitter !== undefined ? Number(s.jitter) * 1000 : undefined,
        jitterBufferMs: jb,
      };
    });
    return c;
  }

  close(): void {
    this.offAudio();
    for (const id of [...this.peers.keys()]) this.removePeer(id);
  }

  private connect(rx: Rx): void {
    if (rx.source) return;
    const ctx = this.host.audioContext();
    const input = this.host.talkerInput(rx.link.id);
    if (!ctx || !input) return;
    // A fresh source node every second: Chromium's grows late otherwise (source.ts).
    rx.source = new LiveSource(ctx, rx.stream);
    rx.source.out.connect(input);
  }

  private applySend(rx: Rx): void {
    if (rx.link.pc.signalingState === 'closed') return;
    const sender = rx.link.transceiver.sender;
    const talk = this.sendTo.has(rx.link.id);
    const newTrack = rx.sentOf !== this.mic;
    let old: MediaStreamTrack | null = null, clone: MediaStreamTrack | null = null;
    if (newTrack) {
      old = rx.sentTrack;
      clone = this.mic ? this.mic.clone() : null;
      rx.sentTrack = clone;
      rx.sentOf = this.mic;
    }
    // The microphone reaches a peer only through an enabled clone: set at once (synchronous), on
    // whatever the sender carries now and on the clone about to replace it.
    for (const t of [rx.sentTrack, sender.track, old]) if (t) t.enabled = talk;
    const active = this.prime ? !!rx.sentTrack : talk;
    if (!newTrack && rx.active === active) return;
    // In order, and with the wish as it is when the step runs (presses can come quicker than the calls).
    rx.chain = rx.chain.then(async () => {
      if (!this.peers.has(rx.link.id) || rx.link.pc.signalingState === 'closed') return;
      const on = this.prime ? !!rx.sentTrack : this.sendTo.has(rx.link.id);
      const p = sender.getParameters();
      if (p.encodings?.length && p.encodings.some((e) => e.active !== on)) {
        for (const e of p.encodings) e.active = on;
        await sender.setParameters(p);
      }
      rx.active = p.encodings?.length ? on : null;
      if (newTrack) await sender.replaceTrack(clone); // disabled unless talking: nothing leaks
    }).catch((e) => console.warn('downbeat voice: switching the sender failed', e)).finally(() => old?.stop());
  }
}

registerPath('rtp', (host) => new RtpPath(host));
