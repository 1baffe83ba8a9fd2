// Push-to-talk on the server: who may talk to whom, who hears it (ptt.state `to`), release when a
// talker's connection drops, the room setting for "all", and the rtc.* relay's checks and limits.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Server } from './lib/server.mjs';
import { Client, join, checkEveryFrame, schemaErrors } from './lib/client.mjs';

// Every frame any client of this file receives is checked against protocol/schema.json (last test).
await checkEveryFrame();

let server, room, other;
before(async () => {
  server = new Server();
  room = server.createRoom('Voice');
  other = server.createRoom('Other room');
  await server.start();
});
after(async () => { await server.stop(); server.cleanup(); });

async function connectAs(role, name, r = room) {
  const session = await join(server, r.codes[role], name);
  const client = await Client.connect(server, session);
  await client.waitFor((m) => m.type === 'snapshot', { what: 'snapshot' });
  client.id = session.participant.id;
  return client;
}

const SDP = 'v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// One band: MD, a singer (vocals), a drummer (band), a tech and a stage screen.
async function band() {
  const md = await connectAs('md', 'Mia (MD)');
  const vox = await connectAs('musician', 'Val');
  const drums = await connectAs('musician', 'Dan');
  const tech = await connectAs('tech', 'Tess');
  const screen = await connectAs('viewer', 'Stage');
  const { event: s1 } = await md.ok('slot.create', { name: `Vox ${vox.id}`, group: 'vocals' });
  const { event: s2 } = await md.ok('slot.create', { name: `Drums ${drums.id}`, group: 'band' });
  await md.ok('slot.assign', { slot: s1.data.slot.id, participant: vox.id });
  await md.ok('slot.assign', { slot: s2.data.slot.id, participant: drums.id });
  return { md, vox, drums, tech, screen, all: [md, vox, drums, tech, screen] };
}

async function pttStateAt(clients, from, talker, talking) {
  return Promise.all(clients.map((c, i) => c.waitFor((m) => m.type === 'ptt.state' && m.data.participant === talker && m.data.talking === talking,
    { from: from[i], what: `ptt.state ${talker} talking=${talking}` })));
}

test('the MD talks to all, a group or one person; ptt.state names who hears it, for everyone to see', async () => {
  const b = await band();
  let marks = b.all.map((c) => c.messages.length);
  assert.equal((await b.md.cmd('ptt.press', { target: 'all' })).type, 'ack');
  let seen = await pttStateAt(b.all, marks, b.md.id, true);
  assert.deepEqual([...seen[1].data.to].sort(), [b.vox.id, b.drums.id, b.tech.id].sort(), 'all = every voice participant but the talker, no stage screen');
  assert.equal(seen[4].data.target, 'all', 'the stage screen sees who is talking to whom');

  marks = b.all.map((c) => c.messages.length);
  await b.md.ok('ptt.press', { target: 'vocals' });
  seen = await pttStateAt(b.all, marks, b.md.id, true);
  assert.deepEqual(seen[0].data.to, [b.vox.id]);

  marks = b.all.map((c) => c.messages.length);
  await b.md.ok('ptt.press', { target: `@${b.drums.id}` });
  seen = await pttStateAt(b.all, marks, b.md.id, true);
  assert.deepEqual(seen[0].data.to, [b.drums.id], '"Drums only"');

  marks = b.all.map((c) => c.messages.length);
  await b.md.ok('ptt.release', {});
  seen = await pttStateAt(b.all, marks, b.md.id, false);
  assert.deepEqual(seen[2].data.to, []);
  for (const c of b.all) await c.close();
});

