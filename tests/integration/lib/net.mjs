// Raw sockets for the hardening tests: idle TCP connections, hand-made WebSocket upgrades that never
// read, HTTP from a chosen loopback source address (all of 127/8 is loopback), and what /proc says
// about the server process. Loopback only; every helper has a timeout.
import net from 'node:net';
import tls from 'node:tls';
import http from 'node:http';
import https from 'node:https';
import { readFileSync, readdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';

// VmRSS and VmHWM (peak) of a process, in MiB.
export function memory(pid) {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (k) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)[1]);
  return { rss: kib('VmRSS') / 1024, hwm: kib('VmHWM') / 1024 };
}

// User + system CPU seconds a process has used (clock ticks of 1/100 s on Linux).
export function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

// How many file descriptors a process holds.
export function openFds(pid) { return readdirSync(`/proc/${pid}/fd`).length; }

// Opens `count` TCP connections that send nothing. Resolves once each has connected or failed.
export async function idleConnections(port, count, { localAddress = '127.0.0.1', timeout = 5000 } = {}) {
  const sockets = [];
  await Promise.all(Array.from({ length: count }, () => new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port, localAddress });
    s.on('error', () => {});
    s.once('connect', resolve);
    s.once('close', resolve);
    s.setTimeout(timeout, resolve);
    sockets.push(s);
  })));
  return sockets;
}

// An HTTP request from `localAddress`; resolves {status, headers, text, json}.
export function request(port, path, { method = 'GET', body, headers = {}, localAddress = '127.0.0.1', timeout = 10000, secure = false } = {}) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : (typeof body === 'string' ? body : JSON.stringify(body));
    const req = (secure ? https : http).request({ host: '127.0.0.1', port, path, method, localAddress, agent: false, timeout, rejectUnauthorized: false,
      headers: { ...(data !== undefined ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } : {}), ...headers } },
    (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => {
        let json = null;
        try { json = JSON.parse(text); } catch { /* not JSON */ }
        resolve({ status: res.statusCode, headers: res.headers, text, json });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out after ${timeout} ms`)));
    req.on('error', reject);
    if (data !== undefined) req.write(data);
    req.end();
  });
}

// A WebSocket upgrade by hand. Resolves {status, headers, body, socket} once the response head (and,
// for a refusal, its body) is in. With `freeze`, the socket stops reading right after the 101:
// a phone whose app hung, or a client that reads nothing on purpose.
export function upgrade(port, { token, query = '', protocols, headers = {}, localAddress = '127.0.0.1', freeze = false, timeout = 10000, secure = false } = {}) {
  return new Promise((resolve, reject) => {
    const s = secure ? tls.connect({ host: '127.0.0.1', port, localAddress, rejectUnauthorized: false }) : net.connect({ host: '127.0.0.1', port, localAddress });
    let buf = Buffer.alloc(0);
    let head = null;
    const timer = setTimeout(() => { s.destroy(); reject(new Error('upgrade timed out')); }, timeout);
    s.on('error', (e) => { clearTimeout(timer); reject(e); });
    s.once(secure ? 'secureConnect' : 'connect', () => {
      const q = token && !protocols ? `?token=${encodeURIComponent(token)}${query}` : (query ? `?${query.replace(/^&/, '')}` : '');
      const lines = [`GET /ws${q} HTTP/1.1`, `Host: ${headers.Host ?? `127.0.0.1:${port}`}`, 'Upgrade: websocket', 'Connection: Upgrade',
        `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`, 'Sec-WebSocket-Version: 13'];
      if (protocols) lines.push(`Sec-WebSocket-Protocol: ${protocols.join(', ')}`);
      for (const [k, v] of Object.entries(headers)) if (k !== 'Host') lines.push(`${k}: ${v}`);
      s.write(lines.join('\r\n') + '\r\n\r\n');
    });
    const finish = (body) => {
      clearTimeout(timer);
      resolve({ ...head, body, socket: s });
    };
    s.on('data', function onData(d) {
      buf = Buffer.concat([buf, d]);
      if (!head) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
        const status = Number(lines[0].split(' ')[1]);
        const hdrs = {};
        for (const l of lines.slice(1)) { const i = l.indexOf(':'); hdrs[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim(); }
        head = { status, headers: hdrs };
        buf = buf.subarray(end + 4);
        if (status === 101) {
          if (freeze) { s.removeListener('data', onData); s.pause(); }
          finish(null);
          return;
        }
      }
      const len = Number(head.headers['content-length'] ?? -1);
      if (len >= 0 && buf.length >= len) {
        const text = buf.subarray(0, len).toString('utf8');
        let json = null;
        try { json = JSON.parse(text); } catch { /* not JSON */ }
        finish(json ?? text);
      }
    });
  });
}

// A masked, empty client pong: keeps a frozen socket alive past the server's idle timeout.
export const PONG = Buffer.from([0x8a, 0x80, 1, 2, 3, 4]);

export async function until(pred, { timeout = 10000, every = 50, what = 'condition' } = {}) {
  const end = Date.now() + timeout;
  for (;;) {
    const v = await pred();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, every));
  }
}
