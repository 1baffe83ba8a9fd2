// Fan-out never waits for a slow phone: a client that stops reading is dropped once its bounded
// send queue overflows; everyone else gets every event; the dropped client resumes with `since`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Server } from './lib/server.mjs';
import { Client, join } from './lib/client.mjs';

let server, room;
before(async () => {
  server = new Server({ args: ['--max-send-queue', '64'] });
  room = server.createRoom('Slow');
  await server.start();
});
after(async () => { await server.stop(); server.cleanup(); });

test('a client that stops reading is dropped; the room carries on; it resumes afterwards', async () => {
  const mdSession = await join(server, room.codes.md, 'MD');
  const mds = [];
  for (let i = 0; i < 5; i++) { mds.push(await Client.connect(server, mdSession)); await mds[i].waitFor((m) => m.type === 'snapshot'); }
  const fast = await Client.connect(server, await join(server, room.codes.musician, 'Fast phone'));
  await fast.waitFor((m) => m.type === 'snapshot');
  const slowSession = await join(server, room.codes.musician, 'Frozen phone');
  const slow = await Client.connect(server, slowSession);
  await slow.waitFor((m) => m.type === 'snapshot');
  const since = slow.lastSeq;
  slow.ws._socket.pause(); // the phone's app froze: nothing is read from the socket any more

  const chart = '[C]La la la '.repeat(2500); // ~30 KB per event
  // Five MD connections, each one command at a time: ~15 MB of events, far more than the
  // frozen phone's socket buffers and its 64-frame queue can hold.
  const sendAll = async (md, k) => {
    const out = [];
    for (let i = 0; i < 100; i++) out.push(await md.cmd('song.create', { title: `S${k}-${i}`, chordpro: chart }));
    return out;
  };
  const replies = (await Promise.all(mds.map(sendAll))).flat();
  assert.ok(replies.every((r) => r.type === 'ack'), 'every command was acknowledged while the slow phone stalled');
  const lastSeq = Math.max(...replies.map((r) => r.seq));
  await fast.waitFor((m) => m.seq === lastSeq, { timeout: 20000, what: 'last event at the fast phone' });
  const created = fast.events().filter((m) => m.type === 'song.create').length;
  assert.equal(created, 500, 'the fast phone got every event');

  const leave = await mds[0].waitFor((m) => m.type === 'participant.leave' && m.data.participant === slow.messages[0].data.participant.id,
    { timeout: 20000, what: 'the frozen phone dropped' });
  assert.equal(leave.data.reason, 'offline');
  const metrics = await (await fetch(`${server.base}/metrics`)).text();
  assert.match(metrics, /downbeat_slow_consumers_dropped_total 1\b/);

  slow.ws._socket.resume();
  await slow.closed;
  // 500 missed events would overflow its queue again, so it gets one snapshot frame instead.
  const back = await Client.connect(server, slowSession, { since });
  const hello = await back.waitFor((m) => m.type === 'hello');
  assert.equal(hello.data.resumed, false);
  const snap = await back.waitFor((m) => m.type === 'snapshot', { timeout: 20000, what: 'snapshot after the drop' });
  assert.ok(snap.data.seq >= lastSeq);
  assert.equal(snap.data.songs.length, 500, 'every song is in the snapshot');
  const { event } = await mds[0].ok('cue', { text: 'Back in' }).then(() => back.waitFor((m) => m.type === 'cue')).then((e) => ({ event: e }));
  assert.equal(event.data.cue.text, 'Back in', 'and it is live again');
  await Promise.all([...mds.map((m) => m.close()), fast.close(), back.close()]);
});
