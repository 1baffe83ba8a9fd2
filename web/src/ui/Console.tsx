// The MD console, built for one hand on a tablet: now / next, tempo, sections and cues side by side
// above the fold, keyboard shortcuts ("?"), setlist and slots below. Panels live in ./console/.
import { useEffect, useRef, useState } from 'preact/hooks';
import type { Room } from '../room';
import { useStore } from '../store';
import { StatusBar, OfflineBanner, CueBanner, Talking, ago, fmtMs, useNow } from './common';
import { Talk } from './Talk';
import { isVoiceRole, personLabel } from '../voice/targets';
import { isWeak } from '../voice/stats';
import type { LinkReport } from '../model';
import { NowPanel, SectionsPanel } from './console/NowPanel';
import { CuePanel } from './console/CuePanel';
import { TempoPanel } from './console/TempoPanel';
import { SetlistPanel } from './console/SetlistPanel';
import { LibraryPanel } from './console/LibraryPanel';
import { SlotsPanel } from './console/SlotsPanel';
import { QrPanel } from './console/QrPanel';
import { DeleteButton } from './console/DeleteButton';
import { HelpOverlay, useShortcuts } from './console/Shortcuts';
import { run, toasts } from './console/util';
import { Print, printHash, printTarget } from './Print';
import './console.css';

function useHash(): string {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const on = () => setHash(location.hash);
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return hash;
}

export function Console({ room, onLeave }: { room: Room; onLeave: () => void }) {
  const list = useStore(toasts, (t) => t);
  const hash = useHash();
  const [help, setHelp] = useState(false);
  const [countIn, setCountIn] = useState(1);
  const countInRef = useRef(countIn);
  countInRef.current = countIn;
  const printing = printTarget(hash);
  useShortcuts(room, { countIn: () => countInRef.current, help: help || printing !== null, setHelp });

  if (printing) return <Print room={room} setlist={printing} onClose={() => { location.hash = ''; }} />;
  return (
    <div class="console">
      <StatusBar room={room} title="MD console" onLeave={onLeave} />
      <OfflineBanner room={room} />
      <CueBanner room={room} compact />
      {!room.voice.enabled && <Talking room={room} />}
      <div class="grid">
        <NowPanel room={room} />
        <TempoPanel room={room} countIn={countIn} setCountIn={setCountIn} />
        <SectionsPanel room={room} />
        <CuePanel room={room} />
        <div class="talk-cell"><Talk room={room} /></div>
        <SetlistPanel room={room} onPrint={(id) => { location.hash = printHash(id); }} />
        <LibraryPanel room={room} />
        <SlotsPanel room={room} />
        <HealthPanel room={room} />
        <VoicePanel room={room} />
        <QrPanel room={room} />
      </div>
      <button class="btn help-btn" data-testid="help-open" aria-keyshortcuts="?" onClick={() => setHelp(true)} aria-label="Keyboard shortcuts">?</button>
      {help && <HelpOverlay onClose={() => setHelp(false)} />}
      <div class="toasts" aria-live="polite">
        {list.map((t) => <p class={`toast ${t.kind}`} data-testid="toast">{t.text}</p>)}
      </div>
    </div>
  );
}

// ---- health --------------------------------------------------------------------------------

function HealthPanel({ room }: { room: Room }) {
  const s = useStore(room.state, (x) => x);
  const clock = useStore(room.clockStats, (c) => c);
  useNow(5000);
  return (
    <section class="panel health-panel">
      <h2>Band health</h2>
      <div class="table-wrap"><table class="table" data-testid="health">
        <thead><tr><th>Name</th><th>Role</th><th>Slot</th><th>Online</th><th>RTT</th><th>Sync ±</th><th>Last seen</th><th /></tr></thead>
        <tbody>
          {s.participants.map((p) => {
            const mine = p.id === s.me;
            const m = s.metrics[p.id];
            const rtt = mine ? fmtMs(clock?.rttUs) : m?.rtt_ms !== undefined ? `${m.rtt_ms.toFixed(1)} ms` : '—';
            const unc = mine ? fmtMs(clock?.uncertaintyUs, 2) : m?.clock_uncertainty_ms !== undefined ? `${m.clock_uncertainty_ms.toFixed(2)} ms` : '—';
            const slot = s.slots.find((x) => x.participant === p.id)?.name ?? '';
            return (
              <tr data-testid="health-row">
                <td>{p.name}{mine ? ' (you)' : ''}</td>
                <td>{p.role}</td>
                <td>{slot}</td>
                <td><span class={`dot ${p.online ? 'ok' : 'away'}`} aria-hidden="true" /> {p.online ? 'online' : 'away'}</td>
                <td class="num">{rtt}</td>
                <td class="num">{unc}</td>
                <td class="num">{mine ? 'now' : m ? ago(m.at) : p.online ? '—' : ago(s.lastSeen[p.id])}</td>
                <td>{!mine && <DeleteButton label="Remove" onConfirm={() => run('Could not remove', room.send('participant.kick', { participant: p.id }))} />}</td>
              </tr>
            );
          })}
        </tbody>
      </table></div>
      <p class="muted small">RTT and sync come from each device's report every 5 s.</p>
    </section>
  );
}

