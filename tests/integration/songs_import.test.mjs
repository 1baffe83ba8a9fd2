// Songs in and out against the real server: upload files in the console's way (POST, MD token),
// every client sees the new songs; a bad file is refused by name and changes nothing; a setlist
// exports as one ChordPro bundle that imports back as the same songs; the CLI imports into a data
// dir that `serve` then shows, and refuses to write behind a running server.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Server, DOWNBEATD } from './lib/server.mjs';
import { Client, join, songBody, checkEveryFrame, schemaErrors } from './lib/client.mjs';

// Every frame any client of this file receives is checked against protocol/schema.json (last test).
await checkEveryFrame();

const DATA = new URL('../data/songs/', import.meta.url).pathname;
const file = (name) => readFileSync(DATA + name);

let server, room, md, band;
before(async () => {
  server = new Server({ args: ['--max-songs', '6'] });
  room = server.createRoom('Import');
  await server.start();
  md = await join(server, room.codes.md, 'Maria (MD)');
  band = await Client.connect(server, await join(server, room.codes.musician, 'Sam'));
  await band.waitFor((m) => m.type === 'snapshot', { what: 'snapshot' });
});
after(async () => { await server.stop(); server.cleanup(); });

async function upload(name, bytes, token = md.token) {
  const res = await fetch(`${server.base}/api/room/songs/import?name=${encodeURIComponent(name)}`, {
    method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' }, body: bytes,
  });
  const text = await res.text();
  return { status: res.status, json: JSON.parse(text) };
}

async function librarySnapshot() {
  const c = await Client.connect(server, await join(server, room.codes.viewer, 'Screen'));
  const snap = await c.waitFor((m) => m.type === 'snapshot', { what: 'snapshot' });
  await c.close();
  return snap.data;
}

test('three files uploaded, one bad: two songs reach every client, the bad one is named with its problem, nothing else changes', async () => {
  const before = await librarySnapshot();
  const from = band.messages.length;

  const good1 = await upload('amazing_grace.xml', file('amazing_grace.xml'));
  assert.equal(good1.status, 200, JSON.stringify(good1.json));
  assert.equal(good1.json.song.title, 'Amazing Grace');
  assert.equal(good1.json.song.key, 'G');
  assert.equal(good1.json.song.bpm, 72);
  assert.deepEqual(good1.json.song.meter, { beats: 3, unit: 4 });
  assert.match(good1.json.song.chordpro, /A\[G\]mazing \[G7\]grace/);
  assert.equal(good1.json.format, 'OpenLyrics');
  assert.ok(good1.json.warnings.some((w) => w.line === 23 && /unknown element <highlight>/.test(w.message)), JSON.stringify(good1.json.warnings));

  const bad = await upload('latin1.txt', file('latin1.txt'));
  assert.equal(bad.status, 400);
  assert.equal(bad.json.error.code, 'bad_request');
  assert.match(bad.json.error.message, /^latin1\.txt line 4 is not UTF-8 text .*save it as UTF-8/);

  const good2 = await upload('way_maker.txt', file('way_maker.txt'));
  assert.equal(good2.status, 200, JSON.stringify(good2.json));
  assert.equal(good2.json.song.title, 'Way Maker');

  // The musician's phone got exactly the two song.create events, in order, with durable seqs.
  await band.waitFor((m) => m.type === 'song.create' && m.data.song.title === 'Way Maker', { from, what: 'second song.create' });
  const created = band.messages.slice(from).filter((m) => m.type === 'song.create');
  assert.deepEqual(created.map((m) => m.data.song.title), ['Amazing Grace', 'Way Maker']);
  assert.ok(created.every((m) => typeof m.seq === 'number'));
  assert.deepEqual(created.map((m) => m.data.song.id), [good1.json.song.id, good2.json.song.id]);

  const after = await librarySnapshot();
  assert.equal(after.songs.length, before.songs.length + 2);
  assert.ok(!after.songs.some((s) => /Coffee/.test(s.title)), 'nothing of the bad file is in the library');
});

