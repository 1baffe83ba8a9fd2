// What survives a reload or a dead network: settings and the session in localStorage, the last
// room state (songs, setlists, slots…) in IndexedDB so the musician still sees the set offline.
import { openDB, type IDBPDatabase } from 'idb';
import type { Session } from './api';
import type { RoomState } from './state';

export type ClickSettings = {
  volume: number;        // 0..1
  latencyMs: number;     // manual output latency offset
  vibrate: boolean;
  subdivisions: boolean; // play the MD's subdivisions
};

export const defaultClick: ClickSettings = { volume: 0.8, latencyMs: 0, vibrate: false, subdivisions: true };

/** Per-device voice settings (docs/voice.md "Web app"). */
export type VoiceSettings = {
  talkVolume: number;      // 0..2, the talk bus
  duckDb: number;          // ≤ 0: how much the click and other talk drop while an MD talks to me; 0 = never duck
  processing: boolean;     // echo cancellation + noise suppression (off for in-ear monitors)
  muted: string[];         // participant ids muted on this device
  stunUrl: string;         // optional STUN server for srflx candidates ('' = host candidates only)
};

export const defaultVoice: VoiceSettings = { talkVolume: 1, duckDb: -6, processing: true, muted: [], stunUrl: '' };

const K = {
  device: 'downbeat.device_id',
  name: 'downbeat.name',
  session: 'downbeat.session',
  click: 'downbeat.click',
  certSeen: 'downbeat.cert_notice_seen',
  voice: 'downbeat.voice',
  voicePath: 'downbeat.voicePath',
  chart: 'downbeat.chart',
  clickArmed: 'downbeat.click_armed',
};

function get<T>(key: string, fallback: T): T {
  try {
    const v = localStorage.getItem(key);
    return v === null ? fallback : (JSON.parse(v) as T);
  } catch {
    return fallback;
  }
}
function set(key: string, value: unknown): void {
  try { localStorage.setItem(key, JSON.stringify(value)); } catch { /* private mode / quota: not fatal */ }
}

export function deviceId(): string {
  let id = get<string | null>(K.device, null);
  if (!id || id.length < 8 || id.length > 64) {
    const b = new Uint8Array(16);
    crypto.getRandomValues(b);
    id = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
    set(K.device, id);
  }
  return id;
}

export const savedName = () => get<string>(K.name, '');
export const saveName = (n: string) => set(K.name, n);
export const savedSession = () => get<Session | null>(K.session, null);
export const saveSession = (s: Session | null) => (s ? set(K.session, s) : localStorage.removeItem(K.session));
export const clickSettings = () => ({ ...defaultClick, ...get<Partial<ClickSettings>>(K.click, {}) });
export const saveClickSettings = (c: ClickSettings) => set(K.click, c);
export const voiceSettings = (): VoiceSettings => ({ ...defaultVoice, ...get<Partial<VoiceSettings>>(K.voice, {}) });
export const saveVoiceSettings = (v: VoiceSettings) => set(K.voice, v);
/**
 * `localStorage['downbeat.voicePath']`: 'rtp' or 'dc' (plain or JSON-quoted) overrides the room's
 * voice path on this device — for tests and benchmarks only: a device on another path than the
 * room hears no one. Null: follow the room (`settings.voice_path`, set by the MD).
 */
export function voicePathOverride(): 'rtp' | 'dc' | null {
  let v: string | null = null;
  try { v = localStorage.getItem(K.voicePath); } catch { /* no storage */ }
  const s = (v ?? '').replace(/"/g, '').trim();
  return s === 'rtp' || s === 'dc' ? s : null;
}
/** How this device shows charts: font scale, columns ('auto': two in a wide landscape), Nashville numbers. */
export type ChartPrefs = { scale: number; columns: 'auto' | 1 | 2; nashville: boolean };
export const defaultChartPrefs: ChartPrefs = { scale: 1, columns: 'auto', nashville: false };
export const CHART_SCALE_MIN = 0.7;
export const CHART_SCALE_MAX = 2.2;
export function chartPrefs(): ChartPrefs {
  const p = { ...defaultChartPrefs, ...get<Partial<ChartPrefs>>(K.chart, {}) };
  const scale = Number.isFinite(p.scale) ? Math.max(CHART_SCALE_MIN, Math.min(CHART_SCALE_MAX, p.scale)) : 1;
  const columns = p.columns === 1 || p.columns === 2 ? p.columns : 'auto';
  return { scale, columns, nashville: p.nashville === true };
}
export const saveChartPrefs = (p: ChartPrefs) => set(K.chart, p);
/** Whether the click was on when this page was last used: a reload turns it back on. */
export const clickArmed = () => get<boolean>(K.clickArmed, false) === true;
export const saveClickArmed = (on: boolean) => set(K.clickArmed, on);
export const certNoticeSeen = () => get<boolean>(K.certSeen, false);
export const markCertNoticeSeen = () => set(K.certSeen, true);

// ---- IndexedDB: the last room state -----------------------------------------------------------

// `bodies` (the charts fetched on demand, bounded by state.pruneBodies) are kept: a reload without the
// server still shows the set's charts. Why a fetch failed is not: the next start tries again.
type Stored = { room: string; savedAt: number; state: Omit<RoomState, 'tempoBeat' | 'ptt' | 'lastSeen' | 'metrics' | 'bodyErrors'> };

let dbp: Promise<IDBPDatabase> | null = null;
function db(): Promise<IDBPDatabase> {
  dbp ??= openDB('downbeat', 1, {
    upgrade(d) { d.createObjectStore('rooms', { keyPath: 'room' }); },
  });
  return dbp;
}

export async function saveRoomState(state: RoomState): Promise<void> {
  if (!state.room) return;
  const { tempoBeat: _t, ptt: _p, lastSeen: _l, metrics: _m, bodyErrors: _b, ...keep } = state;
  const rec: Stored = { room: state.room.id, savedAt: Date.now(), state: keep };
  try { await (await db()).put('rooms', rec); } catch { /* storage unavailable: online use still works */ }
}

export async function loadRoomState(roomId: string): Promise<{ state: Stored['state']; savedAt: number } | null> {
  try {
    const rec = (await (await db()).get('rooms', roomId)) as Stored | undefined;
    return rec ? { state: rec.state, savedAt: rec.savedAt } : null;
  } catch {
    return null;
  }
}
