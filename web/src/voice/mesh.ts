// The voice mesh: one RTCPeerConnection per peer (every online md / musician / tech but me), made
// when the peer comes online, closed when it goes. Perfect negotiation (W3C WebRTC §"Perfect
// negotiation"): the peer with the greater participant id is polite; onnegotiationneeded and
// onicecandidate are wired once; an offer collision is resolved by the polite side's rollback.
//
// The impolite peer adds the audio transceiver (sendrecv, no track) and the negotiated data
// channel; the polite peer adopts the transceiver of the first offer. (A transceiver made with
// addTransceiver is never matched to a remote m-line, so if both ends added one the pair would
// end up with two audio m-lines and a second negotiation.) Pressing Talk costs no negotiation:
// the path switches sending with replaceTrack.
import { mungeOpus, sdpSessionId } from './sdp';
import type { PeerLink } from './path';

export type SignalType = 'rtc.offer' | 'rtc.answer' | 'rtc.ice' | 'rtc.restart';
export type Signal = { type: SignalType; data: { from?: string; sdp?: string; candidate?: RTCIceCandidateInit } };

export type MeshHost = {
  me: string;
  /** Sends a relayed rtc.* command; rejects when the server refused it or we are offline. */
  send(type: SignalType, data: Record<string, unknown>): Promise<unknown>;
  iceServers(): RTCIceServer[];
};

export const DATA_CHANNEL: RTCDataChannelInit = { negotiated: true, id: 0, ordered: false, maxRetransmits: 0 };
const GRACE_MS = 5000;          // a peer we heard from before the room state lists it online
const STUCK_MS = 12000;         // not connected this long after creation: rebuild
const DISCONNECTED_RESTART_MS = 4000;
const DISCONNECTED_REBUILD_MS = 15000;
const REBUILD_MIN_GAP_MS = 1500;

export type PeerInfo = {
  id: string; polite: boolean; connectionState: RTCPeerConnectionState; iceConnectionState: RTCIceConnectionState;
  dataChannel: RTCDataChannelState | 'none'; createdAt: number; rebuilds: number;
};

class Peer {
  readonly pc: RTCPeerConnection;
  dc: RTCDataChannel | null = null;
  transceiver: RTCRtpTransceiver | null = null;
  makingOffer = false;
  ignoreOffer = false;
  remoteSession: string | null = null;
  queue: Promise<void> = Promise.resolve();
  announced = false;
  closed = false;
  unsent: { type: 'rtc.offer' | 'rtc.answer'; sdp: string } | null = null; // lost while signalling was down
  disconnectedAt: number | null = null;
  lastRestartAt = 0;
  readonly createdAt = Date.now();

  constructor(readonly id: string, readonly polite: boolean, config: RTCConfiguration, readonly rebuilds: number) {
    this.pc = new RTCPeerConnection(config);
  }
}

export class Mesh {
  private peers = new Map<string, Peer>();
  private wanted = new Set<string>();
  private graceUntil = new Map<string, number>();
  private lastRebuild = new Map<string, number>();
  private rebuildCount = new Map<string, number>();
  private readonly peerListeners = new Set<(link: PeerLink) => void>();
  private readonly goneListeners = new Set<(id: string) => void>();
  private readonly changeListeners = new Set<() => void>();
  private stopped = false;
  private signalling = false;

  constructor(private readonly host: MeshHost) {}

  /** The room socket is up (hello received) or down. New connections wait for it; an offer or answer lost meanwhile is sent again. */
  setSignalling(up: boolean): void {
    if (up === this.signalling) return;
    this.signalling = up;
    if (!up) return;
    for (const p of this.peers.values()) {
      const u = p.unsent;
      if (u) { p.unsent = null; this.sendSdp(p, u.type, u.sdp); }
    }
    this.reconcile();
  }

