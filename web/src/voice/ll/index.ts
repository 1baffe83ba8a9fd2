// The 'dc' voice path (path.ts): DcVoice behind the mesh's VoicePath seam. voice.ts loads this
// module; `__downbeat.voice.setPath('dc')` switches to it. Options (codec, Opus frame, jitter
// margin) come from localStorage `downbeat.voice.dc`, e.g. {"codec":"opus","frameMs":5}: for the
// benchmark, no UI.
import type { PathCounters, PathHost, PeerLink, VoicePath } from '../path';
import { registerPath } from '../path';
import { DcVoice, type DcVoiceOptions } from './dc-voice';

function options(): DcVoiceOptions {
  try {
    const raw = globalThis.localStorage?.getItem('downbeat.voice.dc');
    const o = raw ? (JSON.parse(raw) as DcVoiceOptions) : {};
    return o && typeof o === 'object' ? o : {};
  } catch {
    return {};
  }
}

export class DcPath implements VoicePath {
  readonly name = 'dc' as const;
  private dc: DcVoice | null = null;
  private readonly links = new Map<string, PeerLink>();
  private readonly outs = new Map<string, AudioNode>();
  private mic: MediaStreamTrack | null;
  private sendTo: ReadonlySet<string> = new Set();
  private readonly offAudio: () => void;

  constructor(private readonly host: PathHost) {
    this.mic = host.mic();
    this.offAudio = host.onAudio((ctx) => this.attach(ctx));
  }

  addPeer(link: PeerLink): void {
    this.removePeer(link.id);
    this.links.set(link.id, link);
    this.connect(link);
    this.applySend();
  }

  removePeer(id: string): void {
    if (!this.links.delete(id)) return;
    this.dc?.removePeer(id);
    this.outs.delete(id);
    this.applySend();
  }

  setMic(track: MediaStreamTrack | null): void {
    this.mic = track;
    void this.dc?.start(track ? new MediaStream([track]) : null);
  }

  setSendTo(peers: ReadonlySet<string>): void {
    this.sendTo = new Set(peers);
    this.applySend();
  }

  counters(id: string): PathCounters | null {
    const s = this.dc?.stats(id);
    if (!s) return null;
    return {
      packetsReceived: s.received, packetsLost: s.lost, samplesReceived: s.played, concealedSamples: s.concealed,
      jitterMs: s.jitterMs, jitterBufferMs: s.bufferMs,
    };
  }

  close(): void {
    this.offAudio();
    this.dc?.close();
    this.dc = null;
    this.links.clear();
    this.outs.clear();
  }

  private attach(ctx: AudioContext): void {
    if (this.dc) return;
    this.dc = new DcVoice(ctx, options());
    if (this.mic) void this.dc.start(new MediaStream([this.mic]));
    for (const link of this.links.values()) this.connect(link);
    this.applySend();
  }

  private connect(link: PeerLink): void {
    const input = this.host.talkerInput(link.id);
    if (!this.dc || !input || this.outs.has(link.id)) return;
    const out = this.dc.addPeer(link.id, link.dataChannel, link.pc);
    out.connect(input);
    this.outs.set(link.id, out);
  }

  private applySend(): void {
    if (!this.dc) return;
    const channels: RTCDataChannel[] = [], ids: string[] = [];
    for (const id of this.sendTo) {
      const link = this.links.get(id);
      if (link) { channels.push(link.dataChannel); ids.push(id); }
    }
    this.dc.setSending(this.mic ? channels : [], this.mic ? ids : []);
  }
}

if (DcVoice.supported('pcm')) registerPath('dc', (host) => new DcPath(host));
