// The room socket: connect, resume with `since`, reconnect with jittered backoff (0.5 → 5 s),
// refresh the JWT before it expires, clock-sync pings, metrics reports, missed-anchor resync.
import { ClockSync } from './clock';
import { ApiError, jwtExpiry, refresh, type Session } from './api';
import type { Ack, ErrorFrame, LinkReport, ServerEvent, Tempo, UnknownEvent } from './model';
import type { CommandMap, CommandType } from './protocol.gen';
import { barDurationUs } from './tempo';

export type ConnStatus = 'connecting' | 'online' | 'reconnecting' | 'offline' | 'ended';

export class CommandError extends Error {
  constructor(public readonly code: string, message: string) { super(message); }
}

export type ConnectionHooks = {
  since(): number | null;
  tempo(): Tempo | null;
  onEvent(ev: ServerEvent | UnknownEvent): void;
  onStatus(status: ConnStatus, detail?: string): void;
  onSession(s: Session): void;
  /** Voice link health for the report (docs/voice.md "Link health"). */
  links?(): LinkReport[];
};

const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 5000;
// One ping every 250 ms: the sample rate, not the estimator, sets the click spread on Wi-Fi
// (bench/drift/REPORT.md, docs/decisions/0005-clock-sync-rate.md).
const PING_EVERY_MS = 250;
const BURST = 8;
const BURST_SPACING_MS = 25; // as the SDK (client.hpp ping_burst_spacing)
const METRICS_EVERY_MS = 5000;
const SILENCE_MS = 7000;          // nothing received for this long: the link is dead
const COMMAND_TIMEOUT_MS = 10000;
const REFRESH_AHEAD_MS = 120_000; // refresh the 15-minute JWT two minutes early

/**
 * 0.5, 0.5, 1, 2, 4, 5, 5… s, each jittered by ±25 % (clamped to 0.5–5 s) so phones do not reconnect
 * in lockstep. The second try comes as soon as the first: a restarted server that took ~1 s to listen
 * is then found after ~1 s, not ~1.5–2.4 s (bench/faults/REPORT.md, "restart → all back").
 */
export function backoffDelay(attempt: number, rand = Math.random): number {
  const d = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** Math.min(Math.max(attempt - 1, 0), 10));
  return Math.round(Math.max(BACKOFF_MIN_MS, Math.min(BACKOFF_MAX_MS, d * (0.75 + 0.5 * rand()))));
}

type Pending = { resolve(a: Ack): void; reject(e: Error): void; timer: number };

/** A ping unanswered this long is lost (as the SDK): the estimator widens its bound instead of trusting old samples. */
export const PING_LOST_AFTER_US = 2_000_000;

/** The pings awaiting their pong, by t0 (local µs), and how many were sent and lost. */
export class PingBook {
  private out = new Set<number>();
  sent = 0;
  lost = 0;

  send(t0: number): void { this.out.add(t0); this.sent++; }
  /** Whether this pong answers a ping of ours still waiting (not a stranger's, not one already counted lost). */
  answer(t0: number): boolean { return this.out.delete(t0); }
  /** Counts as lost, and forgets, the pings older than PING_LOST_AFTER_US; returns how many. */
  expire(nowUs: number): number {
    let n = 0;
    for (const t0 of this.out) if (nowUs - t0 > PING_LOST_AFTER_US) { this.out.delete(t0); n++; }
    this.lost += n;
    return n;
  }
  /** A new socket: its pongs cannot answer the old one's pings. */
  forget(): void { this.out.clear(); }
  /** Lost pings over sent ones (what metrics.report `loss` means, from the SDK and the app alike). */
  loss(): number | null { return this.sent > 0 ? Math.min(1, this.lost / this.sent) : null; }
}

export class Connection {
  // core/clock_sync's bound ('valid until the next ping') must know the rate we really ping at.
  readonly clock = new ClockSync({ burstCount: BURST, burstIntervalUs: BURST_SPACING_MS * 1000, steadyIntervalUs: PING_EVERY_MS * 1000 });
  status: ConnStatus = 'connecting';
  private ws: WebSocket | null = null;
  private attempt = 0;
  private failedBeforeHello = 0;
  private gotHello = false;
  private stopped = false;
  private nextId = 1;
  private pending = new Map<string, Pending>();
  private timers: number[] = [];
  private reconnectTimer: number | null = null;
  private lastRx = 0;
  private lastAnchorAt = 0;
  private lastResyncAt = 0;
  private pings = new PingBook();
  private refreshing: Promise<void> | null = null;