  /** Called with each peer connection once its transceiver and data channel exist (again after a rebuild). */
  onPeer(fn: (link: PeerLink) => void): () => void {
    this.peerListeners.add(fn);
    for (const p of this.peers.values()) if (p.announced) fn(this.linkOf(p));
    return () => this.peerListeners.delete(fn);
  }
  /** Called when a peer connection closes (the peer left, went offline, or it is being rebuilt). */
  onPeerGone(fn: (id: string) => void): () => void { this.goneListeners.add(fn); return () => this.goneListeners.delete(fn); }
  /** Called when any connection or channel state changes (for the UI). */
  onChange(fn: () => void): () => void { this.changeListeners.add(fn); return () => this.changeListeners.delete(fn); }

  links(): PeerLink[] {
    return [...this.peers.values()].filter((p) => p.announced).map((p) => this.linkOf(p));
  }

  pc(id: string): RTCPeerConnection | null { return this.peers.get(id)?.pc ?? null; }

  info(): PeerInfo[] {
    return [...this.peers.values()].map((p) => ({
      id: p.id, polite: p.polite, connectionState: p.pc.connectionState, iceConnectionState: p.pc.iceConnectionState,
      dataChannel: p.dc?.readyState ?? 'none', createdAt: p.createdAt, rebuilds: p.rebuilds,
    }));
  }

  /** The peers that should have a connection now (online voice participants but me). */
  setWanted(ids: Iterable<string>): void {
    this.wanted = new Set([...ids].filter((id) => id !== this.host.me));
    this.reconcile();
  }

  /** A relayed rtc.* event. */
  signal(ev: Signal): void {
    const from = ev.data.from;
    if (this.stopped || !from || from === this.host.me) return;
    let peer = this.peers.get(from);
    if (!peer) {
      if (ev.type === 'rtc.ice') return; // candidates of a connection we do not have are stale
      // The peer may talk to us before our room state lists it online.
      if (!this.wanted.has(from)) this.graceUntil.set(from, Date.now() + GRACE_MS);
      peer = this.create(from, true);
    }
    const p = peer;
    p.queue = p.queue.then(() => this.handle(p, ev)).catch((e) => this.onError(p, e));
  }

  /** Fault injection: closes the connection to `id`; the watchdog makes a new one within ~1–2 s. */
  drop(id: string): void {
    const p = this.peers.get(id);
    if (!p) return;
    this.close(p);
    this.lastRebuild.set(id, Date.now());
    this.rebuildCount.set(id, (this.rebuildCount.get(id) ?? 0) + 1);
  }

  restartIce(id: string): void {
    const p = this.peers.get(id);
    if (!p || p.closed) return;
    p.lastRestartAt = Date.now();
    p.pc.restartIce();
  }

  /** Every ~1 s: the watchdog for connections that never came up or went away. */
  tick(now = Date.now()): void {
    for (const p of [...this.peers.values()]) {
      const st = p.pc.connectionState;
      if (st === 'failed' || st === 'closed') { this.rebuild(p, true); continue; }
      if (st !== 'connected' && now - p.createdAt > STUCK_MS && p.disconnectedAt === null && this.signalling) { this.rebuild(p, true); continue; }
      if (st === 'disconnected') {
        p.disconnectedAt ??= now;
        const gone = now - p.disconnectedAt;
        if (gone > DISCONNECTED_REBUILD_MS) this.rebuild(p, true);
        else if (gone > DISCONNECTED_RESTART_MS && now - p.lastRestartAt > DISCONNECTED_RESTART_MS) this.restartIce(p.id);
      } else if (st === 'connected') {
        p.disconnectedAt = null;
      }
    }
    this.reconcile();
  }

  stop(): void {
    this.stopped = true;
    for (const p of [...this.peers.values()]) this.close(p);
  }

  // ---- internals ------------------------------------------------------------------------------

  private linkOf(p: Peer): PeerLink {
    return { id: p.id, pc: p.pc, dataChannel: p.dc!, transceiver: p.transceiver!, polite: p.polite };
  }

