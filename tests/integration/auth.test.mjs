// Joining, refresh-token rotation and reuse detection, identity across rejoins, admin CLI, TLS.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import https from 'node:https';
import { Server, httpJson, DOWNBEATD } from './lib/server.mjs';
import { Client, join, checkEveryFrame, schemaErrors } from './lib/client.mjs';

// Every frame any client of this file receives is checked against protocol/schema.json (last test).
await checkEveryFrame();

let server, room;
before(async () => {
  server = new Server();
  room = server.createRoom('Auth');
  await server.start();
});
after(async () => { await server.stop(); server.cleanup(); });

const exchange = (body) => httpJson(server.base, '/auth/exchange', { method: 'POST', body });
const refresh = (refresh_token) => httpJson(server.base, '/auth/refresh', { method: 'POST', body: { refresh_token } });

test('join returns a token, a refresh token, the participant and the room', async () => {
  const r = await exchange({ code: room.codes.musician, name: '  Jo  ', device_id: 'phone-jo-0001' });
  assert.equal(r.status, 200);
  assert.equal(r.json.participant.name, 'Jo', 'names are trimmed');
  assert.equal(r.json.participant.role, 'musician');
  assert.equal(r.json.room.id, room.room);
  assert.equal(r.json.room.name, 'Auth');
  const [h, p] = r.json.token.split('.').slice(0, 2).map((x) => JSON.parse(Buffer.from(x, 'base64url')));
  assert.equal(h.alg, 'HS256');
  assert.ok(h.kid);
  assert.equal(p.iss, 'downbeat');
  assert.equal(p.aud, 'downbeat');
  assert.equal(p.sub, r.json.participant.id);
  assert.equal(p.room, room.room);
  assert.ok(p.exp - p.iat <= 15 * 60, 'tokens live at most 15 minutes');
  assert.ok(p.jti);
});

test('codes are forgiving about case, spaces and dashes', async () => {
  const messy = room.codes.viewer.toLowerCase().replace(/(.{5})/, '$1-');
  const r = await exchange({ code: ` ${messy} `, name: 'Screen', device_id: 'screen-000001' });
  assert.equal(r.status, 200);
});

test('names: empty and 200 characters are refused with a reason; emoji are fine', async () => {
  const empty = await exchange({ code: room.codes.musician, name: '   ', device_id: 'phone-names-01' });
  assert.equal(empty.status, 400);
  assert.match(empty.json.error.message, /empty/);
  const long = await exchange({ code: room.codes.musician, name: 'x'.repeat(200), device_id: 'phone-names-01' });
  assert.equal(long.status, 400);
  assert.match(long.json.error.message, /40 characters/);
  const emoji = await exchange({ code: room.codes.musician, name: '🎸 Gitte 🥁', device_id: 'phone-names-01' });
  assert.equal(emoji.status, 200);
  assert.equal(emoji.json.participant.name, '🎸 Gitte 🥁');
  const noDevice = await exchange({ code: room.codes.musician, name: 'A' });
  assert.equal(noDevice.status, 400);
});

test('the same device rejoining gets the same participant back', async () => {
  const a = await exchange({ code: room.codes.musician, name: 'Kim', device_id: 'phone-kim-0001' });
  const b = await exchange({ code: room.codes.musician, name: 'Kim', device_id: 'phone-kim-0001' });
  const other = await exchange({ code: room.codes.musician, name: 'Kim', device_id: 'phone-kim-0002' });
  assert.equal(a.json.participant.id, b.json.participant.id);
  assert.notEqual(a.json.participant.id, other.json.participant.id);
});

test('refresh rotates; replaying a used refresh token revokes the device', async () => {
  const j = await exchange({ code: room.codes.musician, name: 'Rotator', device_id: 'phone-rot-0001' });
  const r1 = await refresh(j.json.refresh_token);
  assert.equal(r1.status, 200);
  assert.notEqual(r1.json.refresh_token, j.json.refresh_token);
  assert.equal(r1.json.participant.id, j.json.participant.id);
  const c = await Client.connect(server, r1.json);
  await c.waitFor((m) => m.type === 'snapshot');
  await c.close();
  const replay = await refresh(j.json.refresh_token);
  assert.equal(replay.status, 401);
  assert.match(replay.json.error.message, /already used/);
  const r2 = await refresh(r1.json.refresh_token);
  assert.equal(r2.status, 401, 'the newest token of the family is revoked too');
  const unknown = await refresh('not-a-token');
  assert.equal(unknown.status, 401);
});

