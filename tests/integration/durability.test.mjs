// Every acknowledged change survives `kill -9`; clients reconnect and resume; tokens still work.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join as pathJoin } from 'node:path';
import { Server, DOWNBEATD } from './lib/server.mjs';
import { Client, join, checkEveryFrame, schemaErrors } from './lib/client.mjs';

// Every frame any client of this file receives is checked against protocol/schema.json (last test).
await checkEveryFrame();

const servers = [];
after(async () => { for (const s of servers) { await s.kill(); s.cleanup(); } });

test('kill -9 right after acks: every acknowledged change is there after restart', async () => {
  const server = new Server();
  servers.push(server);
  const room = server.createRoom('Durable');
  await server.start();
  const mdSession = await join(server, room.codes.md, 'MD');
  const muSession = await join(server, room.codes.musician, 'Player');
  const md = await Client.connect(server, mdSession);
  const mu = await Client.connect(server, muSession);
  await mu.waitFor((m) => m.type === 'snapshot');
  await md.waitFor((m) => m.type === 'snapshot');

  // Fire a burst of commands, and kill the server the moment the last one is acknowledged.
  const titles = Array.from({ length: 40 }, (_, i) => `Song ${i + 1}`);
  const replies = await Promise.all(titles.map((title) => md.cmd('song.create', { title, bpm: 60 + (titles.indexOf(title) % 100) })));
  const { event: slotEv } = await md.ok('slot.create', { name: 'Bass', group: 'band' });
  const assign = await md.cmd('slot.assign', { slot: slotEv.data.slot.id, participant: mu.messages[0].data.participant.id });
  await server.kill('SIGKILL');
  const acked = replies.filter((r) => r.type === 'ack').length;
  assert.equal(acked, titles.length);
  assert.equal(assign.type, 'ack');
  const lastSeq = assign.seq;

  await server.start({ port: server.port });
  // Tokens survive (same key on disk); resume from before the burst replays all of it.
  const back = await Client.connect(server, mdSession);
  const snap = (await back.waitFor((m) => m.type === 'snapshot')).data;
  for (const title of titles) assert.ok(snap.songs.some((s) => s.title === title), `${title} survived`);
  const slot = snap.slots.find((s) => s.name === 'Bass');
  assert.equal(slot.participant, mu.messages[0].data.participant.id, 'the slot assignment survived');
  assert.ok(snap.seq >= lastSeq, 'seq continues from where it was');
  const player = snap.participants.find((p) => p.name === 'Player');
  assert.equal(player.online, false, 'whoever was online at the crash is shown away, not removed');

  const resumed = await Client.connect(server, muSession, { since: mu.lastSeq });
  const hello = await resumed.waitFor((m) => m.type === 'hello');
  assert.equal(hello.data.resumed, true, 'the musician resumes from its last seq after the restart');
  await resumed.waitFor((m) => m.type === 'participant.join', { what: 'own rejoin' });
  const seqs = resumed.events().map((m) => m.seq);
  for (let i = 1; i < seqs.length; i++) assert.equal(seqs[i], seqs[i - 1] + 1);
  assert.equal(seqs[0], mu.lastSeq + 1);

  // The new server takes commands and numbers them after the old ones.
  const r = await back.cmd('song.create', { title: 'After restart' });
  assert.equal(r.type, 'ack');
  assert.ok(r.seq > lastSeq);
  await Promise.all([back.close(), resumed.close()]);
});

test('backup while serving is a complete, openable copy', async () => {
  const server = new Server();
  servers.push(server);
  const room = server.createRoom('Backed up');
  await server.start();
  const md = await Client.connect(server, await join(server, room.codes.md, 'MD'));
  await md.waitFor((m) => m.type === 'snapshot');
  await md.ok('song.create', { title: 'In the backup' });
  const file = pathJoin(server.dataDir, 'backup.db');
  execFileSync(DOWNBEATD, ['backup', file, '--data-dir', server.dataDir]);
  await md.close();
  await server.stop();
  // Serve the backup alone: the song is there.
  const restored = new Server();
  servers.push(restored);
  execFileSync('cp', [file, pathJoin(restored.dataDir, 'downbeat.db')]);
  execFileSync('cp', [pathJoin(server.dataDir, 'jwt.key'), pathJoin(restored.dataDir, 'jwt.key')]);
  await restored.start();
  const codes = JSON.parse(execFileSync(DOWNBEATD, ['room', 'codes', room.room, '--data-dir', restored.dataDir, '--json'], { encoding: 'utf8' }));
  const c = await Client.connect(restored, await join(restored, codes.codes.md, 'MD again'));
  const snap = (await c.waitFor((m) => m.type === 'snapshot')).data;
  assert.ok(snap.songs.some((s) => s.title === 'In the backup'));
  await c.close();
});

test('every frame the server sent matched protocol/schema.json', () => {
  assert.deepEqual(schemaErrors, [], 'frames that do not match their schema (envelope, data, seq on durable events only)');
});
