// One joined room: the socket, the reduced state, the clock, the click scheduler and the
// test hook. The UI only reads the stores here and calls the methods.
import { Connection, type ConnStatus, CommandError } from './connection';
import { reduce, emptyState, dismissCue, type RoomState } from './state';
import { BeatScheduler, type TickSink } from './scheduler';
import { ClickAudio, type ClickHandle } from './audio';
import type { Tick } from './tempo';
import { positionAt } from './tempo';
import { Store } from './store';
import type { Session } from './api';
import type { CommandMap, CommandType } from './protocol.gen';
import type { ServerEvent, UnknownEvent } from './model';
import * as persist from './persist';
import type { ClockStats } from './clock';
import { Voice } from './voice/voice';
import { ChartLoader } from './bodies';
import type { Signal } from './voice/mesh';

export type ConnState = {
  status: ConnStatus; detail?: string; since: number | null; offlineSince: number | null; cachedAt: number | null;
  resumed: boolean | null; connects: number;
};
export type BeatView = { bar: number; beat: number; countIn: boolean; accent: number; n: number } | null;

type Handle = { click: ClickHandle | null; timer: number; ctxTime: number | null; perfMs: number; schedPerfMs: number; serverBack: number };

const PUMP_MS = 25;
const HORIZON_US = 150_000;

export class Room {
  readonly state = new Store<RoomState>(emptyState);
  readonly conn = new Store<ConnState>({ status: 'connecting', since: null, offlineSince: null, cachedAt: null, resumed: null, connects: 0 });
  readonly beat = new Store<BeatView>(null);
  readonly clockStats = new Store<ClockStats | null>(null);
  readonly audioOn = new Store<boolean>(false);
  /** The click was on before a reload but this browser wants a tap before it plays sound again. */
  readonly clickNeedsTap = new Store<boolean>(false);
  /** Join codes pushed to an MD console when they rotate (null until then: the panel fetches them). */
  readonly codes = new Store<Record<string, string> | null>(null);
  readonly settings = new Store<persist.ClickSettings>(persist.clickSettings());
  readonly connection: Connection;
  readonly audio = new ClickAudio();
  readonly voice: Voice;
  /** Song charts on demand: the current song's, then the active setlist's (bodies.ts). */
  readonly charts: ChartLoader;
  private scheduler: BeatScheduler<Handle>;
  private timerWorker: Worker | null = null;
  private timers: number[] = [];
  private saveTimer: number | null = null;
  private lastOffset: number | null = null;
  private wakeLock: { release(): Promise<void> } | null = null;
  private beatCount = 0;

  constructor(session: Session, private readonly onEnded: (reason: string) => void) {
    this.connection = new Connection(session, {
      since: () => (this.state.get().seq > 0 ? this.state.get().seq : null),
      tempo: () => this.state.get().tempo,
      onEvent: (ev) => this.onEvent(ev),
      onStatus: (status, detail) => this.onStatus(status, detail),
      onSession: (s) => persist.saveSession(s),
      links: () => this.voice.reportLinks(),
    });
    const sink: TickSink<Handle> = { schedule: (t) => this.scheduleTick(t), cancel: (h) => this.cancelTick(h) };
    this.scheduler = new BeatScheduler(sink, { horizonUs: HORIZON_US, historyMax: 512, subdivide: this.settings.get().subdivisions });
    this.audio.latencyMs = this.settings.get().latencyMs;
    this.audio.setVolume(this.settings.get().volume);
    this.state.set({ ...emptyState, me: session.participant.id, room: session.room, participants: [session.participant] });
    this.charts = new ChartLoader(this.state, () => this.connection.currentSession.token);
    this.voice = new Voice({ state: this.state, conn: this.conn, audio: this.audio, sendFrame: (t, d) => this.connection.sendFrame(t, d) }, session.participant.role);
  }

  async start(): Promise<void> {
    // Draw the last known set at once (also when the network is gone), then connect and resume.
    const cached = await persist.loadRoomState(this.connection.currentSession.room.id);
    if (cached && this.state.get().seq === 0) {
      this.state.set({ ...emptyState, ...cached.state, me: this.connection.currentSession.participant.id });
      this.conn.patch({ cachedAt: cached.savedAt });
    }
    this.connection.start();
    this.charts.start();
    this.voice.start();
    this.startPump();
    this.timers.push(window.setInterval(() => this.clockStats.set(this.connection.clock.stats()), 1000));
    this.state.subscribe(() => this.scheduleSave());
    document.addEventListener('visibilitychange', this.onVisibility);
    void this.requestWakeLock();
    if (persist.clickArmed()) void this.rearmClick();
    installHook(this);
  }

  /** After a reload: the click comes back on by itself where the browser lets it, else one tap does it. */
  private async rearmClick(): Promise<void> {
    const started = this.enableClick().then(() => this.audio.running, () => false);
    const ok = await Promise.race([started, new Promise<boolean>((r) => window.setTimeout(() => r(false), 1000))]);
    if (!ok && !this.audioOn.get()) this.clickNeedsTap.set(true);
  }

