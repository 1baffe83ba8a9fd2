// Injected into every page of the benchmark (the app's too) before its own scripts: remembers each
// RTCPeerConnection the page makes, so the benchmark can read getStats without app hooks.
(() => {
  const Orig = window.RTCPeerConnection;
  if (!Orig || window.__benchPCs) return;
  const pcs = [];
  window.__benchPCs = pcs;
  window.RTCPeerConnection = class extends Orig {
    constructor(...args) { super(...args); pcs.push(this); }
  };
  const pick = (o, keys) => Object.fromEntries(keys.filter((k) => o[k] !== undefined).map((k) => [k, o[k]]));
  window.__benchStats = async () => {
    const out = [];
    for (const pc of pcs) {
      if (pc.connectionState === 'closed') continue;
      const r = await pc.getStats();
      const e = { connectionState: pc.connectionState, inbound: null, playout: null, rttMs: null, codec: null, outbound: null, dc: null };
      const byId = new Map();
      r.forEach((s) => byId.set(s.id, s));
      r.forEach((s) => {
        if (s.type === 'inbound-rtp' && s.kind === 'audio') {
          e.inbound = pick(s, ['packetsReceived', 'packetsLost', 'packetsDiscarded', 'jitter', 'jitterBufferDelay', 'jitterBufferTargetDelay',
            'jitterBufferMinimumDelay', 'jitterBufferEmittedCount', 'concealedSamples', 'silentConcealedSamples', 'concealmentEvents',
            'totalSamplesReceived', 'insertedSamplesForDeceleration', 'removedSamplesForAcceleration', 'fecPacketsReceived',
            'totalSamplesDuration', 'audioLevel', 'bytesReceived']);
          const c = byId.get(s.codecId);
          if (c) e.codec = { mimeType: c.mimeType, sdpFmtpLine: c.sdpFmtpLine };
          const p = s.playoutId && byId.get(s.playoutId);
          if (p) e.playout = pick(p, ['totalPlayoutDelay', 'totalSamplesCount', 'synthesizedSamplesDuration', 'totalSamplesDuration']);
        }
        if (s.type === 'media-playout' && !e.playout) e.playout = pick(s, ['totalPlayoutDelay', 'totalSamplesCount', 'synthesizedSamplesDuration', 'totalSamplesDuration']);
        if (s.type === 'outbound-rtp' && s.kind === 'audio') e.outbound = pick(s, ['packetsSent', 'bytesSent', 'retransmittedPacketsSent']);
        if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded' && s.currentRoundTripTime !== undefined) e.rttMs = s.currentRoundTripTime * 1000;
        if (s.type === 'data-channel') e.dc = { ...(e.dc ?? {}), [s.label]: pick(s, ['messagesReceived', 'bytesReceived', 'messagesSent', 'state']) };
      });
      out.push(e);
    }
    return out;
  };
})();
