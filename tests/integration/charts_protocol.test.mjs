// The protocol for charts a band can trust (issue 8): slots with capo and instrument pitch that can
// be edited, moves that must be asked for, cues that stay until replaced (in the snapshot, across
// a reload and a restart), techs cueing their own group, song changes that load the song's tempo
// from bar 1 with an optional count-in, and joins where one address's wrong guesses lock out only
// that address.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from './lib/net.mjs';
import { Server } from './lib/server.mjs';
import { Client, join, checkEveryFrame, schemaErrors } from './lib/client.mjs';

// Every frame any client of this file receives is checked against protocol/schema.json (last test).
await checkEveryFrame();

let server, room, md, mu, tech, muId;
before(async () => {
  server = new Server();
  room = server.createRoom('Charts');
  await server.start();
  md = await Client.connect(server, await join(server, room.codes.md, 'Mia'));
  mu = await Client.connect(server, await join(server, room.codes.musician, 'Gus'));
  tech = await Client.connect(server, await join(server, room.codes.tech, 'Tess'));
  for (const c of [md, mu, tech]) await c.waitFor((m) => m.type === 'snapshot');
  muId = mu.messages[0].data.participant.id;
});
after(async () => { await server.stop(); server.cleanup(); });

async function freshSnapshot(session) {
  const c = await Client.connect(server, session);
  const snap = (await c.waitFor((m) => m.type === 'snapshot')).data;
  await c.close();
  return snap;
}

test('slots carry capo and pitch, slot.update edits them and the holder keeps the slot', async () => {
  const { event: created } = await md.ok('slot.create', { name: 'Guitar', instrument: 'guitar', group: 'band', capo: 2 });
  const slot = created.data.slot;
  assert.equal(slot.capo, 2);
  assert.equal(slot.pitch, 'C', 'concert pitch unless told');
  await md.ok('slot.assign', { slot: slot.id, participant: muId });
  const from = mu.messages.length;
  const { reply, event } = await md.ok('slot.update', { slot: slot.id, name: 'Alto sax', instrument: 'alto sax', pitch: 'Eb', capo: 0 });
  assert.equal(event.type, 'slot.update');
  assert.equal(event.seq, reply.seq);
  assert.deepEqual({ ...event.data.slot }, { ...slot, name: 'Alto sax', instrument: 'alto sax', pitch: 'Eb', capo: 0, participant: muId });
  await mu.waitFor((m) => m.type === 'slot.update' && m.seq === reply.seq, { from, what: 'slot.update at the musician' });
  const bad = await md.cmd('slot.update', { slot: slot.id, pitch: 'A' });
  assert.equal(bad.code, 'bad_request');
  assert.match(bad.message, /pitch/);
  assert.equal((await mu.cmd('slot.update', { slot: slot.id, capo: 3 })).code, 'forbidden');
  const snap = await freshSnapshot(mu.session);
  assert.deepEqual(snap.slots.find((s) => s.id === slot.id), event.data.slot, 'a reload reads the edited slot');
});

test('assigning someone who holds another slot is refused until the MD says move; a move is release + assign', async () => {
  const snap = await freshSnapshot(md.session);
  const held = snap.slots.find((s) => s.participant === muId);
  assert.ok(held, 'the musician holds a slot from the previous test');
  const { event: drums } = await md.ok('slot.create', { name: 'Drums', group: 'band' });
  const refused = await md.cmd('slot.assign', { slot: drums.data.slot.id, participant: muId });
  assert.equal(refused.type, 'error');
  assert.equal(refused.code, 'conflict');
  assert.equal(refused.message, `Gus already holds ${held.name}; assign again with move to move them`);
  assert.equal((await freshSnapshot(md.session)).slots.find((s) => s.id === held.id).participant, muId, 'nothing changed');

  const from = mu.messages.length;
  const reply = await md.cmd('slot.assign', { slot: drums.data.slot.id, participant: muId, move: true });
  assert.equal(reply.type, 'ack');
  const release = await mu.waitFor((m) => m.type === 'slot.release', { from, what: 'the old slot released' });
  const assign = await mu.waitFor((m) => m.type === 'slot.assign', { from, what: 'the new slot assigned' });
  assert.equal(release.data.slot.id, held.id);
  assert.equal(release.data.slot.participant, null);
  assert.equal(assign.data.slot.participant, muId);
  assert.equal(assign.seq, reply.seq, 'the ack names the command\'s own event');
  assert.equal(release.seq, reply.seq - 1, 'the release comes first, with the seq before');
  // A resumed client gets both, in order.
  const back = await Client.connect(server, mu.session, { since: release.seq - 1 });
  await back.waitFor((m) => m.seq === assign.seq);
  assert.deepEqual(back.events().map((m) => m.type).slice(0, 2), ['slot.release', 'slot.assign']);
  await back.close();
});

