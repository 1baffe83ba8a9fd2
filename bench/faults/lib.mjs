// Pieces of the fault benchmark: a client that reconnects the way the web app does, a TCP proxy
// the bench can cut, /proc readers and small statistics. Everything runs on loopback.
import net from 'node:net';
import { createRequire } from 'node:module';
import { readFileSync, mkdtempSync, existsSync, rmSync } from 'node:fs';
import { execFileSync, spawn } from 'node:child_process';
import { cpus, totalmem, tmpdir } from 'node:os';
import { join as pathJoin } from 'node:path';

export const DOWNBEATD = process.env.DOWNBEATD || new URL('../../build/bin/downbeatd', import.meta.url).pathname;

// `ws` comes from tests/integration's lock file (no dependency of our own).
const WebSocket = createRequire(new URL('../../tests/integration/package.json', import.meta.url))('ws');

// CLOCK_MONOTONIC in µs: the same clock downbeatd's room clock reads (steady_clock on Linux).
export const monoUs = () => Number(process.hrtime.bigint() / 1000n);
export const nowMs = () => performance.now();
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// The web app's reconnect policy (web/src/connection.ts): 0.5, 0.5, 1, 2, 4, 5, 5… s, each ±25 %.
export function backoffDelay(attempt, rand = Math.random) {
  const d = Math.min(5000, 500 * 2 ** Math.min(Math.max(attempt - 1, 0), 10));
  return Math.round(Math.max(500, Math.min(5000, d * (0.75 + 0.5 * rand()))));
}

// One room connection: pings every 250 ms, declares the link dead after 7 s of silence, resumes
// with `since`, and reconnects with the web app's backoff (or at once on online(), like the
// browser's `online` event). Emits 'resynced' once it holds the room state again.
export class ReClient {
  constructor(getBase, session, { name = 'client', silenceMs = 7000, pingMs = 250 } = {}) {
    this.getBase = getBase;           // () => 'ws://127.0.0.1:PORT' (a server or a proxy)
    this.session = session;
    this.name = name;
    this.silenceMs = silenceMs;
    this.pingMs = pingMs;
    this.me = session.participant.id;
    this.lastSeq = 0;
    this.attempt = 0;
    this.stopped = true;
    this.ws = null;
    this.connected = false;           // hello received
    this.resynced = false;            // snapshot, or the resumed replay through our own rejoin
    this.pending = new Map();
    this.nextId = 1;
    this.listeners = new Map();
    this.offsets = [];                // {at, offset_us, rtt_us} from time.pong
    this.tempo = null;                // last tempo object seen (snapshot, anchor)
    this.beats = [];                  // tempo.update {ts, rev, bar, beat, at}
    this.connects = 0;
    this.log = [];
    this.keepBeats = false;
    this.recent = [];                 // the last durable events, for eventAt()
  }

  // The durable event with this seq (already received, or the next to arrive).
  eventAt(seq, timeoutMs = 10000) {
    const hit = this.recent.find((m) => m.seq === seq);
    return hit ? Promise.resolve(hit) : this.once('event', (m) => m.seq === seq, timeoutMs);
  }

