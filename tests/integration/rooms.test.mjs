// Two clients see each other's changes in order; a late joiner's snapshot equals the live state;
// resume with `since` replays exactly the missed events.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Server } from './lib/server.mjs';
import { Client, join, checkEveryFrame, schemaErrors } from './lib/client.mjs';

// Every frame any client of this file receives is checked against protocol/schema.json (last test).
await checkEveryFrame();
import { reduce } from './lib/reducer.mjs';

let server, room;
before(async () => {
  server = new Server();
  room = server.createRoom('Rooms');
  await server.start();
});
after(async () => { await server.stop(); server.cleanup(); });

async function connectAs(role, name) {
  const session = await join(server, room.codes[role], name);
  const client = await Client.connect(server, session);
  await client.waitFor((m) => m.type === 'snapshot', { what: 'snapshot' });
  return client;
}

test('hello then snapshot on connect, with the whole room', async () => {
  const c = await connectAs('viewer', 'Stage screen');
  assert.equal(c.messages[0].type, 'hello');
  assert.equal(c.messages[0].data.protocol, 1);
  assert.equal(c.messages[0].data.resumed, false);
  assert.equal(c.messages[0].data.participant.name, 'Stage screen');
  const snap = c.messages[1];
  assert.equal(snap.type, 'snapshot');
  for (const k of ['seq', 'room', 'participants', 'slots', 'songs', 'setlists', 'active_setlist', 'song_current', 'tempo', 'ptt'])
    assert.ok(k in snap.data, `snapshot has ${k}`);
  assert.ok(snap.data.participants.some((p) => p.name === 'Stage screen' && p.online));
  await c.close();
});

test('two clients see each other\'s changes in the same order; a late joiner sees the same state', async () => {
  const md = await connectAs('md', 'Maria (MD)');
  const mu = await connectAs('musician', 'Sam');
  const muId = mu.messages[0].data.participant.id;
  await md.waitFor((m) => m.type === 'participant.join' && m.data.participant.id === muId, { what: 'musician join at MD' });
  const mdStart = md.messages.length;
  const muStart = mu.messages.length;
  let mdState = md.messages.find((m) => m.type === 'snapshot').data;

  const { event: slotEv } = await md.ok('slot.create', { name: 'Keys 1', instrument: 'piano', group: 'band' });
  const slot = slotEv.data.slot.id;
  const claim = await mu.cmd('slot.assign', { slot, participant: muId });
  assert.equal(claim.type, 'ack', 'a musician may claim a free slot');
  const { event: songEv } = await md.ok('song.create', { title: 'Way Maker', key: 'E', bpm: 68, meter: { beats: 4, unit: 4 } });
  const { event: song2Ev } = await md.ok('song.create', { title: 'Build My Life', key: 'G', bpm: 70 });
  const { event: slEv } = await md.ok('setlist.update', { title: 'Sunday', items: [{ song: songEv.data.song.id }, { song: song2Ev.data.song.id, key: 'A' }] });
  const { reply: last } = await md.ok('song.current', { setlist: slEv.data.setlist.id, index: 1, section: 'Verse 1' });
  await mu.waitFor((m) => m.seq === last.seq && m.type === 'song.current', { what: 'song.current at the musician' });
  // Another song brings its tempo: the server commits a tempo.anchor right after song.current.
  // Compare only once both sockets have it (a slow server, ASan, may deliver it later to one).
  for (const [c, who] of [[md, 'MD'], [mu, 'musician']])
    await c.waitFor((m) => m.seq === last.seq + 1 && m.type === 'tempo.anchor', { what: `song change's tempo.anchor at the ${who}` });

  const seqs = (c, from) => c.messages.slice(from).filter((m) => m.type !== 'ack' && typeof m.seq === 'number').map((m) => `${m.seq}:${m.type}`);
  const mdSeqs = seqs(md, mdStart), muSeqs = seqs(mu, muStart);
  assert.deepEqual(muSeqs, mdSeqs, 'both clients receive the same events in the same order');
  const nums = mdSeqs.map((s) => Number(s.split(':')[0]));
  for (let i = 1; i < nums.length; i++) assert.equal(nums[i], nums[i - 1] + 1, 'seq increases by one per durable event');
  assert.ok(mdSeqs.some((s) => s.endsWith('slot.assign')), 'the musician\'s claim reaches the MD');

  // Acks come before the command's own event on the sender's socket.
  const ackIdx = md.messages.findIndex((m) => m.type === 'ack' && m.seq === last.seq);
  const evIdx = md.messages.findIndex((m) => m.type === 'song.current' && m.seq === last.seq);
  assert.ok(ackIdx >= 0 && ackIdx < evIdx, 'ack precedes the event');

  // The MD's reduced state must equal what a late joiner receives. Reduce only once the late
  // joiner's own join has reached the MD: everything committed before it (song.current's
  // tempo.anchor too) has then arrived, however slow the server is.
  const late = await connectAs('tech', 'Tom (sound)');
  const lateId = late.messages[0].data.participant.id;
  await md.waitFor((m) => m.type === 'participant.join' && m.data.participant.id === lateId, { what: 'tech join at MD' });
  for (const m of md.messages) if (typeof m.seq === 'number' && m.type !== 'ack' && m.seq > mdState.seq) mdState = reduce(mdState, m);
  const lateSnap = late.messages.find((m) => m.type === 'snapshot').data;
  assert.deepEqual(lateSnap, mdState, 'late joiner\'s snapshot equals the live state');
  assert.equal(lateSnap.song_current.index, 1);
  assert.equal(lateSnap.slots.find((s) => s.id === slot).participant, muId);
  assert.equal(lateSnap.participants.find((p) => p.id === muId).slot, slot);
  await Promise.all([md.close(), mu.close(), late.close()]);
});

