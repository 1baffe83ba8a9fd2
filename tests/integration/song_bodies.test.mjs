// A big library joins in one small frame: the snapshot and the song events carry each song's
// metadata (with its body revision and size), the charts come on demand from
// GET /api/room/songs/<id> (bearer token, this room only, ETag = body revision, 304 on a match),
// and --max-snapshot-bytes refuses a change that would make every join heavy. Figures (snapshot
// bytes against the charts' bytes) go to the test output.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Server, httpJson } from './lib/server.mjs';
import { Client, join, songBody, checkEveryFrame, schemaErrors } from './lib/client.mjs';

// Every frame any client of this file receives is checked against protocol/schema.json (last test).
await checkEveryFrame();

const SNAPSHOT_LIMIT = 256 * 1024;
let server, roomA, roomB, mdA, phoneA, mdB;
const chart = (i) => `{title: Song ${i}}\n{start_of_verse: Verse 1}\n` + `[C]La la [G]la [Am]la ${i}\n`.repeat(1200) + '{end_of_verse}\n';

before(async () => {
  server = new Server({ args: ['--max-snapshot-bytes', String(SNAPSHOT_LIMIT)] });
  roomA = server.createRoom('Big library');
  roomB = server.createRoom('Other band');
  await server.start();
  mdA = await join(server, roomA.codes.md, 'MD');
  phoneA = await join(server, roomA.codes.musician, 'Phone');
  mdB = await join(server, roomB.codes.md, 'Other MD');
});
after(async () => { await server.stop(); server.cleanup(); });

