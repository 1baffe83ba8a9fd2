// Bad input gets the documented error and loses nothing: the server stays up, the room's
// state is unchanged and other clients notice nothing. Frames come from protocol/vectors.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';
import { Server, httpJson } from './lib/server.mjs';
import { Client, join, checkEveryFrame, schemaErrors } from './lib/client.mjs';

// Every frame any client of this file receives is checked against protocol/schema.json (last test).
await checkEveryFrame();
import { serverKey, sign, decode } from './lib/jwt.mjs';

const vectors = JSON.parse(readFileSync(new URL('../../protocol/vectors/frames.json', import.meta.url), 'utf8'));

let server, room, clients = {}, observer;
before(async () => {
  server = new Server();
  room = server.createRoom('Bad input');
  await server.start();
  for (const role of ['md', 'musician', 'tech', 'viewer']) {
    clients[role] = await Client.connect(server, await join(server, room.codes[role], `${role} person`));
    await clients[role].waitFor((m) => m.type === 'snapshot');
  }
  observer = await Client.connect(server, await join(server, room.codes.musician, 'Observer'));
  await observer.waitFor((m) => m.type === 'snapshot');
  // Seed some state the bad frames must not disturb.
  await clients.md.ok('slot.create', { name: 'Drums' });
  await clients.md.ok('song.create', { title: 'Seed song' });
  // Everyone has seen everything before the bad frames start.
  for (const c of [...Object.values(clients), observer]) await c.waitFor((m) => m.type === 'song.create');
});
after(async () => { await server.stop(); server.cleanup(); });

async function roomSnapshot(c) {
  const from = c.messages.length;
  await c.ok('resync.request', {});
  return (await c.waitFor((m) => m.type === 'snapshot', { from })).data;
}

test('every invalid vector gets its documented error; state unchanged; others notice nothing', async () => {
  const before = await roomSnapshot(clients.md);
  const observed = observer.messages.length;
  for (const v of vectors.invalid) {
    const c = clients[v.role];
    const from = c.messages.length;
    c.sendRaw(v.frame);
    const reply = await c.waitFor((m) => m.type === 'error' || m.type === 'ack', { from, what: `reply to "${v.name}"` });
    assert.equal(reply.type, 'error', v.name);
    assert.equal(reply.code, v.expect.code, `${v.name}: ${reply.message}`);
    if ('re' in v.expect) assert.equal(reply.re, v.expect.re, `${v.name}: re`);
    if (v.expect.message_contains) assert.ok(reply.message.includes(v.expect.message_contains), `${v.name}: message "${reply.message}"`);
    assert.ok(reply.message.length > 10, `${v.name}: the message explains the problem`);
    assert.equal(c.ws.readyState, WebSocket.OPEN, `${v.name}: the connection stays up`);
  }
  const afterSnap = await roomSnapshot(clients.md);
  assert.deepEqual(afterSnap, before, 'the room is unchanged');
  assert.deepEqual(observer.messages.slice(observed), [], 'other clients noticed nothing');
});

test('every valid vector is accepted', async () => {
  for (const v of vectors.valid) {
    const c = clients[v.role];
    const from = c.messages.length;
    c.sendRaw(v.frame);
    const reply = await c.waitFor((m) => m.type === 'error' || m.type === 'ack', { from, what: `reply to ${v.name}` });
    assert.equal(reply.type, 'ack', `${v.name}: ${reply.message}`);
    assert.equal(typeof reply.seq === 'number', v.expect.durable, `${v.name}: seq only on durable commands`);
  }
});

test('a binary frame gets an error and the connection stays', async () => {
  const c = clients.musician;
  const from = c.messages.length;
  c.ws.send(Buffer.from([1, 2, 3]));
  const r = await c.waitFor((m) => m.type === 'error', { from });
  assert.equal(r.code, 'bad_request');
  assert.match(r.message, /text/);
});

test('an oversized frame closes that connection with 1009; the server and the room carry on', async () => {
  const extra = await Client.connect(server, clients.md.session); // a second connection of the MD: no presence change
  await extra.waitFor((m) => m.type === 'snapshot');
  const observed = observer.messages.length;
  extra.sendRaw(JSON.stringify({ type: 'cue', id: 'big', data: { text: 'x'.repeat(70 * 1024) } }));
  const closed = await extra.closed;
  assert.equal(closed.code, 1009);
  const { event } = await clients.md.ok('cue', { text: 'Still here' });
  assert.equal(event.data.cue.text, 'Still here', 'cues are durable: the ack has a seq and the event follows');
  await observer.waitFor((m) => m.type === 'cue' && m.data.cue.text === 'Still here', { from: observed });
  assert.deepEqual(observer.messages.slice(observed).map((m) => m.type), ['cue'], 'the observer only saw the cue');
});

