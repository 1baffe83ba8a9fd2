// Loopback harness: two RTCPeerConnections in one page, one AudioContext, a negotiated unordered
// no-retransmit data channel between them, DcVoice on both ends. A 1 kHz burst every 250 ms goes
// into a MediaStream (the "microphone"); a recorder worklet notes the burst's onset straight
// after a MediaStreamAudioSourceNode of that stream (what the rig floor hears) and at the
// receiving talker's output: the difference is what the dc path adds. Results in window.__result.
import { DcVoice } from '../dc-voice';
import { decode_packet } from '../packet';

const q = new URLSearchParams(location.search);
const codec = (q.get('codec') ?? 'pcm') as 'pcm' | 'opus';
const frameMs = Number(q.get('frame') ?? 5) as 2.5 | 5 | 10;
const targetBufferMs = Number(q.get('target') ?? 5);
const maxBufferMs = q.get('max') ? Number(q.get('max')) : undefined;
const lossEvery = Number(q.get('loss') ?? 0);
const jitterMs = Number(q.get('jitter') ?? 0);
const durS = Number(q.get('dur') ?? 10);
const talkMs = Number(q.get('talk') ?? 2000);
const hint = q.get('hint'); // AudioContext latencyHint: 'interactive' (default) or seconds

const recorder = `
class Rec extends AudioWorkletProcessor {
  constructor() { super(); this.last = [-1e9, -1e9]; this.frame = 0; }
  process(inputs) {
    for (let c = 0; c < 2; c++) {
      const x = inputs[c] && inputs[c][0];
      if (!x) continue;
      for (let i = 0; i < x.length; i++) {
        const f = currentFrame + i;
        if (Math.abs(x[i]) > 0.05 && f - this.last[c] > sampleRate * 0.1) { this.port.postMessage({ c, f }); }
        if (Math.abs(x[i]) > 0.05) this.last[c] = f;
      }
    }
    return true;
  }
}
registerProcessor('rec', Rec);`;

function sleep(ms: number): Promise<void> { return new Promise((r) => setTimeout(r, ms)); }

function pct(a: number[], p: number): number {
  const s = [...a].sort((x, y) => x - y);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] : NaN;
}

async function pair(): Promise<[RTCDataChannel, RTCDataChannel, RTCPeerConnection, RTCPeerConnection]> {
  const a = new RTCPeerConnection();
  const b = new RTCPeerConnection();
  const init: RTCDataChannelInit = { negotiated: true, id: 0, ordered: false, maxRetransmits: 0 };
  const da = a.createDataChannel('voice', init);
  const db = b.createDataChannel('voice', init);
  a.onicecandidate = (e) => { if (e.candidate) void b.addIceCandidate(e.candidate); };
  b.onicecandidate = (e) => { if (e.candidate) void a.addIceCandidate(e.candidate); };
  await a.setLocalDescription();
  await b.setRemoteDescription(a.localDescription!);
  await b.setLocalDescription();
  await a.setRemoteDescription(b.localDescription!);
  await Promise.all([da, db].map((d) => new Promise((r) => { if (d.readyState === 'open') r(0); else d.onopen = () => r(0); })));
  return [da, db, a, b];
}

// Send and arrival offsets (graph frames now − packet timestamp, PCM only: same clock) on the main threads.
const sendOff: number[] = [];
const recvOff: number[] = [];
let ctxRef: AudioContext | null = null;
function offset_ms(buf: ArrayBufferLike): number | null {
  const p = decode_packet(new Uint8Array(buf));
  if (!p || p.codec !== 'pcm' || p.payload.byteLength === 0 || !ctxRef) return null;
  return (ctxRef.currentTime - p.ts / p.rate) * 1000;
}

// A channel that drops every Nth packet and delays the rest by 0…jitter ms (a userspace impairment).
function impaired(ch: RTCDataChannel): RTCDataChannel {
  let n = 0;
  const fake = {
    get readyState() { return ch.readyState; },
    get bufferedAmount() { return ch.bufferedAmount; },
    send(p: Uint8Array) {
      const o = offset_ms(p.buffer);
      if (o !== null) sendOff.push(o);
      n++;
      if (lossEvery > 0 && n % lossEvery === 0) return;
      if (jitterMs > 0) { const copy = p.slice(); setTimeout(() => ch.send(copy), Math.random() * jitterMs); } else ch.send(p as Uint8Array<ArrayBuffer>);
    },
  };
  return fake as unknown as RTCDataChannel;
}

