// The RTP path's send switch against a fake sender: the mic is attached (as a clone) once, and the
// microphone reaches only the peers in `to`. Unprimed (default): a press flips `active`; primed:
// every encoding stays active and a press flips the clone's `enabled` (silence is encoded otherwise).
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import type { PathHost, PeerLink } from './path';

class FakeTrack {
  enabled = true;
  stopped = false;
  constructor(readonly id: string) {}
  clone(): FakeTrack { return new FakeTrack(`${this.id}+`); }
  stop(): void { this.stopped = true; }
}

function fakeLink(id: string) {
  const calls: string[] = [];
  let encodings = [{ active: true }];
  let track: FakeTrack | null = null;
  const sender = {
    getParameters: () => ({ encodings: encodings.map((e) => ({ ...e })) }),
    setParameters: async (p: { encodings: { active: boolean }[] }) => { calls.push(`active=${p.encodings[0].active}`); encodings = p.encodings; },
    replaceTrack: async (t: FakeTrack | null) => { calls.push(`track=${t?.id ?? null}`); track = t; },
    get track() { return track; },
  };
  const link = {
    id, pc: { signalingState: 'stable' },
    transceiver: { sender, receiver: { track: { id: `r-${id}` } } },
  } as unknown as PeerLink;
  return {
    link, calls, track: () => track,
    /** The microphone goes out: a track attached, enabled, on an active encoding. */
    sending: () => !!track && track.enabled && encodings[0].active,
    /** Packets go out (the mic's or encoded silence). */
    packets: () => !!track && encodings[0].active,
  };
}

const g = globalThis as Record<string, unknown>;
const saved: Record<string, unknown> = {};
beforeAll(() => {
  for (const k of ['Audio', 'MediaStream']) saved[k] = g[k];
  g.Audio = class { muted = false; srcObject: unknown = null; play() { return Promise.resolve(); } };
  g.MediaStream = class { constructor(readonly tracks: unknown[]) {} };
});
afterAll(() => { for (const k of Object.keys(saved)) g[k] = saved[k]; });

const settle = () => new Promise((r) => setTimeout(r, 0));

describe('rtp send switch', () => {
  it('unprimed: attaches a clone of the mic with the encoding off, then presses flip only `active`', async () => {
    const { RtpPath } = await import('./rtp');
    const mic = new FakeTrack('mic');
    const host: PathHost = {
      audioContext: () => null, talkerInput: () => null, onAudio: () => () => {},
      mic: () => mic as unknown as MediaStreamTrack,
    };
    const path = new RtpPath(host, { prime: false });
    const a = fakeLink('a'), b = fakeLink('b');
    path.addPeer(a.link);
    path.addPeer(b.link);
    await settle();
    expect(a.calls).toEqual(['active=false', 'track=mic+']);
    expect(a.sending() || b.sending()).toBe(false);

    path.setSendTo(new Set(['a']));
    await settle();
    expect(a.sending()).toBe(true);
    expect(b.sending()).toBe(false);
    path.setSendTo(new Set());
    path.setSendTo(new Set(['b']));
    await settle();
    expect(a.sending()).toBe(false);
    expect(b.sending()).toBe(true);
    expect(a.calls.filter((c) => c.startsWith('track='))).toEqual(['track=mic+']); // no replaceTrack per press

    const mic2 = new FakeTrack('mic2');
    const first = a.track();
    path.setMic(mic2 as unknown as MediaStreamTrack);
    await settle();
    expect(a.track()?.id).toBe('mic2+');
    expect(first?.stopped).toBe(true);
    expect(b.sending()).toBe(true);
    path.close();
  });

  it('primed: packets flow to every peer, the mic only to those in `to`, a press flips `enabled` only', async () => {
    const { RtpPath } = await import('./rtp');
    const mic = new FakeTrack('mic');
    const host: PathHost = {
      audioContext: () => null, talkerInput: () => null, onAudio: () => () => {},
      mic: () => mic as unknown as MediaStreamTrack,
    };
    const path = new RtpPath(host, { prime: true });
    const a = fakeLink('a'), b = fakeLink('b');
    path.addPeer(a.link);
    path.addPeer(b.link);
    await settle();
    expect(a.calls).toEqual(['track=mic+']);
    expect(a.packets() && b.packets()).toBe(true);
    expect(a.track()?.enabled).toBe(false); // attached disabled: silence, never the mic
    expect(a.sending() || b.sending()).toBe(false);

    path.setSendTo(new Set(['a']));
    expect(a.sending()).toBe(true); // synchronous: no sender call in between
    expect(b.sending()).toBe(false);
    path.setSendTo(new Set());
    expect(a.sending() || b.sending()).toBe(false);
    path.setSendTo(new Set(['b']));
    await settle();
    expect(a.sending()).toBe(false);
    expect(b.sending()).toBe(true);
    expect(a.calls).toEqual(['track=mic+']); // neither setParameters nor replaceTrack per press

    const mic2 = new FakeTrack('mic2');
    path.setMic(mic2 as unknown as MediaStreamTrack);
    await settle();
    expect(a.track()?.id).toBe('mic2+');
    expect(a.sending()).toBe(false);
    expect(b.sending()).toBe(true);
    path.setMic(null);
    await settle();
    expect(a.packets() || b.packets()).toBe(false); // no mic: nothing at all
    path.close();
  });
});
