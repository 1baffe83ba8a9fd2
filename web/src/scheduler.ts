// Lookahead beat scheduler (the Web Audio "two clocks" pattern), independent of Web Audio itself.
// Each pump() looks `horizonUs` ahead on the server clock and hands new ticks to the sink; when the
// tempo changes it reconciles: pending ticks that no longer exist are cancelled, new ones added.
import type { Tempo } from './model';
import { ticksInWindow, type Tick } from './tempo';

export interface TickSink<H> {
  /** Schedule a tick; returns a handle (for cancel) or null when it is too late to play. */
  schedule(tick: Tick): H | null;
  cancel(handle: H): void;
}

export type Scheduled<H> = Tick & { handle: H | null };

export type SchedulerOptions = {
  horizonUs?: number;    // how far ahead ticks are handed to the sink
  historyMax?: number;   // scheduled ticks remembered (for the test hook and the UI)
  subdivide?: boolean;
};

const MATCH_TOLERANCE_US = 50; // re-based anchors may round a beat by 1 µs: still the same beat

function sameTick(a: Tick, b: Tick): boolean {
  return a.bar === b.bar && a.beat === b.beat && a.sub === b.sub && Math.abs(a.serverTime - b.serverTime) <= MATCH_TOLERANCE_US;
}

export class BeatScheduler<H> {
  private tempo: Tempo | null = null;
  private cursor = -Infinity;           // server time up to which ticks have been handed out
  private pending: Scheduled<H>[] = []; // handed out, not yet past
  private history: Scheduled<H>[] = [];
  private readonly horizonUs: number;
  private readonly historyMax: number;
  subdivide: boolean;

  constructor(private readonly sink: TickSink<H>, opt: SchedulerOptions = {}) {
    this.horizonUs = opt.horizonUs ?? 120_000;
    this.historyMax = opt.historyMax ?? 256;
    this.subdivide = opt.subdivide ?? true;
  }

  /** New tempo state. Ticks already handed out are kept only if the new state still has them. */
  setTempo(tempo: Tempo | null, nowServer: number): void {
    const old = this.tempo;
    this.tempo = tempo;
    if (old && tempo && sameTempo(old, tempo)) return;
    this.reconcile(nowServer);
  }

  /** Re-plan everything already handed out (tempo change, subdivision switch, audio restart). */
  reconcile(nowServer: number): void {
    if (this.cursor === -Infinity) return;
    const wanted = ticksInWindow(this.tempo, nowServer, this.cursor, this.subdivide);
    const keep: Scheduled<H>[] = [];
    for (const p of this.pending) {
      if (p.serverTime < nowServer) { keep.push(p); continue; }
      if (wanted.some((w) => sameTick(w, p))) keep.push(p);
      else if (p.handle !== null) this.sink.cancel(p.handle);
    }
    this.history = this.history.filter((h) => h.serverTime < nowServer || keep.includes(h));
    this.pending = keep;
    for (const w of wanted) {
      if (!keep.some((p) => sameTick(w, p))) this.emit(w);
    }
  }

  /** Drop everything handed out (e.g. the audio context was recreated). */
  restart(nowServer: number): void {
    const dropped = this.pending.filter((p) => p.serverTime >= nowServer);
    for (const p of dropped) if (p.handle !== null) this.sink.cancel(p.handle);
    this.pending = this.pending.filter((p) => p.serverTime < nowServer);
    this.history = this.history.filter((h) => !dropped.includes(h));
    this.cursor = nowServer;
  }

  /** Call every ~25 ms with the current server time. Returns the ticks newly scheduled. */
  pump(nowServer: number): Tick[] {
    if (this.cursor === -Infinity || this.cursor < nowServer) this.cursor = nowServer;
    const until = nowServer + this.horizonUs;
    const fresh = until > this.cursor ? ticksInWindow(this.tempo, this.cursor, until, this.subdivide) : [];
    this.cursor = Math.max(this.cursor, until);
    for (const t of fresh) this.emit(t);
    this.pending = this.pending.filter((p) => p.serverTime >= nowServer - 1_000_000);
    return fresh;
  }

  private emit(t: Tick): void {
    const s: Scheduled<H> = { ...t, handle: this.sink.schedule(t) };
    this.pending.push(s);
    this.history.push(s);
    if (this.history.length > this.historyMax) this.history.splice(0, this.history.length - this.historyMax);
  }

  scheduled(): readonly Scheduled<H>[] {
    return this.history;
  }
}

function sameTempo(a: Tempo, b: Tempo): boolean {
  return a.rev === b.rev && a.running === b.running && a.bpm === b.bpm &&
    a.subdivision === b.subdivision && a.meter?.beats === b.meter?.beats &&
    JSON.stringify(a.accents) === JSON.stringify(b.accents) &&
    // A re-sent anchor may be re-based to a later bar; that is the same timeline.
    sameTimeline(a, b);
}

function sameTimeline(a: Tempo, b: Tempo): boolean {
  if (!a.anchor || !b.anchor) return a.anchor === b.anchor;
  if (a.anchor.t === b.anchor.t && a.anchor.bar === b.anchor.bar) return true;
  const [early, late] = a.anchor.t <= b.anchor.t ? [a, b] : [b, a];
  const ticks = ticksInWindow({ ...early, prev: null }, late.anchor!.t - 100, late.anchor!.t + 100, false);
  return ticks.some((t) => t.sub === 0 && t.beat === 0 && t.bar === late.anchor!.bar && Math.abs(t.serverTime - late.anchor!.t) <= MATCH_TOLERANCE_US);
}
