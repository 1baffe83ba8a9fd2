// The tempo authority over the wire: anchors on future bar boundaries, per-beat heartbeats,
// re-sent anchors, clock pings, validation, and a click that keeps its phase across a restart.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Server } from './lib/server.mjs';
import { Client, join, checkEveryFrame, schemaErrors } from './lib/client.mjs';

// Every frame any client of this file receives is checked against protocol/schema.json (last test).
await checkEveryFrame();

let server, room, md, mu;
before(async () => {
  server = new Server();
  room = server.createRoom('Tempo');
  await server.start();
  md = await Client.connect(server, await join(server, room.codes.md, 'MD'));
  mu = await Client.connect(server, await join(server, room.codes.musician, 'Drummer'));
  await md.waitFor((m) => m.type === 'snapshot');
  await mu.waitFor((m) => m.type === 'snapshot');
});
after(async () => { await server.stop(); server.cleanup(); });

const beatTime = (tempo, k) => tempo.anchor.t + Math.floor((k * 60_000_000_000) / Math.round(tempo.bpm * 1000));

test('time.ping echoes t0 with server receive and send times', async () => {
  const from = mu.messages.length;
  mu.sendRaw(JSON.stringify({ type: 'time.ping', id: 'p1', data: { t0: 12345 } }));
  const pong = await mu.waitFor((m) => m.type === 'time.pong', { from });
  assert.equal(pong.data.t0, 12345);
  assert.ok(pong.data.t1 <= pong.data.t2, 't1 (receive) is not after t2 (send)');
  assert.ok(Math.abs(pong.data.t2 - mu.messages[0].data.server_time) < 60_000_000, 'server time is the same clock as in hello');
});

test('start with count-in: the anchor lies at least the lead time ahead; beats and bars are announced', async () => {
  const { event: set } = await md.ok('tempo.set', { bpm: 240, meter: { beats: 4, unit: 4 }, accents: [2, 1, 1, 1] });
  assert.equal(set.data.tempo.running, false);
  assert.equal(set.data.tempo.bpm, 240);
  const from = mu.messages.length;
  const pingFrom = md.messages.length;
  md.sendRaw(JSON.stringify({ type: 'time.ping', id: 'now', data: { t0: 0 } }));
  const now = (await md.waitFor((m) => m.type === 'time.pong', { from: pingFrom })).data.t2;
  const { event } = await md.ok('tempo.start', { count_in_bars: 1 });
  const tempo = event.data.tempo;
  assert.equal(tempo.running, true);
  assert.equal(tempo.anchor.bar, -1, 'one count-in bar before bar 0');
  assert.ok(tempo.anchor.t >= now + 300_000, 'takes effect at least 300 ms ahead');
  assert.equal(tempo.rev, set.data.tempo.rev + 1);
  const anchorAtMu = await mu.waitFor((m) => m.type === 'tempo.anchor' && m.seq === event.seq, { from });
  assert.deepEqual(anchorAtMu.data.tempo, tempo);
  // Heartbeats each beat (250 ms at 240 bpm) and a re-sent anchor (no seq) each bar.
  const updates = [];
  for (let i = 0; i < 6; i++) updates.push(await mu.waitFor((m) => m.type === 'tempo.update' && !updates.includes(m), { from, timeout: 3000 }));
  assert.equal(updates[0].data.bar, -1);
  assert.equal(updates[0].data.beat, 0);
  assert.deepEqual(updates.map((u) => `${u.data.bar}:${u.data.beat}`), ['-1:0', '-1:1', '-1:2', '-1:3', '0:0', '0:1']);
  for (const u of updates) assert.equal(u.seq, undefined);
  for (let k = 0; k < updates.length; k++) assert.ok(updates[k].ts >= beatTime(tempo, k), 'a heartbeat never comes before its beat');
  const resent = await mu.waitFor((m) => m.type === 'tempo.anchor' && m.seq === undefined, { from });
  assert.equal(resent.data.tempo.rev, tempo.rev);
});

test('a tempo change lands on a bar boundary, keeping the old tempo until then', async () => {
  const cur = (await md.ok('resync.request', {}), await md.waitFor((m) => m.type === 'snapshot', { from: md.messages.length - 1 })).data.tempo;
  const pingFrom = md.messages.length;
  md.sendRaw(JSON.stringify({ type: 'time.ping', id: 'now2', data: { t0: 0 } }));
  const now = (await md.waitFor((m) => m.type === 'time.pong', { from: pingFrom })).data.t2;
  const { event } = await md.ok('tempo.set', { bpm: 180 });
  const t = event.data.tempo;
  assert.equal(t.bpm, 180);
  assert.ok(t.anchor.t >= now + 300_000);
  assert.equal(t.prev.bpm, 240, 'prev is the tempo in force until the new anchor');
  // The new anchor is exactly a bar boundary of the old timeline.
  const bars = t.anchor.bar - cur.anchor.bar;
  assert.equal(t.anchor.t, beatTime(cur, bars * 4), 'the change starts exactly on a downbeat of the old tempo');
});