  on(ev, fn) { (this.listeners.get(ev) || this.listeners.set(ev, []).get(ev)).push(fn); }
  emit(ev, ...a) { for (const fn of this.listeners.get(ev) || []) fn(...a); }
  once(ev, pred = () => true, timeoutMs = 30000) {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`${this.name}: timed out waiting for ${ev}`)), timeoutMs);
      const fn = (...a) => { if (!pred(...a)) return; clearTimeout(t); this.listeners.set(ev, this.listeners.get(ev).filter((f) => f !== fn)); resolve(a[0]); };
      this.on(ev, fn);
    });
  }

  start() {
    this.stopped = false;
    this.pinger = setInterval(() => this.ping(), this.pingMs);
    this.ticker = setInterval(() => this.tick(), 250);
    this.open();
  }

  stop() {
    this.stopped = true;
    clearInterval(this.pinger);
    clearInterval(this.ticker);
    clearTimeout(this.timer);
    if (this.ws) this.ws.terminate();
    this.ws = null;
  }

  // The browser's `online` event: reset the backoff and connect now.
  online() {
    if (this.stopped || this.ws) return;
    this.attempt = 0;
    clearTimeout(this.timer);
    this.timer = null;
    this.open();
  }

  open() {
    if (this.stopped) return;
    this.timer = null;
    const q = new URLSearchParams({ token: this.session.token });
    if (this.lastSeq > 0) q.set('since', String(this.lastSeq));
    const ws = new WebSocket(`${this.getBase()}/ws?${q}`, { rejectUnauthorized: false, handshakeTimeout: 5000 });
    this.ws = ws;
    this.connected = false;
    this.resynced = false;
    this.lastRx = nowMs();
    this.openedAt = nowMs();
    ws.on('message', (data) => { if (ws === this.ws) this.onMessage(JSON.parse(data.toString())); });
    ws.on('close', () => this.onClose(ws));
    ws.on('error', () => { /* close follows */ });
    ws.on('unexpected-response', (_req, res) => { this.log.push(`refused ${res.statusCode}`); ws.terminate(); });
  }

  onClose(ws) {
    if (ws !== this.ws) return;
    this.ws = null;
    const wasConnected = this.connected;
    this.connected = false;
    this.resynced = false;
    for (const [, p] of this.pending) p.resolve({ type: 'lost' });
    this.pending.clear();
    this.emit('down', { wasConnected });
    if (this.stopped) return;
    if (this.timer) return;
    this.timer = setTimeout(() => this.open(), backoffDelay(this.attempt++));
  }

  tick() {
    if (this.ws && this.connected && nowMs() - this.lastRx > this.silenceMs) {
      const ws = this.ws;
      ws.terminate();
      this.onClose(ws);
    }
  }

  ping() {
    if (!this.ws || !this.connected || this.ws.readyState !== WebSocket.OPEN) return;
    this.ws.send(JSON.stringify({ type: 'time.ping', id: `p${this.nextId++}`, data: { t0: monoUs() } }));
  }

  onMessage(m) {
    this.lastRx = nowMs();
    const at = nowMs();
    if (m.type === 'hello') {
      this.connected = true;
      this.connects++;
      this.attempt = 0;
      this.hello = m.data;
      this.helloAt = at;
      this.emit('hello', m);
      return;
    }
    if (m.type === 'snapshot') {
      this.lastSeq = m.data.seq;
      this.tempo = m.data.tempo;
      this.state = m.data;
      this.markResynced(at, 'snapshot');
      return;
    }
    if (m.type === 'time.pong') {
      const t3 = monoUs();
      const { t0, t1, t2 } = m.data;
      this.offsets.push({ at, offset_us: ((t1 - t0) + (t2 - t3)) / 2, rtt_us: (t3 - t0) - (t2 - t1) });
      if (this.offsets.length > 400) this.offsets.splice(0, 200);
    }
    if (m.type === 'ack' || m.type === 'error') {
      const p = this.pending.get(m.re);
      if (p) { this.pending.delete(m.re); p.resolve(m); }
      else if (m.type === 'error' && m.re == null) this.log.push(`error re=null ${m.code} ${m.message}`);
      return;
    }
    if (m.type === 'tempo.anchor') this.tempo = m.data.tempo;
    if (m.type === 'tempo.update' && this.keepBeats) this.beats.push({ ts: m.ts, at, ...m.data });
    if (typeof m.seq === 'number') {
      this.lastSeq = Math.max(this.lastSeq, m.seq);
      this.recent.push(m);
      if (this.recent.length > 400) this.recent.splice(0, 200);
      this.emit('event', m);
      if (!this.resynced && m.type === 'participant.join' && m.data.participant.id === this.me) this.markResynced(at, 'replay');
    } else {
      this.emit('live', m);
    }
  }

  markResynced(at, how) {
    this.resynced = true;
    this.resyncedAt = at;
    this.emit('resynced', { at, how, resumed: this.hello?.resumed });
  }

  // Resolves with the reply ({type:'ack'|'error'|'lost'}); never rejects.
  cmd(type, data = {}) {
    if (!this.ws || !this.connected || this.ws.readyState !== WebSocket.OPEN) return Promise.resolve({ type: 'offline' });
    const id = `c${this.nextId++}`;
    return new Promise((resolve) => {
      this.pending.set(id, { resolve });
      this.ws.send(JSON.stringify({ type, id, data }));
    });
  }

  offsetNow() {
    const recent = this.offsets.slice(-16).sort((a, b) => a.rtt_us - b.rtt_us);
    return recent.length ? recent[0].offset_us : null;
  }
}