test('resume with since replays exactly the missed events, then live ones', async () => {
  const md = await connectAs('md', 'Maria (MD)');
  const mu = await connectAs('musician', 'Alex');
  const { event } = await md.ok('song.create', { title: 'Before the drop' });
  await mu.waitFor((m) => m.seq === event.seq, { what: 'song at musician' });
  const since = mu.lastSeq;
  await mu.terminate();
  await md.waitFor((m) => m.type === 'participant.leave' && m.data.reason === 'offline', { what: 'offline notice' });
  const missed = [];
  for (const title of ['Missed 1', 'Missed 2', 'Missed 3']) missed.push((await md.ok('song.create', { title })).event);

  const back = await Client.connect(server, mu.session, { since });
  const hello = await back.waitFor((m) => m.type === 'hello');
  assert.equal(hello.data.resumed, true);
  const lastMissed = missed[missed.length - 1].seq;
  await back.waitFor((m) => m.type === 'participant.join', { what: 'own return in the replay' });
  assert.ok(!back.messages.some((m) => m.type === 'snapshot'), 'no snapshot when the log covers the gap');
  const replayed = back.events().map((m) => m.seq);
  const expected = [];
  for (let s = since + 1; s <= replayed[replayed.length - 1]; s++) expected.push(s);
  assert.deepEqual(replayed, expected, 'every seq after since, once, in order');
  assert.ok(replayed.includes(lastMissed));
  assert.deepEqual(back.events().filter((m) => m.type === 'song.create').map((m) => m.data.song.title), ['Missed 1', 'Missed 2', 'Missed 3']);

  const { event: live } = await md.ok('song.create', { title: 'Live again' });
  await back.waitFor((m) => m.seq === live.seq, { what: 'live event after resume' });
  await Promise.all([md.close(), back.close()]);
});

test('a since the log cannot cover gets a snapshot instead', async () => {
  const mu = await connectAs('musician', 'Future');
  const back = await Client.connect(server, mu.session, { since: 999999 });
  const hello = await back.waitFor((m) => m.type === 'hello');
  assert.equal(hello.data.resumed, false);
  await back.waitFor((m) => m.type === 'snapshot');
  await Promise.all([mu.close(), back.close()]);
});

test('cues reach the room as durable events, each marked with the group it is for', async () => {
  const md = await connectAs('md', 'MD');
  const vox = await connectAs('musician', 'Vox');
  const drums = await connectAs('musician', 'Drums');
  const { event } = await md.ok('slot.create', { name: 'Vox 1', group: 'vocals' });
  await md.ok('slot.assign', { slot: event.data.slot.id, participant: vox.messages[0].data.participant.id });
  const fromD = drums.messages.length;
  const { event: sent } = await md.ok('cue', { text: 'Chorus', color: 'blue' });
  const cue = await drums.waitFor((m) => m.type === 'cue', { from: fromD, what: 'room cue' });
  assert.equal(cue.data.cue.text, 'Chorus');
  assert.equal(cue.data.cue.color, 'blue');
  assert.equal(cue.data.cue.group, null);
  assert.equal(cue.seq, sent.seq, 'cues are durable: one seq, the same for everyone');
  await md.ok('cue', { text: 'Tag', group: 'vocals' });
  const tag = await vox.waitFor((m) => m.type === 'cue' && m.data.cue.text === 'Tag', { what: 'group cue at vocals' });
  assert.equal(tag.data.cue.group, 'vocals', 'a device shows a group cue only when it is in that group');
  await md.ok('cue', { text: 'Marker' });
  await drums.waitFor((m) => m.type === 'cue' && m.data.cue.text === 'Marker', { what: 'marker' });
  await Promise.all([md.close(), vox.close(), drums.close()]);
});

test('metrics.report reaches the MD console, not the band', async () => {
  const md = await connectAs('md', 'MD');
  const mu = await connectAs('musician', 'Reporter');
  const other = await connectAs('musician', 'Other');
  await mu.ok('metrics.report', { rtt_ms: 3.2, clock_uncertainty_ms: 0.4 });
  const r = await md.waitFor((m) => m.type === 'metrics.report', { what: 'health report at MD' });
  assert.equal(r.data.participant, mu.messages[0].data.participant.id);
  assert.equal(r.data.rtt_ms, 3.2);
  await md.ok('cue', { text: 'sync' });
  await other.waitFor((m) => m.type === 'cue' && m.data.cue.text === 'sync');
  assert.ok(!other.messages.some((m) => m.type === 'metrics.report'));
  const metrics = await (await fetch(`${server.base}/metrics`)).text();
  assert.match(metrics, /downbeat_client_rtt_seconds\{room="[^"]+"\} 0\.0032\n/);
  await Promise.all([md.close(), mu.close(), other.close()]);
});

test('kick closes the participant\'s socket and its token stops working', async () => {
  const md = await connectAs('md', 'MD');
  const mu = await connectAs('musician', 'Troublemaker');
  const id = mu.messages[0].data.participant.id;
  await md.ok('participant.kick', { participant: id });
  const closed = await mu.closed;
  assert.equal(closed.code, 1008);
  assert.match(closed.reason, /removed/);
  await assert.rejects(Client.connect(server, mu.session), (e) => e.status === 401 && /removed/.test(e.body.error.message));
  const refresh = await fetch(`${server.base}/auth/refresh`, { method: 'POST', body: JSON.stringify({ refresh_token: mu.session.refresh_token }) });
  assert.equal(refresh.status, 401, 'the kicked device cannot refresh');
  await md.close();
});

test('every frame the server sent matched protocol/schema.json', () => {
  assert.deepEqual(schemaErrors, [], 'frames that do not match their schema (envelope, data, seq on durable events only)');
});