test('cues stay: a late joiner and a reload see the current cue; group cues replace, cue.clear clears', async () => {
  const { reply, event } = await md.ok('cue', { text: 'Bridge next', color: 'red' });
  assert.equal(typeof reply.seq, 'number', 'cues are durable');
  const cue = event.data.cue;
  assert.equal(cue.text, 'Bridge next');
  assert.equal(cue.group, null);
  assert.equal(typeof cue.id, 'string');
  assert.equal(typeof cue.at, 'number');
  // Someone joining after the cue was given.
  const late = await Client.connect(server, await join(server, room.codes.musician, 'Late Lou'));
  const lateSnap = (await late.waitFor((m) => m.type === 'snapshot')).data;
  assert.deepEqual(lateSnap.cues, [cue]);
  await late.close();
  // Group cues sit beside each other; a cue to everyone replaces them all.
  await md.ok('cue', { text: 'Tag x2', group: 'band' });
  const { event: techCue } = await tech.ok('cue', { text: 'Swap mic 3', group: 'tech' });
  assert.equal(techCue.data.cue.from, tech.messages[0].data.participant.id);
  assert.deepEqual((await freshSnapshot(mu.session)).cues.map((c) => `${c.group}:${c.text}`), ['null:Bridge next', 'band:Tag x2', 'tech:Swap mic 3'],
    'one current cue per group, the one to everyone included');
  await md.ok('cue', { text: 'Tag x4', group: 'band' });
  assert.deepEqual((await freshSnapshot(mu.session)).cues.map((c) => c.text), ['Bridge next', 'Swap mic 3', 'Tag x4'], 'a group cue replaces that group\'s');
  const { event: cleared } = await md.ok('cue.clear', { group: 'band' });
  assert.deepEqual(cleared.data, { group: 'band' });
  assert.deepEqual((await freshSnapshot(mu.session)).cues.map((c) => c.text), ['Bridge next', 'Swap mic 3']);
  const { event: all } = await md.ok('cue', { text: 'Out', color: 'green' });
  assert.deepEqual((await freshSnapshot(mu.session)).cues, [all.data.cue], 'a cue to everyone replaces every cue');
  await md.ok('cue.clear', {});
  assert.deepEqual((await freshSnapshot(mu.session)).cues, []);
});

test('a tech may cue and clear the tech group only, and is told so', async () => {
  for (const [type, data] of [['cue', { text: 'Hello band' }], ['cue', { text: 'Hi', group: 'band' }], ['cue.clear', {}]]) {
    const r = await tech.cmd(type, data);
    assert.equal(r.code, 'forbidden', `${type} ${JSON.stringify(data)}`);
    assert.match(r.message, /"tech" group/);
  }
  assert.equal((await mu.cmd('cue', { text: 'Me too' })).code, 'forbidden');
  const typo = await md.cmd('cue', { text: 'Horns out', group: 'horns' });
  assert.equal(typo.code, 'not_found');
  assert.match(typo.message, /no group "horns"/);
  await tech.ok('cue', { text: 'Battery low: bass pack', group: 'tech' });
  await tech.ok('cue.clear', { group: 'tech' });
});