  stop(): void {
    this.voice.stop();
    this.charts.stop();
    this.connection.stop();
    this.timerWorker?.terminate();
    for (const t of this.timers) clearInterval(t);
    document.removeEventListener('visibilitychange', this.onVisibility);
    void this.wakeLock?.release().catch(() => {});
    void this.audio.disable();
  }

  send<K extends CommandType>(type: K, data: CommandMap[K]) {
    return this.connection.send(type, data);
  }

  /** Hides a cue on this device until the next one; kept at once with the saved room state (reloads). */
  dismissCue(id: string): void {
    this.state.set(dismissCue(this.state.get(), id));
    void persist.saveRoomState(this.state.get());
  }

  // ---- events ---------------------------------------------------------------------------------

  private recentBySeq = new Map<number, ServerEvent | UnknownEvent>();
  private seqWaiters = new Map<number, (ev: ServerEvent | UnknownEvent) => void>();

  /** The event a durable command produced (the ack carries its seq; the event follows the ack). */
  waitForSeq(seq: number, timeoutMs = 5000): Promise<ServerEvent | UnknownEvent> {
    const hit = this.recentBySeq.get(seq);
    if (hit) return Promise.resolve(hit);
    return new Promise((resolve, reject) => {
      const t = window.setTimeout(() => { this.seqWaiters.delete(seq); reject(new Error('no event for seq ' + seq)); }, timeoutMs);
      this.seqWaiters.set(seq, (ev) => { clearTimeout(t); resolve(ev); });
    });
  }

  private onEvent(ev: ServerEvent | UnknownEvent): void {
    if (ev.type.startsWith('rtc.')) { this.voice.onSignal(ev as Signal); return; }
    if (ev.type === 'room.codes') this.codes.set((ev.data as { codes: Record<string, string> }).codes);
    if (ev.type === 'hello') this.conn.patch({ resumed: !!ev.data.resumed, connects: this.conn.get().connects + 1 });
    if (ev.seq !== undefined && ev.type !== 'snapshot') {
      this.recentBySeq.set(ev.seq, ev);
      if (this.recentBySeq.size > 64) this.recentBySeq.delete(this.recentBySeq.keys().next().value as number);
      const w = this.seqWaiters.get(ev.seq);
      if (w) { this.seqWaiters.delete(ev.seq); queueMicrotask(() => w(ev)); }
    }
    const before = this.state.get();
    const after = reduce(before, ev, Date.now());
    if (after === before) return;
    this.state.set(after);
    if (after.tempo !== before.tempo) this.scheduler.setTempo(after.tempo, this.nowServer());
    if (after.seq !== before.seq) this.conn.patch({ since: after.seq });
  }

  private onStatus(status: ConnStatus, detail?: string): void {
    const c = this.conn.get();
    const offline = status === 'online' ? null : (c.offlineSince ?? (status === 'connecting' ? null : Date.now()));
    this.conn.patch({ status, detail, offlineSince: offline });
    if (status === 'ended') this.onEnded(detail ?? 'The session ended.');
  }

  private scheduleSave(): void {
    if (this.saveTimer !== null) return;
    this.saveTimer = window.setTimeout(() => {
      this.saveTimer = null;
      void persist.saveRoomState(this.state.get());
    }, 500);
  }

  // ---- click ----------------------------------------------------------------------------------

  private nowServer(): number {
    return this.connection.clock.toServer(performance.now() * 1000);
  }

  private startPump(): void {
    const pump = () => this.pump();
    try {
      // A worker's timer keeps running when the tab is in the background; the page's is throttled.
      const src = `setInterval(() => postMessage(0), ${PUMP_MS});`;
      this.timerWorker = new Worker(URL.createObjectURL(new Blob([src], { type: 'text/javascript' })));
      this.timerWorker.onmessage = pump;
    } catch {
      this.timers.push(window.setInterval(pump, PUMP_MS));
    }
  }

  private pump(): void {
    const clock = this.connection.clock;
    if (!clock.synced) return;
    const nowLocal = performance.now() * 1000;
    const offset = clock.offsetAt(nowLocal);
    const now = nowLocal + offset;
    // A clock estimate that moved by more than 2 ms re-plans what is queued; smaller moves are
    // absorbed by the next ticks.
    if (this.lastOffset !== null && Math.abs(offset - this.lastOffset) > 2000) this.scheduler.restart(now);
    if (this.lastOffset === null || Math.abs(offset - this.lastOffset) > 2000) this.lastOffset = offset;
    this.audio.refreshMapping();
    this.scheduler.pump(now);
  }

