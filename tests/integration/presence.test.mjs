// A dropped participant is shown away (not removed) until the grace period ends, then removed
// and their slot freed; coming back within the grace period keeps everything.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Server } from './lib/server.mjs';
import { Client, join, checkEveryFrame, schemaErrors } from './lib/client.mjs';

// Every frame any client of this file receives is checked against protocol/schema.json (last test).
await checkEveryFrame();

let server, room;
before(async () => {
  server = new Server({ args: ['--grace-s', '2'] });
  room = server.createRoom('Presence');
  await server.start();
});
after(async () => { await server.stop(); server.cleanup(); });

test('away during grace, removed after it, slot freed', async () => {
  const md = await Client.connect(server, await join(server, room.codes.md, 'MD'));
  await md.waitFor((m) => m.type === 'snapshot');
  const session = await join(server, room.codes.musician, 'Phone that dies');
  const mu = await Client.connect(server, session);
  await mu.waitFor((m) => m.type === 'snapshot');
  const id = mu.messages[0].data.participant.id;
  const joined = await md.waitFor((m) => m.type === 'participant.join' && m.data.participant.id === id);
  assert.equal(joined.data.participant.online, true);
  const { event } = await md.ok('slot.create', { name: 'Guitar' });
  await md.ok('slot.assign', { slot: event.data.slot.id, participant: id });

  await mu.terminate();
  const away = await md.waitFor((m) => m.type === 'participant.leave' && m.data.participant === id);
  assert.equal(away.data.reason, 'offline');
  const from = md.messages.length;
  const gone = await md.waitFor((m) => m.type === 'participant.leave' && m.data.participant === id && m.data.reason === 'timeout', { timeout: 8000 });
  assert.ok(typeof gone.seq === 'number');
  const snapFrom = md.messages.length;
  await md.ok('resync.request', {});
  const snap = (await md.waitFor((m) => m.type === 'snapshot', { from: snapFrom })).data;
  assert.ok(!snap.participants.some((p) => p.id === id), 'removed after the grace period');
  assert.equal(snap.slots.find((s) => s.name === 'Guitar').participant, null, 'their slot is free again');
  assert.ok(md.messages.slice(from).some((m) => m.type === 'participant.leave'));

  // The phone comes back later with its token: it is in the room again (same identity).
  const back = await Client.connect(server, session);
  const hello = await back.waitFor((m) => m.type === 'hello');
  assert.equal(hello.data.participant.id, id);
  await md.waitFor((m) => m.type === 'participant.join' && m.data.participant.id === id, { from: snapFrom });
  await Promise.all([md.close(), back.close()]);
});

test('back within grace: same slot, no removal', async () => {
  const md = await Client.connect(server, await join(server, room.codes.md, 'MD'));
  await md.waitFor((m) => m.type === 'snapshot');
  const session = await join(server, room.codes.musician, 'Flaky Wi-Fi');
  const mu = await Client.connect(server, session);
  await mu.waitFor((m) => m.type === 'snapshot');
  const id = mu.messages[0].data.participant.id;
  const { event } = await md.ok('slot.create', { name: 'Keys' });
  await md.ok('slot.assign', { slot: event.data.slot.id, participant: id });
  await mu.terminate();
  await md.waitFor((m) => m.type === 'participant.leave' && m.data.participant === id);
  const back = await Client.connect(server, session, { since: mu.lastSeq });
  await back.waitFor((m) => m.type === 'participant.join' && m.data.participant.id === id);
  await new Promise((r) => setTimeout(r, 2500));
  assert.ok(!md.messages.some((m) => m.type === 'participant.leave' && m.data.participant === id && m.data.reason === 'timeout'));
  const snapFrom = md.messages.length;
  await md.ok('resync.request', {});
  const snap = (await md.waitFor((m) => m.type === 'snapshot', { from: snapFrom })).data;
  assert.equal(snap.slots.find((s) => s.name === 'Keys').participant, id);
  assert.equal(snap.participants.find((p) => p.id === id).online, true);
  await Promise.all([md.close(), back.close()]);
});

test('every frame the server sent matched protocol/schema.json', () => {
  assert.deepEqual(schemaErrors, [], 'frames that do not match their schema (envelope, data, seq on durable events only)');
});
