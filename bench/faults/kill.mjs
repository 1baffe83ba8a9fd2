// kill -9 cycles under mutation load: nothing acknowledged is lost or duplicated, every client is
// back (reconnected + resynced) soon after the restart, and the click keeps its phase.
import { join } from '../../tests/integration/lib/client.mjs';
import { Launched, ReClient, nowMs, monoUs, sleep, summary, r1 } from './lib.mjs';

const BPM = 120;
const PERIOD_US = Math.floor(60_000_000_000 / Math.round(BPM * 1000)); // protocol.md: integer beat arithmetic

export async function killCycles({ cycles, mds = 4, passive = 3, rate = 40, extraArgs = [], emit, log }) {
  const server = new Launched({ args: ['--max-conns-per-ip', '1000', ...extraArgs] });
  const base = () => server.wsBase;
  const clients = [];
  const loaders = [];
  try {
    const room = server.createRoom('Faults');
    await server.start();
    for (let i = 0; i < mds; i++) loaders.push(new ReClient(base, await join(server, room.codes.md, `MD ${i}`), { name: `md${i}` }));
    const roles = ['musician', 'viewer', 'musician', 'viewer'];
    for (let i = 0; i < passive; i++) clients.push(new ReClient(base, await join(server, room.codes[roles[i % 4]], `P ${i}`), { name: `p${i}` }));
    clients.push(...loaders);
    for (const c of clients) c.start();
    await Promise.all(clients.map((c) => (c.resynced ? null : c.once('resynced'))));
    const observer = clients[0];
    observer.keepBeats = true;

    // The click runs through every cycle.
    const md0 = loaders[0];
    let r = await md0.cmd('tempo.set', { bpm: BPM, meter: { beats: 4, unit: 4 } });
    if (r.type !== 'ack') throw new Error(`tempo.set: ${JSON.stringify(r)}`);
    r = await md0.cmd('tempo.start', { count_in_bars: 0 });
    if (r.type !== 'ack') throw new Error(`tempo.start: ${JSON.stringify(r)}`);
    await sleep(800);

    // Each MD owns a few songs and updates them with unique titles (markers); some creates too.
    const acked = new Map();    // seq -> {marker, type, client}
    const inflight = new Map(); // marker -> {type, client} sent but not (yet) acknowledged
    const seen = new Map();     // marker -> count in the event log as served after restarts
    const songsOf = new Map();
    let nAcked = 0, nErrors = 0, nLost = 0;
    const errors = {};
    for (const md of loaders) {
      songsOf.set(md, []);
      for (let k = 0; k < 3; k++) {
        const rep = await md.cmd('song.create', { title: `${md.name}-seed-${k}` });
        const ev = await md.eventAt(rep.seq);
        songsOf.get(md).push(ev.data.song.id);
      }
    }
    let running = true;
    let counter = 0;
    const creates = new Map();
    const loadLoop = async (md) => {
      let nextAt = nowMs();
      while (running) {
        if (!md.resynced) { await sleep(20); nextAt = nowMs(); continue; }
        const wait = nextAt - nowMs();
        if (wait > 0) await sleep(wait);
        nextAt = Math.max(nextAt + 1000 / rate, nowMs() - 100);
        const marker = `${md.name}-m${++counter}`;
        // Creates until each MD has 40 songs, then updates: the library stays the size of a real
        // band's (start-up time grows with it, which is not what this measures).
        const create = counter % 5 === 0 && (creates.get(md) || 0) < 40;
        if (create) creates.set(md, (creates.get(md) || 0) + 1);
        const ids = songsOf.get(md);
        const type = create ? 'song.create' : 'song.update';
        const data = create ? { title: marker, bpm: 100 } : { id: ids[counter % ids.length], title: marker };
        inflight.set(marker, { type, client: md.name });
        const rep = await md.cmd(type, data);
        if (rep.type === 'ack') {
          inflight.delete(marker);
          acked.set(rep.seq, { marker, type, client: md.name });
          nAcked++;
        } else if (rep.type === 'error') {
          inflight.delete(marker);
          nErrors++;
          errors[rep.code] = (errors[rep.code] || 0) + 1;
        } else if (rep.type === 'lost') {
          nLost++; // the socket died before the reply: the change may or may not be in (it stays in `inflight`)
        } else {
          inflight.delete(marker); // not sent: the socket was already closing
        }
      }
    };
    const loops = loaders.map(loadLoop);

    let verifiedSeq = Math.max(...loaders.map((c) => c.lastSeq));
    let ackedAtLastKill = 0;
    const backTimes = [], readyTimes = [], firstAckTimes = [], phaseErr = [], anchorDrift = [], resumedCount = { true: 0, false: 0 };
    let lostTotal = 0, dupTotal = 0, unverified = 0, inflightCommitted = 0, inflightAbsent = 0, tempoChanged = 0;
    for (let cycle = 1; cycle <= cycles; cycle++) {
      await sleep(400 + Math.random() * 1100);
      // Before the kill: the click as the observer knows it, in the observer's local clock.
      const tempoBefore = structuredClone(observer.tempo);
      const offsetBefore = observer.offsetNow();
      const ackedBefore = ackedAtLastKill;
      ackedAtLastKill = nAcked;
      await server.kill('SIGKILL');
      const tKill = nowMs();
      observer.offsets = [];
      const inflightAtKill = new Map(inflight);
      const tSpawn = nowMs();
      await server.start({ port: server.port });
      const tReady = nowMs();
      const backs = await Promise.all(clients.map((c) => (c.resynced && c.helloAt > tKill ? { at: c.resyncedAt, resumed: c.hello.resumed } : c.once('resynced', () => true, 20000))));
      const tAllBack = Math.max(...backs.map((b) => b.at));
      for (const b of backs) resumedCount[b.resumed]++;
      const firstAck = await new Promise((resolve) => { const t0 = nAcked; const iv = setInterval(() => { if (nAcked > t0) { clearInterval(iv); resolve(nowMs()); } }, 5); });

      // The click after the restart: same anchor, same rev, beats at the same instants. The
      // observer asks for a fresh snapshot (as the web app does when it misses anchors).
      observer.tempo = null;
      const rs = await observer.cmd('resync.request', {});
      if (rs.type !== 'ack') throw new Error(`resync.request: ${JSON.stringify(rs)}`);
      while (!observer.tempo) await sleep(5);
      await sleep(600);
      const tempoAfter = observer.tempo;
      const offsetAfter = observer.offsetNow();
      const same = tempoAfter && tempoBefore && tempoAfter.rev === tempoBefore.rev && tempoAfter.bpm === tempoBefore.bpm &&
        tempoAfter.anchor.t === tempoBefore.anchor.t && tempoAfter.anchor.bar === tempoBefore.anchor.bar && tempoAfter.running;
      if (!same) tempoChanged++;
      // Local instant of the anchor, before and after (server clock → local via the ping offset).
      const drift = tempoAfter && offsetAfter != null && offsetBefore != null ? (tempoAfter.anchor.t - offsetAfter) - (tempoBefore.anchor.t - offsetBefore) : null;
      if (drift != null) anchorDrift.push(Math.abs(drift) / 1000);
      const beatsAfter = observer.beats.filter((b) => b.at > tReady);
      for (const b of beatsAfter) {
        const k = Math.round((b.ts - tempoAfter.anchor.t) / PERIOD_US);
        phaseErr.push((b.ts - (tempoAfter.anchor.t + Math.floor((k * 60_000_000_000) / Math.round(BPM * 1000)))) / 1000);
      }
      observer.beats = [];

      // What the restarted server serves: replay from the last verified seq through a fresh connection.
      const v = await verify(server, loaders[1] || loaders[0], verifiedSeq);
      for (const ev of v.events) {
        const marker = ev.type === 'song.create' || ev.type === 'song.update' ? ev.data.song.title : null;
        if (marker && /-m\d+$/.test(marker)) {
          seen.set(marker, (seen.get(marker) || 0) + 1);
          if (seen.get(marker) > 1) dupTotal++;
          if (inflightAtKill.has(marker)) { inflightCommitted++; inflightAtKill.delete(marker); inflight.delete(marker); }
        }
      }
      const bySeq = new Map(v.events.map((e) => [e.seq, e]));
      let lostNow = 0;
      if (!v.resumed) unverified += [...acked.keys()].filter((seq) => seq > verifiedSeq && seq <= v.seq).length;
      for (const [seq, a] of acked) {
        if (!v.resumed || seq <= verifiedSeq || seq > v.seq) continue;
        const ev = bySeq.get(seq);
        if (!ev || ev.type !== a.type || ev.data.song.title !== a.marker) lostNow++;
      }
      for (const [marker] of inflightAtKill) if (!seen.has(marker)) { inflightAbsent++; inflight.delete(marker); }
      lostTotal += lostNow;
      const row = {
        scenario: 'kill9', cycle, acked_since_last_kill: ackedAtLastKill - ackedBefore, acked_total: nAcked,
        lost: lostNow, duplicated_total: dupTotal, resumed: v.resumed, verified_through_seq: v.seq,
        inflight_at_kill: inflightAtKill.size + 0, kill_to_ready_ms: r1(tReady - tKill), spawn_to_ready_ms: r1(tReady - tSpawn),
        restart_to_all_back_ms: r1(tAllBack - tSpawn), kill_to_all_back_ms: r1(tAllBack - tKill), restart_to_first_ack_ms: r1(firstAck - tSpawn),
        tempo_same: !!same, anchor_local_shift_ms: drift == null ? null : r1(drift / 1000),
        beat_phase_err_ms_max: beatsAfter.length ? r1(Math.max(...phaseErr.slice(-beatsAfter.length).map(Math.abs))) : null,
      };
      emit(row);
      backTimes.push(tAllBack - tSpawn);
      readyTimes.push(tReady - tSpawn);
      firstAckTimes.push(firstAck - tSpawn);
      verifiedSeq = v.seq;
      if (cycle % 10 === 0 || cycle === cycles) log(`kill -9 cycle ${cycle}/${cycles}: acked ${nAcked}, lost ${lostTotal}, duplicated ${dupTotal}, back p50 ${r1(summary(backTimes).p50)} ms`);
    }
    running = false;
    await Promise.all(loops);
    const sum = {
      scenario: 'kill9', summary: true, cycles, clients: clients.length, load_clients: mds, rate_per_client: rate,
      acked: nAcked, lost: lostTotal, duplicated: dupTotal, acked_unverified: unverified, errors, replies_lost_to_kill: nLost,
      inflight_committed: inflightCommitted, inflight_absent: inflightAbsent, resumed: resumedCount,
      tempo_changed_cycles: tempoChanged,
      restart_to_all_back_ms: summary(backTimes), spawn_to_ready_ms: summary(readyTimes), restart_to_first_ack_ms: summary(firstAckTimes),
      anchor_local_shift_ms: summary(anchorDrift), beat_phase_err_ms: summary(phaseErr.map(Math.abs)),
      client_log: Object.fromEntries(clients.map((c) => [c.name, c.log.slice(-3)])),
    };
    emit(sum);
    return sum;
  } finally {
    for (const c of clients) c.stop();
    await server.kill('SIGKILL');
    server.cleanup();
  }
}

// Connects once more as `md` (its second connection) with since=from; the pong to a ping sent
// after hello marks the end of the replay. Returns the events and the seq they reach.
async function verify(server, md, from) {
  const v = new ReClient(() => server.wsBase, md.session, { name: 'verifier', pingMs: 1e9 });
  v.lastSeq = from;
  const events = [];
  v.on('event', (m) => events.push(m));
  const hello = v.once('hello', () => true, 10000);
  v.start();
  try {
    await hello;
    const done = v.once('live', (m) => m.type === 'time.pong', 10000);
    v.ws.send(JSON.stringify({ type: 'time.ping', id: 'vp', data: { t0: monoUs() } }));
    await done;
  } finally {
    v.stop();
  }
  if (!v.hello.resumed) {
    // The log did not reach back far enough (or the replay was too big): every event since `from`
    // is not available, so check what the snapshot can show (songs present once each).
    return { resumed: false, seq: v.state.seq, events: [], snapshot: v.state };
  }
  return { resumed: true, seq: events.length ? events[events.length - 1].seq : from, events };
}
