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

  // Song charts are not in the events (they come on demand), so the big events here are setlists:
  // 100 items with 490-character notes, ~55 KB per setlist.update.
  const { event: songEv } = await mds[0].ok('song.create', { title: 'Song' });
  const song = songEv.data.song.id;
  const setlist = (k, i) => ({ title: `Set ${k}`, items: Array.from({ length: 100 }, (_, j) => ({ song, notes: `${k}-${i}-${j} `.padEnd(490, 'n') })) });
  const ids = [];
  for (let k = 0; k < 5; k++) ids.push((await mds[k].ok('setlist.update', setlist(k, 0))).event.data.setlist.id);
  // Five MD connections, each one command at a time: ~27 MB of events, far more than the
  // frozen phone's socket buffers and its 64-frame queue can hold.
  const sendAll = async (md, k) => {
    const out = [];
    for (let i = 1; i <= 100; i++) out.push(await md.cmd('setlist.update', { id: ids[k], ...setlist(k, i) }));
    return out;
  };
  const replies = (await Promise.all(mds.map(sendAll))).flat();
  assert.ok(replies.every((r) => r.type === 'ack'), 'every command was acknowledged while the slow phone stalled');
  const lastSeq = Math.max(...replies.map((r) => r.seq));
  await fast.waitFor((m) => m.seq === lastSeq, { timeout: 20000, what: 'last event at the fast phone' });
  const updated = fast.events().filter((m) => m.type === 'setlist.update').length;
  assert.equal(updated, 505, 'the fast phone got every event');

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
  assert.equal(snap.data.setlists.length, 5, 'every setlist is in the snapshot');
  assert.ok(snap.data.setlists.every((x) => x.items[0].notes.includes('-100-0 ')), 'each at its last update');
  const { event } = await mds[0].ok('cue', { text: 'Back in' }).then(() => back.waitFor((m) => m.type === 'cue')).then((e) => ({ event: e }));
  assert.equal(event.data.cue.text, 'Back in', 'and it is live again');
  await Promise.all([...mds.map((m) => m.close()), fast.close(), back.close()]);
});
