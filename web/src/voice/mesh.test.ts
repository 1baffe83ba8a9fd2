// The mesh's negotiation rules against a small fake RTCPeerConnection (the offer/answer state
// machine and the JSEP rule that an addTransceiver'ed transceiver never takes a remote m-line).
// Real Chromium runs the same paths in web/e2e/voice.mjs.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { Mesh, type Signal, type SignalType } from './mesh';
import type { PeerLink } from './path';

let sessions = 1000;

class FakeTransceiver {
  mid: string | null = null;
  currentDirection: string | null = null;
  receiver = { track: { kind: 'audio', id: `t${sessions++}` } };
  sender = { replaceTrack: async () => {} };
  constructor(public direction: string, public byAdd: boolean) {}
}

class FakePC {
  static all: FakePC[] = [];
  signalingState: RTCSignalingState = 'stable';
  connectionState: RTCPeerConnectionState = 'new';
  iceConnectionState: RTCIceConnectionState = 'new';
  localDescription: { type: string; sdp: string } | null = null;
  remoteDescription: { type: string; sdp: string } | null = null;
  onnegotiationneeded: (() => void) | null = null;
  onicecandidate: ((e: { candidate: null }) => void) | null = null;
  onconnectionstatechange: (() => void) | null = null;
  oniceconnectionstatechange: (() => void) | null = null;
  transceivers: FakeTransceiver[] = [];
  channel = false;
  channelNegotiated = false;
  readonly session = String(sessions++);
  private version = 1;
  closed = false;

  constructor() { FakePC.all.push(this); }

  addTransceiver(_kind: string, init: { direction: string }) {
    const t = new FakeTransceiver(init.direction, true);
    this.transceivers.push(t);
    this.needNegotiation();
    return t;
  }
  getTransceivers() { return this.transceivers; }
  createDataChannel() {
    this.channel = true;
    this.needNegotiation();
    return { readyState: 'connecting', binaryType: 'blob', onopen: null, onclose: null, close() {} };
  }
  restartIce() { this.needNegotiation(true); }
  private restart = false;
  private needNegotiation(restart = false) {
    if (restart) this.restart = true;
    setTimeout(() => {
      if (this.closed || this.signalingState !== 'stable') return;
      const pending = this.restart || (this.channel && !this.channelNegotiated) || this.transceivers.some((t) => t.mid === null && t.byAdd);
      if (pending) this.onnegotiationneeded?.();
    }, 0);
  }
  private sdp(): string {
    const lines = ['v=0', `o=- ${this.session} ${this.version++} IN IP4 127.0.0.1`, 's=-', 't=0 0'];
    for (const t of this.transceivers) lines.push('m=audio 9 UDP/TLS/RTP/SAVPF 111', 'a=rtpmap:111 opus/48000/2', `a=${t.direction}`);
    if (this.channel || this.channelNegotiated) lines.push('m=application 9 UDP/DTLS/SCTP webrtc-datachannel');
    return lines.join('\r\n') + '\r\n';
  }
  async setLocalDescription() {
    await Promise.resolve();
    if (this.signalingState === 'stable') {
      this.transceivers.forEach((t, i) => { t.mid ??= String(i); });
      this.localDescription = { type: 'offer', sdp: this.sdp() };
      this.signalingState = 'have-local-offer';
    } else if (this.signalingState === 'have-remote-offer') {
      this.localDescription = { type: 'answer', sdp: this.sdp() };
      this.negotiated();
    }
  }
  async setRemoteDescription(d: { type: string; sdp: string }) {
    await Promise.resolve();
    if (d.type === 'offer') {
      if (this.signalingState === 'have-local-offer') { // implicit rollback
        this.transceivers.forEach((t) => { if (t.currentDirection === null) t.mid = null; });
        this.signalingState = 'stable';
      }
      const audio = d.sdp.split('\r\n').filter((l) => l.startsWith('m=audio')).length;
      for (let i = 0; i < audio; i++) {
        if (!this.transceivers.some((t) => t.mid === String(i))) {
          const t = new FakeTransceiver('recvonly', false); // JSEP: a remote m-line never takes an addTransceiver'ed one
          t.mid = String(i);
          this.transceivers.push(t);
        }
      }
      if (d.sdp.includes('m=application')) this.channelNegotiated = true;
      this.remoteDescription = d;
      this.signalingState = 'have-remote-offer';
    } else {
      if (this.signalingState !== 'have-local-offer') throw new Error('InvalidStateError');
      this.remoteDescription = d;
      this.negotiated();
    }
  }
  private negotiated() {
    this.signalingState = 'stable';
    this.restart = false;
    if (this.channel) this.channelNegotiated = true;
    for (const t of this.transceivers) t.currentDirection = t.direction;
    this.connectionState = 'connected';
    this.iceConnectionState = 'connected';
    this.onconnectionstatechange?.();
    this.needNegotiation();
  }
  async addIceCandidate() {}
  async getStats() { return new Map(); }
  close() { this.closed = true; this.signalingState = 'closed'; this.connectionState = 'closed'; }
}

