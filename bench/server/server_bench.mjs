// Server benchmark: commit (ack) latency, fan-out latency to N listeners, and recovery time
// after kill -9. Real downbeatd on loopback, real SQLite file, real WebSockets.
// Usage: node bench/server/server_bench.mjs [--smoke] [--out FILE]
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { Server, httpJson } from '../../tests/integration/lib/server.mjs';
import { Client, join } from '../../tests/integration/lib/client.mjs';

const smoke = process.argv.includes('--smoke');
const outIdx = process.argv.indexOf('--out');
const outFile = outIdx > 0 ? process.argv[outIdx + 1] : null;
const N_COMMITS = smoke ? 50 : 1000;
const LISTENERS = smoke ? [10] : [10, 50, 150];
const FANOUT_EVENTS = smoke ? 20 : 200;
const RESTARTS = smoke ? 2 : 10;

const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]; };
const fmt = (x) => x.toFixed(2);
const summary = (xs) => ({ n: xs.length, p50: pct(xs, 50), p99: pct(xs, 99), max: Math.max(...xs) });
const results = { machine: `${cpus().length} × ${cpus()[0].model}`, node: process.version, smoke };

async function snapshotOf(c) { await c.waitFor((m) => m.type === 'snapshot', { timeout: 30000 }); return c; }

// 1. Commit latency: one MD, sequential durable commands; time from send to ack.
{
  const s = new Server({ args: ['--max-conns-per-ip', '1000'] });
  const room = s.createRoom('Bench');
  await s.start();
  const md = await snapshotOf(await Client.connect(s, await join(s, room.codes.md, 'MD')));
  const lat = [];
  for (let i = 0; i < N_COMMITS; i++) {
    const t0 = performance.now();
    const r = await md.cmd('song.create', { title: `Song ${i}`, bpm: 60 + (i % 100) });
    if (r.type !== 'ack') throw new Error(`command failed: ${r.message}`);
    lat.push(performance.now() - t0);
    if (i % 40 === 39) await new Promise((res) => setTimeout(res, 800)); // stay under the 50/s frame limit
  }
  const metrics = await (await fetch(`${s.base}/metrics`)).text();
  const sum = Number(metrics.match(/downbeat_commit_seconds_sum (\S+)/)[1]);
  const count = Number(metrics.match(/downbeat_commit_seconds_count (\S+)/)[1]);
  results.commit = { ack_ms: summary(lat), server_commit_mean_ms: (1000 * sum) / count };
  await md.close();

  // 2. Fan-out: one MD sends cues (durable since cues stay on screen) and song.update (durable); time until the last listener has it.
  results.fanout = [];
  const all = [];
  for (const n of LISTENERS) {
    while (all.length < n) all.push(await snapshotOf(await Client.connect(s, await join(s, room.codes.viewer, `Screen ${all.length}`))));
    const md2 = await snapshotOf(await Client.connect(s, await join(s, room.codes.md, 'MD2')));
    const lastDurable = [], lastEphemeral = [];
    for (let i = 0; i < FANOUT_EVENTS; i++) {
      const durable = i % 2 === 0;
      const text = `cue ${n}-${i}`;
      const froms = all.map((c) => c.messages.length);
      const t0 = performance.now();
      const reply = durable ? md2.cmd('song.update', { id: 'sg2', title: text }) : md2.cmd('cue', { text });
      const match = durable ? (m) => m.type === 'song.update' && m.data.song.title === text : (m) => m.type === 'cue' && m.data.cue.text === text;
      await Promise.all(all.slice(0, n).map((c, k) => c.waitFor(match, { from: froms[k], timeout: 30000 })));
      const r = await reply;
      if (r.type !== 'ack') throw new Error(`${durable ? 'song.update' : 'cue'} failed: ${r.code}: ${r.message}`);
      (durable ? lastDurable : lastEphemeral).push(performance.now() - t0);
      if (i % 40 === 39) await new Promise((res) => setTimeout(res, 800));
    }
    results.fanout.push({ listeners: n, durable_ms: summary(lastDurable), ephemeral_ms: summary(lastEphemeral) });
    await md2.close();
  }
  await Promise.all(all.map((c) => c.terminate()));
  await s.stop();
  s.cleanup();
}

// 3. Recovery: kill -9, start again, time to /readyz and to a client's snapshot.
{
  const s = new Server();
  const room = s.createRoom('Restart');
  await s.start();
  const session = await join(s, room.codes.musician, 'Phone');
  const ready = [], snap = [];
  for (let i = 0; i < RESTARTS; i++) {
    await s.kill('SIGKILL');
    const t0 = performance.now();
    await s.start({ port: s.port });
    for (;;) {
      const r = await httpJson(s.base, '/readyz').catch(() => ({ status: 0 }));
      if (r.status === 200) break;
    }
    ready.push(performance.now() - t0);
    const c = await snapshotOf(await Client.connect(s, session));
    snap.push(performance.now() - t0);
    await c.close();
  }
  await s.stop();
  s.cleanup();
  results.recovery = { readyz_ms: summary(ready), snapshot_ms: summary(snap) };
}

const lines = [];
lines.push(`machine: ${results.machine}, node ${results.node}${smoke ? ' (smoke run)' : ''}`);
const c = results.commit.ack_ms;
lines.push(`commit: ack round trip p50 ${fmt(c.p50)} ms, p99 ${fmt(c.p99)} ms, max ${fmt(c.max)} ms over ${c.n} durable commands; server-side SQLite commit mean ${fmt(results.commit.server_commit_mean_ms)} ms`);
for (const f of results.fanout)
  lines.push(`fan-out to ${f.listeners} listeners: durable p50 ${fmt(f.durable_ms.p50)} / p99 ${fmt(f.durable_ms.p99)} ms; ephemeral p50 ${fmt(f.ephemeral_ms.p50)} / p99 ${fmt(f.ephemeral_ms.p99)} ms`);
const r = results.recovery;
lines.push(`recovery after kill -9: ready p50 ${fmt(r.readyz_ms.p50)} ms (max ${fmt(r.readyz_ms.max)}), client snapshot p50 ${fmt(r.snapshot_ms.p50)} ms (max ${fmt(r.snapshot_ms.max)}) over ${r.readyz_ms.n} restarts`);
console.log(lines.join('\n'));
if (outFile) writeFileSync(outFile, JSON.stringify(results, null, 2));
// Smoke gate: the numbers must stay far from what a band would notice.
if (c.p99 > 250 || r.snapshot_ms.max > 5000) { console.error('FAIL: commit p99 > 250 ms or recovery > 5 s'); process.exit(1); }
