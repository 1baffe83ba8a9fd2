// Output latency a person can trust. AudioContext.outputLatency is zero or wrong on many phones,
// and a Bluetooth speaker adds 100–250 ms that no API reports. Two ways to measure it once per
// device, both ending in the click's latency offset (ClickSettings.latencyMs):
//  - with the microphone: the page plays a few clicks and hears them come back through its own
//    microphone (echo cancellation off). The output scheduling and the recording share the audio
//    graph's clock, so the round trip is exact to a sample; what the app already compensates
//    (the output latency the browser reports) and the microphone's own latency are taken off.
//  - tap along, without a microphone: the page plays a steady click and the musician taps with
//    what they hear; the median of (tap − when the app believes the click is heard) is the offset.
// The estimators are pure functions (unit-tested); the browser part is runMicCalibration / TapAlong.
import workletUrl from './calibrate.worklet.ts?worker&url';
import type { RecordedBlock } from './calibrate.worklet';
import { scheduleClick } from './audio';
import { LiveSource } from './voice/source';

// 12 clicks of which 5 must agree: Chromium's capture path can jump 50–80 ms within one measurement
// (web/e2e/calibrate.mjs saw 3 of 8 clicks stray on a steady speaker), and 5 of 8 failed one try in
// two there; 12 clicks take 2.2 s longer and leave room for a third of them to stray.
export const CLICKS = 12;
export const CLICK_SPACING_S = 0.55;  // plus a little irregular spread, so no periodic echo can alias
export const MAX_ROUND_TRIP_S = 0.6;  // longer than any Bluetooth speaker; also the search window
export const MIN_HEARD = 5;           // of CLICKS, for a mic result to count
export const AGREE_MS = 10;           // round trips within this of their median agree; MIN_HEARD of them must
export const TAP_BEATS = 16;
export const TAP_MIN = 8;
export const TAP_MAX_IQR_MS = 60;
export const OFFSET_LIMIT_MS = 500;   // the latency offset's range (the settings field uses it too)
export const WARM_UP_S = 1.5;
export const RENEW_BEFORE_S = 0.12;  // the microphone's source node is renewed this long before each click

export type MicResult =
  | { ok: true; roundTripMs: number; reportedOutputMs: number; inputMs: number; offsetMs: number; heard: number; spreadMs: number }
  | { ok: false; heard: number; message: string };

/** The schedule of the calibration clicks: offsets in seconds from the first. */
export function clickSchedule(count = CLICKS): number[] {
  const out: number[] = [];
  let t = 0;
  for (let i = 0; i < count; i++) { out.push(t); t += CLICK_SPACING_S + ((i * 37) % 11) * 0.007; }
  return out;
}

/**
 * Finds each click's return in a recording. `recording` starts at graph frame `startFrame`;
 * `clickFrames` are the graph frames at which the clicks were scheduled. For each, the onset is the
 * first sample within MAX_ROUND_TRIP_S after it that reaches 30 % of the window's peak, which must
 * stand well above the noise measured before the first click. Returns round trips in ms (null: not heard).
 */