async function main(): Promise<void> {
  const ctx = new AudioContext({ latencyHint: hint && !Number.isNaN(Number(hint)) ? Number(hint) : 'interactive' });
  await ctx.resume();
  ctxRef = ctx;
  const [da, db] = await pair();
  db.addEventListener('message', (e) => { const o = offset_ms(e.data as ArrayBuffer); if (o !== null) recvOff.push(o); });
  const sender = new DcVoice(ctx, { codec, frameMs, targetBufferMs });
  const receiver = new DcVoice(ctx, { codec, frameMs, targetBufferMs, ...(maxBufferMs ? { maxBufferMs } : {}) });

  // the "microphone": bursts scheduled on the audio clock into a MediaStream
  const osc = ctx.createOscillator();
  osc.frequency.value = 1000;
  const env = ctx.createGain();
  env.gain.value = 0;
  const mic = ctx.createMediaStreamDestination();
  osc.connect(env).connect(mic);
  osc.start();
  const t0 = ctx.currentTime + 0.3;
  for (let t = t0; t < t0 + durS; t += 0.25) {
    env.gain.setValueAtTime(0, t);
    env.gain.linearRampToValueAtTime(0.5, t + 0.001);
    env.gain.setValueAtTime(0.5, t + 0.02);
    env.gain.linearRampToValueAtTime(0, t + 0.021);
  }

  await sender.start(mic.stream);
  const heard = receiver.addPeer('A', db);

  await ctx.audioWorklet.addModule(URL.createObjectURL(new Blob([recorder], { type: 'text/javascript' })));
  const rec = new AudioWorkletNode(ctx, 'rec', { numberOfInputs: 2, numberOfOutputs: 0 });
  const floor = ctx.createMediaStreamSource(mic.stream);
  floor.connect(rec, 0, 0);
  heard.connect(rec, 0, 1);
  heard.connect(ctx.destination);
  const onsets: [number[], number[]] = [[], []];
  rec.port.onmessage = (e) => onsets[e.data.c as 0 | 1].push(e.data.f);

  // talk in bursts of `talkMs` with 300 ms pauses: each talk start is a press
  const presses: number[] = [];
  const clock: number[] = [];
  const bufs: number[] = [];
  const end = performance.now() + durS * 1000 + 300;
  while (performance.now() < end) {
    presses.push(ctx.currentTime * ctx.sampleRate);
    sender.setSending([impaired(da)]);
    const stop = performance.now() + talkMs;
    while (performance.now() < stop) {
      await sleep(100);
      const s = receiver.stats('A');
      if (s?.clockLatencyMs != null) clock.push(s.clockLatencyMs);
      if (s && s.bufferMs > 0) bufs.push(s.bufferMs);
    }
    sender.setSending([]);
    await sleep(300);
  }
  await sleep(300);
  const sr = ctx.sampleRate;
  // pair each floor onset with the next output onset within 150 ms
  const lat: number[] = [];
  for (const f of onsets[0]) {
    const o = onsets[1].find((x) => x >= f && x - f < sr * 0.15);
    if (o !== undefined) lat.push(((o - f) / sr) * 1000);
  }
  // press → first audible: first output onset after each press (the bursts make it ≤ 250 ms + path)
  const r = receiver.stats('A')!;
  const result = {
    codec, frameMs: codec === 'opus' ? frameMs : 128 / sr * 1000, targetBufferMs, lossEvery, jitterMs, ctxRate: sr, baseLatencyMs: ctx.baseLatency * 1000,
    bursts: onsets[0].length, heard: lat.length, missedBursts: onsets[0].length - lat.length,
    addedMs: { p50: pct(lat, 50), p95: pct(lat, 95), max: Math.max(...lat), min: Math.min(...lat) },
    clockLatencyMs: { p50: pct(clock, 50), p95: pct(clock, 95), max: Math.max(...clock) },
    bufferMs: { p50: pct(bufs, 50), p95: pct(bufs, 95) },
    sendOffMs: { p5: pct(sendOff, 5), p50: pct(sendOff, 50), p95: pct(sendOff, 95), max: Math.max(...sendOff) },
    recvOffMs: { p5: pct(recvOff, 5), p50: pct(recvOff, 50), p95: pct(recvOff, 95), max: Math.max(...recvOff) },
    stats: r, sent: sender.sent, presses: presses.length,
  };
  (document.getElementById('out') as HTMLElement).textContent = JSON.stringify(result, null, 1);
  (window as unknown as { __result: unknown }).__result = result;
}

main().catch((e) => { (window as unknown as { __result: unknown }).__result = { error: String(e?.stack ?? e) }; });