test('import needs the MD; a file over the limit and a full library are refused with a message saying so', async () => {
  const musician = await join(server, room.codes.musician, 'Kim');
  const r = await upload('amazing_grace.cho', file('amazing_grace.cho'), musician.token);
  assert.equal(r.status, 403);
  assert.match(r.json.error.message, /only the MD may import songs/);

  const big = await upload('huge.cho', Buffer.alloc(300 * 1024, 'a'));
  assert.equal(big.status, 413);
  assert.match(big.json.error.message, /^file huge\.cho is 300 KiB; the limit is 256 KiB per file/);

  const chart = '{title: Long}\n' + '[C]la la la la la la la la la la la la\n'.repeat(1000);
  const long = await upload('long.cho', Buffer.from(chart));
  assert.equal(long.status, 413);
  assert.match(long.json.error.message, /^file long\.cho is \d+ KiB; the limit is 32 KiB \(32768 bytes\) per song chart/);

  // --max-songs 6: the library has 2; a bundle of 5 does not fit, and none of it goes in.
  const bundle = Array.from({ length: 5 }, (_, i) => `{title: Song ${i}}\n[C]la`).join('\n{new_song}\n');
  const before = await librarySnapshot();
  const full = await upload('five.cho', Buffer.from(bundle));
  assert.equal(full.status, 409);
  assert.match(full.json.error.message, /five\.cho: the song library is full \(\d+ of 6 songs, and the file has 5\)/);
  assert.equal((await librarySnapshot()).songs.length, before.songs.length);
});

test('a setlist exports as one ChordPro bundle (item key, tempo, notes) that imports back as the same songs', async () => {
  const mdc = await Client.connect(server, md);
  const snap = await mdc.waitFor((m) => m.type === 'snapshot', { what: 'snapshot' });
  const [grace, way] = ['Amazing Grace', 'Way Maker'].map((t) => snap.data.songs.find((s) => s.title === t));
  const { event } = await mdc.ok('setlist.update', {
    title: 'Sunday 9am',
    items: [{ song: grace.id, key: 'A', bpm: 76, notes: 'Capo 2 for guitars' }, { song: way.id }],
  });
  const setlist = event.data.setlist.id;

  const res = await fetch(`${server.base}/api/room/setlists/${setlist}/export.chordpro`, { headers: { authorization: `Bearer ${band.session.token}` } });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-disposition'), /^attachment; filename="Sunday 9am\.chordpro"/);
  const text = await res.text();
  assert.match(text, /^\{title: Amazing Grace\}\n\{artist: John Newton\}\n\{key: A\}\n\{tempo: 76\}\n\{time: 3\/4\}\n\{comment: Capo 2 for guitars\}\n/);
  assert.match(text, /\n\{new_song\}\n\{title: Way Maker\}\n/);

  const none = await fetch(`${server.base}/api/room/setlists/st999/export.chordpro`, { headers: { authorization: `Bearer ${band.session.token}` } });
  assert.equal(none.status, 404);
  assert.match((await none.json()).error.message, /no setlist st999/);
  const anon = await fetch(`${server.base}/api/room/setlists/${setlist}/export.chordpro`);
  assert.equal(anon.status, 401);

  // Re-import (the library has room for two more): the same songs, with the item's key and tempo.
  const again = await upload('Sunday 9am.chordpro', Buffer.from(text));
  assert.equal(again.status, 200, JSON.stringify(again.json));
  assert.equal(again.json.songs.length, 2);
  const [g2, w2] = again.json.songs;
  assert.deepEqual([g2.title, g2.artist, g2.key, g2.bpm, g2.meter], ['Amazing Grace', 'John Newton', 'A', 76, { beats: 3, unit: 4 }]);
  assert.deepEqual([w2.title, w2.key, w2.bpm], [way.title, way.key, way.bpm]);
  const body = (c) => c.replace(/^(\{(title|artist|key|tempo|time|comment): [^}]*\}\n)*\n?/, '');
  // The snapshot carries metadata only: the charts come by GET /api/room/songs/<id>.
  const chart = async (song) => (await songBody(server, band.session.token, song.id)).json.chordpro;
  assert.equal(body(g2.chordpro), body(await chart(grace)));
  assert.equal(body(w2.chordpro), body(await chart(way)));
  await mdc.close();
});