test('200 songs with 30 KB charts: the join snapshot stays small, every chart comes by the endpoint', async () => {
  const mds = [];
  for (let i = 0; i < 4; i++) { mds.push(await Client.connect(server, mdA)); await mds[i].waitFor((m) => m.type === 'snapshot'); }
  const replies = (await Promise.all(mds.map(async (md, k) => {
    const out = [];
    for (let i = 0; i < 50; i++) out.push(await md.cmd('song.create', { title: `Song ${k * 50 + i}`, key: 'C', chordpro: chart(k * 50 + i) }));
    return out;
  }))).flat();
  assert.ok(replies.every((r) => r.type === 'ack'), JSON.stringify(replies.find((r) => r.type !== 'ack')));
  const last = Math.max(...replies.map((r) => r.seq));
  await mds[0].waitFor((m) => m.seq === last, { what: 'the last song.create' });
  const created = mds[0].events().filter((m) => m.type === 'song.create');
  assert.equal(created.length, 200);
  assert.ok(created.every((e) => !('chordpro' in e.data.song) && e.data.song.body_rev === e.seq &&
    e.data.song.body_bytes === Buffer.byteLength(chart(Number(e.data.song.title.split(' ')[1])))),
    'each song.create carries metadata, its body revision (= its seq) and size, not the chart');
  assert.ok(Math.max(...created.map((e) => JSON.stringify(e).length)) < 400, 'a song event is a few hundred bytes');

  const phone = await Client.connect(server, phoneA);
  const snap = await phone.waitFor((m) => m.type === 'snapshot', { timeout: 20000 });
  const frameBytes = JSON.stringify(snap).length;
  const chartBytes = snap.data.songs.reduce((n, s) => n + s.body_bytes, 0);
  process.stdout.write(`# snapshot ${(frameBytes / 1024).toFixed(0)} KiB for 200 songs whose charts are ${(chartBytes / 2 ** 20).toFixed(1)} MiB\n`);
  assert.equal(snap.data.songs.length, 200);
  assert.ok(chartBytes > 5 * 2 ** 20, 'the charts add up to megabytes');
  assert.ok(frameBytes < 64 * 1024, `the join snapshot is ${frameBytes} bytes: under 64 KiB`);
  assert.ok(snap.data.songs.every((s) => !('chordpro' in s)), 'no chart in the snapshot');

  // Every chart comes back, byte for byte, with the phone's token.
  const sample = [snap.data.songs[0], snap.data.songs[137], snap.data.songs[199]];
  for (const s of sample) {
    const r = await songBody(server, phone.session.token, s.id);
    assert.equal(r.status, 200);
    assert.equal(r.json.chordpro, chart(Number(s.title.split(' ')[1])));
    assert.equal(r.json.body_rev, s.body_rev);
    assert.equal(r.json.body_bytes, s.body_bytes);
    assert.equal(r.etag, `"${s.id}.${s.body_rev}"`);
    assert.match(r.cacheControl, /no-cache/, 'browsers keep it but check the revision each time');
  }
  const metrics = (await httpJson(server.base, '/metrics')).text;
  assert.match(metrics, /downbeat_snapshot_bytes\{room="[^"]+"\} \d+/);
  assert.match(metrics, /downbeat_snapshot_library_bytes\{room="[^"]+"\} \d+/);
  await Promise.all([...mds.map((m) => m.close()), phone.close()]);
});

test('ETag and 304; a new chart is a new revision; a title change is not; other rooms and strangers get nothing', async () => {
  const md = await Client.connect(server, mdA);
  const snap = await md.waitFor((m) => m.type === 'snapshot');
  const song = snap.data.songs[5];
  const first = await songBody(server, phoneA.token, song.id);
  assert.equal(first.status, 200);

  const same = await songBody(server, phoneA.token, song.id, { 'if-none-match': first.etag });
  assert.equal(same.status, 304, 'a client that holds this revision gets no body');
  assert.equal(same.bytes, 0);

  const renamed = await md.ok('song.update', { id: song.id, title: 'Renamed' });
  assert.equal(renamed.event.data.song.body_rev, song.body_rev, 'a title change keeps the chart revision');
  assert.equal((await songBody(server, phoneA.token, song.id, { 'if-none-match': first.etag })).status, 304);

  const edited = await md.ok('song.update', { id: song.id, chordpro: '{soc}\n[D]A new [A]chart\n{eoc}' });
  const rev = edited.event.data.song.body_rev;
  assert.equal(rev, edited.reply.seq, 'a new chart: the revision is the seq of its event');
  assert.ok(!('chordpro' in edited.event.data.song));
  const fresh = await songBody(server, phoneA.token, song.id, { 'if-none-match': first.etag });
  assert.equal(fresh.status, 200, 'the old revision no longer matches');
  assert.equal(fresh.json.chordpro, '{soc}\n[D]A new [A]chart\n{eoc}');
  assert.equal(fresh.etag, `"${song.id}.${rev}"`);

  // Another room's token reads its own room only: this song id is not in its library.
  const other = await songBody(server, mdB.token, song.id);
  assert.equal(other.status, 404);
  assert.match(other.json.error.message, new RegExp(`no song ${song.id} in this room's library`));
  assert.equal(other.json.chordpro, undefined);
  const anon = await songBody(server, null, song.id);
  assert.equal(anon.status, 401);
  assert.equal(anon.json.error.code, 'unauthorized');
  const forged = await songBody(server, phoneA.token.slice(0, -3) + 'AAA', song.id);
  assert.equal(forged.status, 401);
  const unknown = await songBody(server, phoneA.token, 'sg999999');
  assert.equal(unknown.status, 404);
  assert.match(unknown.json.error.message, /no song sg999999 in this room's library/);
  const post = await fetch(`${server.base}/api/room/songs/${song.id}`, { method: 'POST', headers: { authorization: `Bearer ${phoneA.token}` } });
  assert.equal(post.status, 400);
  assert.match((await post.json()).error.message, /use GET/);

  const metrics = (await httpJson(server.base, '/metrics')).text;
  assert.match(metrics, /downbeat_song_bodies_total\{result="not_modified"\} [2-9]/);
  assert.match(metrics, /downbeat_song_bodies_total\{result="not_found"\} [1-9]/);
  await md.close();
});

test('--max-snapshot-bytes: a change that would make every join heavier than the limit is refused and says what to do', async () => {
  const md = await Client.connect(server, mdB);
  await md.waitFor((m) => m.type === 'snapshot');
  const { event } = await md.ok('song.create', { title: 'One' });
  const big = (n) => ({ title: `Set ${n}`, items: Array.from({ length: 100 }, (_, j) => ({ song: event.data.song.id, notes: `${n}-${j} `.padEnd(490, 'n') })) });
  const refused = [];
  for (let n = 0; n < 8 && !refused.length; n++) {
    const r = await md.cmd('setlist.update', big(n));
    if (r.type === 'error') refused.push(r);
  }
  assert.equal(refused.length, 1, 'the ~55 KB setlists stop fitting under 256 KiB');
  assert.equal(refused[0].code, 'conflict');
  assert.match(refused[0].message, /over the limit of 256 KiB: delete songs or setlists you no longer use, or start the server with a larger --max-snapshot-bytes/);
  const viewer = await Client.connect(server, await join(server, roomB.codes.viewer, 'Screen'));
  const snap = await viewer.waitFor((m) => m.type === 'snapshot');
  assert.ok(JSON.stringify(snap).length <= SNAPSHOT_LIMIT + 16 * 1024, 'the join snapshot stays near the limit');
  await Promise.all([md.close(), viewer.close()]);
});

test('every frame the server sent matched protocol/schema.json', () => {
  assert.deepEqual(schemaErrors, [], 'frames that do not match their schema (envelope, data, seq on durable events only)');
});
