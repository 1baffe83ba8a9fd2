// Link health from getStats samples: the stall detector (no new packets from a peer that talks to
// me) and the per-interval figures of a metrics.report `links` entry. Pure: samples carry their time.
import type { LinkReport } from '../model';
import type { PathCounters } from './path';

export const STALL_FLAG_MS = 1500;     // flag the link (polled every 250 ms: flagged ≤ 2 s after the last packet)
export const STALL_RESTART_MS = 3000;  // then restart ICE…
export const RESTART_EVERY_MS = 4000;  // …at most this often while it stays stalled

export type StallVerdict = { stalled: boolean; restart: boolean; silentMs: number };

export class StallDetector {
  private lastPackets = -1;
  private lastProgressAt = 0;
  private lastRestartAt: number | null = null;

  /** `expecting`: the peer talks to me now (so its packets must keep coming). */
  update(at: number, packetsReceived: number, expecting: boolean): StallVerdict {
    const progressed = packetsReceived > this.lastPackets;
    this.lastPackets = packetsReceived;
    if (!expecting || progressed) {
      this.lastProgressAt = at;
      this.lastRestartAt = null;
      return { stalled: false, restart: false, silentMs: 0 };
    }
    const silentMs = at - this.lastProgressAt;
    const stalled = silentMs >= STALL_FLAG_MS;
    let restart = false;
    if (silentMs > STALL_RESTART_MS && (this.lastRestartAt === null || at - this.lastRestartAt >= RESTART_EVERY_MS)) {
      restart = true;
      this.lastRestartAt = at;
    }
    return { stalled, restart, silentMs };
  }
}

const clamp01 = (x: number) => Math.max(0, Math.min(1, x));
const round = (x: number, d: number) => Math.round(x * 10 ** d) / 10 ** d;
const ms = (x: number) => Math.max(0, Math.min(60000, round(x, 1)));

/** One entry of `links` over the interval from `prev` to `cur` (counters are monotonic; a new peer connection restarts them). */
export function linkEntry(
  peer: string, prev: PathCounters | null, cur: PathCounters | null,
  extra: { rttMs?: number | null; stalled: boolean; path: 'rtp' | 'dc' },
): LinkReport {
  const e: LinkReport = { peer, stalled: extra.stalled, path: extra.path };
  if (extra.rttMs !== undefined && extra.rttMs !== null && Number.isFinite(extra.rttMs)) e.rtt_ms = ms(extra.rttMs);
  if (!cur) return e;
  const base = prev && prev.packetsReceived <= cur.packetsReceived ? prev : null;
  const dRecv = cur.packetsReceived - (base?.packetsReceived ?? 0);
  const dLost = Math.max(0, (cur.packetsLost ?? 0) - (base?.packetsLost ?? 0));
  e.loss = dRecv + dLost > 0 ? round(clamp01(dLost / (dRecv + dLost)), 4) : 0;
  if (dRecv <= 0) return e; // nobody talked to me: no concealment or buffering to speak of
  const dSamples = (cur.samplesReceived ?? 0) - (base?.samplesReceived ?? 0);
  const dConcealed = (cur.concealedSamples ?? 0) - (base?.concealedSamples ?? 0);
  if (cur.samplesReceived !== undefined) e.concealed = dSamples > 0 ? round(clamp01(dConcealed / dSamples), 4) : 0;
  if (cur.jitterMs !== undefined) e.jitter_ms = ms(cur.jitterMs);
  if (cur.jitterBufferMs !== undefined) e.jitter_buffer_ms = ms(cur.jitterBufferMs);
  return e;
}

export const WEAK_LOSS = 0.02;
export const WEAK_RTT_MS = 100;

/** A weak link: loss > 2 %, stalled, or RTT > 100 ms. */
export function isWeak(l: Pick<LinkReport, 'loss' | 'stalled' | 'rtt_ms'>): boolean {
  return (l.loss ?? 0) > WEAK_LOSS || !!l.stalled || (l.rtt_ms ?? 0) > WEAK_RTT_MS;
}

/** The round trip of the pair in use, from a peer connection's getStats(). */
export function selectedPairRttMs(report: RTCStatsReport): number | null {
  let pairId: string | null = null;
  report.forEach((s: { type: string; selectedCandidatePairId?: string }) => {
    if (s.type === 'transport' && s.selectedCandidatePairId) pairId = s.selectedCandidatePairId;
  });
  let rtt: number | null = null;
  report.forEach((s: { type: string; id: string; nominated?: boolean; state?: string; currentRoundTripTime?: number }) => {
    if (s.type !== 'candidate-pair' || s.currentRoundTripTime === undefined) return;
    if (pairId ? s.id === pairId : s.nominated && s.state === 'succeeded') rtt = s.currentRoundTripTime * 1000;
  });
  return rtt;
}

/** The loss the peer reports (RTCP) for the audio this end sends it; null while it sends none. */
export function remoteFractionLost(report: RTCStatsReport): number | null {
  let f: number | null = null;
  report.forEach((s: { type: string; kind?: string; fractionLost?: number }) => {
    if (s.type === 'remote-inbound-rtp' && s.kind === 'audio' && typeof s.fractionLost === 'number') f = s.fractionLost;
  });
  return f;
}
