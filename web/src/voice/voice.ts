// Push-to-talk voice of one page: the microphone, the mesh, the voice path, the talk mixer, the
// Talk button's state machine, link health, and the test hook `__downbeat.voice` (docs/voice.md).
// Everything is driven by the room state: who is online (the mesh), who talks to whom (`ptt.state
// to`: what is sent, what is played).
import type { ClickAudio } from '../audio';
import type { LinkReport } from '../model';
import type { RoomState } from '../state';
import { Store } from '../store';
import * as persist from '../persist';
import { Mesh, type PeerInfo, type Signal } from './mesh';
import { Mixer } from './mixer';
import { pathFactory, availablePaths, type PathCounters, type PathHost, type VoicePath, type VoicePathName } from './path';
import { pttIdle, pttStep, isTalkingMode, spaceTalks, type PttInput, type PttMode } from './ptt';
import { StallDetector, linkEntry, isWeak, selectedPairRttMs, remoteFractionLost, WEAK_LOSS } from './stats';
import {
  dbToGain, defaultTarget, isVoiceRole, mySendTo, talkTargets, talkerGains, talkersToMe,
} from './targets';
import './rtp';

// A low-latency path registers itself from ./ll/index.ts when that module exists.
import.meta.glob('./ll/index.ts', { eager: true });

export type MicState = 'off' | 'asking' | 'on' | 'denied' | 'none';
export type PttView = { mode: PttMode; target: string; error: string | null };
export type PeerView = PeerInfo & { stalled: boolean; weak: boolean; sentLoss: number; link: LinkReport | null };

/** What the voice needs of the room. */
export type VoiceRoom = {
  state: Store<RoomState>;
  /** The room socket's status: signalling works only while it is 'online'. */
  conn: { get(): { status: string; resumed?: boolean | null; connects?: number }; subscribe(fn: () => void): () => void };
  audio: ClickAudio;
  sendFrame(type: string, data: Record<string, unknown>): Promise<unknown>;
};

// Often enough that a stall (STALL_FLAG_MS of no packets) is flagged within 2 s of its start.
export const STATS_EVERY_MS = 250;
const TICK_MS = 1000;

type LinkWatch = {
  pc: RTCPeerConnection;
  detector: StallDetector;
  last: PathCounters | null;       // newest counters
  reported: PathCounters | null;   // counters at the last metrics.report
  rttMs: number | null;
  sentLoss: number | null;         // what the peer reports of my audio (RTCP): the other direction
  stalled: boolean;
};

export class Voice {
  readonly enabled: boolean;
  readonly mic = new Store<MicState>('off');
  readonly micMessage = new Store<string | null>(null);
  readonly ptt: Store<PttView>;
  readonly settings = new Store<persist.VoiceSettings>(persist.voiceSettings());
  readonly pathName = new Store<VoicePathName>('dc');
  readonly peers = new Store<PeerView[]>([]);
  /** The `links` entries of the last metrics.report. */
  readonly links = new Store<LinkReport[]>([]);

  private mesh: Mesh | null = null;
  private path: VoicePath | null = null;
  private mixer: Mixer | null = null;
  private track: MediaStreamTrack | null = null;
  private machine = pttIdle;
  private sendTo: Set<string> = new Set();
  private watches = new Map<string, LinkWatch>();
  private audioListeners = new Set<(ctx: AudioContext) => void>();
  private cleanups: Array<() => void> = [];
  private polling = false;
  private spaceDown = false;
  private readonly host: PathHost;

  constructor(private readonly room: VoiceRoom, role: string) {
    this.enabled = isVoiceRole(role as never);
    this.ptt = new Store<PttView>({ mode: 'idle', target: defaultTarget(role as never), error: null });
    this.host = {
      audioContext: () => this.mixer?.ctx ?? null,
      talkerInput: (id) => this.mixer?.input(id) ?? null,
      onAudio: (fn) => {
        this.audioListeners.add(fn);
        if (this.mixer) fn(this.mixer.ctx);
        return () => this.audioListeners.delete(fn);
      },
      mic: () => this.track,
    };
  }