test('a replayed refresh token ends the family\'s live session and its access tokens at once', async () => {
  const j = await exchange({ code: room.codes.md, name: 'Stolen MD', device_id: 'phone-stolen-0001' });
  const r1 = await refresh(j.json.refresh_token);
  assert.equal(r1.status, 200);
  const live = await Client.connect(server, r1.json);
  await live.waitFor((m) => m.type === 'snapshot');
  const codesBefore = await httpJson(server.base, '/api/room/codes', { headers: { authorization: `Bearer ${r1.json.token}` } });
  assert.equal(codesBefore.status, 200, 'the MD may read the join codes');

  const replay = await refresh(j.json.refresh_token); // the thief (or the owner) replays the old one
  assert.equal(replay.status, 401);
  const closed = await Promise.race([live.closed, new Promise((r) => setTimeout(() => r(null), 3000))]);
  assert.ok(closed, 'the family\'s open socket is closed at once');
  assert.equal(closed.code, 1008);
  assert.match(closed.reason, /revoked/);
  for (const token of [j.json.token, r1.json.token]) {
    const again = await Client.connect(server, { ...r1.json, token }).then(() => null, (e) => e);
    assert.ok(again && again.status === 401, 'old and newest access tokens no longer upgrade');
    const codes = await httpJson(server.base, '/api/room/codes', { headers: { authorization: `Bearer ${token}` } });
    assert.equal(codes.status, 401, 'nor read the join codes');
  }
  // The device can come back the normal way: scan the QR code again.
  const back = await exchange({ code: room.codes.md, name: 'Stolen MD', device_id: 'phone-stolen-0001' });
  assert.equal(back.status, 200);
  assert.equal(back.json.participant.id, j.json.participant.id, 'same phone, same participant');
  const c = await Client.connect(server, back.json);
  await c.waitFor((m) => m.type === 'snapshot');
  await c.close();
});

test('room codes --rotate: old codes stop working, new ones work, also while serving', async () => {
  const rotated = JSON.parse(execFileSync(DOWNBEATD, ['room', 'codes', room.room, '--rotate', '--json', '--data-dir', server.dataDir], { encoding: 'utf8' }));
  assert.notEqual(rotated.codes.md, room.codes.md);
  const old = await exchange({ code: room.codes.md, name: 'Old', device_id: 'phone-old-0001' });
  assert.equal(old.status, 401);
  const fresh = await exchange({ code: rotated.codes.md, name: 'New', device_id: 'phone-new-0001' });
  assert.equal(fresh.status, 200);
  const codes = await httpJson(server.base, '/api/room/codes', { headers: { authorization: `Bearer ${fresh.json.token}` } });
  assert.equal(codes.status, 200);
  assert.deepEqual(codes.json.codes, rotated.codes);
  const mu = await exchange({ code: rotated.codes.musician, name: 'Mu', device_id: 'phone-mu-00001' });
  const denied = await httpJson(server.base, '/api/room/codes', { headers: { authorization: `Bearer ${mu.json.token}` } });
  assert.equal(denied.status, 403);
  room.codes = rotated.codes;
});

test('room create while the server runs: the new room is joinable at once', async () => {
  const r = JSON.parse(execFileSync(DOWNBEATD, ['room', 'create', 'Youth band', '--json', '--data-dir', server.dataDir], { encoding: 'utf8' }));
  assert.deepEqual(Object.keys(r).sort(), ['codes', 'room']);
  assert.deepEqual(Object.keys(r.codes).sort(), ['md', 'musician', 'tech', 'viewer']);
  const j = await exchange({ code: r.codes.md, name: 'Youth MD', device_id: 'phone-youth-01' });
  assert.equal(j.status, 200);
  assert.equal(j.json.room.name, 'Youth band');
});

test('health, readiness and metrics', async () => {
  assert.deepEqual((await httpJson(server.base, '/healthz')).json, { status: 'ok' });
  assert.deepEqual((await httpJson(server.base, '/readyz')).json, { status: 'ready' });
  const m = await (await fetch(`${server.base}/metrics`)).text();
  for (const name of ['downbeat_connections', 'downbeat_auth_failures_total', 'downbeat_commit_seconds_bucket', 'downbeat_fanout_seconds_count',
    'downbeat_http_requests_total', 'downbeat_send_queue_max'])
    assert.ok(m.includes(name), `metrics has ${name}`);
  assert.ok(!m.includes(room.codes.md), 'no secrets in metrics');
});

test('--tls off is refused on a non-loopback address', () => {
  const r = spawnSync(DOWNBEATD, ['serve', '--data-dir', server.dataDir, '--listen', '0.0.0.0:0', '--tls', 'off'], { encoding: 'utf8', timeout: 10000 });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /loopback/);
});