test('talkback: a musician reaches the MD and their own group, nothing else; a viewer cannot talk', async () => {
  const b = await band();
  let r = await b.vox.cmd('ptt.press', { target: 'md' });
  assert.equal(r.type, 'ack');
  const st = await b.drums.waitFor((m) => m.type === 'ptt.state' && m.data.participant === b.vox.id && m.data.talking);
  assert.deepEqual(st.data.to, [b.md.id], 'talkback reaches only the MD');

  for (const [target, code, re] of [['all', 'forbidden', /only the MD may talk to everyone/], ['band', 'forbidden', /your own group "vocals"/],
    [`@${b.md.id}`, 'forbidden', /one person/], ['nosuchgroup', 'not_found', /no talk group/]]) {
    r = await b.vox.cmd('ptt.press', { target });
    assert.equal(r.type, 'error', `musician → ${target} refused`);
    assert.equal(r.code, code, `musician → ${target}: ${r.message}`);
    assert.match(r.message, re);
    assert.ok(r.re, 'the error names the command');
  }
  r = await b.screen.cmd('ptt.press', { target: 'md' });
  assert.equal(r.code, 'forbidden', 'a stage screen has no Talk');
  r = await b.tech.cmd('ptt.press', { target: 'band' });
  assert.equal(r.type, 'ack', 'the tech reaches any group');
  r = await b.md.cmd('ptt.press', { target: `@${b.screen.id}` });
  assert.equal(r.code, 'forbidden', 'a stage screen cannot be talked to');
  assert.match(r.message, /stage display/);
  for (const c of b.all) await c.close();
});

test('"all" for musicians is a durable room setting, checked on every press', async () => {
  const b = await band();
  assert.equal((await b.vox.cmd('room.settings', { talk_all: ['musician'] })).code, 'forbidden');
  assert.equal((await b.md.cmd('room.settings', { talk_all: ['drummers'] })).code, 'bad_request');
  const { event } = await b.md.ok('room.settings', { talk_all: ['musician'] });
  assert.deepEqual(event.data.settings.talk_all, ['musician']);
  await b.vox.waitFor((m) => m.type === 'room.settings' && m.seq === event.seq, { what: 'room.settings at the musician' });
  assert.equal((await b.vox.cmd('ptt.press', { target: 'all' })).type, 'ack');
  assert.equal((await b.tech.cmd('ptt.press', { target: 'all' })).code, 'forbidden', 'only the roles listed');
  // A newcomer sees the setting in the snapshot.
  const late = await connectAs('musician', 'Late');
  assert.deepEqual(late.messages[1].data.room.settings.talk_all, ['musician']);
  await b.md.ok('room.settings', { talk_all: [] });
  for (const c of [...b.all, late]) await c.close();
});

test('a talker whose connection drops is released for everyone at once', async () => {
  const b = await band();
  await b.vox.ok('ptt.press', { target: 'md' });
  await b.md.waitFor((m) => m.type === 'ptt.state' && m.data.participant === b.vox.id && m.data.talking);
  const marks = [b.md, b.drums, b.screen].map((c) => c.messages.length);
  const t0 = Date.now();
  b.vox.terminate(); // no close handshake: a phone that lost Wi-Fi looks like this to a server... or a closed tab
  await pttStateAt([b.md, b.drums, b.screen], marks, b.vox.id, false);
  assert.ok(Date.now() - t0 < 3000, 'released within seconds');
  // A newcomer's snapshot no longer lists the talker.
  const late = await connectAs('viewer', 'Late screen');
  assert.ok(!late.messages[1].data.ptt.some((p) => p.participant === b.vox.id));
  for (const c of [b.md, b.drums, b.tech, b.screen, late]) await c.close();
});

test('someone who arrives during a talk meant for them is added to its listeners', async () => {
  const md = await connectAs('md', 'MD');
  await md.ok('ptt.press', { target: 'all' });
  const from = md.messages.length;
  const mu = await connectAs('musician', 'Newcomer');
  const upd = await md.waitFor((m) => m.type === 'ptt.state' && m.data.participant === md.id && m.data.talking && m.data.to.includes(mu.id),
    { from, what: 'ptt.state with the newcomer in to' });
  assert.equal(upd.data.target, 'all');
  const snapTalk = mu.messages[1].data.ptt.find((p) => p.participant === md.id);
  assert.ok(snapTalk && snapTalk.talking && snapTalk.target === 'all', 'the newcomer sees the MD talking in the snapshot');
  await md.ok('ptt.release', {});
  await md.close(); await mu.close();
});