  start(): void {
    if (!this.enabled) return;
    const me = this.room.state.get().me;
    if (!me) return;
    const audio = this.room.audio;
    audio.keepRunning = true;
    this.mesh = new Mesh({
      me,
      send: (type, data) => this.room.sendFrame(type, data),
      iceServers: () => (this.settings.get().stunUrl ? [{ urls: this.settings.get().stunUrl }] : []),
    });
    this.cleanups.push(this.mesh.onChange(() => this.refreshPeers()));
    this.cleanups.push(this.mesh.onPeer((link) => { this.path?.addPeer(link); this.applyState(); }));
    this.cleanups.push(this.mesh.onPeerGone((id) => { this.path?.removePeer(id); this.watches.delete(id); }));
    this.followRoomPath();
    this.cleanups.push(audio.onContext((ctx) => this.onContext(ctx)));
    this.cleanups.push(this.room.state.subscribe(() => this.applyState()));
    // A resumed socket gets who talks now from the server right after the replay (docs/voice.md).
    const onConn = () => {
      const c = this.room.conn.get();
      this.mesh?.setSignalling(c.status === 'online');
    };
    this.cleanups.push(this.room.conn.subscribe(onConn));
    onConn();
    const t1 = window.setInterval(() => { this.mesh?.tick(); this.refreshPeers(); }, TICK_MS);
    const t2 = window.setInterval(() => void this.poll(), STATS_EVERY_MS);
    this.cleanups.push(() => { clearInterval(t1); clearInterval(t2); });
    this.listen();
    this.applyState();
  }

  stop(): void {
    for (const c of this.cleanups.splice(0)) c();
    this.path?.close();
    this.path = null;
    this.mesh?.stop();
    this.mesh = null;
    this.track?.stop();
    this.track = null;
  }

  /** A relayed rtc.* event from the room socket. */
  onSignal(ev: Signal): void {
    this.mesh?.signal(ev);
  }

  // ---- microphone ------------------------------------------------------------------------------

  /** The one tap: unlocks audio (inside the gesture) and asks for the microphone once. */
  async enableMic(): Promise<MicState> {
    this.room.audio.unlock();
    if (!this.enabled) return this.mic.get();
    if (this.mic.get() === 'on' || this.mic.get() === 'asking') return this.mic.get();
    await this.acquire();
    return this.mic.get();
  }

  /**
   * Voice processing (echo cancellation, noise suppression, AGC) on or off: off is the in-ear
   * mode (no speaker, so no echo to cancel) and saves what Chromium's audio processing holds
   * (bench/voice/REPORT.md). Re-acquires the track.
   */
  async setProcessing(on: boolean): Promise<void> {
    this.updateSettings({ processing: on });
    if (this.mic.get() === 'on') await this.acquire();
  }

  private async acquire(): Promise<void> {
    const md = navigator.mediaDevices;
    if (!md?.getUserMedia) {
      this.setMic('none', 'Listening only: this page cannot use a microphone here (open the https:// address of the server).');
      return;
    }
    const prev = this.mic.get();
    if (prev !== 'on') this.mic.set('asking');
    const p = this.settings.get().processing;
    try {
      const stream = await md.getUserMedia({
        audio: { echoCancellation: p, noiseSuppression: p, autoGainControl: p, channelCount: 1 },
        video: false,
      });
      const track = stream.getAudioTracks()[0];
      if (!track) throw Object.assign(new Error('no audio track'), { name: 'NotFoundError' });
      const old = this.track;
      this.track = track;
      track.onended = () => {
        if (this.track !== track) return;
        this.track = null;
        this.path?.setMic(null);
        this.setMic('none', 'Listening only: the microphone went away (unplugged or taken by another app). Tap to try again.');
      };
      this.path?.setMic(track);
      old?.stop();
      this.setMic('on', null);
    } catch (e) {
      const name = (e as { name?: string }).name ?? '';
      if (prev === 'on' && this.track) { this.setMic('on', null); return; } // keep the old track
      if (name === 'NotAllowedError' || name === 'SecurityError') {
        this.setMic('denied', "Listening only: microphone blocked — allow it in the browser's site settings, then tap again.");
      } else if (name === 'NotReadableError') {
        this.setMic('none', 'Listening only: the microphone is busy in another app. Close it and tap again.');
      } else {
        this.setMic('none', 'Listening only: this device has no microphone.');
      }
    }
  }

  private setMic(s: MicState, message: string | null): void {
    this.micMessage.set(message);
    this.mic.set(s);
  }

  // ---- talk ------------------------------------------------------------------------------------

