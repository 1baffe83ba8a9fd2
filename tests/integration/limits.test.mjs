// Limits a guest on the Wi-Fi runs into: successful joins per address and per code, a bounded
// participants table (long-gone people pruned, present people kept), the song library cap, and
// names or titles that nobody could see.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Server, httpJson } from './lib/server.mjs';
import { Client, join } from './lib/client.mjs';

const servers = [];
after(async () => { for (const s of servers) { await s.stop(); s.cleanup(); } });

async function serve(args) {
  const s = new Server({ args });
  const room = s.createRoom('Limits');
  await s.start();
  servers.push(s);
  return { s, room, exchange: (body, headers) => httpJson(s.base, '/auth/exchange', { method: 'POST', body, headers }) };
}

test('a join flood from one address is cut off with 429 and a wait; the MD still gets in', async () => {
  const { s, room, exchange } = await serve(['--joins-per-min-per-address', '10', '--joins-per-min-per-code', '1000']);
  const results = [];
  for (let i = 0; i < 25; i++) results.push(await exchange({ code: room.codes.viewer, name: `Flood ${i}`, device_id: `flood-device-${i}-0000` }));
  const ok = results.filter((r) => r.status === 200).length;
  const limited = results.filter((r) => r.status === 429);
  assert.equal(ok, 10, 'the burst passes, the rest is refused');
  assert.equal(limited.length, 15);
  assert.match(limited[0].json.error.message, /too many joins from your address: wait \d+ s/);
  assert.ok(Number(limited[0].headers.get?.('retry-after') ?? limited[0].headers['retry-after']) >= 1, 'Retry-After tells the client when');
  const metrics = await fetch(`${s.base}/metrics`).then((r) => r.text());
  assert.match(metrics, /downbeat_rate_limited_total\{limit="joins_per_address"\} 15/);
});

test('one code cannot be used to fill the room from many addresses', async () => {
  const { room, exchange } = await serve(['--joins-per-min-per-address', '1000', '--joins-per-min-per-code', '5']);
  const codes = [];
  for (let i = 0; i < 8; i++) codes.push((await exchange({ code: room.codes.viewer, name: `Screen ${i}`, device_id: `screen-device-${i}-00` })).status);
  assert.deepEqual(codes, [200, 200, 200, 200, 200, 429, 429, 429]);
  const md = await exchange({ code: room.codes.md, name: 'Mia', device_id: 'md-device-0001' });
  assert.equal(md.status, 200, 'another code has its own allowance');
});

test('the participants table stays bounded: long-gone records are pruned, present people kept', async () => {
  const { s, room, exchange } = await serve(['--max-participants', '20']);
  const mdJoin = await exchange({ code: room.codes.md, name: 'Mia', device_id: 'md-device-0001' });
  const md = await Client.connect(s, mdJoin.json);
  await md.waitFor((m) => m.type === 'snapshot');
  const present = [];
  for (let i = 0; i < 5; i++) {
    const c = await Client.connect(s, await join(s, room.codes.musician, `Player ${i}`));
    await c.waitFor((m) => m.type === 'snapshot');
    present.push(c);
  }
  // 200 joins that never connect (a script, or phones that gave up): all accepted, table bounded.
  for (let i = 0; i < 200; i++) {
    const r = await exchange({ code: room.codes.viewer, name: `Ghost ${i}`, device_id: `ghost-device-${i}-00` });
    assert.equal(r.status, 200, `join ${i}: ${r.text}`);
  }
  const metrics = await fetch(`${s.base}/metrics`).then((r) => r.text());
  assert.match(metrics, /downbeat_participants_pruned_total \d+/);
  // The people in the room were never pruned: they can still act, and a resync shows all of them.
  const from = md.messages.length;
  await md.ok('resync.request', {});
  const snap = await md.waitFor((m) => m.type === 'snapshot', { from });
  for (const c of present) assert.ok(snap.data.participants.some((p) => p.id === c.session.participant.id && p.online), 'present people stay');
  // A restart loads a bounded table.
  await s.kill('SIGKILL');
  const t0 = Date.now();
  await s.start();
  assert.ok(Date.now() - t0 < 3000, 'restart is quick');
  for (const c of [md, ...present]) c.terminate();
});