test('rtc.* reaches only its target, with from set by the server; bad signalling is refused with re', async () => {
  const b = await band();
  const stranger = await connectAs('musician', 'Stranger', other);
  let r = await b.vox.cmd('rtc.offer', { to: b.md.id, sdp: SDP });
  assert.equal(r.type, 'ack');
  const got = await b.md.waitFor((m) => m.type === 'rtc.offer');
  assert.equal(got.data.from, b.vox.id, 'from is set by the server');
  assert.equal(got.data.sdp, SDP);
  await sleep(200);
  for (const c of [b.drums, b.tech, b.screen, stranger]) assert.ok(!c.messages.some((m) => m.type === 'rtc.offer'), 'nobody else gets it');

  const bad = [
    [{ to: stranger.id, sdp: SDP }, 'rtc.offer', 'not_found', /no participant/],
    [{ to: 'pnobody', sdp: SDP }, 'rtc.offer', 'not_found', /no participant/],
    [{ to: b.screen.id, sdp: SDP }, 'rtc.offer', 'forbidden', /stage display/],
    [{ to: b.md.id, sdp: 'hello' }, 'rtc.offer', 'bad_request', /v=0/],
    [{ to: b.md.id, sdp: 'v=0\r\n' + 'a'.repeat(17000) }, 'rtc.answer', 'bad_request', /16384/],
    [{ to: b.md.id, sdp: SDP, from: b.drums.id }, 'rtc.offer', 'bad_request', /from/],
    [{ to: b.md.id, candidate: { candidate: 'rm -rf /' } }, 'rtc.ice', 'bad_request', /candidate:/],
    [{ to: b.md.id, candidate: { candidate: '', extra: 1 } }, 'rtc.ice', 'bad_request', /unknown candidate field/],
  ];
  for (const [data, type, code, re] of bad) {
    r = await b.vox.cmd(type, data);
    assert.equal(r.type, 'error', `${type} ${JSON.stringify(data).slice(0, 80)} must be refused`);
    assert.equal(r.code, code, r.message);
    assert.match(r.message, re);
    assert.ok(r.re, 'the error names the command');
  }
  r = await b.vox.cmd('rtc.ice', { to: b.md.id, candidate: { candidate: 'candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host', sdpMid: '0', sdpMLineIndex: 0 } });
  assert.equal(r.type, 'ack', 'a real candidate still passes after all that');
  assert.equal((await stranger.cmd('rtc.offer', { to: b.md.id, sdp: SDP })).code, 'not_found', 'no signalling across rooms');
  await sleep(200);
  assert.equal(b.md.messages.filter((m) => m.type === 'rtc.offer').length, 1, 'the refused offers never reached the MD');
  for (const c of [...b.all, stranger]) await c.close();
});