test('--tls auto serves HTTPS and WSS with a self-signed certificate and prints its fingerprint', async () => {
  const tls = new Server();
  const r = tls.createRoom('TLS');
  await tls.start({ tls: true });
  try {
    assert.match(tls.log, /fingerprint: ([0-9A-F]{2}:){31}[0-9A-F]{2}/);
    const body = await new Promise((resolve, reject) => {
      https.get(`${tls.base}/healthz`, { rejectUnauthorized: false, agent: false }, (res) => {
        const cert = res.socket.getPeerCertificate();
        let d = '';
        res.on('data', (x) => { d += x; });
        res.on('end', () => resolve({ status: res.statusCode, body: d, cert }));
      }).on('error', reject);
    });
    assert.equal(body.status, 200);
    assert.match(body.cert.subjectaltname, /IP Address:127\.0\.0\.1/);
    const session = await new Promise((resolve, reject) => {
      const req = https.request(`${tls.base}/auth/exchange`, { method: 'POST', rejectUnauthorized: false, agent: false, headers: { 'content-type': 'application/json' } }, (res) => {
        let d = '';
        res.on('data', (x) => { d += x; });
        res.on('end', () => resolve(JSON.parse(d)));
      });
      req.on('error', reject);
      req.end(JSON.stringify({ code: r.codes.md, name: 'Secure', device_id: 'tls-device-01' }));
    });
    const c = await Client.connect(tls, session);
    await c.waitFor((m) => m.type === 'snapshot');
    await c.close();
    // Restart reuses the same certificate (phones accepted it once).
    const fp = tls.log.match(/fingerprint: (\S+)/)[1];
    await tls.stop();
    tls.log = '';
    await tls.start({ tls: true });
    assert.equal(tls.log.match(/fingerprint: (\S+)/)[1], fp);
  } finally {
    await tls.stop();
    tls.cleanup();
  }
});

test('the MD rotates the MD code from the console: old code refused, other roles untouched, consoles told at once', async () => {
  const mdJoin = await exchange({ code: room.codes.md, name: 'Rotating MD', device_id: 'phone-rot-md-0001' });
  assert.equal(mdJoin.status, 200, mdJoin.text);
  const md = await Client.connect(server, mdJoin.json);
  await md.waitFor((m) => m.type === 'snapshot');
  const before = (await httpJson(server.base, '/api/room/codes', { headers: { authorization: `Bearer ${mdJoin.json.token}` } })).json.codes;
  const mu = await Client.connect(server, await join(server, before.musician, 'Watching'));
  await mu.waitFor((m) => m.type === 'snapshot');
  const from = md.messages.length;
  const r = await httpJson(server.base, '/api/room/codes/rotate', { method: 'POST', body: {}, headers: { authorization: `Bearer ${mdJoin.json.token}` } });
  assert.equal(r.status, 200, r.text);
  assert.notEqual(r.json.codes.md, before.md);
  assert.equal(r.json.codes.musician, before.musician, 'only the MD code changes by default');
  const told = await md.waitFor((m) => m.type === 'room.codes', { from, what: 'room.codes at the MD console' });
  assert.equal(told.data.codes.md, r.json.codes.md);
  await new Promise((res) => setTimeout(res, 200));
  assert.ok(!mu.messages.some((m) => m.type === 'room.codes'), 'a musician never sees the codes');
  assert.equal((await exchange({ code: before.md, name: 'Old', device_id: 'phone-oldmd-0001' })).status, 401);
  assert.equal((await exchange({ code: r.json.codes.md, name: 'New', device_id: 'phone-newmd-0001' })).status, 200);
  const muToken = mu.session.token;
  const denied = await httpJson(server.base, '/api/room/codes/rotate', { method: 'POST', body: {}, headers: { authorization: `Bearer ${muToken}` } });
  assert.equal(denied.status, 403);
  const bad = await httpJson(server.base, '/api/room/codes/rotate', { method: 'POST', body: { roles: ['drummer'] }, headers: { authorization: `Bearer ${mdJoin.json.token}` } });
  assert.equal(bad.status, 400);
  room.codes = r.json.codes; // later tests join with the current codes
  await md.close(); await mu.close();
});

test('--md-code-ttl-s: the MD code is replaced on a schedule and the console follows', async () => {
  const s = new Server({ args: ['--md-code-ttl-s', '2'] });
  const r = s.createRoom('Short-lived MD code');
  await s.start();
  try {
    const j = await httpJson(s.base, '/auth/exchange', { method: 'POST', body: { code: r.codes.md, name: 'MD', device_id: 'phone-ttl-md-0001' } });
    assert.equal(j.status, 200, 'a fresh code works');
    const md = await Client.connect(s, j.json);
    await md.waitFor((m) => m.type === 'snapshot');
    const told = await md.waitFor((m) => m.type === 'room.codes' && m.data.reason === 'expired', { timeout: 6000, what: 'the scheduled rotation' });
    assert.notEqual(told.data.codes.md, r.codes.md);
    assert.equal(told.data.codes.musician, r.codes.musician);
    const old = await httpJson(s.base, '/auth/exchange', { method: 'POST', body: { code: r.codes.md, name: 'Late', device_id: 'phone-ttl-md-0002' } });
    assert.equal(old.status, 401, 'the expired MD code no longer joins');
    md.terminate();
  } finally { await s.stop(); s.cleanup(); }
});

test('every frame the server sent matched protocol/schema.json', () => {
  assert.deepEqual(schemaErrors, [], 'frames that do not match their schema (envelope, data, seq on durable events only)');
});
