// Disk full and recovery: the data dir on a small tmpfs the bench mounts itself (and always
// unmounts). While full: commands answer `internal`, /readyz says not ready, joins fail cleanly;
// after space is freed everything works again and nothing acknowledged is lost (kill -9 + restart).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, openSync, writeSync, closeSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join as pathJoin } from 'node:path';
import net from 'node:net';
import { httpJson } from '../../tests/integration/lib/server.mjs';
import { join } from '../../tests/integration/lib/client.mjs';
import { Launched, ReClient, nowMs, sleep, r1 } from './lib.mjs';

function fill(file) {
  // Writes until ENOSPC; returns the bytes written.
  const fd = openSync(file, 'w');
  const chunk = Buffer.alloc(64 * 1024, 0x5a);
  let n = 0;
  try {
    for (;;) n += writeSync(fd, chunk);
  } catch (e) {
    if (e.code !== 'ENOSPC') throw e;
    // The last partial chunk: fill the remaining bytes one page at a time.
    const page = Buffer.alloc(4096, 0x5a);
    try { for (;;) n += writeSync(fd, page); } catch (e2) { if (e2.code !== 'ENOSPC') throw e2; }
  } finally {
    closeSync(fd);
  }
  return n;
}

// POST /auth/exchange with a raw socket, to see exactly what comes back (Node's fetch hides a
// connection closed with no response behind a generic error).
function rawExchange(port, body) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => {
      const b = JSON.stringify(body);
      s.write(`POST /auth/exchange HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(b)}\r\nConnection: close\r\n\r\n${b}`);
    });
    let got = '';
    s.on('data', (d) => { got += d; });
    s.on('close', () => resolve({ bytes: got.length, status: Number((got.match(/^HTTP\/1\.1 (\d+)/) || [])[1]) || null, body: got.split('\r\n\r\n')[1]?.slice(0, 200) ?? '' }));
    s.on('error', () => {});
    setTimeout(() => s.destroy(), 5000);
  });
}

