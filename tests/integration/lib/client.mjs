// A small WebSocket client for tests: join by code, connect, send commands, await replies and events.
import WebSocket from 'ws';
import { httpJson } from './server.mjs';

/** Every received frame that did not match protocol/schema.json, from any client: `{error, frame}`. */
export const schemaErrors = [];
let frameError = null;
/**
 * From now on every frame any Client receives is checked against protocol/schema.json (ajv);
 * mismatches collect in `schemaErrors`. Off unless a test asks (the benchmarks share this client).
 */
export async function checkEveryFrame() {
  ({ frameError } = await import('./schema.mjs'));
}

let deviceCounter = 0;

export async function join(server, code, name, deviceId) {
  const device_id = deviceId || `test-device-${process.pid}-${++deviceCounter}`;
  const r = await httpJson(server.base, '/auth/exchange', { method: 'POST', body: { code, name, device_id } });
  if (r.status !== 200) throw new Error(`join failed ${r.status}: ${r.text}`);
  return { ...r.json, device_id };
}

export class Client {
  constructor(server, session) {
    this.server = server;
    this.session = session;
    this.messages = [];   // every frame received, in order
    this.lastSeq = 0;
    this.waiters = [];
    this.nextId = 1;
  }

  static async connect(server, session, { since, origin } = {}) {
    const c = new Client(server, session);
    await c.open({ since, origin });
    return c;
  }

  open({ since, origin } = {}) {
    const q = new URLSearchParams({ token: this.session.token });
    if (since !== undefined) q.set('since', String(since));
    const headers = origin ? { origin } : {};
    this.ws = new WebSocket(`${this.server.wsBase}/ws?${q}`, { headers, rejectUnauthorized: false });
    this.closed = new Promise((resolve) => this.ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    this.ws.on('message', (data) => {
      const msg = JSON.parse(data.toString());
      const error = frameError?.(msg);
      if (error) schemaErrors.push({ error, frame: JSON.stringify(msg).slice(0, 300) });
      if (typeof msg.seq === 'number' && msg.type !== 'ack') this.lastSeq = Math.max(this.lastSeq, msg.seq);
      if (msg.type === 'snapshot') this.lastSeq = msg.data.seq;
      this.messages.push(msg);
      this.waiters = this.waiters.filter((w) => !w.check());
    });
    return new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve(this));
      this.ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (d) => { body += d; });
        res.on('end', () => {
          const err = new Error(`upgrade refused: ${res.statusCode} ${body}`);
          err.status = res.statusCode;
          err.body = body ? JSON.parse(body) : null;
          err.headers = res.headers;
          reject(err);
        });
      });
      this.ws.once('error', reject);
    });
  }

  // Resolves with the first message (from index `from`) that matches `pred`.
  waitFor(pred, { from = 0, timeout = 10000, what = 'message' } = {}) {
    return new Promise((resolve, reject) => {
      let next = from; // each waiter scans every message once, however long the test runs
      const check = () => {
        for (; next < this.messages.length; next++) {
          if (pred(this.messages[next])) { clearTimeout(timer); resolve(this.messages[next]); return true; }
        }
        return false;
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.check !== check);
        reject(new Error(`timed out waiting for ${what}; last messages: ${this.messages.slice(-5).map((m) => JSON.stringify(m).slice(0, 200)).join(' | ')}`));
      }, timeout);
      if (!check()) this.waiters.push({ check });
    });
  }

  sendRaw(text) { this.ws.send(text); }

  // Sends a command; resolves with its ack or error reply.
  async cmd(type, data = {}) {
    const id = `c${this.nextId++}`;
    const from = this.messages.length;
    this.ws.send(JSON.stringify({ type, id, data }));
    return this.waitFor((m) => (m.type === 'ack' || m.type === 'error') && m.re === id, { from, what: `reply to ${type}` });
  }

  // Like cmd, but throws on error and also waits for the command's own event to come back.
  async ok(type, data = {}) {
    const from = this.messages.length;
    const reply = await this.cmd(type, data);
    if (reply.type !== 'ack') throw new Error(`${type} failed: ${reply.code}: ${reply.message}`);
    if (reply.seq !== undefined) {
      const event = await this.waitFor((m) => m.seq === reply.seq && m.type !== 'ack', { from, what: `event seq ${reply.seq}` });
      return { reply, event };
    }
    return { reply };
  }

  events() { return this.messages.filter((m) => typeof m.seq === 'number' && m.type !== 'ack'); }

  close() { this.ws.close(); return this.closed; }
  terminate() { this.ws.terminate(); return this.closed; }
}

/** GET /api/room/songs/<id>: a song's chart on demand. {status, etag, json, bytes}. */
export async function songBody(server, token, id, headers = {}) {
  const res = await fetch(`${server.base}/api/room/songs/${encodeURIComponent(id)}`, {
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
  });
  const text = await res.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
  return { status: res.status, etag: res.headers.get('etag'), cacheControl: res.headers.get('cache-control'), json, bytes: text.length };
}
