import { describe, it, expect } from 'vitest';
import { StallDetector, linkEntry, isWeak, selectedPairRttMs, remoteFractionLost } from './stats';

/** Feeds a 500 ms series of packet counts; returns the verdicts. */
function series(counts: number[], expecting: boolean[] | boolean = true) {
  const d = new StallDetector();
  return counts.map((c, i) => d.update(i * 500, c, Array.isArray(expecting) ? expecting[i] : expecting));
}

describe('stall detector', () => {
  it('never flags a link that keeps receiving', () => {
    const v = series([0, 50, 100, 150, 200, 250, 300, 350]);
    expect(v.every((x) => !x.stalled && !x.restart)).toBe(true);
  });

  it('flags after 2 s without new packets and restarts ICE after 3 s, once per 4 s', () => {
    // packets stop after t=500
    const v = series([0, 50, 50, 50, 50, 50, 50, 50, 50, 50, 50, 50, 50, 50, 50, 50, 50, 50]);
    const firstStalled = v.findIndex((x) => x.stalled);
    expect(firstStalled * 500 - 500).toBe(2000);
    const restarts = v.map((x, i) => (x.restart ? i * 500 - 500 : null)).filter((x) => x !== null);
    expect(restarts).toEqual([3500, 7500]); // silent 3.5 s (first sample past 3 s), then 4 s later
  });

  it('a peer that does not talk to me may stay silent', () => {
    const v = series(new Array(20).fill(7), false);
    expect(v.some((x) => x.stalled || x.restart)).toBe(false);
  });

  it('counts silence only from when the peer started talking to me', () => {
    const expecting = [false, false, false, false, false, false, true, true, true, true, true, true];
    const v = series(new Array(12).fill(3), expecting);
    expect(v.slice(0, 9).some((x) => x.stalled)).toBe(false); // 1.5 s after the talk began
    expect(v[10].stalled).toBe(true);                         // 2 s
  });

  it('clears the flag as soon as packets come back', () => {
    const v = series([0, 10, 10, 10, 10, 10, 10, 20, 30]);
    expect(v[6].stalled).toBe(true);
    expect(v[7].stalled).toBe(false);
  });
});

describe('links entry', () => {
  it('computes loss and concealment over the interval', () => {
    const prev = { packetsReceived: 1000, packetsLost: 10, samplesReceived: 480000, concealedSamples: 4800 };
    const cur = { packetsReceived: 1490, packetsLost: 20, samplesReceived: 720000, concealedSamples: 7200, jitterMs: 1.234, jitterBufferMs: 20.06 };
    const e = linkEntry('p2', prev, cur, { rttMs: 0.456, stalled: false, path: 'rtp' });
    expect(e).toEqual({ peer: 'p2', stalled: false, path: 'rtp', rtt_ms: 0.5, loss: 0.02, concealed: 0.01, jitter_ms: 1.2, jitter_buffer_ms: 20.1 });
  });

  it('starts over when a rebuilt peer connection restarts the counters', () => {
    const e = linkEntry('p2', { packetsReceived: 5000, packetsLost: 100 }, { packetsReceived: 40, packetsLost: 0 }, { stalled: false, path: 'rtp' });
    expect(e.loss).toBe(0);
  });

  it('an interval without packets (nobody talked to me) has loss 0 and no concealment or buffering figures', () => {
    const c = { packetsReceived: 300, packetsLost: 0, samplesReceived: 96000, concealedSamples: 10, jitterMs: 2, jitterBufferMs: 40 };
    const e = linkEntry('p2', c, { ...c, samplesReceived: 336000, concealedSamples: 240010 }, { stalled: false, path: 'rtp' });
    expect(e).toEqual({ peer: 'p2', stalled: false, path: 'rtp', loss: 0 });
  });

  it('reports no figures for a link that has none yet', () => {
    expect(linkEntry('p3', null, null, { rttMs: null, stalled: false, path: 'dc' })).toEqual({ peer: 'p3', stalled: false, path: 'dc' });
  });

  it('marks weak links: loss over 2 %, stalled, RTT over 100 ms', () => {
    expect(isWeak({ loss: 0.02, rtt_ms: 100 })).toBe(false);
    expect(isWeak({ loss: 0.021 })).toBe(true);
    expect(isWeak({ stalled: true })).toBe(true);
    expect(isWeak({ rtt_ms: 140 })).toBe(true);
  });

  it('takes the RTT of the selected candidate pair', () => {
    const m = new Map<string, object>([
      ['T1', { type: 'transport', id: 'T1', selectedCandidatePairId: 'CP2' }],
      ['CP1', { type: 'candidate-pair', id: 'CP1', currentRoundTripTime: 0.5 }],
      ['CP2', { type: 'candidate-pair', id: 'CP2', currentRoundTripTime: 0.003 }],
    ]);
    expect(selectedPairRttMs(m as unknown as RTCStatsReport)).toBe(3);
  });

  it('reads the loss the peer reports for what this end sends', () => {
    const m = new Map<string, object>([['R', { type: 'remote-inbound-rtp', kind: 'audio', fractionLost: 0.05 }]]);
    expect(remoteFractionLost(m as unknown as RTCStatsReport)).toBe(0.05);
    expect(remoteFractionLost(new Map() as unknown as RTCStatsReport)).toBeNull();
  });
});
