// "How late is my speaker?": the once-per-device output latency calibration (calibrate.ts), in the
// click settings. With a microphone the page measures itself; without one the musician taps along.
// Either way the result lands in the latency offset field, which stays there to fine-tune by hand.
import { useEffect, useRef, useState } from 'preact/hooks';
import type { Room } from '../room';
import { runMicCalibration, TapAlong } from '../calibrate';

type Phase = { kind: 'idle' } | { kind: 'mic' } | { kind: 'tap'; session: TapAlong; count: number };

export function Calibrate({ room }: { room: Room }) {
  const [phase, setPhase] = useState<Phase>({ kind: 'idle' });
  const [status, setStatus] = useState<{ text: string; error: boolean } | null>(null);
  const timer = useRef<number | null>(null);
  useEffect(() => () => { if (timer.current !== null) clearTimeout(timer.current); }, []);

  const context = async (): Promise<AudioContext | null> => {
    try {
      const ctx = room.audio.unlock();
      if (ctx.state !== 'running') await ctx.resume();
      room.audio.refreshMapping();
      return ctx;
    } catch {
      setStatus({ text: 'This browser would not start audio. Tap again, or check the phone is not on silent.', error: true });
      return null;
    }
  };

  const apply = (offsetMs: number, how: string) => {
    room.updateSettings({ latencyMs: offsetMs });
    setStatus({ text: `${how} Latency offset set to ${offsetMs} ms. If the click still sounds early or late, fine-tune it below.`, error: false });
  };

  const mic = async () => {
    setStatus(null);
    const ctx = await context();
    if (!ctx) return;
    setPhase({ kind: 'mic' });
    setStatus({ text: 'Listening… keep the room quiet for five seconds.', error: false });
    try {
      const r = await runMicCalibration(ctx);
      if (r.ok) apply(r.offsetMs, `Your speaker's sound came back after ${Math.round(r.roundTripMs)} ms (${r.heard} clicks agreed).`);
      else setStatus({ text: r.message, error: true });
    } catch (e) {
      setStatus({ text: `The measurement failed (${(e as Error).message}). Tap along instead.`, error: true });
    } finally {
      setPhase({ kind: 'idle' });
    }
  };

  const tapAlong = async () => {
    setStatus(null);
    const ctx = await context();
    if (!ctx) return;
    const session = new TapAlong(ctx, (t) => {
      const p = room.audio.ctxToPerf(t);
      return p === null ? null : p - room.audio.latencyMs;
    });
    if (session.heardAt.length === 0) { setStatus({ text: 'Audio is not running yet: tap again.', error: true }); return; }
    setPhase({ kind: 'tap', session, count: 0 });
    setStatus({ text: 'Tap the big button with every click you hear.', error: false });
    timer.current = window.setTimeout(() => {
      timer.current = null;
      const r = session.result();
      setPhase({ kind: 'idle' });
      if (r.ok) apply(r.offsetMs, `Your taps came ${Math.abs(r.offsetMs)} ms ${r.offsetMs < 0 ? 'before' : 'after'} the click was due (${r.taps} taps).`);
      else setStatus({ text: r.message, error: true });
    }, Math.max(0, session.endsAt - performance.now()) + 400);
  };

  const tap = (t: number) => {
    if (phase.kind !== 'tap') return;
    phase.session.tap(t);
    setPhase({ ...phase, count: phase.count + 1 });
  };

  return (
    <div class="calibrate" data-testid="calibrate">
      <p class="muted">Does your click sound late (Bluetooth speakers add 100–250 ms)? Measure it once on this device.</p>
      <div class="row">
        <button class="btn" data-testid="calibrate-mic" disabled={phase.kind !== 'idle'} onClick={mic}>Measure with the microphone</button>
        <button class="btn" data-testid="calibrate-tap" disabled={phase.kind !== 'idle'} onClick={tapAlong}>Tap along instead</button>
      </div>
      {phase.kind === 'tap' && (
        <button class="btn big primary" data-testid="calibrate-tap-pad"
          onPointerDown={(e) => { e.preventDefault(); tap(e.timeStamp); }}
          onKeyDown={(e) => { if (e.key === ' ' || e.key === 'Enter') { e.preventDefault(); e.stopPropagation(); if (!e.repeat) tap(e.timeStamp); } }}>
          Tap with the click ({phase.count})
        </button>
      )}
      {status && <p class={status.error ? 'error' : 'muted'} role={status.error ? 'alert' : 'status'} data-testid="calibrate-status">{status.text}</p>}
    </div>
  );
}