export async function diskFull({ smoke, emit, log }) {
  const mnt = mkdtempSync(pathJoin(tmpdir(), 'downbeat-disk-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${smoke ? 8 : 16}m,mode=0700`, 'downbeat-faults', mnt], { stdio: 'pipe' });
  } catch (e) {
    rmdirSync(mnt);
    const row = { scenario: 'disk_full', skipped: `cannot mount a tmpfs here (${String(e.stderr || e.message).trim()}): run as root` };
    emit(row);
    return row;
  }
  const dataDir = pathJoin(mnt, 'data');
  const server = new Launched({ dataDir, args: ['--grace-s', '2', '--max-conns-per-ip', '1000'] });
  let md, mu;
  const acked = [];
  try {
    const room = server.createRoom('Full');
    await server.start();
    md = new ReClient(() => server.wsBase, await join(server, room.codes.md, 'MD'), { name: 'md' });
    mu = new ReClient(() => server.wsBase, await join(server, room.codes.musician, 'Leaves'), { name: 'mu' });
    md.start();
    mu.start();
    await Promise.all([md.once('resynced'), mu.once('resynced')]);
    let n = 0;
    const create = async () => {
      const title = `full-${++n}`;
      const r = await md.cmd('song.create', { title });
      if (r.type === 'ack') acked.push(title);
      return r;
    };
    for (let i = 0; i < 20; i++) await create();
    // A participant who left just before: its grace period (2 s) ends while the disk is full, so
    // the presence sweep must survive a timeout it cannot save.
    mu.stop();
    await md.once('event', (m) => m.type === 'participant.leave' && m.data.participant === mu.me, 5000).catch(() => null);
    const filler = pathJoin(mnt, 'filler');
    const filled = fill(filler);
    const tFull = nowMs();
    // Commands until the first `internal` (the WAL may still have room for a few pages).
    const replies = {};
    let firstInternalAfter = null;
    for (let i = 0; i < 400; i++) {
      const r = await create();
      const key = r.type === 'error' ? r.code : r.type;
      replies[key] = (replies[key] || 0) + 1;
      if (key === 'internal' && firstInternalAfter == null) firstInternalAfter = i;
      if (firstInternalAfter != null && i >= firstInternalAfter + 10) break;
      if (i % 40 === 39) await sleep(900);
    }
    const internalMsg = (await create()).message ?? null;
    const readyFull = await httpJson(server.base, '/readyz').then((r) => r.status).catch((e) => `error ${e.message}`);
    const exchangeFull = await rawExchange(server.port, { code: room.codes.viewer, name: 'New phone', device_id: 'disk-full-device-1' });
    server.stopping = true; // an exit here is a finding, reported below, not a crash of the bench
    await sleep(Math.max(0, 2000 + 2500 - (nowMs() - tFull)));
    server.stopping = false;
    const aliveAfterSweep = server.alive();
    const logTail = server.log.slice(-1500);
    if (!aliveAfterSweep) {
      log('disk full: the server exited when a presence timeout could not be saved (restarting it to go on)');
      rmSync(filler, { force: true });
      await server.start({ port: server.port });
      fill(filler);
    }
    // Free the space: everything works again.
    rmSync(filler, { force: true });
    const tFree = nowMs();
    let recoveredAfterMs = null;
    for (let i = 0; i < 100; i++) {
      if (!md.connected) { await sleep(50); continue; }
      const r = await create();
      if (r.type === 'ack') { recoveredAfterMs = r1(nowMs() - tFree); break; }
      await sleep(50);
    }
    for (let i = 0; i < 10; i++) await create();
    const readyAfter = await httpJson(server.base, '/readyz').then((r) => r.status).catch((e) => `error ${e.message}`);
    const exchangeAfter = await rawExchange(server.port, { code: room.codes.viewer, name: 'New phone', device_id: 'disk-full-device-2' });
    // Nothing acknowledged is lost: kill -9, restart, every acked title is in the snapshot once.
    md.stop();
    await server.kill('SIGKILL');
    await server.start({ port: server.port });
    const check = new ReClient(() => server.wsBase, md.session, { name: 'check' });
    check.start();
    await check.once('resynced');
    const titles = check.state.songs.map((s) => s.title);
    check.stop();
    const lost = acked.filter((t) => !titles.includes(t)).length;
    const duplicated = acked.filter((t) => titles.filter((x) => x === t).length > 1).length;
    const row = {
      scenario: 'disk_full', fs: `tmpfs size=${smoke ? 8 : 16}m`, filler_mib: r1(filled / 2 ** 20),
      replies_while_full: replies, first_internal_after_commands: firstInternalAfter, internal_message: internalMsg,
      readyz_while_full: readyFull, exchange_while_full: exchangeFull,
      server_alive_after_presence_timeout_while_full: aliveAfterSweep,
      server_log_tail_if_died: aliveAfterSweep ? null : logTail.split('\n').filter((l) => /participant\.timeout|^downbeatd:|terminate|exception/i.test(l)).slice(-3),
      recovered_after_free_ms: recoveredAfterMs, readyz_after: readyAfter, exchange_after: { status: exchangeAfter.status },
      acked: acked.length, lost, duplicated, full_for_ms: r1(tFree - tFull),
    };
    emit(row);
    log(`disk full: ${JSON.stringify(replies)} while full (first internal after ${firstInternalAfter}); /readyz ${readyFull}; /auth/exchange → ${exchangeFull.status ?? `no response (${exchangeFull.bytes} bytes)`}; presence timeout while full: server ${aliveAfterSweep ? 'alive' : 'EXITED'}; recovered ${recoveredAfterMs} ms after freeing; ${acked.length} acked, lost ${lost}`);
    return { ...row, recovered: recoveredAfterMs != null, summary: true };
  } finally {
    md?.stop();
    mu?.stop();
    await server.kill('SIGKILL');
    try { execFileSync('umount', [mnt], { stdio: 'pipe' }); } catch { try { execFileSync('umount', ['-l', mnt], { stdio: 'pipe' }); } catch { /* reported below */ } }
    try { rmdirSync(mnt); } catch (e) { log(`disk full: could not remove ${mnt}: ${e.message}`); }
  }
}