  /** Pointer, touch and space bar go through here. */
  input(i: PttInput): void {
    const r = pttStep(this.machine, i);
    this.machine = r.m;
    if (r.m.mode !== this.ptt.get().mode) this.ptt.patch({ mode: r.m.mode });
    if (r.action === 'press') this.sendPress();
    else if (r.action === 'release') this.sendRelease();
  }

  setTarget(target: string): void {
    if (target === this.ptt.get().target) return;
    this.ptt.patch({ target, error: null });
    if (isTalkingMode(this.machine.mode)) this.sendPress(); // re-aim a talk in progress
  }

  /** Hook: same as holding Talk down (with `target`). */
  press(target?: string): Promise<unknown> {
    if (target) this.ptt.patch({ target, error: null });
    this.machine = { mode: 'holding', downAt: performance.now() };
    this.ptt.patch({ mode: 'holding' });
    return this.sendPress();
  }

  /** Hook: same as letting go (also ends a latch). */
  release(): Promise<unknown> {
    this.machine = pttIdle;
    this.ptt.patch({ mode: 'idle' });
    return this.sendRelease();
  }

  private sendPress(): Promise<unknown> {
    const target = this.ptt.get().target;
    this.serverSawPress = false;
    this.ptt.patch({ error: null });
    return this.room.sendFrame('ptt.press', { target }).catch((e: Error & { code?: string }) => {
      this.ptt.patch({ error: `Not talking: ${e.message}` });
      this.machine = pttIdle;
      this.ptt.patch({ mode: 'idle' });
      return { error: { code: e.code ?? 'internal', message: e.message } };
    });
  }

  private sendRelease(): Promise<unknown> {
    this.setSendTo(new Set()); // stop at once; the server's ptt.state follows
    return this.room.sendFrame('ptt.release', {}).catch((e: Error & { code?: string }) => ({ error: { code: e.code ?? 'internal', message: e.message } }));
  }

  private listen(): void {
    const key = (down: boolean) => (e: KeyboardEvent) => {
      if (e.code !== 'Space' && e.key !== ' ') return;
      if (down) {
        if (e.repeat) { if (this.spaceDown) e.preventDefault(); return; }
        // The talk picker keeps the focus after a pick; Space there still means talk.
        const onPicker = !!(e.target as Element | null)?.closest?.('[data-space-talks]');
        if ((!onPicker && !spaceTalks(e.target)) || this.mic.get() !== 'on' || e.ctrlKey || e.metaKey || e.altKey) return;
        this.spaceDown = true;
        e.preventDefault();
        this.input({ kind: 'down', at: e.timeStamp > 0 ? e.timeStamp : performance.now() });
      } else if (this.spaceDown) {
        this.spaceDown = false;
        e.preventDefault();
        this.input({ kind: 'up', at: e.timeStamp > 0 ? e.timeStamp : performance.now() });
      }
    };
    const kd = key(true), ku = key(false);
    const lost = () => { this.spaceDown = false; this.input({ kind: 'cancel' }); };
    const vis = () => { if (document.visibilityState === 'hidden') lost(); };
    // The first touch anywhere unlocks audio, so incoming talk plays without a special tap.
    const unlock = () => { if (!this.room.audio.contextRunning) this.room.audio.unlock(); };
    const listeners: [EventTarget, string, (e: Event) => void, boolean][] = [
      [window, 'keydown', kd as (e: Event) => void, false], [window, 'keyup', ku as (e: Event) => void, false], [window, 'blur', lost, false],
      [document, 'visibilitychange', vis, false], [document, 'pointerdown', unlock, true], [document, 'keydown', unlock, true],
    ];
    for (const [target, type, fn, capture] of listeners) target.addEventListener(type, fn, capture);
    this.cleanups.push(() => { for (const [target, type, fn, capture] of listeners) target.removeEventListener(type, fn, capture); });
  }

  // ---- room state → mesh, sending, gains ---------------------------------------------------

  /**
   * The room's voice path (settings.voice_path, the MD's choice; every device must use the same one
   * or they do not hear each other), unless this device is overridden for a test. Switches only when
   * that choice changes (a path set by a test hook stays until then); RTP where dc cannot run.
   */
  private followRoomPath(): void {
    const wanted = this.pathOverride ?? this.room.state.get().room?.settings?.voice_path ?? 'dc';
    if (wanted === this.pathFollowed && this.path) return;
    this.pathFollowed = wanted;
    if (!this.setPath(wanted)) this.setPath('rtp');
  }
  private pathFollowed: VoicePathName | null = null;
  private readonly pathOverride = persist.voicePathOverride();  // read once: a test sets it before the page loads