test('bad tempo input gets bad_request with the allowed range; musicians are forbidden; state unchanged', async () => {
  const cases = [
    [{ bpm: 19 }, /20 and 400/], [{ bpm: 401 }, /20 and 400/], [{ meter: { beats: 0, unit: 4 } }, /1 and 32/],
    [{ meter: { beats: 33, unit: 4 } }, /1 and 32/], [{ meter: { beats: 4, unit: 3 } }, /one of/],
    [{ meter: { beats: 3, unit: 4 }, accents: [2, 1, 1, 1] }, /accents/],
  ];
  const before = md.lastSeq;
  for (const [data, re] of cases) {
    const r = await md.cmd('tempo.set', data);
    assert.equal(r.code, 'bad_request', JSON.stringify(data));
    assert.match(r.message, re);
  }
  const neg = await md.cmd('tempo.start', { count_in_bars: -1 });
  assert.equal(neg.code, 'bad_request');
  for (const type of ['tempo.set', 'tempo.start', 'tempo.stop']) assert.equal((await mu.cmd(type, type === 'tempo.set' ? { bpm: 100 } : {})).code, 'forbidden');
  assert.equal(md.lastSeq, before, 'no event was produced');
});

test('the running click survives a restart with its phase', async () => {
  const from = md.messages.length;
  await md.ok('resync.request', {});
  const before = (await md.waitFor((m) => m.type === 'snapshot', { from })).data.tempo;
  await server.kill('SIGKILL');
  await server.start({ port: server.port });
  const c = await Client.connect(server, md.session);
  const after = (await c.waitFor((m) => m.type === 'snapshot')).data.tempo;
  assert.deepEqual(after, before, 'same anchor, bpm and rev after the restart');
  const upd = await c.waitFor((m) => m.type === 'tempo.update', { timeout: 3000 });
  // The heartbeat names the beat in force on the same timeline as before the crash.
  // (Before the new anchor the previous segment is still sounding.)
  const seg = upd.ts >= after.anchor.t ? after : after.prev;
  const k = (upd.data.bar - seg.anchor.bar) * seg.meter.beats + upd.data.beat;
  assert.ok(k >= 0);
  assert.ok(upd.ts >= beatTime(seg, k) && upd.ts < beatTime(seg, k + 1), 'heartbeats continue on the same grid');
  const { event } = await c.ok('tempo.stop', {});
  assert.equal(event.data.tempo.running, false);
  await c.close();
});

test('after a reboot (a new boot id, a new monotonic clock) the click keeps its wall-clock phase', async () => {
  const { execFileSync } = await import('node:child_process');
  const { join: pjoin } = await import('node:path');
  const lone = new Server();
  const r = lone.createRoom('Reboot');
  await lone.start();
  const c = await Client.connect(lone, await join(lone, r.codes.md, 'MD'));
  await c.waitFor((m) => m.type === 'snapshot');
  await c.ok('tempo.set', { bpm: 100 });
  const { event } = await c.ok('tempo.start', {});
  const before = event.data.tempo;
  c.terminate();
  await lone.stop();
  // Pretend the last run was in another boot whose monotonic clock read 1000 s less for the same
  // instant: every stored instant must move 1000 s later on this boot's clock.
  const db = pjoin(lone.dataDir, 'downbeat.db');
  const sql = (q) => execFileSync('sqlite3', [db, q], { encoding: 'utf8' }).trim();
  const offset = Number(sql("SELECT value FROM server_meta WHERE key = 'wall_minus_mono_us'"));
  assert.ok(Number.isFinite(offset) && offset !== 0, 'the server recorded its boot');
  sql(`UPDATE server_meta SET value = CASE key WHEN 'boot_id' THEN 'an-earlier-boot' ELSE '${offset + 1_000_000_000}' END`);
  await lone.start();
  const again = await Client.connect(lone, await join(lone, r.codes.musician, 'After reboot'));
  const snap = await again.waitFor((m) => m.type === 'snapshot');
  const after = snap.data.tempo;
  assert.equal(after.rev, before.rev, 'the same tempo, not a new change');
  assert.equal(after.running, true);
  // The restart itself moves the offset by a few µs of clock drift: allow 50 ms.
  assert.ok(Math.abs(after.anchor.t - (before.anchor.t + 1_000_000_000)) < 50_000, `anchor moved by ${(after.anchor.t - before.anchor.t) / 1e6} s`);
  again.terminate();
  await lone.stop();
  lone.cleanup();
});

test('every frame the server sent matched protocol/schema.json', () => {
  assert.deepEqual(schemaErrors, [], 'frames that do not match their schema (envelope, data, seq on durable events only)');
});