  private reconcile(): void {
    if (this.stopped) return;
    const now = Date.now();
    for (const p of [...this.peers.values()]) {
      const grace = this.graceUntil.get(p.id) ?? 0;
      if (!this.wanted.has(p.id) && now > grace) { this.close(p); this.graceUntil.delete(p.id); }
    }
    if (!this.signalling) return; // a new connection could not negotiate
    for (const id of this.wanted) {
      if (this.peers.has(id)) continue;
      if (now - (this.lastRebuild.get(id) ?? 0) < REBUILD_MIN_GAP_MS / 2) continue;
      this.create(id);
    }
  }

  /** `answering`: made for an offer that just arrived, so the polite end need not ask for one. */
  private create(id: string, answering = false): Peer {
    const polite = this.host.me > id;
    const config: RTCConfiguration = { iceServers: this.host.iceServers(), bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require' };
    const n = this.rebuildCount.get(id) ?? 0;
    const p = new Peer(id, polite, config, n);
    this.peers.set(id, p);
    const pc = p.pc;
    pc.onnegotiationneeded = async () => {
      try {
        p.makingOffer = true;
        await pc.setLocalDescription();
        if (p.closed || !pc.localDescription) return;
        this.sendSdp(p, 'rtc.offer', mungeOpus(pc.localDescription.sdp));
      } catch (e) {
        this.onError(p, e);
      } finally {
        p.makingOffer = false;
      }
    };
    pc.onicecandidate = ({ candidate }) => {
      if (!candidate || !candidate.candidate || p.closed) return;
      this.host.send('rtc.ice', { to: id, candidate: candidate.toJSON() }).catch(() => {});
    };
    pc.onconnectionstatechange = () => {
      if (p.closed) return;
      if (pc.connectionState === 'failed') this.rebuild(p, true);
      this.changed();
    };
    pc.oniceconnectionstatechange = () => this.changed();
    if (!polite) {
      p.transceiver = pc.addTransceiver('audio', { direction: 'sendrecv' });
      this.lowLatencyReceiver(p.transceiver);
      this.openChannel(p);
      this.announce(p);
    } else if (!answering) {
      // The polite end waits for an offer. Ask for one: the impolite end may still hold a
      // connection to this page's predecessor (reload, drop) and would not offer by itself.
      this.host.send('rtc.restart', { to: id }).catch(() => {});
    }
    this.changed();
    return p;
  }

  private openChannel(p: Peer): void {
    p.dc = p.pc.createDataChannel('voice', DATA_CHANNEL);
    p.dc.binaryType = 'arraybuffer';
    p.dc.onopen = () => this.changed();
    p.dc.onclose = () => this.changed();
  }

  private lowLatencyReceiver(t: RTCRtpTransceiver): void {
    const r = t.receiver as RTCRtpReceiver & { jitterBufferTarget?: number | null; playoutDelayHint?: number };
    try { r.jitterBufferTarget = 0; } catch { /* not supported: the default target */ }
  }

  private announce(p: Peer): void {
    if (p.announced || !p.dc || !p.transceiver) return;
    p.announced = true;
    const link = this.linkOf(p);
    for (const fn of this.peerListeners) fn(link);
  }

  private async handle(p: Peer, ev: Signal): Promise<void> {
    if (p.closed) { const q = this.peers.get(p.id); if (q && q !== p) return this.handle(q, ev); return; }
    const pc = p.pc;
    if (ev.type === 'rtc.restart') {
      // The polite end has a new connection and waits for an offer: start over, unless this
      // connection's first offer is still unanswered (it goes to that new connection anyway).
      if (!p.polite && p.remoteSession !== null) this.rebuild(p, false);
      return;
    }
    if (ev.type === 'rtc.ice') {
      // A candidate of a connection that was replaced meanwhile does not apply: not an error.
      await pc.addIceCandidate(ev.data.candidate).catch(() => {});
      return;
    }
    const sdp = ev.data.sdp ?? '';
    const type = ev.type === 'rtc.offer' ? 'offer' : 'answer';
    const session = sdpSessionId(sdp);
    if (type === 'offer') {
      // The impolite end makes the first offer of every connection; an offer to a fresh one is
      // from a connection that is gone (its own offer follows).
      if (!p.polite && !p.remoteSession) return;
      if (p.remoteSession && session && session !== p.remoteSession) {
        // A new RTCPeerConnection at the other end (reload, rebuild): start over with it.
        const q = this.rebuild(p, false);
        if (q && q.polite) return this.handle(q, ev);
        return;
      }
    }
    const collision = type === 'offer' && (p.makingOffer || pc.signalingState !== 'stable');
    p.ignoreOffer = !p.polite && collision;
    if (p.ignoreOffer) return;
    if (type === 'answer' && pc.signalingState !== 'have-local-offer') return; // a late answer to an offer we rolled back
    await pc.setRemoteDescription({ type, sdp: mungeOpus(sdp) }); // the polite end's own offer is rolled back here
    if (session) p.remoteSession = session;
    if (type === 'offer') {
      if (!p.transceiver) this.adopt(p);
      await pc.setLocalDescription();
      if (p.closed || !pc.localDescription) return;
      this.sendSdp(p, 'rtc.answer', mungeOpus(pc.localDescription.sdp));
      this.announce(p);
    }
  }

  private sendSdp(p: Peer, type: 'rtc.offer' | 'rtc.answer', sdp: string): void {
    if (!this.signalling) { p.unsent = { type, sdp }; return; }
    this.host.send(type, { to: p.id, sdp }).catch(() => {
      // Offline between the check and the send: again when the socket is back.
      if (!p.closed && !this.signalling && p.pc.localDescription?.type === (type === 'rtc.offer' ? 'offer' : 'answer')) p.unsent = { type, sdp };
    });
  }

  /** The polite end takes the audio transceiver of the first offer as its own. */
  private adopt(p: Peer): void {
    const t = p.pc.getTransceivers().find((x) => x.receiver.track.kind === 'audio' && x.currentDirection !== 'stopped');
    if (t) {
      t.direction = 'sendrecv';
      this.lowLatencyReceiver(t);
      p.transceiver = t;
    }
    if (!p.dc) this.openChannel(p);
  }

  /** Closes `p` and makes a new connection to the same peer (same polite/impolite roles). */
  private rebuild(p: Peer, spontaneous: boolean): Peer | null {
    if (p.closed) return this.peers.get(p.id) ?? null;
    const now = Date.now();
    this.close(p);
    this.lastRebuild.set(p.id, now);
    this.rebuildCount.set(p.id, (this.rebuildCount.get(p.id) ?? 0) + 1);
    if (!this.wanted.has(p.id) && now > (this.graceUntil.get(p.id) ?? 0)) return null;
    return this.create(p.id, !spontaneous);
  }

  private close(p: Peer): void {
    if (p.closed) return;
    p.closed = true;
    if (this.peers.get(p.id) === p) this.peers.delete(p.id);
    p.pc.onnegotiationneeded = null;
    p.pc.onicecandidate = null;
    p.pc.onconnectionstatechange = null;
    try { p.dc?.close(); } catch { /* already */ }
    p.pc.close();
    if (p.announced) for (const fn of this.goneListeners) fn(p.id);
    this.changed();
  }

  private onError(p: Peer, e: unknown): void {
    if (p.closed || this.stopped) return;
    console.warn(`downbeat voice: signalling with ${p.id} failed, rebuilding the link:`, e);
    // A description that does not apply (a stale answer, a changed fingerprint): start over.
    if (Date.now() - (this.lastRebuild.get(p.id) ?? 0) > REBUILD_MIN_GAP_MS) this.rebuild(p, true);
  }

  private changed(): void {
    for (const fn of this.changeListeners) fn();
  }
}