  private scheduleTick(t: Tick): Handle {
    const clock = this.connection.clock;
    const perfMs = clock.toLocal(t.serverTime) / 1000;
    let ctxTime: number | null = null;
    let click: ClickHandle | null = null;
    if (this.audio.running) {
      ctxTime = this.audio.perfToCtx(perfMs);
      if (ctxTime !== null) click = this.audio.click(ctxTime, t.accent, t.sub > 0, t.countIn);
    }
    // What the test hook reports: the instant actually scheduled, mapped back onto the server clock.
    const intendedPerf = ctxTime !== null ? this.audio.ctxToPerf(ctxTime)! : perfMs;
    const serverBack = clock.toServer(intendedPerf * 1000);
    const delay = Math.max(0, perfMs - performance.now());
    const timer = t.sub === 0 ? window.setTimeout(() => this.showBeat(t), delay) : 0;
    return { click, timer, ctxTime, perfMs, schedPerfMs: intendedPerf, serverBack };
  }

  private cancelTick(h: Handle): void {
    if (h.click) this.audio.cancel(h.click);
    if (h.timer) clearTimeout(h.timer);
  }

  private showBeat(t: Tick): void {
    this.beat.set({ bar: t.bar, beat: t.beat, countIn: t.countIn, accent: t.accent, n: ++this.beatCount });
    if (t.beat === 0 && this.settings.get().vibrate && 'vibrate' in navigator) navigator.vibrate(40);
    const tempo = this.state.get().tempo;
    const per = tempo?.meter?.beats ?? 4;
    // Clear the indicator once the music stops.
    window.setTimeout(() => {
      const pos = positionAt(this.state.get().tempo, this.nowServer());
      if (!pos) this.beat.set(null);
    }, (60000 / (tempo?.bpm ?? 120)) * (per > 0 ? 1.5 : 1));
  }

  async enableClick(): Promise<void> {
    await this.audio.enable();
    this.audioOn.set(this.audio.running);
    if (this.audio.running) { this.clickNeedsTap.set(false); persist.saveClickArmed(true); }
    this.scheduler.restart(this.nowServer()); // re-plan the queued beats with sound
  }

  async disableClick(): Promise<void> {
    await this.audio.disable();
    this.audioOn.set(false);
    this.clickNeedsTap.set(false);
    persist.saveClickArmed(false);
    this.scheduler.restart(this.nowServer());
  }

  updateSettings(p: Partial<persist.ClickSettings>): void {
    const s = { ...this.settings.get(), ...p };
    this.settings.set(s);
    persist.saveClickSettings(s);
    this.audio.setVolume(s.volume);
    if (p.latencyMs !== undefined) { this.audio.latencyMs = s.latencyMs; this.scheduler.restart(this.nowServer()); }
    if (p.subdivisions !== undefined) { this.scheduler.subdivide = s.subdivisions; this.scheduler.restart(this.nowServer()); }
  }

  scheduled() {
    return this.scheduler.scheduled();
  }

  // ---- wake lock ------------------------------------------------------------------------------

  private onVisibility = (): void => {
    if (document.visibilityState === 'visible') void this.requestWakeLock();
  };

  private async requestWakeLock(): Promise<void> {
    const wl = (navigator as Navigator & { wakeLock?: { request(t: 'screen'): Promise<{ release(): Promise<void> }> } }).wakeLock;
    if (!wl || document.visibilityState !== 'visible') return;
    try { this.wakeLock = await wl.request('screen'); } catch { /* battery saver or unsupported: fine */ }
  }
}

// ---- test hook: window.__downbeat -------------------------------------------------------------

export type HookBeat = {
  bar: number; beat: number; sub: number; serverTime: number; anchorTime: number;
  ctxTime: number | null; epochMs: number; audio: boolean; accent: number;
};

function installHook(room: Room): void {
  const hook = {
    /** Beats the scheduler handed out: server time recomputed from the scheduled audio time. */
    scheduledBeats(): HookBeat[] {
      return room.scheduled().map((s) => ({
        bar: s.bar, beat: s.beat + 1, sub: s.sub,
        serverTime: s.handle ? Math.round(s.handle.serverBack) : s.serverTime,
        anchorTime: s.serverTime,
        ctxTime: s.handle?.ctxTime ?? null,
        epochMs: performance.timeOrigin + (s.handle?.schedPerfMs ?? 0),
        audio: !!s.handle?.click,
        accent: s.accent,
      }));
    },
    state: () => room.state.get(),
    clock: () => {
      const s = room.connection.clock.stats();
      return { offset: s.offsetUs, uncertainty: s.uncertaintyUs, rtt: s.rttUs, rttMin: s.rttMinUs, skewPpm: s.skewPpm, synced: s.synced, samples: s.samples };
    },
    connection: () => room.conn.get(),
    voice: room.voice.hook(),
    nowServer: () => room.connection.clock.toServer(performance.now() * 1000),
    /** Sends any command, bypassing the UI; resolves to the ack or {error:{code,message}}. */
    send: (type: string, data: Record<string, unknown>) =>
      room.connection.sendFrame(type, data).then(
        (ack) => ack,
        (e: unknown) => ({ error: e instanceof CommandError ? { code: e.code, message: e.message } : { code: 'internal', message: String(e) } }),
      ),
  };
  (window as unknown as { __downbeat: typeof hook }).__downbeat = hook;
}
