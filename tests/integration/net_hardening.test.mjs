// The network layer against a curious guest on the Wi-Fi and a malicious page: the WebSocket cap
// holds under concurrent upgrades, Origin is checked against the names the server really serves,
// static files never leave the web root, a failing disk answers 503 instead of a silent close, an
// unexpected exception still marks the participant away, responses carry the browser's security
// headers, the token can ride in a subprotocol (and never reaches the log), and /metrics is guarded.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, symlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join as pathJoin } from 'node:path';
import WebSocket from 'ws';
import { Server, httpJson } from './lib/server.mjs';
import { Client, join } from './lib/client.mjs';
import { upgrade, request, until } from './lib/net.mjs';

const servers = [];
const dirs = [];
after(async () => {
  for (const s of servers) { await s.stop(); s.cleanup(); }
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function start(args = [], env = {}, { tls = false } = {}) {
  const server = new Server({ args });
  servers.push(server);
  const room = server.createRoom('Hardening');
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try { await server.start({ tls }); } finally { process.env = saved; }
  return { server, room };
}

test('the per-address WebSocket cap holds under 150 concurrent upgrades: the rest get 429 with a JSON error', async () => {
  // Room for all 150 before the upgrade (that limit has its own test), so only the WebSocket cap decides.
  const { server, room } = await start(['--max-http-conns-per-ip', '200']);
  const { token } = await join(server, room.codes.musician, 'Many tabs');
  const from = '127.0.0.3';
  const results = await Promise.allSettled(Array.from({ length: 150 }, () => upgrade(server.port, { token, localAddress: from })));
  const ok = results.filter((r) => r.status === 'fulfilled' && r.value.status === 101);
  const refused = results.filter((r) => r.status === 'fulfilled' && r.value.status === 429);
  try {
    assert.equal(results.filter((r) => r.status === 'rejected').length, 0, 'every upgrade got an answer');
    assert.equal(ok.length, 64, `exactly the cap of 64 upgraded (${ok.length} did)`);
    assert.equal(refused.length, 150 - 64);
    for (const r of refused) {
      assert.equal(r.value.body.error.code, 'rate_limited');
      assert.match(r.value.body.error.message, /too many connections from your address/);
      assert.equal(r.value.headers['retry-after'], '5');
    }
  } finally {
    for (const r of results) if (r.status === 'fulfilled') r.value.socket.destroy();
  }
  // The places are given back when the sockets close.
  let again;
  for (let i = 0; i < 50; i++) {
    again = await upgrade(server.port, { token, localAddress: from });
    again.socket.destroy();
    if (again.status === 101) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(again.status, 101, 'a new connection is admitted once the others closed');
  const metrics = (await httpJson(server.base, '/metrics')).text;
  assert.match(metrics, /downbeat_rate_limited_total\{limit="conns_per_ip"\} (8[6-9]|9\d|1\d\d)\b/);
});

test('Origin is checked against the names the server serves, not the request\'s own Host (DNS rebinding)', async () => {
  const { server, room } = await start();
  const { token } = await join(server, room.codes.musician, 'Origins');
  const p = server.port;
  const rebinding = await upgrade(p, { token, headers: { Host: `evil:${p}`, Origin: `http://evil:${p}` } });
  rebinding.socket.destroy();
  assert.equal(rebinding.status, 403, 'Host: evil + Origin: http://evil is refused');
  assert.equal(rebinding.body.error.code, 'forbidden');
  for (const [origin, status] of [[`http://127.0.0.1:${p}`, 101], [`http://localhost:${p}`, 101], [`http://LOCALHOST:${p}`, 101],
    [`http://127.0.0.1:${p + 1}`, 403], [`https://127.0.0.1:${p}`, 403], ['null', 403], [`http://127.0.0.1.evil.example:${p}`, 403]]) {
    const r = await upgrade(p, { token, headers: { Origin: origin } });
    r.socket.destroy();
    assert.equal(r.status, status, `Origin ${origin}`);
  }
  // With TLS the names come from the certificate's SANs (localhost, 127.0.0.1, the host name…), https only.
  const secure = await start([], {}, { tls: true });
  const st = (await request(secure.server.port, '/auth/exchange', { method: 'POST', secure: true,
    body: { code: secure.room.codes.musician, name: 'TLS', device_id: 'tls-origin-device' } })).json.token;
  const sp = secure.server.port;
  for (const [origin, status] of [[`https://localhost:${sp}`, 101], [`https://127.0.0.1:${sp}`, 101], [`http://localhost:${sp}`, 403],
    [`https://evil:${sp}`, 403]]) {
    const r = await upgrade(sp, { token: st, secure: true, headers: { Origin: origin, Host: `evil:${sp}` } });
    r.socket.destroy();
    assert.equal(r.status, status, `TLS, Origin ${origin}`);
  }
  const allowed = await start(['--allow-origin', 'https://band.example']);
  const t2 = (await join(allowed.server, allowed.room.codes.musician, 'Allowed')).token;
  const r = await upgrade(allowed.server.port, { token: t2, headers: { Origin: 'https://band.example' } });
  r.socket.destroy();
  assert.equal(r.status, 101, '--allow-origin adds an origin');
});

test('static files: a symlink out of the web root is not served; one inside it is', async () => {
  const base = mkdtempSync(pathJoin(tmpdir(), 'downbeat-webroot-'));
  dirs.push(base);
  const root = pathJoin(base, 'dist');
  const outside = pathJoin(base, 'outside');
  mkdirSync(pathJoin(root, 'assets'), { recursive: true });
  mkdirSync(outside);
  writeFileSync(pathJoin(root, 'index.html'), '<!doctype html><title>app</title>');
  writeFileSync(pathJoin(root, 'assets', 'app.js'), 'console.log("app")');
  writeFileSync(pathJoin(outside, 'secret.txt'), 'SECRET-OUTSIDE-THE-ROOT');
  symlinkSync(pathJoin(outside, 'secret.txt'), pathJoin(root, 'secret.txt'));
  symlinkSync(outside, pathJoin(root, 'linked'));
  symlinkSync(pathJoin(root, 'assets', 'app.js'), pathJoin(root, 'alias.js'));
  const { server } = await start(['--web-root', root]);
  for (const path of ['/secret.txt', '/linked/secret.txt']) {
    const r = await httpJson(server.base, path);
    assert.equal(r.status, 404, `${path} is not served`);
    assert.ok(!r.text.includes('SECRET'), `${path} leaks nothing`);
  }
  assert.match(server.log, /static\.outside_root/);
  const inside = await httpJson(server.base, '/alias.js');
  assert.equal(inside.status, 200, 'a symlink that stays inside the root is served');
  assert.equal(inside.text, 'console.log("app")');
  assert.equal((await httpJson(server.base, '/assets/app.js')).status, 200);
  assert.equal((await httpJson(server.base, '/j/ABCD')).status, 200, 'app routes still get index.html');
});

test('disk full: /auth/exchange and /auth/refresh answer 503 with a JSON error and a log line, then recover', async () => {
  const { server, room } = await start();
  const session = await join(server, room.codes.musician, 'Before the disk filled');
  const pid = String(server.proc.pid);
  // A 1 KiB file-size limit on the running server: every database write past it fails, like a full disk.
  execFileSync('prlimit', ['--pid', pid, '--fsize=1024:']);
  try {
    const ex = await httpJson(server.base, '/auth/exchange', { method: 'POST', body: { code: room.codes.musician, name: 'During', device_id: 'disk-full-device-1' } });
    assert.equal(ex.status, 503, ex.text);
    assert.equal(ex.json.error.code, 'internal');
    assert.match(ex.json.error.message, /try again/);
    const rf = await httpJson(server.base, '/auth/refresh', { method: 'POST', body: { refresh_token: session.refresh_token } });
    assert.equal(rf.status, 503, rf.text);
    assert.equal(rf.json.error.code, 'internal');
    assert.match(server.log, /http\.internal_error route=auth/);
  } finally {
    execFileSync('prlimit', ['--pid', pid, '--fsize=unlimited:']);
  }
  assert.ok(server.alive(), 'the server is still up');
  const ok = await httpJson(server.base, '/auth/exchange', { method: 'POST', body: { code: room.codes.musician, name: 'After', device_id: 'disk-full-device-2' } });
  assert.equal(ok.status, 200, 'joins work again once there is space');
  const rf = await httpJson(server.base, '/auth/refresh', { method: 'POST', body: { refresh_token: session.refresh_token } });
  assert.equal(rf.status, 200, 'the refresh token was not used up by the failed attempt');
});

test('an unexpected exception in a connection still detaches it: the participant is shown away', async () => {
  const { server, room } = await start([], { DOWNBEAT_FAULT_INJECT: '1' });
  const md = await Client.connect(server, await join(server, room.codes.md, 'MD'));
  await md.waitFor((m) => m.type === 'snapshot');
  const victim = await Client.connect(server, await join(server, room.codes.musician, 'Unlucky'));
  await victim.waitFor((m) => m.type === 'snapshot');
  const id = victim.messages[0].data.participant.id;
  victim.sendRaw('{"type":"fault.throw"}');
  await victim.closed;
  const away = await md.waitFor((m) => m.type === 'participant.leave' && m.data.participant === id, { timeout: 5000, what: 'the participant shown away' });
  assert.equal(away.data.reason, 'offline');
  await until(() => /connection\.failed error=injected fault/.test(server.log), { timeout: 2000, what: 'the exception logged' });
  // It can come back, and the server is fine.
  const back = await Client.connect(server, victim.session);
  await back.waitFor((m) => m.type === 'snapshot');
  await Promise.all([md.close(), back.close()]);
});

test('HTTP responses carry a Content-Security-Policy, X-Frame-Options, Referrer-Policy and nosniff', async () => {
  const base = mkdtempSync(pathJoin(tmpdir(), 'downbeat-webroot-'));
  dirs.push(base);
  writeFileSync(pathJoin(base, 'index.html'), '<!doctype html><title>app</title>');
  const { server } = await start(['--web-root', base]);
  for (const path of ['/', '/healthz', '/no-such-endpoint.json']) {
    const r = await httpJson(server.base, path);
    const csp = r.headers.get('content-security-policy');
    assert.ok(csp, `${path} has a CSP`);
    for (const d of ["default-src 'self'", "script-src 'self' blob:", "worker-src 'self' blob:", "frame-ancestors 'none'", "object-src 'none'"])
      assert.ok(csp.includes(d), `${path}: CSP has ${d}`);
    assert.match(csp, new RegExp(`connect-src 'self' ws://127\\.0\\.0\\.1:${server.port}`));
    assert.equal(r.headers.get('x-frame-options'), 'DENY');
    assert.equal(r.headers.get('referrer-policy'), 'no-referrer');
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
  }
  // A Host the server does not serve is never named in connect-src.
  const evil = await request(server.port, '/', { headers: { Host: `evil.example:${server.port}` } });
  assert.ok(!evil.headers['content-security-policy'].includes('evil'), 'no foreign host in the CSP');
});

test('the token can ride in Sec-WebSocket-Protocol (only downbeat.v1 is echoed); ?token= still works; the log never shows a token', async () => {
  const { server, room } = await start(['--log-level', 'debug']);
  const session = await join(server, room.codes.musician, 'Header token');
  const ws = new WebSocket(`${server.wsBase}/ws`, ['downbeat.v1', `token.${session.token}`]);
  const hello = await new Promise((resolve, reject) => {
    ws.once('message', (d) => resolve(JSON.parse(d.toString())));
    ws.once('error', reject);
    ws.once('unexpected-response', (_q, res) => reject(new Error(`refused ${res.statusCode}`)));
  });
  assert.equal(hello.type, 'hello');
  assert.equal(ws.protocol, 'downbeat.v1', 'the server echoes downbeat.v1, never the token');
  ws.close();
  const raw = await upgrade(server.port, { protocols: ['downbeat.v1', `token.${session.token}`] });
  raw.socket.destroy();
  assert.equal(raw.headers['sec-websocket-protocol'], 'downbeat.v1');
  const bad = await upgrade(server.port, { protocols: ['downbeat.v1', 'token.not-a-jwt'] });
  bad.socket.destroy();
  assert.equal(bad.status, 401);
  const old = await Client.connect(server, session);  // the SDK's ?token= form
  await old.waitFor((m) => m.type === 'hello');
  await old.close();
  await new Promise((r) => setTimeout(r, 200));
  const [, payload, sig] = session.token.split('.');
  for (const secret of [session.token, payload, sig, session.refresh_token])
    assert.ok(!server.log.includes(secret), 'no token in the log');
});

test('/metrics: open on loopback by default; with --metrics-token it needs the bearer token', async () => {
  const open = await start();
  assert.equal((await httpJson(open.server.base, '/metrics')).status, 200);
  const dir = mkdtempSync(pathJoin(tmpdir(), 'downbeat-metrics-'));
  dirs.push(dir);
  writeFileSync(pathJoin(dir, 'token'), 'scrape-me-0123456789\n');
  const guarded = await start(['--metrics-token', pathJoin(dir, 'token')]);
  const none = await httpJson(guarded.server.base, '/metrics');
  assert.equal(none.status, 401);
  assert.equal(none.json.error.code, 'unauthorized');
  assert.equal((await httpJson(guarded.server.base, '/metrics', { headers: { authorization: 'Bearer wrong' } })).status, 401);
  const ok = await httpJson(guarded.server.base, '/metrics', { headers: { authorization: 'Bearer scrape-me-0123456789' } });
  assert.equal(ok.status, 200);
  assert.match(ok.text, /downbeat_auth_failures_total\{reason="metrics"\} 2\b/);
  assert.match(ok.text, /downbeat_send_queue_bytes /);
  assert.ok(!guarded.server.log.includes('scrape-me'), 'the metrics token is not logged');
});
