// /metrics passes Prometheus's own linter and has the series an operator's dashboard needs,
// from the first scrape on.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { Server, httpJson } from './lib/server.mjs';
import { Client, join, checkEveryFrame, schemaErrors } from './lib/client.mjs';

// Every frame any client of this file receives is checked against protocol/schema.json (last test).
await checkEveryFrame();

let server, room;
before(async () => {
  server = new Server();
  room = server.createRoom('Metrics');
  await server.start();
});
after(async () => { await server.stop(); server.cleanup(); });

const scrape = () => fetch(`${server.base}/metrics`).then((r) => r.text());

test('the expected series exist before anything happened', async () => {
  const m = await scrape();
  for (const series of ['downbeat_connections 0', 'downbeat_connections_total 0', 'downbeat_auth_failures_total{reason="token"} 0',
    'downbeat_slow_consumers_dropped_total 0', 'downbeat_fanout_seconds_count 0', 'downbeat_commit_seconds_count'])
    assert.ok(m.includes(series), `missing ${series}`);
});

test('promtool check metrics finds nothing to complain about after real traffic', async () => {
  const md = await Client.connect(server, await join(server, room.codes.md, 'MD'));
  await md.waitFor((m) => m.type === 'snapshot');
  await md.ok('slot.create', { name: 'Keys' });
  await md.cmd('metrics.report', { rtt_ms: 3.2, jitter_ms: 0.5, loss: 0.01, clock_uncertainty_ms: 0.4 });
  await httpJson(server.base, '/auth/exchange', { method: 'POST', body: { code: 'WRONG', name: 'x', device_id: 'bad-device-0001' } });
  // Gauges are refreshed about once a second: wait for the report to show (bounded).
  let text = '';
  for (let i = 0; i < 50 && !/downbeat_client_rtt_seconds/.test(text); i++) { await new Promise((r) => setTimeout(r, 200)); text = await scrape(); }
  assert.match(text, /downbeat_client_rtt_seconds\{room="[^"]+"\} 0\.0032\n/, 'client figures in base units');
  assert.doesNotMatch(text, /le="[^"]*\d{12,}/, 'bucket bounds as written (0.005), not 17 digits');
  const lint = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  assert.ok(!lint.error, `promtool is missing (make deps installs Debian's prometheus): ${lint.error?.message}`);
  assert.equal(lint.status, 0, `promtool check metrics: ${lint.stdout}${lint.stderr}`);
  assert.equal((lint.stdout + lint.stderr).trim(), '', `lint findings: ${lint.stdout}${lint.stderr}`);
  await md.close();
});

test('every frame the server sent matched protocol/schema.json', () => {
  assert.deepEqual(schemaErrors, [], 'frames that do not match their schema (envelope, data, seq on durable events only)');
});