// A TCP proxy in front of the server. 'up' forwards; 'reset' destroys every link at once (the
// phone's socket is torn down) and refuses new ones; 'blackhole' forwards nothing either way and
// holds new connections until restored (a dead Wi-Fi path: nobody is told). restore() flushes.
export class Proxy {
  constructor(upstreamPort) {
    this.upstreamPort = upstreamPort;
    this.mode = 'up';
    this.links = new Set();
    this.server = net.createServer((c) => this.accept(c));
  }

  listen() { return new Promise((r) => this.server.listen(0, '127.0.0.1', () => { this.port = this.server.address().port; r(this); })); }
  close() { for (const l of this.links) l.destroy(); return new Promise((r) => this.server.close(() => r())); }

  accept(c) {
    c.setNoDelay(true);
    if (this.mode === 'reset') { c.resetAndDestroy ? c.resetAndDestroy() : c.destroy(); return; }
    const link = { client: c, upstream: null, held: [[], []], destroy: () => { c.destroy(); link.upstream?.destroy(); this.links.delete(link); } };
    this.links.add(link);
    const connectUp = () => {
      const u = net.connect(this.upstreamPort, '127.0.0.1');
      u.setNoDelay(true);
      link.upstream = u;
      u.on('data', (d) => { if (this.mode === 'up') c.write(d); else link.held[1].push(d); });
      u.on('close', () => this.closed(link, 'upstream'));
      u.on('error', () => this.closed(link, 'upstream'));
      for (const d of link.held[0]) u.write(d);
      link.held[0] = [];
    };
    c.on('data', (d) => { if (this.mode === 'up' && link.upstream) link.upstream.write(d); else link.held[0].push(d); });
    c.on('close', () => this.closed(link, 'client'));
    c.on('error', () => this.closed(link, 'client'));
    link.connectUp = connectUp;
    if (this.mode === 'up') connectUp();
  }

  // One side closed. Through a black hole the other side cannot hear of it (no FIN gets through)
  // until the path is back, when the survivor's next segment meets a reset.
  closed(link, side) {
    if (this.mode === 'blackhole') { link.closedSide = link.closedSide || side; return; }
    link.destroy();
  }

  cut(mode) {
    this.mode = mode;
    if (mode === 'reset') for (const l of [...this.links]) { l.client.resetAndDestroy ? l.client.resetAndDestroy() : l.client.destroy(); l.upstream?.destroy(); this.links.delete(l); }
  }

  restore() {
    this.mode = 'up';
    for (const l of [...this.links]) {
      if (l.closedSide) { l.destroy(); continue; }
      if (!l.upstream) { l.connectUp(); continue; }
      for (const d of l.held[0]) l.upstream.write(d);
      for (const d of l.held[1]) l.client.write(d);
      l.held = [[], []];
    }
  }
}

export function rssKiB(pid) {
  try {
    const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/);
    return m ? Number(m[1]) : null;
  } catch { return null; }
}

export function fdCount(pid) {
  try { return execFileSync('ls', [`/proc/${pid}/fd`], { encoding: 'utf8' }).split('\n').filter(Boolean).length; } catch { return null; }
}

export function cpuTicks(pid) {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return Number(f[11]) + Number(f[12]); // utime + stime, in clock ticks (100/s)
  } catch { return null; }
}