test('CLI: song import into a data dir (one bad file among three), then serve shows the songs; refused while a server runs', async () => {
  const cli = new Server();
  const r = cli.createRoom('Offline');
  const run = (...args) => spawnSync(DOWNBEATD, ['song', 'import', ...args, '--room', r.room, '--data-dir', cli.dataDir], { encoding: 'utf8' });
  const out = run(DATA + 'amazing_grace.cho', DATA + 'latin1.txt', DATA + 'blessed_be_opensong');
  assert.equal(out.status, 1, out.stdout + out.stderr);
  assert.match(out.stdout, /amazing_grace\.cho: imported "Amazing Grace" as sg\d+ \(ChordPro\)/);
  assert.match(out.stdout, /blessed_be_opensong: imported "Blessed Be Your Name" as sg\d+ \(OpenSong\)/);
  assert.match(out.stderr, /latin1\.txt line 4 is not UTF-8 text/);
  assert.match(out.stderr, /1 of 3 files were not imported/);

  await cli.start();
  try {
    const c = await Client.connect(cli, await join(cli, r.codes.musician, 'Ana'));
    const snap = await c.waitFor((m) => m.type === 'snapshot', { what: 'snapshot' });
    assert.deepEqual(snap.data.songs.map((s) => s.title).sort(), ['Amazing Grace', 'Blessed Be Your Name']);
    const grace = snap.data.songs.find((s) => s.title === 'Amazing Grace');
    assert.equal(grace.chordpro, undefined, 'the snapshot carries no chart');
    assert.equal((await songBody(cli, c.session.token, grace.id)).json.chordpro, readFileSync(DATA + 'amazing_grace.cho', 'utf8'));
    // The server keeps working on top of what the CLI wrote (the seq goes on).
    const md2 = await Client.connect(cli, await join(cli, r.codes.md, 'Lee'));
    await md2.waitFor((m) => m.type === 'snapshot', { what: 'snapshot' });
    const { reply } = await md2.ok('song.create', { title: 'Typed in' });
    assert.ok(reply.seq > snap.data.seq, 'the seq goes on from what the CLI wrote');

    // While serving, the CLI refuses and changes nothing.
    const busy = run(DATA + 'way_maker.txt');
    assert.equal(busy.status, 1);
    assert.match(busy.stderr, /the server is running on --data-dir .*: import in the MD console/);
    const later = await Client.connect(cli, await join(cli, r.codes.viewer, 'TV'));
    const s2 = await later.waitFor((m) => m.type === 'snapshot', { what: 'snapshot' });
    assert.ok(!s2.data.songs.some((s) => s.title === 'Way Maker'));

    // setlist export works beside a running server (it only reads).
    const { event } = await md2.ok('setlist.update', { title: 'Set', items: [{ song: grace.id }] });
    const bundle = execFileSync(DOWNBEATD, ['setlist', 'export', '--room', r.room, '--setlist', event.data.setlist.id, '--data-dir', cli.dataDir], { encoding: 'utf8' });
    assert.match(bundle, /^\{title: Amazing Grace\}\n\{artist: John Newton\}\n\{key: G\}\n\{tempo: 72\}\n\{time: 3\/4\}\n\n\{start_of_verse: Verse 1\}/);
    await Promise.all([c.close(), md2.close(), later.close()]);
  } finally {
    await cli.stop();
    cli.cleanup();
  }
});

test('every frame the server sent matched protocol/schema.json', () => {
  assert.deepEqual(schemaErrors, [], 'frames that do not match their schema (envelope, data, seq on durable events only)');
});
