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

const K = {
  device: 'downbeat.device_id',
  name: 'downbeat.name',
  session: 'downbeat.session',
  click: 'downbeat.click',
  certSeen: 'downbeat.cert_notice_seen',
  codes: 'downbeat.codes',
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
export const certNoticeSeen = () => get<boolean>(K.certSeen, false);
export const markCertNoticeSeen = () => set(K.certSeen, true);
export const savedCodes = () => get<Record<string, string>>(K.codes, {});
export const saveCodes = (c: Record<string, string>) => set(K.codes, c);

// ---- IndexedDB: the last room state -----------------------------------------------------------

type Stored = { room: string; savedAt: number; state: Omit<RoomState, 'cue' | 'tempoBeat' | 'ptt' | 'lastSeen' | 'metrics'> };

let dbp: Promise<IDBPDatabase> | null = null;
function db(): Promise<IDBPDatabase> {
  dbp ??= openDB('downbeat', 1, {
    upgrade(d) { d.createObjectStore('rooms', { keyPath: 'room' }); },
  });
  return dbp;
}

export async function saveRoomState(state: RoomState): Promise<void> {
  if (!state.room) return;
  const { cue: _c, tempoBeat: _t, ptt: _p, lastSeen: _l, metrics: _m, ...keep } = state;
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