export function machine() {
  let lscpu = '';
  try { lscpu = execFileSync('lscpu', { encoding: 'utf8' }); } catch { /* absent */ }
  const model = (lscpu.match(/Model name:\s+(.*)/) || [])[1] || cpus()[0]?.model;
  return { nproc: cpus().length, cpu: model, mem_gib: Math.round(totalmem() / 2 ** 30), node: process.version,
    load1: Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]) };
}

export const pct = (xs, p) => { if (!xs.length) return null; const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]; };
export const summary = (xs) => ({ n: xs.length, p50: pct(xs, 50), p95: pct(xs, 95), p99: pct(xs, 99), max: xs.length ? Math.max(...xs) : null });
export const r1 = (x) => (x == null ? x : Math.round(x * 10) / 10);

// downbeatd on loopback (plain WebSocket: TLS is not what these faults test), optionally under a
// wrapper (prlimit). It counts its log instead of keeping it (a server that logs 10 MB/s must not
// take the bench down with it) and keeps the last 20 kB to show when it dies.
export class Launched {
  constructor({ wrapper = [], args = [], dataDir } = {}) {
    this.dataDir = dataDir || mkdtempSync(pathJoin(tmpdir(), 'downbeat-faults-'));
    this.wrapper = wrapper;
    this.args = args;
    this.logBytes = 0;
    this.logLines = 0;
    this.tail = '';
    this.counts = new Map();
    this.stopping = false;
  }
  get log() { return this.tail; }
  createRoom(name) {
    return JSON.parse(execFileSync(DOWNBEATD, ['room', 'create', name, '--data-dir', this.dataDir, '--json'], { encoding: 'utf8' }));
  }
  async start({ port = 0 } = {}) {
    const ready = pathJoin(this.dataDir, 'ready.json');
    rmSync(ready, { force: true });
    const args = ['serve', '--data-dir', this.dataDir, '--listen', `127.0.0.1:${port}`, '--ready-file', ready, '--no-qr', '--tls', 'off', ...this.args];
    const [cmd, ...pre] = this.wrapper.length ? this.wrapper : [DOWNBEATD];
    this.proc = spawn(cmd, this.wrapper.length ? [...pre, DOWNBEATD, ...args] : args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const count = (d) => {
      this.logBytes += d.length;
      for (let i = d.indexOf(10); i >= 0; i = d.indexOf(10, i + 1)) this.logLines++;
      for (const key of ['accept failed', 'slow_consumer']) {
        let n = 0;
        for (let i = d.indexOf(key); i >= 0; i = d.indexOf(key, i + 1)) n++;
        if (n) this.counts.set(key, (this.counts.get(key) || 0) + n);
      }
      this.tail = d.length >= 20000 ? d.subarray(d.length - 20000).toString() : (this.tail + d.toString()).slice(-20000);
    };
    this.proc.stdout.on('data', count);
    this.proc.stderr.on('data', count);
    this.stopping = false;
    this.exited = new Promise((r) => this.proc.once('exit', (code, signal) => {
      if (!this.stopping) process.stderr.write(`downbeatd exited unexpectedly (code ${code}, signal ${signal}):\n${this.tail.slice(-3000)}\n`);
      r({ code, signal });
    }));
    for (let i = 0; i < 1200; i++) {   // up to 30 s: a big database takes a while to load
      if (existsSync(ready)) {
        const info = JSON.parse(readFileSync(ready, 'utf8'));
        this.port = info.port;
        this.base = `http://127.0.0.1:${info.port}`;
        this.wsBase = `ws://127.0.0.1:${info.port}`;
        return this;
      }
      if (this.proc.exitCode !== null) throw new Error(`downbeatd exited early: ${this.tail}`);
      await sleep(25);
    }
    throw new Error(`downbeatd did not become ready: ${this.tail}`);
  }
  get pid() { return this.proc.pid; }
  alive() { return !!this.proc && this.proc.exitCode === null && this.proc.signalCode === null; }
  async kill(signal = 'SIGKILL') {
    if (!this.alive()) return;
    this.stopping = true;
    this.proc.kill(signal);
    await this.exited;
  }
  cleanup() { rmSync(this.dataDir, { recursive: true, force: true }); }
}
