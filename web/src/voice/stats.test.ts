import { describe, it, expect } from 'vitest';
import { StallDetector, STALL_FLAG_MS, linkEntry, isWeak, selectedPairRttMs, remoteFractionLost } from './stats';

/** Feeds a series of packet counts sampled every STATS_EVERY_MS (250 ms); returns the verdicts. */
const EVERY = 250;
function series(counts: number[], expecting: boolean[] | boolean = true) {
  const d = new StallDetector();
  return counts.map((c, i) => d.update(i * EVERY, c, Array.isArray(expecting) ? expecting[i] : expecting));
}
const flat = (first: number[], n: number) => [...first, ...new Array(n).fill(first[first.length - 1])];

describe('stall detector', () => {
  it('never flags a link that keeps receiving', () => {
    const v = series([0, 25, 50, 75, 100, 125, 150, 175]);
    expect(v.every((x) => !x.stalled && !x.restart)).toBe(true);
  });

  it('flags after 1.5 s without new packets and restarts ICE after 3 s, once per 4 s', () => {
    expect(STALL_FLAG_MS).toBe(1500);
    // the last new packets are seen at t=250
    const v = series(flat([0, 25], 40));
    const firstStalled = v.findIndex((x) => x.stalled);
    expect(firstStalled * EVERY - EVERY).toBe(1500);
    const restarts = v.map((x, i) => (x.restart ? i * EVERY - EVERY : null)).filter((x) => x !== null);
    expect(restarts).toEqual([3250, 7250]); // silent 3.25 s (first sample past 3 s), then 4 s later
  });

  it('flags within 2 s of a cut that falls just after a poll', () => {
    // packets flow up to t=250 + 1 ms (counted only at the 500 ms poll), then stop
    const v = series(flat([0, 25, 26], 20));
    const cutAt = EVERY + 1;
    const flaggedAt = v.findIndex((x) => x.stalled) * EVERY;
    expect(flaggedAt - cutAt).toBeLessThanOrEqual(2000);
  });

  it('a peer that does not talk to me may stay silent', () => {
    const v = series(new Array(40).fill(7), false);
    expect(v.some((x) => x.stalled || x.restart)).toBe(false);
  });

  it('counts silence only from when the peer started talking to me', () => {
    const expecting = [...new Array(12).fill(false), ...new Array(12).fill(true)];
    const v = series(new Array(24).fill(3), expecting);
    expect(v.slice(0, 17).some((x) => x.stalled)).toBe(false); // 1.25 s after the talk began
    expect(v[18].stalled).toBe(true);                          // 1.5 s
  });

  it('clears the flag as soon as packets come back', () => {
    const v = series([0, 10, ...new Array(6).fill(10), 20, 30]);
    expect(v[7].stalled).toBe(true);
    expect(v[8].stalled).toBe(false);
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