test('a flood of ptt.press gets rate_limited replies that each name their command; the room and other links carry on', async () => {
  const b = await band();
  const ids = [];
  for (let i = 0; i < 40; i++) { const id = `flood${i}`; ids.push(id); b.vox.sendRaw(JSON.stringify({ type: 'ptt.press', id, data: { target: 'md' } })); }
  const replies = await Promise.all(ids.map((id) => b.vox.waitFor((m) => (m.type === 'ack' || m.type === 'error') && m.re === id, { what: `reply to ${id}` })));
  const limited = replies.filter((m) => m.type === 'error' && m.code === 'rate_limited');
  assert.ok(limited.length >= 20, `most of the flood is refused (${limited.length} of 40)`);
  assert.ok(replies.filter((m) => m.type === 'ack').length >= 5, 'the first presses pass');
  assert.match(limited[0].message, /ptt\.press/);
  assert.equal(replies.length, 40, 'exactly one reply per command');
  // Others are unaffected, the flooder recovers.
  assert.equal((await b.md.cmd('ptt.press', { target: 'all' })).type, 'ack');
  await sleep(1500);
  assert.equal((await b.vox.cmd('ptt.release', {})).type, 'ack');
  // Signalling bursts (an offer and its candidates) pass; a signalling flood is limited with re.
  const sig = [];
  for (let i = 0; i < 260; i++) { const id = `sig${i}`; sig.push(id); b.drums.sendRaw(JSON.stringify({ type: 'rtc.ice', id, data: { to: b.md.id, candidate: { candidate: '' } } })); }
  const sigReplies = await Promise.all(sig.map((id) => b.drums.waitFor((m) => (m.type === 'ack' || m.type === 'error') && m.re === id, { what: `reply to ${id}` })));
  assert.ok(sigReplies.filter((m) => m.code === 'rate_limited').length > 0, 'a signalling flood is limited');
  assert.ok(sigReplies.every((m) => m.re), 'every reply names its command');
  for (const c of b.all) await c.close();
});

test('metrics.report carries per-link voice health to the MD; bad links entries are refused', async () => {
  const b = await band();
  const links = [{ peer: b.md.id, rtt_ms: 3.2, jitter_ms: 1.1, loss: 0.004, concealed: 0.01, jitter_buffer_ms: 12, stalled: false, path: 'rtp' }];
  assert.equal((await b.vox.cmd('metrics.report', { rtt_ms: 2, links })).type, 'ack');
  const rep = await b.md.waitFor((m) => m.type === 'metrics.report' && m.data.participant === b.vox.id);
  assert.deepEqual(rep.data.links, links);
  const r = await b.vox.cmd('metrics.report', { links: [{ peer: b.md.id, loss: 3 }] });
  assert.equal(r.code, 'bad_request');
  assert.ok(r.re);
  for (const c of b.all) await c.close();
});

test('the talk setting survives a kill -9; nobody is left talking after a restart', async () => {
  const md = await connectAs('md', 'MD');
  await md.ok('room.settings', { talk_all: ['tech', 'musician'] });
  await md.ok('ptt.press', { target: 'all' });
  await server.kill('SIGKILL');
  await server.start();
  const again = await connectAs('viewer', 'Screen after restart');
  const snap = again.messages[1].data;
  assert.deepEqual(snap.room.settings.talk_all, ['musician', 'tech'], 'acknowledged settings are durable, in one canonical order');
  assert.deepEqual(snap.ptt, [], 'talk is live state: a restart leaves nobody talking');
  await again.close();
});

test('a client that resumes with since during a talk learns who is talking right after the replay', async () => {
  const md = await connectAs('md', 'MD');
  const mu = await connectAs('musician', 'Reloading phone');
  await md.ok('ptt.press', { target: 'all' });
  await mu.waitFor((m) => m.type === 'ptt.state' && m.data.participant === md.id && m.data.talking);
  const since = mu.lastSeq;
  mu.terminate();
  await md.waitFor((m) => m.type === 'participant.leave' && m.data.participant === mu.id);
  const back = await Client.connect(server, mu.session, { since });
  const hello = await back.waitFor((m) => m.type === 'hello');
  assert.equal(hello.data.resumed, true, 'resumed from the event log, no snapshot');
  const st = await back.waitFor((m) => m.type === 'ptt.state' && m.data.participant === md.id && m.data.talking, { what: 'the live talk after the replay' });
  assert.ok(st.data.to.includes(mu.id), 'and it is meant for the returning phone');
  assert.ok(!back.messages.some((m) => m.type === 'snapshot'));
  await md.ok('ptt.release', {});
  await md.close(); await back.close();
});

test('every frame the server sent matched protocol/schema.json', () => {
  assert.deepEqual(schemaErrors, [], 'frames that do not match their schema (envelope, data, seq on durable events only)');
});
