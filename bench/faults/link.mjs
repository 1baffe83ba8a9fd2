// A musician's link cut and restored through a TCP proxy the bench controls, while an MD (direct)
// watches: is the musician shown away meanwhile, back how soon after the link returns, and never
// listed twice?
import { join } from '../../tests/integration/lib/client.mjs';
import { Launched, ReClient, Proxy, nowMs, sleep, summary, r1 } from './lib.mjs';

// reset: the socket is torn down (RST both ways) and new connections are refused until restored.
// blackhole: nothing passes either way, nobody is told; connections opened meanwhile hang.
// online: the client hears the link is back (the browser's `online` event) and connects at once;
// otherwise it only has its backoff timer (0.5 → 5 s).
const PLAN_FULL = [
  ...Array(5).fill({ mode: 'reset', ms: 3000, online: true }),
  ...Array(5).fill({ mode: 'reset', ms: 3000, online: false }),
  ...Array(3).fill({ mode: 'reset', ms: 15000, online: true }),
  ...Array(3).fill({ mode: 'blackhole', ms: 3000, online: false }),
  ...Array(2).fill({ mode: 'blackhole', ms: 12000, online: true }),
  ...Array(2).fill({ mode: 'blackhole', ms: 30000, online: true }),
];
const PLAN_SMOKE = [{ mode: 'reset', ms: 1000, online: true }, { mode: 'blackhole', ms: 1500, online: false }];

export async function linkCuts({ smoke, emit, log }) {
  const server = new Launched({ args: ['--max-conns-per-ip', '1000'] });
  let proxy, md, mu;
  const rows = [];
  try {
    const room = server.createRoom('Links');
    await server.start();
    proxy = await new Proxy(server.port).listen();
    md = new ReClient(() => server.wsBase, await join(server, room.codes.md, 'MD'), { name: 'md' });
    mu = new ReClient(() => `ws://127.0.0.1:${proxy.port}`, await join(server, room.codes.musician, 'Keys'), { name: 'keys' });
    md.start();
    await md.once('resynced');
    mu.start();
    await mu.once('resynced');
    const id = mu.me;
    const presence = [];  // {at, type, reason}
    md.on('event', (m) => {
      if (m.type === 'participant.leave' && m.data.participant === id) presence.push({ at: nowMs(), type: 'leave', reason: m.data.reason });
      if (m.type === 'participant.join' && m.data.participant.id === id) presence.push({ at: nowMs(), type: 'join' });
    });
    await sleep(500);
    for (const [i, step] of (smoke ? PLAN_SMOKE : PLAN_FULL).entries()) {
      presence.length = 0;
      const downs = [];
      const onDown = () => downs.push(nowMs());
      mu.on('down', onDown);
      const tCut = nowMs();
      proxy.cut(step.mode);
      await sleep(step.ms);
      const rxBefore = mu.lastRx;
      const tRestore = nowMs();
      proxy.restore();
      if (step.online) mu.online();
      // Back: the client holds the room again (resynced after a reconnect, or its old socket
      // delivers again) and the MD sees it online.
      const deadline = tRestore + 20000;
      while (nowMs() < deadline) {
        const reconnected = mu.resynced && mu.helloAt > tCut;
        const same = mu.resynced && mu.helloAt < tCut && mu.lastRx > tRestore && mu.lastRx > rxBefore;
        if (reconnected || same) break;
        await sleep(5);
      }
      const tBack = mu.resynced && mu.helloAt > tCut ? mu.resyncedAt : mu.resynced ? mu.lastRx : null;
      // What the MD's room shows now: a fresh snapshot.
      await sleep(300);
      md.state = null;
      await md.cmd('resync.request', {});
      while (!md.state) await sleep(5);
      const listed = md.state.participants.filter((p) => p.name === 'Keys' || p.id === id);
      const leave = presence.find((p) => p.type === 'leave');
      const join = presence.find((p) => p.type === 'join' && p.at > (leave?.at ?? 0));
      const row = {
        scenario: 'link', step: i + 1, mode: step.mode, cut_ms: step.ms, online_event: step.online,
        client_noticed_after_ms: downs.length ? r1(downs[0] - tCut) : null,
        server_noticed_after_ms: leave ? r1(leave.at - tCut) : null, leave_reason: leave?.reason ?? null,
        shown_away_during_cut: !!leave && leave.at < tRestore,
        reconnected: mu.helloAt > tCut,
        back_after_restore_ms: tBack == null ? null : r1(tBack - tRestore),
        md_sees_online_after_restore_ms: join ? r1(join.at - tRestore) : (leave ? null : 0),
        listed: listed.length, same_id: listed.length === 1 && listed[0].id === id, online_now: listed[0]?.online ?? null,
      };
      rows.push(row);
      emit(row);
      mu.listeners.set('down', (mu.listeners.get('down') || []).filter((f) => f !== onDown));
      log(`link ${row.step} ${step.mode} ${step.ms} ms${step.online ? ' +online' : ''}: server noticed ${row.server_noticed_after_ms ?? 'never'} ms, back ${row.back_after_restore_ms} ms after restore, listed ${row.listed}×`);
      await sleep(smoke ? 300 : 1000);
    }
  } finally {
    mu?.stop();
    md?.stop();
    await proxy?.close();
    await server.kill('SIGKILL');
    server.cleanup();
  }
  const backs = (online) => rows.filter((r) => r.online_event === online && r.back_after_restore_ms != null).map((r) => r.back_after_restore_ms);
  const sum = {
    scenario: 'link', summary: true, cuts: rows.length,
    duplicated: rows.filter((r) => r.listed !== 1 || !r.same_id).length,
    not_back: rows.filter((r) => r.back_after_restore_ms == null).length,
    back_after_restore_ms_online: summary(backs(true)), back_after_restore_ms_backoff: summary(backs(false)),
    by_mode: Object.fromEntries([...new Set(rows.map((r) => `${r.mode}/${r.cut_ms}/${r.online_event ? 'online' : 'backoff'}`))].map((k) => {
      const rs = rows.filter((r) => `${r.mode}/${r.cut_ms}/${r.online_event ? 'online' : 'backoff'}` === k);
      return [k, { n: rs.length, shown_away: rs.filter((r) => r.shown_away_during_cut).length, server_noticed_ms: summary(rs.map((r) => r.server_noticed_after_ms).filter((x) => x != null)),
        back_ms: summary(rs.map((r) => r.back_after_restore_ms).filter((x) => x != null)), reconnected: rs.filter((r) => r.reconnected).length }];
    })),
  };
  emit(sum);
  return sum;
}
