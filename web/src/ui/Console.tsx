// The MD console, built for one hand on a tablet: now / next, tempo, sections and cues side by side
// above the fold, keyboard shortcuts ("?"), setlist and slots below. Panels live in ./console/.
import { useEffect, useRef, useState } from 'preact/hooks';
import type { Room } from '../room';
import { useStore } from '../store';
import { StatusBar, OfflineBanner, CueBanner, Talking, HealthTable, LinkHealthTable } from './common';
import { Talk } from './Talk';
import { isVoiceRole } from '../voice/targets';
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
  return (
    <section class="panel health-panel">
      <h2>Band health</h2>
      <HealthTable room={room} actions={(id) => (
        <DeleteButton label="Remove" onConfirm={() => run('Could not remove', room.send('participant.kick', { participant: id }))} />
      )} />
      <p class="muted small">RTT and sync come from each device's report every 5 s.</p>
    </section>
  );
}

// ---- voice: who may talk to everyone, link health ----------------------------------------

const MESH_TALKERS = 15;

function VoicePanel({ room }: { room: Room }) {
  const s = useStore(room.state, (x) => x);
  const talkAll = s.room?.settings?.talk_all ?? [];
  const setTalkAll = (role: 'musician' | 'tech', on: boolean) => {
    const next = on ? [...new Set([...talkAll, role])] : talkAll.filter((r) => r !== role);
    void run('Room setting not changed', room.send('room.settings', { talk_all: next }));
  };
  const voiceCount = s.participants.filter((p) => p.online && isVoiceRole(p.role)).length;
  return (
    <section class="panel voice-panel">
      <h2>Talk</h2>
      <label class="check"><input type="checkbox" data-testid="talk-all-musician" checked={talkAll.includes('musician')}
        onChange={(e) => setTalkAll('musician', (e.target as HTMLInputElement).checked)} /> Musicians may talk to everyone</label>
      <label class="check"><input type="checkbox" data-testid="talk-all-tech" checked={talkAll.includes('tech')}
        onChange={(e) => setTalkAll('tech', (e.target as HTMLInputElement).checked)} /> Tech may talk to everyone</label>
      <label>Voice path for every device
        <select data-testid="room-voice-path" value={s.room?.settings?.voice_path ?? 'dc'}
          onChange={(e) => void run('Room setting not changed', room.send('room.settings', { voice_path: (e.target as HTMLSelectElement).value as 'dc' | 'rtp' }))}>
          <option value="dc">Low latency (data channel)</option>
          <option value="rtp">WebRTC audio (waits instead of breaking up on slow phones)</option>
        </select>
      </label>
      {voiceCount > MESH_TALKERS && (
        <p class="banner warn" data-testid="mesh-limit" role="status">
          {voiceCount} people who can talk are online; the voice mesh carries about {MESH_TALKERS} talkers (every phone sends one copy per listener). Talk may break up beyond that.
        </p>
      )}
      <h3>Link health</h3>
      <LinkHealthTable room={room} />
    </section>
  );
}
