// File-descriptor exhaustion: 300 idle TCP connections from one host against a server limited to
// 256 descriptors (prlimit). The per-address limit closes the excess at once; the handshake timeout
// closes the idle ones; when descriptors do run out, accept backs off instead of spinning, and logs
// once a second. Either way a phone from another address joins and gets its snapshot in seconds.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';
import { Server } from './lib/server.mjs';
import { idleConnections, request, cpuSeconds, openFds, until } from './lib/net.mjs';

const servers = [];
let idle = [];
after(async () => {
  for (const s of idle) s.destroy();
  for (const s of servers) { await s.stop(); s.cleanup(); }
});

async function startLimited(args) {
  const server = new Server({ args: ['--handshake-timeout-s', '2', ...args] });
  servers.push(server);
  const room = server.createRoom('Descriptors');
  await server.start();
  execFileSync('prlimit', ['--pid', String(server.proc.pid), '--nofile=256:256']);
  return { server, room };
}

// A phone on another address (127.0.0.2): join by code, open the socket, wait for the snapshot.
async function phoneJoins(server, code, { timeout }) {
  const t0 = Date.now();
  const r = await request(server.port, '/auth/exchange', {
    method: 'POST', localAddress: '127.0.0.2', timeout,
    body: { code, name: 'Late phone', device_id: `fd-phone-${process.pid}-${Date.now()}` },
  });
  assert.equal(r.status, 200, r.text);
  const ws = new WebSocket(`${server.wsBase}/ws?token=${encodeURIComponent(r.json.token)}`, { localAddress: '127.0.0.2' });
  try {
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no snapshot in time')), Math.max(1, timeout - (Date.now() - t0)));
      ws.on('message', (d) => { if (JSON.parse(d.toString()).type === 'snapshot') { clearTimeout(timer); resolve(); } });
      ws.once('error', (e) => { clearTimeout(timer); reject(e); });
    });
  } finally {
    ws.terminate();
  }
  return Date.now() - t0;
}

const lines = (log, re) => log.split('\n').filter((l) => re.test(l)).length;

test('300 idle connections from one host: the excess is closed at once, another phone joins at once', async () => {
  const { server, room } = await startLimited([]);
  const pid = server.proc.pid;
  const cpu0 = cpuSeconds(pid);
  const t0 = Date.now();
  idle = await idleConnections(server.port, 300);
  const joinMs = await phoneJoins(server, room.codes.musician, { timeout: 3000 });
  assert.ok(openFds(pid) < 200, `the server holds ${openFds(pid)} descriptors, well under its 256`);
  const m = await request(server.port, '/metrics', { localAddress: '127.0.0.2' });
  assert.match(m.text, /downbeat_rate_limited_total\{limit="http_conns_per_ip"\} (23[6-9]|2[4-9]\d|300)\b/, 'the 236 over the limit were refused');
  // The 64 admitted idle ones are closed by the handshake timeout (2 s here).
  const timedOut = async () => {
    const r = await request(server.port, '/metrics', { localAddress: '127.0.0.2' });
    return Number(/downbeat_timeouts_total\{phase="first_request"\} (\d+)/.exec(r.text)?.[1] ?? 0) >= 64;
  };
  await until(timedOut, { timeout: 6000, every: 250, what: 'the 64 idle connections to time out' });
  const wall = (Date.now() - t0) / 1000;
  const cpu = cpuSeconds(pid) - cpu0;
  process.stdout.write(`# per-address case: join+snapshot ${joinMs} ms, cpu ${cpu.toFixed(2)} s over ${wall.toFixed(1)} s, log ${server.log.length} bytes\n`);
  assert.ok(cpu / wall < 0.25, `CPU stays low (${(100 * cpu / wall).toFixed(0)} %)`);
  assert.ok(lines(server.log, /connection\.refused/) <= 2 + wall, 'refusals are logged at most once a second');
  assert.ok(server.log.length < 20000, `the log stays small (${server.log.length} bytes)`);
  for (const s of idle) s.destroy();
  idle = [];
});

test('descriptors really run out: accept backs off (low CPU, one log line a second) and recovers once idle sockets time out', async (t) => {
  const { server, room } = await startLimited(['--max-http-conns-per-ip', '1000']);
  const pid = server.proc.pid;
  // UBSan's vptr check needs a pipe of its own: out of descriptors it reports a false "invalid vptr".
  if (/lib(a|ub)san/.test(readFileSync(`/proc/${pid}/maps`, 'utf8'))) { t.skip('a sanitizer needs descriptors of its own'); return; }
  idle = await idleConnections(server.port, 300);
  await until(() => /accept\.failed/.test(server.log), { timeout: 3000, what: 'accept to run out of descriptors' });
  const cpu0 = cpuSeconds(pid);
  const t0 = Date.now();
  const joinMs = await phoneJoins(server, room.codes.musician, { timeout: 8000 });
  const wall = (Date.now() - t0) / 1000;
  const cpu = cpuSeconds(pid) - cpu0;
  const failed = lines(server.log, /accept\.failed/);
  process.stdout.write(`# exhaustion case: join+snapshot ${joinMs} ms, cpu ${cpu.toFixed(2)} s over ${wall.toFixed(1)} s, ` +
    `${failed} accept.failed lines, log ${server.log.length} bytes\n`);
  assert.ok(cpu / wall < 0.25, `CPU stays low while out of descriptors (${(100 * cpu / wall).toFixed(0)} %)`);
  assert.ok(failed <= 2 + Math.ceil(wall), `accept failures are logged at most once a second (${failed} lines)`);
  assert.match(server.log, /accept\.failed error=Too many open files count=\d+ backoff_ms=\d+/);
  assert.match(server.log, /accept\.recovered failures=\d+/);
  assert.ok(server.log.length < 20000, `the log stays small (${server.log.length} bytes)`);
  for (const s of idle) s.destroy();
  idle = [];
});
