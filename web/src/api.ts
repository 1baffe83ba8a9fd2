// HTTP side of the protocol: join by code, refresh tokens. Errors carry what to do next.
import type { Participant, RoomInfo } from './model';

export type Session = {
  token: string;
  refresh_token: string;
  participant: Participant;
  room: RoomInfo;
  code: string;
};

export class ApiError extends Error {
  constructor(public readonly status: number, public readonly code: string, message: string, public readonly retryAfter?: number) {
    super(message);
  }
}

export const NAME_MAX = 40;

/** Characters as a person counts them (code points, so an emoji is one). */
export function nameLength(name: string): number {
  return [...name.trim()].length;
}

export function validateName(name: string): string | null {
  const n = nameLength(name);
  if (n === 0) return 'Please type your name, so the band knows who you are.';
  if (n > NAME_MAX) return `That name is ${n} characters long; please keep it to ${NAME_MAX} or fewer.`;
  return null;
}

export function jwtExpiry(token: string): number | null {
  try {
    const part = token.split('.')[1];
    const json = atob(part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '='));
    const exp = JSON.parse(json).exp;
    return typeof exp === 'number' ? exp * 1000 : null;
  } catch {
    return null;
  }
}

async function post(path: string, body: unknown): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), cache: 'no-store' });
  } catch {
    throw new ApiError(0, 'unreachable', "Can't reach the Downbeat server. Check that this phone is on the band's Wi-Fi, then try again.");
  }
  let json: { error?: { code?: string; message?: string } } & Record<string, unknown> = {};
  try { json = await res.json(); } catch { /* not JSON */ }
  if (!res.ok) {
    const code = json.error?.code ?? (res.status === 401 ? 'unauthorized' : 'internal');
    const retry = Number(res.headers.get('retry-after') ?? '') || undefined;
    throw new ApiError(res.status, code, json.error?.message ?? `The server answered ${res.status}.`, retry);
  }
  return json;
}

/** POST /auth/exchange; the message of a failure is what the join page shows. */
export async function exchange(code: string, name: string, deviceId: string): Promise<Session> {
  try {
    const r = (await post('/auth/exchange', { code, name: name.trim(), device_id: deviceId })) as Omit<Session, 'code'>;
    return { ...r, code };
  } catch (e) {
    if (!(e instanceof ApiError)) throw e;
    if (e.status === 401 || e.status === 404) {
      throw new ApiError(e.status, e.code, 'This join code is wrong or has expired. Check the code, or ask the music director for a new QR code.');
    }
    if (e.status === 429) {
      throw new ApiError(e.status, e.code, `Too many tries. Wait ${e.retryAfter ?? 30} seconds, then try again.`, e.retryAfter);
    }
    throw e;
  }
}

export type PeekResult = { room: { id: string; name: string }; role: string };

/** How the join page names a role: "Joining Rehearsal as sound tech". */
export const ROLE_WORDS: Record<string, string> = { md: 'MD', musician: 'musician', tech: 'sound tech', viewer: 'stage display' };

/**
 * POST /auth/peek: the room and role a code joins, before a name is typed. Issues nothing.
 * A wrong code costs the same failed-guess budget as a wrong join, so the page peeks once per code.
 * Failures carry plain words and what to do; status 0 means the server was not reached.
 */
export async function peek(code: string): Promise<PeekResult> {
  try {
    const r = (await post('/auth/peek', { code })) as PeekResult;
    if (!r || typeof r.room?.name !== 'string' || typeof r.role !== 'string') throw new ApiError(0, 'unreachable', 'The server gave an answer this app does not understand.');
    return r;
  } catch (e) {
    if (!(e instanceof ApiError)) throw e;
    if (e.status === 401 || e.status === 404) {
      throw new ApiError(e.status, e.code, 'This code is not valid any more: ask the MD for the current QR code, or check what you typed.');
    }
    if (e.status === 429) {
      throw new ApiError(e.status, e.code, `Too many wrong codes from this network. Wait ${e.retryAfter ?? 30} seconds, then try the code on the MD's screen.`, e.retryAfter);
    }
    throw e;
  }
}

export async function refresh(session: Session): Promise<Session> {
  const r = (await post('/auth/refresh', { refresh_token: session.refresh_token })) as Omit<Session, 'code'>;
  return { ...session, ...r };
}

/** New join codes for `roles` (default: the MD's); the server pushes them to every MD console too. */
export async function rotateCodes(token: string, roles: string[] = ['md']): Promise<Record<string, string>> {
  const res = await fetch('/api/room/codes/rotate', {
    method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ roles }), cache: 'no-store',
  });
  const j = await res.json().catch(() => null);
  if (!res.ok || !j || typeof j.codes !== 'object') throw new Error(j?.error?.message ?? `the server refused (${res.status}): try again`);
  return j.codes;
}

/** GET /api/room/codes: the room's join codes per role, for the QR panel (MD only). */
export async function fetchCodes(token: string): Promise<Record<string, string>> {
  let res: Response;
  try {
    res = await fetch('/api/room/codes', { headers: { authorization: `Bearer ${token}` }, cache: 'no-store' });
  } catch {
    throw new Error("can't reach the server: check the Wi-Fi; this panel tries again every 10 s");
  }
  const j = await res.json().catch(() => null);
  if (!res.ok || !j || typeof j.codes !== 'object') throw new Error(j?.error?.message ?? `the server refused (${res.status}): try again`);
  return j.codes;
}

export type SongBodyReply = { id: string; body_rev: number; body_bytes: number; chordpro: string | null };

/**
 * GET /api/room/songs/<id>: one song's chart, fetched on demand (the snapshot carries metadata only).
 * The browser keeps the reply and revalidates it by its ETag (the body revision), so an unchanged chart
 * costs a 304. Failures say what to do; status 0 means the server was not reached.
 */
export async function fetchSongBody(token: string, id: string, signal?: AbortSignal): Promise<SongBodyReply> {
  let res: Response;
  try {
    res = await fetch(`/api/room/songs/${encodeURIComponent(id)}`, { headers: { authorization: `Bearer ${token}` }, cache: 'no-cache', signal });
  } catch (e) {
    if ((e as Error)?.name === 'AbortError') throw e;
    throw new ApiError(0, 'unreachable', "Can't reach the Downbeat server to load this chart: check the Wi-Fi; it loads when the server answers.");
  }
  const j = await res.json().catch(() => null);
  if (!res.ok) {
    const code = j?.error?.code ?? (res.status === 401 ? 'unauthorized' : 'internal');
    const msg = res.status === 404 ? 'This song is no longer in the library: ask the MD to pick the song again.'
      : res.status === 401 ? 'Your session has to be renewed before this chart can load; it retries by itself.'
      : j?.error?.message ?? `The server answered ${res.status} for this chart: it retries by itself.`;
    throw new ApiError(res.status, code, msg);
  }
  if (!j || typeof j.body_rev !== 'number' || (j.chordpro !== null && typeof j.chordpro !== 'string')) {
    throw new ApiError(res.status, 'internal', 'The server sent a chart this app does not understand: reload the page.');
  }
  return j as SongBodyReply;
}