  private applyState(): void {
    const s = this.room.state.get();
    if (!this.mesh || !s.me) return;
    this.followRoomPath();
    this.mesh.setWanted(s.participants.filter((p) => p.online && isVoiceRole(p.role) && p.id !== s.me).map((p) => p.id));
    const mine = s.ptt.find((e) => e.participant === s.me && e.talking);
    if (!mine && isTalkingMode(this.machine.mode) && this.serverSawPress) {
      // The server released this talk (kicked, reconnected, replaced): the button follows.
      this.machine = pttIdle;
      this.ptt.patch({ mode: 'idle' });
    }
    this.serverSawPress = !!mine;
    this.setSendTo(isTalkingMode(this.machine.mode) ? mySendTo(s) : new Set());
    const targets = talkTargets(s);
    if (targets.length && !targets.some((t) => t.value === this.ptt.get().target)) {
      const me = s.participants.find((p) => p.id === s.me);
      const def = defaultTarget(me?.role);
      this.ptt.patch({ target: targets.some((t) => t.value === def) ? def : targets[0].value });
    }
    this.applyGains();
  }

  private serverSawPress = false;

  private setSendTo(to: Set<string>): void {
    const same = to.size === this.sendTo.size && [...to].every((id) => this.sendTo.has(id));
    if (same) return;
    this.sendTo = to;
    this.path?.setSendTo(to);
  }

  private applyGains(): void {
    const s = this.room.state.get();
    const set = this.settings.get();
    const muted = new Set(set.muted);
    const factor = dbToGain(set.duckDb);
    const ids = new Set<string>([...(this.mixer?.talkerNodes().keys() ?? []), ...s.ptt.map((e) => e.participant)]);
    const { gains, mdToMe } = talkerGains(s, ids, muted, factor);
    this.mixer?.setGains(gains);
    this.room.audio.setDuck(mdToMe ? factor : 1);
  }

  private onContext(ctx: AudioContext): void {
    if (this.mixer) return;
    this.mixer = new Mixer(ctx);
    this.mixer.setVolume(this.settings.get().talkVolume);
    this.applyGains();
    for (const fn of this.audioListeners) fn(ctx);
    this.applyGains();
  }

  // ---- settings, path --------------------------------------------------------------------------

  updateSettings(p: Partial<persist.VoiceSettings>): void {
    const s = { ...this.settings.get(), ...p };
    this.settings.set(s);
    persist.saveVoiceSettings(s);
    if (p.talkVolume !== undefined) this.mixer?.setVolume(s.talkVolume);
    this.applyGains();
  }

  toggleMute(id: string): void {
    const m = new Set(this.settings.get().muted);
    if (m.has(id)) m.delete(id); else m.add(id);
    this.updateSettings({ muted: [...m] });
  }

  availablePaths(): VoicePathName[] { return availablePaths(); }

  /** Switches the voice transport at runtime; false when that path is not available. */
  setPath(name: VoicePathName): boolean {
    const factory = pathFactory(name);
    if (!factory) return false;
    if (this.path?.name === name) return true;
    this.path?.close();
    this.path = factory(this.host);
    this.pathName.set(name);
    this.path.setMic(this.track);
    for (const link of this.mesh?.links() ?? []) this.path.addPeer(link);
    this.path.setSendTo(this.sendTo);
    for (const w of this.watches.values()) { w.last = null; w.reported = null; w.detector = new StallDetector(); }
    return true;
  }

  // ---- link health ----------------------------------------------------------------------------