  constructor(private session: Session, private readonly hooks: ConnectionHooks) {}

  start(): void {
    this.stopped = false;
    window.addEventListener('online', this.onOnline);
    window.addEventListener('offline', this.onOffline);
    this.timers.push(window.setInterval(() => this.tick(), 1000));
    this.timers.push(window.setInterval(() => this.ping(), PING_EVERY_MS));
    this.timers.push(window.setInterval(() => this.reportMetrics(), METRICS_EVERY_MS));
    this.timers.push(window.setInterval(() => void this.maybeRefresh(false), 30_000));
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    window.removeEventListener('online', this.onOnline);
    window.removeEventListener('offline', this.onOffline);
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer);
    this.ws?.close(1000, 'leaving');
    this.ws = null;
  }

  get currentSession(): Session { return this.session; }

  /** Sends a command; resolves with its ack, rejects with a CommandError (code + message). */
  send<K extends CommandType>(type: K, data: CommandMap[K]): Promise<Ack> {
    return this.sendFrame(type, data as unknown as Record<string, unknown>);
  }

  /** Untyped send, for the test hook (the server must refuse what the UI never sends). */
  sendFrame(type: string, data: Record<string, unknown>): Promise<Ack> {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN || !this.gotHello) {
      return Promise.reject(new CommandError('offline', 'Not connected: the command was not sent. Try again when the banner turns green.'));
    }
    const id = `c${this.nextId++}`;
    return new Promise<Ack>((resolve, reject) => {
      const timer = window.setTimeout(() => {
        this.pending.delete(id);
        reject(new CommandError('timeout', 'The server did not answer in time.'));
      }, COMMAND_TIMEOUT_MS);
      this.pending.set(id, { resolve, reject, timer });
      ws.send(JSON.stringify({ type, id, data }));
    });
  }

  private setStatus(s: ConnStatus, detail?: string): void {
    this.status = s;
    this.hooks.onStatus(s, detail);
  }

  private async maybeRefresh(force: boolean): Promise<void> {
    const exp = jwtExpiry(this.session.token);
    if (!force && exp !== null && exp - Date.now() > REFRESH_AHEAD_MS) return;
    if (this.refreshing) return this.refreshing;
    this.refreshing = (async () => {
      try {
        this.session = await refresh(this.session);
        this.hooks.onSession(this.session);
      } catch (e) {
        if (e instanceof ApiError && (e.status === 401 || e.status === 403)) {
          this.end('Your place in the room has ended (signed out or removed). Scan the QR code to join again.');
        }
        throw e;
      } finally {
        this.refreshing = null;
      }
    })();
    return this.refreshing;
  }

  private end(reason: string): void {
    this.stop();
    this.setStatus('ended', reason);
  }

  private connect(): void {
    if (this.stopped) return;
    this.reconnectTimer = null;
    if (!navigator.onLine) { this.setStatus('offline'); return; }
    if (this.status !== 'online') this.setStatus(this.attempt === 0 && this.status === 'connecting' ? 'connecting' : 'reconnecting');
    // A socket that failed before `hello` is most likely a rejected token: refresh it first.
    const needRefresh = this.failedBeforeHello > 0 && this.failedBeforeHello % 2 === 1;
    const go = needRefresh ? this.maybeRefresh(true) : this.maybeRefresh(false);
    go.then(() => this.open(), () => this.scheduleReconnect());
  }

  private open(): void {
    if (this.stopped) return;
    const since = this.hooks.since();
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const url = `${proto}//${location.host}/ws${since !== null && since > 0 ? `?since=${since}` : ''}`;
    let ws: WebSocket;
    // The token rides as a subprotocol, not in the URL (history, proxies and logs keep URLs); the server echoes downbeat.v1.
    try { ws = new WebSocket(url, ['downbeat.v1', `token.${this.session.token}`]); } catch { this.scheduleReconnect(); return; }
    this.ws = ws;
    this.gotHello = false;
    this.lastRx = performance.now();
    ws.onmessage = (m) => this.onMessage(ws, m);
    ws.onclose = () => this.onClose(ws);
    ws.onerror = () => { /* onclose follows */ };
  }

  private onClose(ws: WebSocket): void {
    if (ws !== this.ws) return;
    this.ws = null;
    for (const [, p] of this.pending) { clearTimeout(p.timer); p.reject(new CommandError('offline', 'The connection dropped before the server answered.')); }
    this.pending.clear();
    this.pings.forget();
    if (!this.gotHello) this.failedBeforeHello++;
    this.gotHello = false;
    if (this.stopped) return;
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.reconnectTimer !== null) return;
    this.setStatus(navigator.onLine ? 'reconnecting' : 'offline');
    if (!navigator.onLine) return; // the 'online' event reconnects
    const delay = backoffDelay(this.attempt++);
    this.reconnectTimer = window.setTimeout(() => this.connect(), delay);
  }

  private onOnline = (): void => {
    if (this.stopped || this.ws) return;
    this.attempt = 0;
    if (this.reconnectTimer !== null) { clearTimeout(this.reconnectTimer); this.reconnectTimer = null; }
    this.connect();
  };

  private onOffline = (): void => {
    this.setStatus('offline');
    this.ws?.close(4000, 'offline');
    // Some browsers never fire close on a dead link: treat it as closed now.
    if (this.ws) this.onClose(this.ws);
  };

  private onMessage(ws: WebSocket, m: MessageEvent): void {
    if (ws !== this.ws) return;
    const t3 = performance.now() * 1000;
    this.lastRx = performance.now();
    let f: (ServerEvent | UnknownEvent | Ack | ErrorFrame) & { type: string };
    try { f = JSON.parse(m.data as string); } catch { return; }
    if (f.type === 'ack' || f.type === 'error') {
      const r = f as Ack | ErrorFrame;
      const p = r.re ? this.pending.get(r.re) : undefined;
      if (p) {
        this.pending.delete(r.re!);
        clearTimeout(p.timer);
        if (r.type === 'ack') p.resolve(r);
        else p.reject(new CommandError(r.code, r.message));
      } else if (r.type === 'error') {
        console.warn('downbeat: server error', r.code, r.message);
      }
      return;
    }
    if (f.type === 'time.pong') {
      const d = (f as { data: { t0: number; t1: number; t2: number } }).data;
      if (this.pings.answer(d.t0)) this.clock.addSample({ t0: d.t0, t1: d.t1, t2: d.t2, t3 });
      return;
    }
    if (f.type === 'hello') {
      this.gotHello = true;
      this.attempt = 0;
      this.failedBeforeHello = 0;
      this.lastAnchorAt = performance.now();
      this.setStatus('online');
      this.burst();
    }
    if (f.type === 'tempo.anchor' || f.type === 'snapshot') this.lastAnchorAt = performance.now();
    this.hooks.onEvent(f as ServerEvent);
  }

  private burst(): void {
    for (let i = 0; i < BURST; i++) window.setTimeout(() => this.ping(), i * BURST_SPACING_MS);
  }

  private ping(): void {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN || !this.gotHello) return;
    // t0 in local µs; the pong is matched by t0 itself.
    const t0 = Math.round(performance.now() * 1000);
    for (let n = this.pings.expire(t0); n > 0; n--) this.clock.noteLostPing();
    this.pings.send(t0);
    ws.send(JSON.stringify({ type: 'time.ping', id: `p${this.pings.sent}`, data: { t0 } }));
  }

  private reportMetrics(): void {
    if (!this.gotHello) return;
    const s = this.clock.stats();
    if (!s.synced) return;
    const ms = (us: number) => Math.min(60000, Math.max(0, Math.round(us / 10) / 100));
    const data: Record<string, unknown> = {
      rtt_ms: ms(s.rttUs), jitter_ms: ms(s.jitterUs), clock_uncertainty_ms: ms(s.uncertaintyUs),
      clock_offset_ms: Math.round(s.offsetUs / 10) / 100,
    };
    const loss = this.pings.loss();
    if (loss !== null) data.loss = loss;
    const links = this.hooks.links?.() ?? [];
    if (links.length) data.links = links;
    this.sendFrame('metrics.report', data).catch(() => { /* best effort */ });
  }

  private tick(): void {
    const now = performance.now();
    if (this.ws && this.gotHello && now - this.lastRx > SILENCE_MS) {
      // No pong, anchor or event for 7 s although we ping every 2 s: the link is gone.
      const ws = this.ws;
      ws.close(4001, 'silent');
      this.onClose(ws);
      return;
    }
    const tempo = this.hooks.tempo();
    if (this.gotHello && tempo?.running) {
      const every = Math.min(barDurationUs(tempo) / 1000, 2000);
      if (now - this.lastAnchorAt > 2.5 * every + 500 && now - this.lastResyncAt > 5000) {
        this.lastResyncAt = now;
        this.send('resync.request', {}).catch(() => { /* the next tick retries */ });
      }
    }
  }
}
