// The tech view: everyone's link health, who is talking, cues (a tech may cue the "tech" group
// only), the music read-only, and Talk.
import { useState } from 'preact/hooks';
import type { Room } from '../room';
import { COMMAND_SCHEMAS, DEFINITIONS } from '../protocol.gen';
import type { CueColor } from '../model';
import { TECH_GROUP } from '../state';
import {
  StatusBar, OfflineBanner, CueBanner, Talking, BeatIndicator, SongCard, SetlistView, HealthTable, LinkHealthTable, LeaveButton,
  ClickControls, ClickRearm,
} from './common';
import { Talk } from './Talk';

const COLORS = DEFINITIONS.cue_color.enum as readonly CueColor[];

function TechCues({ room }: { room: Room }) {
  const [text, setText] = useState('');
  const [color, setColor] = useState<CueColor>('orange');
  const [msg, setMsg] = useState<{ kind: 'ok' | 'error'; text: string } | null>(null);
  const fail = (what: string) => (e: Error) => setMsg({ kind: 'error', text: `${what}: ${e.message}` });
  const send = (e: Event) => {
    e.preventDefault();
    const t = text.trim();
    if (!t) { setMsg({ kind: 'error', text: 'Type the cue first, e.g. “Check mic 3”.' }); return; }
    room.send('cue', { text: t, color, group: TECH_GROUP }).then(() => { setText(''); setMsg({ kind: 'ok', text: 'Sent to the tech group.' }); }, fail('Cue not sent'));
  };
  const clear = () => room.send('cue.clear', { group: TECH_GROUP })
    .then(() => setMsg({ kind: 'ok', text: 'Tech cue cleared.' }), fail('Cue not cleared'));
  return (
    <section class="panel tech-cues">
      <h2>Cue the tech group</h2>
      <form class="tech-cue-form" onSubmit={send}>
        <input data-testid="tech-cue-text" placeholder="e.g. “Check mic 3”" maxLength={COMMAND_SCHEMAS.cue.properties.text.maxLength}
          value={text} onInput={(e) => setText((e.target as HTMLInputElement).value)} aria-label="Cue text" />
        <select data-testid="tech-cue-color" value={color} onChange={(e) => setColor((e.target as HTMLSelectElement).value as CueColor)} aria-label="Cue colour">
          {COLORS.map((c) => <option value={c}>{c}</option>)}
        </select>
        <button class="btn primary" type="submit" data-testid="tech-cue-send">Send to tech</button>
        <button class="btn" type="button" data-testid="tech-cue-clear" onClick={() => void clear()}>Clear tech cue</button>
      </form>
      {msg && <p class={msg.kind === 'error' ? 'error' : 'muted'} role={msg.kind === 'error' ? 'alert' : 'status'} data-testid="tech-cue-msg">{msg.text}</p>}
      <p class="muted small">Cues to the tech group reach techs and the MD only; the band does not see them.</p>
    </section>
  );
}

export function Tech({ room, onLeave }: { room: Room; onLeave: () => void }) {
  return (
    <div class="tech">
      <StatusBar room={room} title="Tech" />
      <div class="m-sticky">
        <OfflineBanner room={room} />
        <CueBanner room={room} compact />
        <ClickRearm room={room} />
      </div>
      {!room.voice.enabled && <Talking room={room} />}
      <div class="tech-grid">
        <section class="panel tech-talk"><h2>Talk</h2><Talk room={room} /></section>
        <TechCues room={room} />
        <section class="panel tech-health">
          <h2>Band health</h2>
          <HealthTable room={room} />
          <h3>Voice links</h3>
          <LinkHealthTable room={room} />
        </section>
        <section class="panel tech-music">
          <h2>Music (read-only)</h2>
          <SongCard room={room} compact />
          <BeatIndicator room={room} compact />
          <ClickControls room={room} />
          <SetlistView room={room} />
        </section>
      </div>
      <section class="leave-row"><LeaveButton onLeave={onLeave} /></section>
    </div>
  );
}