  private async poll(): Promise<void> {
    if (this.polling || !this.mesh || !this.path) return;
    this.polling = true;
    try {
      const s = this.room.state.get();
      const talking = talkersToMe(s);
      const now = performance.now();
      for (const link of this.mesh.links()) {
        let w = this.watches.get(link.id);
        if (!w || w.pc !== link.pc) {
          w = { pc: link.pc, detector: new StallDetector(), last: null, reported: null, rttMs: null, sentLoss: null, stalled: false };
          this.watches.set(link.id, w);
        }
        if (link.pc.connectionState === 'closed') continue;
        const report = await link.pc.getStats();
        const c = this.path?.counters(link.id, report) ?? null;
        w.last = c;
        w.rttMs = selectedPairRttMs(report);
        w.sentLoss = remoteFractionLost(report);
        const v = w.detector.update(now, c?.packetsReceived ?? 0, talking.has(link.id));
        if (w.stalled !== v.stalled) { w.stalled = v.stalled; this.markStalled(link.id, v.stalled); }
        if (v.restart) {
          console.warn(`downbeat voice: no audio from ${link.id} for ${Math.round(v.silentMs)} ms while they talk to me: restarting ICE`);
          this.mesh?.restartIce(link.id);
        }
      }
    } catch { /* a connection closed under us: the next poll sees the new one */ } finally {
      this.polling = false;
    }
    this.refreshPeers();
  }

  /** `stalled` in the `links` shown is live: set at the poll that sees it, not at the next report. */
  private markStalled(peer: string, stalled: boolean): void {
    const links = this.links.get();
    const next = links.some((l) => l.peer === peer)
      ? links.map((l) => (l.peer === peer ? { ...l, stalled } : l))
      : [...links, { peer, stalled, path: this.path?.name ?? 'rtp' } as LinkReport].slice(0, 32);
    this.links.set(next);
  }

  /** The `links` of a metrics.report: one entry per peer connection, over the last report interval. */
  reportLinks(): LinkReport[] {
    if (!this.mesh || !this.path) return [];
    const out: LinkReport[] = [];
    for (const link of this.mesh.links()) {
      const w = this.watches.get(link.id);
      if (!w) continue;
      out.push(linkEntry(link.id, w.reported, w.last, { rttMs: w.rttMs, stalled: w.stalled, path: this.path.name }));
      w.reported = w.last;
    }
    this.links.set(out.slice(0, 32));
    this.refreshPeers();
    return this.links.get();
  }

  private refreshPeers(): void {
    const links = this.links.get();
    const info = this.mesh?.info() ?? [];
    const next: PeerView[] = info.map((p) => {
      const link = links.find((l) => l.peer === p.id) ?? null;
      const stalled = this.watches.get(p.id)?.stalled ?? false;
      const sentLoss = this.watches.get(p.id)?.sentLoss ?? 0;
      // Weak in either direction: what I receive, or what the peer says it gets from me.
      return { ...p, stalled, link, sentLoss, weak: stalled || (!!link && isWeak(link)) || sentLoss > WEAK_LOSS };
    });
    const prev = this.peers.get();
    if (JSON.stringify(prev) !== JSON.stringify(next)) this.peers.set(next);
  }

  // ---- test hook --------------------------------------------------------------------------------

  hook() {
    return {
      peers: () => (this.mesh?.info() ?? []).map((p) => ({
        id: p.id, connectionState: p.connectionState, iceConnectionState: p.iceConnectionState,
        dataChannel: p.dataChannel, path: this.pathName.get(), polite: p.polite,
        stalled: this.watches.get(p.id)?.stalled ?? false,
      })),
      micState: () => this.mic.get(),
      enableMic: () => this.enableMic(),
      /** Same as the in-ear switch: false = processing off (in-ear mode). */
      setProcessing: (on: boolean) => this.setProcessing(on),
      /** What the mic track was opened with (processing, latency, sample rate). */
      micSettings: () => this.track?.getSettings() ?? null,
      press: (target?: string) => this.press(target),
      release: () => this.release(),
      path: () => this.pathName.get(),
      setPath: (p: VoicePathName) => this.setPath(p),
      linkStats: () => this.links.get(),
      dropLink: (peer: string) => this.mesh?.drop(peer),
      audioTap: () => {
        if (this.enabled && !this.mixer) this.room.audio.unlock();
        return this.mixer
          ? { ctx: this.mixer.ctx, bus: this.mixer.bus as AudioNode, talkers: this.mixer.talkerNodes(), received: this.mixer.receivedNodes() }
          : { ctx: null, bus: null, talkers: new Map(), received: new Map() };
      },
      /** The peer connection itself, for benchmarks that read getStats directly. */
      pc: (peer: string) => this.mesh?.pc(peer) ?? null,
    };
  }
}
