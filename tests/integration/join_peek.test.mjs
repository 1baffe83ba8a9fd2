// POST /auth/peek (issue 8): the join page says which room and role a code joins before anyone types
// a name. Peek issues nothing and stores nothing, and it is no faster way to guess codes: a wrong
// code costs the same per-address failed-guess budget as a wrong /auth/exchange.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from './lib/net.mjs';
import { Server } from './lib/server.mjs';

let server, room;
before(async () => {
  server = new Server();
  room = server.createRoom('Rehearsal');
  await server.start();
});
after(async () => { await server.stop(); server.cleanup(); });

// Each test uses its own loopback address, so one test's wrong guesses never spend another's budget.
const postFrom = (localAddress, path, body) => request(server.port, path, { method: 'POST', body, localAddress });

let n = 0;
const peek = (address, code) => postFrom(address, '/auth/peek', { code });
const exchange = (address, code) => postFrom(address, '/auth/exchange', { code, name: `Guest ${++n}`, device_id: `peek-device-${n}-000` });

test('a right code names the room and the role, and issues nothing', async () => {
  for (const [role, code] of Object.entries(room.codes)) {
    const r = await peek('127.0.0.20', code);
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.deepEqual(r.json, { room: { id: room.room, name: 'Rehearsal' }, role });
  }
  // People type codes from a screen: case, spaces and dashes are ignored as exchange ignores them.
  const typed = await peek('127.0.0.20', ` ${room.codes.musician.toLowerCase().replace(/^(.{3})/, '$1-')} `);
  assert.equal(typed.status, 200, JSON.stringify(typed.json));
  assert.equal(typed.json.role, 'musician');
});

test('a wrong code is a 401 with what to do, and a request without a code says what to send', async () => {
  const r = await peek('127.0.0.21', 'NOTACODE42');
  assert.equal(r.status, 401);
  assert.equal(r.json.error.code, 'unauthorized');
  assert.match(r.json.error.message, /join code not recognised: check it, or ask the MD for a new QR code/);
  const ex = await exchange('127.0.0.21', 'NOTACODE43');
  assert.equal(ex.status, 401);
  assert.equal(r.json.error.message, ex.json.error.message, 'peek and exchange say the same about a wrong code');
  const none = await postFrom('127.0.0.21', '/auth/peek', {});
  assert.equal(none.status, 400);
  assert.match(none.json.error.message, /code is required/);
  const notJson = await postFrom('127.0.0.21', '/auth/peek', 'code=ABC');
  assert.equal(notJson.status, 400);
});

test('peek and exchange spend one failed-guess budget: mixed wrong guesses lock the address out of both', async () => {
  const addr = '127.0.0.22';
  // Right codes cost nothing, however often they are peeked.
  for (let i = 0; i < 15; i++) assert.equal((await peek(addr, room.codes.musician)).status, 200, `right peek ${i + 1}`);
  const seen = [];
  for (let i = 0; i < 10; i++) seen.push(await (i % 2 ? exchange : peek)(addr, `WRONG${i}PEEK`));
  assert.deepEqual(seen.map((r) => r.status), Array(10).fill(401));
  assert.match(seen[8].json.error.message, /1 more wrong codes from this address before a wait/, 'a peek counts down like an exchange');
  assert.match(seen[9].json.error.message, /0 more wrong codes from this address before a wait/);
  for (const locked of [await peek(addr, 'WRONGXPEEK'), await exchange(addr, 'WRONGYPEEK')]) {
    assert.equal(locked.status, 429);
    assert.equal(locked.json.error.code, 'rate_limited');
    const wait = Number(locked.headers['retry-after']);
    assert.ok(wait >= 1 && wait <= 5, `Retry-After says how long: ${wait}`);
    assert.match(locked.json.error.message, /too many wrong join codes from your address: wait \d+ s/);
  }
  // A locked address cannot use peek to learn which guess was right.
  const rightButLocked = await peek(addr, room.codes.musician);
  assert.equal(rightButLocked.status, 429);
  assert.equal(rightButLocked.json.room, undefined);
  // Another address's right code is not blocked by these guesses.
  const other = await peek('127.0.0.23', room.codes.musician);
  assert.equal(other.status, 200, JSON.stringify(other.json));
  assert.equal(other.json.room.name, 'Rehearsal');
  assert.equal((await exchange('127.0.0.23', room.codes.musician)).status, 200);
});

test('peek wants POST', async () => {
  const r = await fetch(`${server.base}/auth/peek`);
  assert.equal(r.status, 400);
  assert.match((await r.json()).error.message, /use POST/);
});