test('the current cue, the MD\'s slot order and every slot\'s capo and pitch survive a server restart', async () => {
  const { event } = await md.ok('cue', { text: 'Last song', color: 'purple' });
  // The MD turns the slot list around; the band gets the order, a bad list changes nothing.
  const ids = (await freshSnapshot(mu.session)).slots.map((s) => s.id);
  assert.ok(ids.length >= 2, 'the earlier tests made slots');
  const reversed = [...ids].reverse();
  const from = mu.messages.length;
  const { reply } = await md.ok('slot.order', { slots: reversed });
  const seen = await mu.waitFor((m) => m.type === 'slot.order' && m.seq === reply.seq, { from, what: 'slot.order at the musician' });
  assert.deepEqual(seen.data.slots, reversed);
  const partial = await md.cmd('slot.order', { slots: reversed.slice(1) });
  assert.equal(partial.type, 'error');
  assert.equal(partial.code, 'bad_request');
  assert.match(partial.message, /send every slot of the room once/);
  assert.equal((await mu.cmd('slot.order', { slots: ids })).code, 'forbidden');
  const before = await freshSnapshot(mu.session);
  assert.deepEqual(before.slots.map((s) => s.id), reversed, 'a reload lists the slots in the MD\'s order');
  await server.stop();
  await server.start({ port: server.port });
  const snap = await freshSnapshot(mu.session);
  assert.deepEqual(snap.cues, [event.data.cue]);
  assert.deepEqual(snap.slots, before.slots);
  assert.ok(snap.slots.some((s) => s.pitch === 'Eb'), 'the alto sax slot is still an Eb instrument');
  // The long-lived clients of this file reconnect for the tests that follow.
  md = await Client.connect(server, md.session);
  mu = await Client.connect(server, mu.session);
  tech = await Client.connect(server, tech.session);
  for (const c of [md, mu, tech]) await c.waitFor((m) => m.type === 'snapshot');
});

test('song.current loads the song tempo (setlist bpm first, song meter) and the new song starts at bar 1', async () => {
  const { event: warm } = await md.ok('song.create', { title: 'Warm up', bpm: 240, meter: { beats: 4, unit: 4 } });
  const { event: song } = await md.ok('song.create', { title: 'Sunday Song', key: 'C', bpm: 128, meter: { beats: 6, unit: 8 } });
  const { event: sl } = await md.ok('setlist.update', {
    title: 'Sunday', items: [{ song: warm.data.song.id }, { song: song.data.song.id, bpm: 132, key: 'D' }],
  });
  const setlist = sl.data.setlist.id;
  await md.ok('song.current', { setlist, index: 0 });
  await md.ok('tempo.start', {});
  // Let the warm-up run into its second bar, so a reset is visible.
  await mu.waitFor((m) => m.type === 'tempo.update' && m.data.bar >= 1, { what: 'warm-up bar 2' });

  const from = mu.messages.length;
  const { reply, event } = await md.ok('song.current', { setlist, index: 1 });
  assert.deepEqual(event.data, { setlist, index: 1, section: null });
  const anchor = await mu.waitFor((m) => m.type === 'tempo.anchor' && m.seq === reply.seq + 1, { from, what: 'the song tempo' });
  const t = anchor.data.tempo;
  assert.equal(t.bpm, 132, 'the setlist item bpm wins over the song bpm');
  assert.deepEqual(t.meter, { beats: 6, unit: 8 });
  assert.equal(t.running, true);
  assert.equal(t.anchor.bar, 0, 'the new song starts at bar 0, shown as bar 1');
  const first = await mu.waitFor((m) => m.type === 'tempo.update' && m.data.rev === t.rev && m.ts >= t.anchor.t, { from, what: 'first beat of the song' });
  assert.deepEqual([first.data.bar, first.data.beat], [0, 0], 'the bar counter shows 1:1');

  // A section of the same song: no tempo change.
  const sectionFrom = mu.messages.length;
  const { reply: sec } = await md.ok('song.current', { setlist, index: 1, section: 'Bridge' });
  await md.ok('cue', { text: 'marker' });
  await mu.waitFor((m) => m.type === 'cue' && m.data.cue.text === 'marker', { from: sectionFrom });
  assert.ok(!mu.messages.slice(sectionFrom).some((m) => m.type === 'tempo.anchor' && m.seq !== undefined), 'no new anchor for a section');
  assert.ok(!mu.messages.slice(sectionFrom).some((m) => m.seq === sec.seq + 1 && m.type === 'tempo.anchor'));

  // keep_tempo: the song changes, the click does not.
  const keepFrom = mu.messages.length;
  await md.ok('song.current', { setlist, index: 0, keep_tempo: true });
  await md.ok('cue', { text: 'marker 2' });
  await mu.waitFor((m) => m.type === 'cue' && m.data.cue.text === 'marker 2', { from: keepFrom });
  assert.ok(!mu.messages.slice(keepFrom).some((m) => m.type === 'tempo.anchor' && m.seq !== undefined), 'keep_tempo keeps the tempo');
});