test('flooding gets rate_limited errors, then the connection is closed', async () => {
  const flood = await Client.connect(server, clients.viewer.session);
  await flood.waitFor((m) => m.type === 'snapshot');
  // Keep flooding (bounded: at most 20 000 frames) until the server hangs up, however fast it is.
  let open = true;
  flood.closed.then(() => { open = false; });
  for (let batch = 0; batch < 100 && open; batch++) {
    for (let i = 0; i < 200 && open; i++) flood.sendRaw(JSON.stringify({ type: 'time.ping', id: `f${batch}-${i}`, data: { t0: i } }));
    await new Promise((r) => setTimeout(r, 20));
  }
  const limited = await flood.waitFor((m) => m.type === 'error' && m.code === 'rate_limited');
  assert.match(limited.message, /slow down/);
  assert.match(limited.re ?? '', /^f\d+-\d+$/, 'the refusal names the refused command (re), so a client can tell which one failed');
  const closed = await flood.closed;
  assert.equal(closed.code, 1008);
  assert.match(closed.reason, /flooding/);
  const r = await clients.viewer.cmd('resync.request', {});
  assert.equal(r.type, 'ack', 'the same participant\'s other connection is unaffected');
});

test('handshake: bad tokens get 401 and no upgrade', async () => {
  const key = serverKey(server.dataDir);
  const good = decode(clients.musician.session.token);
  const now = Math.floor(Date.now() / 1000);
  const cases = {
    'no token': '',
    garbage: 'not-a-jwt',
    expired: sign({ alg: 'HS256', typ: 'JWT', kid: key.kid }, { ...good, iat: now - 7200, nbf: now - 7200, exp: now - 3600 }, key.secret),
    forged: sign({ alg: 'HS256', typ: 'JWT', kid: key.kid }, { ...good, role: 'md' }, Buffer.alloc(32, 7)),
    'alg none': sign({ alg: 'none', typ: 'JWT' }, { ...good, role: 'md' }, null),
    'wrong audience': sign({ alg: 'HS256', typ: 'JWT', kid: key.kid }, { ...good, aud: 'another-app' }, key.secret),
    'wrong room': sign({ alg: 'HS256', typ: 'JWT', kid: key.kid }, { ...good, room: 'rnotaroom' }, key.secret),
  };
  for (const [name, token] of Object.entries(cases)) {
    await assert.rejects(Client.connect(server, { token }), (e) => {
      assert.equal(e.status, 401, name);
      assert.equal(e.body.error.code, 'unauthorized', name);
      assert.ok(!e.body.error.message.includes(token) || token === '', `${name}: the token is not echoed`);
      return true;
    }, name);
  }
  // The correctly signed, current token still works.
  const ok = sign({ alg: 'HS256', typ: 'JWT', kid: key.kid }, good, key.secret);
  const c = await Client.connect(server, { token: ok });
  await c.waitFor((m) => m.type === 'snapshot');
  await c.close();
});

test('handshake: a foreign Origin gets 403; same origin is fine', async () => {
  await assert.rejects(Client.connect(server, clients.musician.session, { origin: 'http://evil.example' }), (e) => e.status === 403);
  const c = await Client.connect(server, clients.musician.session, { origin: server.base });
  await c.waitFor((m) => m.type === 'snapshot');
  await c.close();
});

test('join: wrong code is 401; a burst of wrong codes from one address is 429 with Retry-After', async () => {
  const bad = await httpJson(server.base, '/auth/exchange', { method: 'POST', body: { code: 'WRONGCODE1', name: 'X', device_id: 'device-bad-1' } });
  assert.equal(bad.status, 401);
  assert.equal(bad.json.error.code, 'unauthorized');
  assert.match(bad.json.error.message, /ask the MD/);
  let limited;
  for (let i = 0; i < 30 && !limited; i++) {
    const r = await httpJson(server.base, '/auth/exchange', { method: 'POST', body: { code: `WRONG${i}`, name: 'X', device_id: 'device-bad-1' } });
    if (r.status === 429) limited = r;
    else assert.equal(r.status, 401);
  }
  assert.ok(limited, 'a burst of wrong codes is rate limited');
  assert.equal(limited.json.error.code, 'rate_limited');
  assert.ok(Number(limited.headers.get('retry-after')) >= 1, 'Retry-After says how long to wait');
  // Even the right code waits now: the limit is per address, so guessing cannot continue.
  const right = await httpJson(server.base, '/auth/exchange', { method: 'POST', body: { code: room.codes.musician, name: 'Late', device_id: 'device-bad-2' } });
  assert.equal(right.status, 429);
  // Connected clients are untouched.
  assert.equal((await clients.md.cmd('resync.request', {})).type, 'ack');
});

test('HTTP: bad bodies get JSON errors with the right status', async () => {
  const notJson = await httpJson(server.base, '/auth/refresh', { method: 'POST', body: 'nope{' });
  assert.equal(notJson.status, 400);
  assert.equal(notJson.json.error.code, 'bad_request');
  const big = await httpJson(server.base, '/auth/refresh', { method: 'POST', body: JSON.stringify({ refresh_token: 'x'.repeat(20000) }) });
  assert.equal(big.status, 413);
  assert.equal(big.json.error.code, 'too_large');
  const get = await httpJson(server.base, '/auth/exchange');
  assert.equal(get.status, 400);
  const nope = await httpJson(server.base, '/no/such/thing.json');
  assert.equal(nope.status, 404);
  assert.equal(nope.json.error.code, 'not_found');
  const health = await httpJson(server.base, '/healthz');
  assert.equal(health.status, 200, 'the server is still up after all of it');
});

test('every frame the server sent matched protocol/schema.json', () => {
  assert.deepEqual(schemaErrors, [], 'frames that do not match their schema (envelope, data, seq on durable events only)');
});