// ---- voice: who may talk to everyone, link health ----------------------------------------

const MESH_TALKERS = 15;

function VoicePanel({ room }: { room: Room }) {
  const s = useStore(room.state, (x) => x);
  const mine = useStore(room.voice.links, (l) => l);
  useNow(5000);
  const talkAll = s.room?.settings?.talk_all ?? [];
  const setTalkAll = (role: 'musician' | 'tech', on: boolean) => {
    const next = on ? [...new Set([...talkAll, role])] : talkAll.filter((r) => r !== role);
    void run('Room setting not changed', room.connection.sendFrame('room.settings', { talk_all: next }));
  };
  const rows: Array<{ from: string; l: LinkReport; at: number | null }> = [];
  if (s.me) for (const l of mine) rows.push({ from: s.me, l, at: null });
  for (const [id, m] of Object.entries(s.metrics)) {
    if (id === s.me) continue;
    for (const l of m.links ?? []) rows.push({ from: id, l, at: m.at });
  }
  const voiceCount = s.participants.filter((p) => p.online && isVoiceRole(p.role)).length;
  const pct = (x: number | undefined) => (x === undefined ? '—' : `${(x * 100).toFixed(x < 0.1 ? 1 : 0)} %`);
  const num = (x: number | undefined) => (x === undefined ? '—' : `${x.toFixed(1)} ms`);
  return (
    <section class="panel voice-panel">
      <h2>Talk</h2>
      <label class="check"><input type="checkbox" data-testid="talk-all-musician" checked={talkAll.includes('musician')}
        onChange={(e) => setTalkAll('musician', (e.target as HTMLInputElement).checked)} /> Musicians may talk to everyone</label>
      <label class="check"><input type="checkbox" data-testid="talk-all-tech" checked={talkAll.includes('tech')}
        onChange={(e) => setTalkAll('tech', (e.target as HTMLInputElement).checked)} /> Tech may talk to everyone</label>
      {voiceCount > MESH_TALKERS && (
        <p class="banner warn" data-testid="mesh-limit" role="status">
          {voiceCount} people who can talk are online; the voice mesh carries about {MESH_TALKERS} talkers (every phone sends one copy per listener). Talk may break up beyond that.
        </p>
      )}
      <h3>Link health</h3>
      <div class="table-wrap"><table class="table" data-testid="link-health">
        <thead><tr><th>From → to</th><th>RTT</th><th>Jitter</th><th>Loss</th><th>Concealed</th><th>Buffer</th><th>Path</th><th /></tr></thead>
        <tbody>
          {rows.map(({ from, l, at }) => {
            const weak = isWeak(l);
            return (
              <tr data-testid="link-row" data-from={from} data-peer={l.peer} data-weak={weak ? 'true' : 'false'} class={weak ? 'weak' : ''}>
                <td>{personLabel(s, from)}{from === s.me ? ' (you)' : ''} → {personLabel(s, l.peer)}{l.peer === s.me ? ' (you)' : ''}</td>
                <td class="num">{num(l.rtt_ms)}</td>
                <td class="num">{num(l.jitter_ms)}</td>
                <td class="num">{pct(l.loss)}</td>
                <td class="num">{pct(l.concealed)}</td>
                <td class="num">{num(l.jitter_buffer_ms)}</td>
                <td>{l.path ?? ''}</td>
                <td>{weak ? <span class="pill weak">{l.stalled ? 'stalled' : 'weak'}</span> : <span class="muted small">{at ? ago(at) : 'ok'}</span>}</td>
              </tr>
            );
          })}
          {rows.length === 0 && <tr><td colSpan={8} class="muted">No voice links reported yet (each phone reports every 5 s once it is connected).</td></tr>}
        </tbody>
      </table></div>
      <p class="muted small">Weak: more than 2 % loss, no audio for 2 s from someone talking, or RTT above 100 ms.</p>
    </section>
  );
}