test('with song_count_in the song change counts in before bar 1', async () => {
  const { event: settings } = await md.ok('room.settings', { song_count_in: 1 });
  assert.equal(settings.data.settings.song_count_in, 1);
  const bad = await md.cmd('room.settings', { song_count_in: 9 });
  assert.equal(bad.code, 'bad_request');
  const snap = await freshSnapshot(md.session);
  const setlist = snap.setlists.find((s) => s.title === 'Sunday');
  assert.ok(snap.tempo.running, 'the click still runs from the previous test');
  const from = mu.messages.length;
  const { reply } = await md.ok('song.current', { setlist: setlist.id, index: 1 });
  const anchor = await mu.waitFor((m) => m.type === 'tempo.anchor' && m.seq === reply.seq + 1, { from });
  assert.equal(anchor.data.tempo.anchor.bar, -1, 'one count-in bar');
  assert.equal(anchor.data.tempo.count_in_bars, 1);
  const beats = [];
  while (beats.length < 7) {
    const u = await mu.waitFor((m) => m.type === 'tempo.update' && m.data.rev === anchor.data.tempo.rev && m.ts >= anchor.data.tempo.anchor.t && !beats.includes(m),
      { from, timeout: 5000, what: 'count-in beats' });
    beats.push(u);
  }
  assert.deepEqual(beats.map((u) => `${u.data.bar}:${u.data.beat}`), ['-1:0', '-1:1', '-1:2', '-1:3', '-1:4', '-1:5', '0:0']);
  await md.ok('tempo.stop', {});
});

// ---------------------------------------------------------------- joining

const exchangeFrom = (localAddress, body) => request(server.port, '/auth/exchange', { method: 'POST', body, localAddress });

let n = 0;
const guess = (address, code) => exchangeFrom(address, { code, name: `Guest ${++n}`, device_id: `join-device-${n}-000` });

test('a right code gets in after a few wrong ones, and a stale code scanned again and again is one guess', async () => {
  for (const code of ['AAAAAAAAAA', 'BBBBBBBBBB', 'CCCCCCCCCC']) assert.equal((await guess('127.0.0.3', code)).status, 401);
  // The old QR code after a rotation, scanned fifteen times: still told it is wrong, never locked out.
  for (let i = 0; i < 15; i++) {
    const r = await guess('127.0.0.3', 'STALEQRCODE');
    assert.equal(r.status, 401, `stale scan ${i + 1}`);
    assert.match(r.json.error.message, /join code not recognised/);
  }
  const right = await guess('127.0.0.3', room.codes.musician);
  assert.equal(right.status, 200, JSON.stringify(right.json));
});

test('an address that spent its wrong-guess budget waits, even with the right code; other addresses get in', async () => {
  const seen = [];
  for (let i = 0; i < 10; i++) seen.push(await guess('127.0.0.4', `WRONG${i}XYZ`));
  assert.deepEqual(seen.map((r) => r.status), Array(10).fill(401));
  assert.match(seen[9].json.error.message, /0 more wrong codes from this address before a wait/, 'the last tries are counted down');
  const locked = await guess('127.0.0.4', 'WRONGXXXXX');
  assert.equal(locked.status, 429);
  assert.equal(locked.json.error.code, 'rate_limited');
  const wait = Number(locked.headers['retry-after']);
  assert.ok(wait >= 1 && wait <= 5, `Retry-After says how long: ${wait}`);
  assert.match(locked.json.error.message, new RegExp(`wait ${wait} s`));
  // Brute force stops here: the right code from this address waits too, so a reply never tells a right guess.
  const rightButLocked = await guess('127.0.0.4', room.codes.viewer);
  assert.equal(rightButLocked.status, 429);
  assert.match(rightButLocked.json.error.message, /too many wrong join codes from your address: wait \d+ s/);
  // Someone else's wrong guesses, against other codes, never block a right code from another address.
  const other = await guess('127.0.0.5', room.codes.viewer);
  assert.equal(other.status, 200, JSON.stringify(other.json));
  const metrics = await fetch(`${server.base}/metrics`).then((r) => r.text());
  assert.match(metrics, /downbeat_rate_limited_total\{limit="join"\} 2/);
});

test('every frame the server sent matched protocol/schema.json', () => {
  assert.deepEqual(schemaErrors, [], 'frames that do not match their schema (envelope, data, seq on durable events only)');
});