type Sent = { from: string; type: SignalType; data: Record<string, unknown> };

/** Meshes for the given ids, wired through a relay that delivers asynchronously and in order. */
function room(ids: string[]) {
  const log: Sent[] = [];
  const meshes = new Map<string, Mesh>();
  const announced = new Map<string, PeerLink[]>();
  let up = true;
  for (const id of ids) {
    const m = new Mesh({
      me: id,
      iceServers: () => [],
      send: async (type, data) => {
        if (!up) throw new Error('offline');
        log.push({ from: id, type, data });
        const to = meshes.get(data.to as string);
        setTimeout(() => to?.signal({ type, data: { ...data, from: id } } as Signal), 1);
      },
    });
    announced.set(id, []);
    m.onPeer((l) => announced.get(id)!.push(l));
    meshes.set(id, m);
  }
  return { log, meshes, announced, setUp: (v: boolean) => { up = v; } };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Lets the fake signalling run until every connection of the meshes is connected (or 2 s pass). */
async function settle(r?: { meshes: Map<string, Mesh> }) {
  await sleep(20);
  for (let i = 0; i < 200 && r; i++) {
    const all = [...r.meshes.values()].flatMap((m) => m.info());
    if (all.length && all.every((p) => p.connectionState === 'connected')) break;
    await sleep(10);
  }
  await sleep(20);
}
const pcOf = (m: Mesh, id: string) => m.pc(id) as unknown as FakePC;

describe('voice mesh negotiation', () => {
  const saved = (globalThis as { RTCPeerConnection?: unknown }).RTCPeerConnection;
  beforeAll(() => { (globalThis as { RTCPeerConnection?: unknown }).RTCPeerConnection = FakePC; });
  afterAll(() => { (globalThis as { RTCPeerConnection?: unknown }).RTCPeerConnection = saved; });

  it('connects a pair with one offer, one audio transceiver at each end and the channel on both', async () => {
    const r = room(['pa', 'pb']); // pb > pa: pb is polite
    for (const [id, m] of r.meshes) { m.setSignalling(true); m.setWanted(['pa', 'pb'].filter((x) => x !== id)); }
    await settle(r);
    const a = pcOf(r.meshes.get('pa')!, 'pb'), b = pcOf(r.meshes.get('pb')!, 'pa');
    expect(a.connectionState).toBe('connected');
    expect(b.connectionState).toBe('connected');
    expect(a.transceivers).toHaveLength(1);
    expect(b.transceivers).toHaveLength(1);
    expect(b.transceivers[0].direction).toBe('sendrecv'); // adopted by the polite end
    expect(r.log.filter((x) => x.type === 'rtc.offer').map((x) => x.from)).toEqual(['pa']);
    expect(r.announced.get('pa')).toHaveLength(1);
    expect(r.announced.get('pb')).toHaveLength(1);
    expect(r.announced.get('pb')![0].polite).toBe(true);
  });

  it('makes no connection while the room socket is down, and catches up when it is back', async () => {
    const r = room(['pa', 'pb']);
    r.setUp(false);
    for (const [id, m] of r.meshes) m.setWanted(['pa', 'pb'].filter((x) => x !== id));
    await settle(r);
    expect(r.meshes.get('pa')!.info()).toHaveLength(0);
    r.setUp(true);
    for (const m of r.meshes.values()) m.setSignalling(true);
    await settle(r);
    expect(pcOf(r.meshes.get('pa')!, 'pb').connectionState).toBe('connected');
    expect(pcOf(r.meshes.get('pb')!, 'pa').connectionState).toBe('connected');
  });

  it('a dropped link at the polite end comes back: it asks the impolite end to start over', async () => {
    const r = room(['pa', 'pb']);
    for (const [id, m] of r.meshes) { m.setSignalling(true); m.setWanted(['pa', 'pb'].filter((x) => x !== id)); }
    await settle(r);
    const oldA = pcOf(r.meshes.get('pa')!, 'pb');
    r.meshes.get('pb')!.drop('pa');
    expect(r.meshes.get('pb')!.pc('pa')).toBeNull();
    await sleep(800);
    r.meshes.get('pb')!.tick();
    await settle(r);
    const a = pcOf(r.meshes.get('pa')!, 'pb'), b = pcOf(r.meshes.get('pb')!, 'pa');
    expect(r.log.some((x) => x.from === 'pb' && x.type === 'rtc.restart')).toBe(true);
    expect(a).not.toBe(oldA);
    expect(oldA.closed).toBe(true);
    expect(a.connectionState).toBe('connected');
    expect(b.connectionState).toBe('connected');
    expect(b.transceivers).toHaveLength(1);
  });

  it('an offer from a new connection at the other end (a reload) replaces the old one', async () => {
    const r = room(['pa', 'pb']);
    for (const [id, m] of r.meshes) { m.setSignalling(true); m.setWanted(['pa', 'pb'].filter((x) => x !== id)); }
    await settle(r);
    const oldB = pcOf(r.meshes.get('pb')!, 'pa');
    // pa reloads: a fresh mesh with the same id
    const fresh = new Mesh({
      me: 'pa', iceServers: () => [],
      send: async (type, data) => { setTimeout(() => r.meshes.get('pb')!.signal({ type, data: { ...data, from: 'pa' } } as Signal), 1); },
    });
    r.meshes.get('pa')!.stop();
    r.meshes.set('pa', fresh);
    fresh.setSignalling(true);
    fresh.setWanted(['pb']);
    await settle(r);
    const b = pcOf(r.meshes.get('pb')!, 'pa');
    expect(b).not.toBe(oldB);
    expect(b.connectionState).toBe('connected');
    expect(b.transceivers).toHaveLength(1);
    expect(pcOf(fresh, 'pb').connectionState).toBe('connected');
  });

  it('an ICE restart from the polite end renegotiates the same connection', async () => {
    const r = room(['pa', 'pb']);
    for (const [id, m] of r.meshes) { m.setSignalling(true); m.setWanted(['pa', 'pb'].filter((x) => x !== id)); }
    await settle(r);
    const a = pcOf(r.meshes.get('pa')!, 'pb'), b = pcOf(r.meshes.get('pb')!, 'pa');
    const offers = r.log.filter((x) => x.type === 'rtc.offer').length;
    r.meshes.get('pb')!.restartIce('pa');
    for (let i = 0; i < 100 && !(r.log.filter((x) => x.type === 'rtc.offer').length > offers && a.signalingState === 'stable' && b.signalingState === 'stable'); i++) await sleep(10);
    expect(r.log.filter((x) => x.type === 'rtc.offer').length).toBe(offers + 1);
    expect(pcOf(r.meshes.get('pa')!, 'pb')).toBe(a);
    expect(pcOf(r.meshes.get('pb')!, 'pa')).toBe(b);
    expect(a.signalingState).toBe('stable');
    expect(b.signalingState).toBe('stable');
    expect(a.transceivers).toHaveLength(1);
  });
});