test('a room of present people that is full says so', async () => {
  const { s, room, exchange } = await serve(['--max-participants', '3']);
  const clients = [];
  for (let i = 0; i < 3; i++) {
    const c = await Client.connect(s, await join(s, room.codes.musician, `P${i}`));
    await c.waitFor((m) => m.type === 'snapshot');
    clients.push(c);
  }
  const r = await exchange({ code: room.codes.musician, name: 'One too many', device_id: 'late-device-0001' });
  assert.equal(r.status, 409);
  assert.match(r.json.error.message, /room is full \(3 people\)/);
  for (const c of clients) c.terminate();
});

test('names and titles nobody could see are refused; real names in any script are kept', async () => {
  const { s, room, exchange } = await serve(['--max-songs', '3']);
  for (const name of ['\u200B\u200C\u200D', '\uFEFF', '   ', '\u00A0\u3000']) {
    const r = await exchange({ code: room.codes.musician, name, device_id: 'ghost-name-0001' });
    assert.equal(r.status, 400, `name ${JSON.stringify(name)} refused`);
    assert.match(r.json.error.message, /type the name the band will see/);
  }
  const zoe = await exchange({ code: room.codes.musician, name: '\u200BZoë 👩🏽‍🎤\uFEFF', device_id: 'zoe-device-0001' });
  assert.equal(zoe.status, 200);
  assert.equal(zoe.json.participant.name, 'Zoë 👩🏽‍🎤', 'invisible edges trimmed, the emoji sequence kept whole');

  const md = await Client.connect(s, await join(s, room.codes.md, 'Mia'));
  await md.waitFor((m) => m.type === 'snapshot');
  for (const [type, data] of [['song.create', { title: '   ' }], ['slot.create', { name: '\u200B' }], ['setlist.update', { title: '\u3000', items: [] }], ['cue', { text: '\u2060' }]]) {
    const r = await md.cmd(type, data);
    assert.equal(r.code, 'bad_request', `${type} with invisible text`);
    assert.match(r.message, /visible text/);
  }
  for (let i = 0; i < 3; i++) await md.ok('song.create', { title: `Song ${i}` });
  const full = await md.cmd('song.create', { title: 'One more' });
  assert.equal(full.code, 'conflict');
  assert.match(full.message, /library is full \(3 songs\)/);
  md.terminate();
});

test('the database, its -wal / -shm and backups are readable by the owner only (they hold the join codes)', async () => {
  const { statSync, existsSync: exists } = await import('node:fs');
  const { execFileSync } = await import('node:child_process');
  const { join: pjoin } = await import('node:path');
  const { DOWNBEATD } = await import('./lib/server.mjs');
  const { s, room } = await serve([]);
  const c = await Client.connect(s, await join(s, room.codes.md, 'MD'));
  await c.waitFor((m) => m.type === 'snapshot');
  await c.ok('slot.create', { name: 'Keys' }); // something in the WAL
  const files = ['downbeat.db', 'downbeat.db-wal', 'downbeat.db-shm', 'jwt.key'].map((f) => pjoin(s.dataDir, f)).filter((f) => exists(f));
  assert.ok(files.length >= 3, `expected the database files, found ${files}`);
  const backup = pjoin(s.dataDir, 'backup.db');
  execFileSync(DOWNBEATD, ['backup', backup, '--data-dir', s.dataDir]);
  for (const f of [...files, backup]) assert.equal(statSync(f).mode & 0o077, 0, `${f} is mode ${(statSync(f).mode & 0o777).toString(8)}`);
  c.terminate();
});
