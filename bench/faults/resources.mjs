// Resource faults: WebSocket clients that never read while the room fans out a big library, and
// many idle TCP connections against a server started under `prlimit --nofile=256`. Server RSS
// (VmRSS), fds and CPU before / during / after.
import net from 'node:net';
import { httpJson } from '../../tests/integration/lib/server.mjs';
import { join } from '../../tests/integration/lib/client.mjs';
import { Launched, ReClient, rssKiB, fdCount, cpuTicks, nowMs, sleep, summary, r1 } from './lib.mjs';

// A WebSocket upgrade on a raw socket that is then never read: the kernel buffers fill, then the
// server's send queue.
function rawUpgrade(port, token) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => {
      s.write(`GET /ws?token=${encodeURIComponent(token)} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`);
      s.pause();
      resolve(s);
    });
    s.on('error', reject);
  });
}

// GET on a new TCP connection (never a pooled keep-alive one): can a newcomer get in?
export function freshGet(port, path, timeoutMs = 3000) {
  return new Promise((resolve) => {
    const t0 = nowMs();
    let got = '';
    const s = net.connect(port, '127.0.0.1', () => s.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`));
    const timer = setTimeout(() => { s.destroy(); resolve({ status: 'timeout', ms: r1(nowMs() - t0) }); }, timeoutMs);
    s.on('data', (d) => { got += d; });
    s.on('close', () => { clearTimeout(timer); resolve({ status: Number((got.match(/^HTTP\/1\.1 (\d+)/) || [])[1]) || `closed after ${got.length} bytes`, ms: r1(nowMs() - t0) }); });
    s.on('error', () => {});
  });
}

async function metric(base, name) {
  const r = await httpJson(base, '/metrics').catch(() => null);
  if (!r || r.status !== 200) return null;
  const m = r.text.match(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)`, 'm'));
  return m ? Number(m[1]) : 0;
}

async function ackLatency(c, n) {
  const lat = [];
  for (let i = 0; i < n; i++) {
    const t0 = nowMs();
    const r = await c.cmd('cue', { text: `probe ${i}` });
    if (r.type === 'ack') lat.push(nowMs() - t0);
    await sleep(50);
  }
  return lat;
}

export async function slowConsumers({ smoke, emit, log }) {
  const songs = smoke ? 40 : 420;          // × ~30 KB charts: ~1.2 MB (smoke) / ~13 MB library
  const readers = smoke ? 8 : 40;
  const s = new Launched({ args: ['--max-conns-per-ip', '1000'] });
  const sockets = [];
  let md;
  try {
    const room = s.createRoom('Slow');
    await s.start();
    md = new ReClient(() => s.wsBase, await join(s, room.codes.md, 'MD'), { name: 'md' });
    md.start();
    await md.once('resynced');
    const chart = '[C]La la [G]la [Am]la [F]la\n'.repeat(1090).slice(0, 32000);
    const t0 = nowMs();
    let firstSong = null;
    for (let i = 0; i < songs; i++) {
      const r = await md.cmd('song.create', { title: `Big ${i}`, chordpro: chart });
      if (r.type !== 'ack') throw new Error(`song.create: ${JSON.stringify(r).slice(0, 300)}`);
      if (i === 0) firstSong = (await md.eventAt(r.seq)).data.song.id;
      if (i % 40 === 39) await sleep(900); // under the 50 frames/s limit
    }
    log(`slow consumers: library of ${songs} songs (${r1((songs * chart.length) / 2 ** 20)} MiB) in ${r1((nowMs() - t0) / 1000)} s`);
    await sleep(1000);
    const before = rssKiB(s.pid);
    const viewer = await join(s, room.codes.viewer, 'Frozen');
    const tOpen = nowMs();
    for (let i = 0; i < readers; i++) sockets.push(await rawUpgrade(s.port, viewer.token));
    const openedIn = nowMs() - tOpen;
    // Fan-out while they hang: the MD keeps changing a song (30 KB each).
    const samples = [];
    let peak = 0;
    const tEnd = nowMs() + (smoke ? 2500 : 10000);
    let k = 0;
    const probe = ackLatency(md, smoke ? 12 : 60);
    while (nowMs() < tEnd) {
      await md.cmd('song.update', { id: firstSong, chordpro: chart.slice(0, 30000 - (k++ % 100)) });
      const rss = rssKiB(s.pid);
      if (rss == null) break;
      peak = Math.max(peak, rss);
      samples.push(rss);
      await sleep(100);
    }
    const lat = await probe;
    const during = { rss_peak_kib: peak, rss_end_kib: samples[samples.length - 1], fds: fdCount(s.pid) };
    const dropped = await metric(s.base, 'downbeat_slow_consumers_dropped_total');
    const stillOpen = sockets.filter((x) => !x.destroyed && x.readyState === 'open').length;
    for (const x of sockets) x.destroy();
    await sleep(smoke ? 1500 : 3000);
    const after = rssKiB(s.pid);
    const connsAfter = await metric(s.base, 'downbeat_connections');
    const queuedAfter = await metric(s.base, 'downbeat_send_queue_bytes');
    if (!smoke) await sleep(7000);
    const after10 = smoke ? null : rssKiB(s.pid);
    const row = {
      scenario: 'slow_consumer', songs, library_mib: r1((songs * chart.length) / 2 ** 20), readers,
      rss_before_mib: r1(before / 1024), rss_peak_mib: r1(during.rss_peak_kib / 1024), rss_after_mib: r1(after / 1024),
      rss_after_10s_mib: after10 == null ? null : r1(after10 / 1024), connections_gauge_after: connsAfter, send_queue_bytes_gauge_after: queuedAfter,
      server_alive: s.alive(), dropped_by_server: dropped, sockets_still_open_at_end: stillOpen, fds_during: during.fds,
      md_cue_ack_ms: summary(lat), opened_in_ms: r1(openedIn),
    };
    emit(row);
    log(`slow consumers: ${readers} never-reading sockets on a ${row.library_mib} MiB library: RSS ${row.rss_before_mib} → peak ${row.rss_peak_mib} → after ${row.rss_after_mib} MiB; dropped ${dropped}; MD ack p99 ${r1(row.md_cue_ack_ms.p99)} ms`);
    return { ...row, summary: true };
  } finally {
    for (const x of sockets) x.destroy();
    md?.stop();
    await s.kill();
    s.cleanup();
  }
}

// `sources`: how many loopback addresses (127.0.0.2…) the idle connections come from. One
// address meets the per-address cap before the fd limit; eight of 50 each reach the fd limit.
export async function fdExhaustion({ smoke, emit, log, sources = 1 }) {
  const limit = 256;
  const idle = smoke ? 300 : 400;
  const s = new Launched({ wrapper: ['prlimit', `--nofile=${limit}:${limit}`], args: ['--max-conns-per-ip', '1000'] });
  const conns = [];
  try {
    const room = s.createRoom('Fds');
    await s.start();
    const md = new ReClient(() => s.wsBase, await join(s, room.codes.md, 'MD'), { name: 'md' });
    md.start();
    await md.once('resynced');
    const base = { rss_kib: rssKiB(s.pid), fds: fdCount(s.pid), log_bytes: s.logBytes };
    // Idle TCP connections that never send a byte (no TLS hello, no HTTP request).
    const tOpen = nowMs();
    for (let i = 0; i < idle; i++) {
      conns.push(await new Promise((resolve) => {
        const c = net.connect({ port: s.port, host: '127.0.0.1', localAddress: sources > 1 ? `127.0.0.${2 + (i % sources)}` : undefined }, () => resolve(c));
        c.on('error', () => resolve(c));
      }));
    }
    const opened = conns.filter((c) => !c.destroyed).length;
    const openedIn = nowMs() - tOpen;
    const cpu0 = cpuTicks(s.pid), log0 = s.logBytes, lines0 = s.logLines, t0 = nowMs();
    await sleep(smoke ? 1500 : 3000);
    const cpuPct = ((cpuTicks(s.pid) - cpu0) / ((nowMs() - t0) / 1000)); // ticks/s = % of one core
    const logRate = (s.logBytes - log0) / ((nowMs() - t0) / 1000);
    const linesRate = (s.logLines - lines0) / ((nowMs() - t0) / 1000);
    // Can anyone new get in while it is full? An HTTP probe and a WebSocket join, 3 s each.
    const probeHttp = await freshGet(s.port, '/healthz', smoke ? 3000 : 15000);
    const fresh = new ReClient(() => s.wsBase, md.session, { name: 'fresh' });
    fresh.start();
    const tFresh = nowMs();
    const freshIn = await fresh.once('resynced', () => true, smoke ? 3000 : 15000).then(() => r1(nowMs() - tFresh)).catch(() => 'timeout');
    fresh.stop();
    const mdAck = await Promise.race([md.cmd('cue', { text: 'still here?' }).then((r) => r.type), sleep(3000).then(() => 'timeout')]);
    const during = { rss_kib: rssKiB(s.pid), fds: fdCount(s.pid) };
    // Let go: does it recover by itself?
    for (const c of conns) c.destroy();
    await sleep(smoke ? 1000 : 2000);
    const cpu1 = cpuTicks(s.pid), t1 = nowMs();
    await sleep(smoke ? 1000 : 2000);
    const cpuAfter = ((cpuTicks(s.pid) - cpu1) / ((nowMs() - t1) / 1000));
    const probeAfter = await freshGet(s.port, '/healthz');
    const row = {
      scenario: 'fd_exhaustion', nofile: limit, idle_connections: idle, source_addresses: sources, opened_client_side: opened, opened_in_ms: r1(openedIn),
      rss_before_mib: r1(base.rss_kib / 1024), rss_during_mib: r1(during.rss_kib / 1024), rss_after_mib: r1(rssKiB(s.pid) / 1024),
      fds_before: base.fds, fds_during: during.fds, server_cpu_pct_during: r1(cpuPct), server_cpu_pct_after: r1(cpuAfter),
      log_bytes_per_s_during: Math.round(logRate), log_lines_per_s_during: Math.round(linesRate), accept_failed_lines: s.counts.get('accept failed') || 0,
      healthz_during: probeHttp, new_ws_client_during_ms: freshIn, existing_md_cue_during: mdAck, healthz_after: probeAfter,
      server_alive: s.alive(),
    };
    emit(row);
    log(`fd exhaustion: ${idle} idle TCP from ${sources} address(es) at nofile ${limit}: CPU ${row.server_cpu_pct_during} % during, ${row.log_lines_per_s_during} log lines/s; new /healthz ${probeHttp.status}; new WS client ${freshIn}; MD cue ${mdAck}; after: CPU ${row.server_cpu_pct_after} %, new /healthz ${probeAfter.status} in ${probeAfter.ms} ms`);
    md.stop();
    return { ...row, summary: true };
  } finally {
    for (const c of conns) c.destroy();
    await s.kill();
    s.cleanup();
  }
}