export function findRoundTrips(recording: Float32Array, startFrame: number, rate: number, clickFrames: number[]): (number | null)[] {
  const first = clickFrames[0] - startFrame;
  const noiseEnd = Math.max(0, Math.min(recording.length, first));
  let noise = 0;
  for (let i = 0; i < noiseEnd; i++) noise = Math.max(noise, Math.abs(recording[i]));
  const window = Math.round(MAX_ROUND_TRIP_S * rate);
  return clickFrames.map((cf, k) => {
    const from = Math.max(0, cf - startFrame);
    const next = k + 1 < clickFrames.length ? clickFrames[k + 1] - startFrame : Infinity;
    const to = Math.min(recording.length, from + window, next + Math.round(0.002 * rate));
    let peak = 0;
    for (let i = from; i < to; i++) peak = Math.max(peak, Math.abs(recording[i]));
    if (peak < 0.01 || peak < 6 * noise) return null;
    const level = 0.3 * peak;
    for (let i = from; i < to; i++) if (Math.abs(recording[i]) >= level) return ((i - from) / rate) * 1000;
    return null;
  });
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const clampOffset = (ms: number): number => Math.max(-OFFSET_LIMIT_MS, Math.min(OFFSET_LIMIT_MS, Math.round(ms)));

/** Turns detected round trips into the offset, or says why it cannot. */
export function micOffset(roundTrips: (number | null)[], reportedOutputMs: number, inputMs: number): MicResult {
  const heard = roundTrips.filter((x): x is number => x !== null);
  if (heard.length < MIN_HEARD) {
    return { ok: false, heard: heard.length, message: heard.length === 0
      ? 'The microphone heard none of the clicks. Turn the volume up, hold the phone near the speaker, or tap along instead.'
      : `The microphone heard only ${heard.length} of ${roundTrips.length} clicks. Turn the volume up and try again, or tap along instead.` };
  }
  // The delay most clicks agree on: a click masked by noise, or caught by an echo, or a moment when
  // the audio stack re-buffers, falls outside the cluster and is not counted.
  const mid = median(heard);
  const agree = heard.filter((x) => Math.abs(x - mid) <= AGREE_MS);
  if (agree.length < MIN_HEARD) {
    return { ok: false, heard: heard.length, message: `The clicks came back at different delays (${heard.map((x) => Math.round(x)).join(', ')} ms: noise or echo). Try again somewhere quieter, or tap along instead.` };
  }
  const rt = median(agree);
  return { ok: true, roundTripMs: rt, reportedOutputMs: reportedOutputMs, inputMs, heard: agree.length, spreadMs: Math.max(...agree) - Math.min(...agree),
    offsetMs: clampOffset(rt - reportedOutputMs - inputMs) };
}

export type TapResult = { ok: true; offsetMs: number; taps: number; iqrMs: number } | { ok: false; taps: number; message: string };

/** Taps (performance ms) against the times the app believes the clicks are heard (performance ms). */
export function tapOffset(taps: number[], heardAt: number[]): TapResult {
  const deltas: number[] = [];
  for (const t of taps) {
    let best = Infinity;
    for (const h of heardAt) if (Math.abs(t - h) < Math.abs(best)) best = t - h;
    if (Math.abs(best) <= OFFSET_LIMIT_MS) deltas.push(best);  // Infinity (no beats) never passes
  }
  // The first taps find the beat: judge the steady part (drop up to 3, keep at least TAP_MIN).
  const steady = deltas.slice(Math.min(3, Math.max(0, deltas.length - TAP_MIN)));
  if (steady.length < TAP_MIN) return { ok: false, taps: deltas.length, message: `Tap with every click you hear: ${deltas.length} taps were counted, ${TAP_MIN} are needed.` };
  const s = [...steady].sort((a, b) => a - b);
  const iqr = s[Math.floor(s.length * 0.75)] - s[Math.floor(s.length * 0.25)];
  if (iqr > TAP_MAX_IQR_MS) return { ok: false, taps: steady.length, message: 'The taps were too uneven to judge. Try again, tapping with the click as steadily as you can.' };
  return { ok: true, offsetMs: clampOffset(median(steady)), taps: steady.length, iqrMs: iqr };
}

// ---- in the browser --------------------------------------------------------------------------

/** The output latency the app already compensates (what getOutputTimestamp / outputLatency report), ms. */
export function reportedOutputMs(ctx: AudioContext): number {
  const ts = typeof ctx.getOutputTimestamp === 'function' ? ctx.getOutputTimestamp() : null;
  if (ts && ts.contextTime && ts.contextTime > 0) return Math.max(0, (ctx.currentTime - ts.contextTime) * 1000);
  return ((ctx.outputLatency || 0) + (ctx.baseLatency || 0)) * 1000;
}

function playClick(ctx: AudioContext, at: number, freq = 1760, peak = 0.9): void {
  scheduleClick(ctx, ctx.destination, at, freq, peak, 0.03);
}

const loads = new WeakMap<BaseAudioContext, Promise<void>>();

/**
 * Plays CLICKS clicks and listens for them with a raw microphone (no echo cancellation, noise
 * suppression or gain control: each would hide or move the click). Needs a running context.
 */
export async function runMicCalibration(ctx: AudioContext): Promise<MicResult> {
  let stream: MediaStream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false } });
  } catch {
    return { ok: false, heard: 0, message: 'No microphone (or it was refused). Tap along instead.' };
  }
  const track = stream.getAudioTracks()[0];
  const inputMs = ((track?.getSettings() as MediaTrackSettings & { latency?: number }).latency ?? 0) * 1000;
  let p = loads.get(ctx);
  if (!p) { p = ctx.audioWorklet.addModule(workletUrl); loads.set(ctx, p); }
  await p;
  // Chromium's MediaStreamAudioSourceNode grows late by itself over seconds (voice/source.ts), and
  // each renewal drops what the old node had gathered, moving the recording by a few ms. So the
  // node is renewed here by the click schedule rather than by a timer: once shortly before each
  // click (RENEW_BEFORE_S), after the previous click's return (any round trip under 0.4 s), so every click is
  // heard through a node of the same age and no renewal lands inside a round trip.
  const source = new LiveSource(ctx, stream, { refreshMs: 0 });
  const renewals: ReturnType<typeof setTimeout>[] = [];
  const node = new AudioWorkletNode(ctx, 'downbeat-calibrate-recorder', { numberOfInputs: 1, numberOfOutputs: 0, channelCount: 1, channelCountMode: 'explicit' });
  const blocks: RecordedBlock[] = [];
  node.port.onmessage = (e: MessageEvent<RecordedBlock>) => blocks.push(e.data);
  source.out.connect(node);
  try {
    const rate = ctx.sampleRate;
    // A fresh microphone stream (and an output that just woke up) settles its buffers over the first
    // second or so: start the clicks after that, leaving 0.4 s of quiet for the noise measurement.
    const start = ctx.currentTime + WARM_UP_S;
    const schedule = clickSchedule().map((s) => start + s);
    for (const at of schedule) {
      playClick(ctx, at);
      renewals.push(setTimeout(() => source.refresh(), Math.max(0, (at - RENEW_BEFORE_S - ctx.currentTime) * 1000)));
    }
    const end = schedule[schedule.length - 1] + MAX_ROUND_TRIP_S + 0.1;
    await new Promise<void>((resolve) => {
      const check = () => (ctx.currentTime >= end ? resolve() : setTimeout(check, 50));
      check();
    });
    const reported = reportedOutputMs(ctx);
    node.port.postMessage('stop');
    if (blocks.length === 0) return { ok: false, heard: 0, message: 'The microphone delivered no sound. Tap along instead.' };
    const startFrame = blocks[0].frame;
    const total = blocks[blocks.length - 1].frame + blocks[blocks.length - 1].data.length - startFrame;
    const rec = new Float32Array(total);
    for (const b of blocks) rec.set(b.data, b.frame - startFrame);
    return micOffset(findRoundTrips(rec, startFrame, rate, schedule.map((t) => Math.round(t * rate))), reported, inputMs);
  } finally {
    for (const r of renewals) clearTimeout(r);
    source.close();
    node.disconnect();
    for (const t of stream.getTracks()) t.stop();
  }
}

/** A steady click to tap along with; `heardAt` are the performance times the app believes each is heard. */
export class TapAlong {
  readonly heardAt: number[] = [];
  readonly taps: number[] = [];
  readonly endsAt: number;

  /** `toPerf` maps a context time to when the app believes it is heard, without any latency offset. */
  constructor(ctx: AudioContext, toPerf: (ctxTime: number) => number | null, beats = TAP_BEATS, bpm = 100) {
    const spacing = 60 / bpm;
    const start = ctx.currentTime + 0.5;
    for (let i = 0; i < beats; i++) {
      const at = start + i * spacing;
      playClick(ctx, at, i % 4 === 0 ? 1568 : 1046, 0.7);
      const perf = toPerf(at);
      if (perf !== null) this.heardAt.push(perf);
    }
    this.endsAt = (toPerf(start + beats * spacing) ?? performance.now() + beats * spacing * 1000);
  }

  /** A tap at performance time `t` (use the event's timeStamp, not the handler's now). */
  tap(t: number): void { this.taps.push(t); }

  result(): TapResult { return tapOffset(this.taps, this.heardAt); }
}
