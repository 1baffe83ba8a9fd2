import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import type { Room } from '../room';
import { useStore } from '../store';
import { currentSong, mySlot, participantName, activeSetlist, itemView, visibleCues, type Cue, type RoomState } from '../state';
import type { Slot, LinkReport } from '../model';
import { transposeKeyFor, type Pitch } from '../chart';
import { pttTo, targetLabel, personLabel } from '../voice/targets';
import { isWeak } from '../voice/stats';
import { Calibrate } from './Calibrate';
import { OFFSET_LIMIT_MS } from '../calibrate';

export function fmtMs(us: number | undefined | null, digits = 1): string {
  if (us === undefined || us === null || !Number.isFinite(us)) return '—';
  return `${(us / 1000).toFixed(digits)} ms`;
}

export function ago(ms: number | undefined): string {
  if (!ms) return '—';
  const s = Math.round((Date.now() - ms) / 1000);
  if (s < 5) return 'just now';
  if (s < 90) return `${s} s ago`;
  return `${Math.round(s / 60)} min ago`;
}

export function useNow(everyMs: number): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(t);
  }, [everyMs]);
  return now;
}

/** Room name and the connection / sync pills. Leave is a separate, confirmed control (LeaveButton). */
export function StatusBar({ room, title, onLeave }: { room: Room; title: string; onLeave?: () => void }) {
  const conn = useStore(room.conn, (c) => c);
  const clock = useStore(room.clockStats, (c) => c);
  const roomName = useStore(room.state, (s) => s.room?.name ?? '');
  const label = { connecting: 'Connecting', online: 'Live', reconnecting: 'Reconnecting', offline: 'Offline', ended: 'Ended' }[conn.status];
  const unc = clock?.synced ? clock.uncertaintyUs : null;
  const quality = unc === null ? 'none' : unc < 2000 ? 'good' : unc < 10000 ? 'fair' : 'poor';
  return (
    <header class="topbar">
      {onLeave && <LeaveButton onLeave={onLeave} compact />}
      <div class="topbar-room">
        <b>{roomName || 'Downbeat'}</b>
        <span class="muted">{title}</span>
      </div>
      <div class="topbar-status">
        <span class={`pill conn-${conn.status}`} data-testid="conn-status" data-status={conn.status}>
          <span class="dot" aria-hidden="true" />{label}
        </span>
        <span class={`pill sync-${quality}`} data-testid="sync-quality" title={clock ? `RTT ${fmtMs(clock.rttUs)}, jitter ${fmtMs(clock.jitterUs)}` : ''}>
          Sync {unc === null ? '…' : `±${(unc / 1000).toFixed(unc < 10000 ? 1 : 0)} ms`}
        </span>
      </div>
    </header>
  );
}

export function OfflineBanner({ room }: { room: Room }) {
  const conn = useStore(room.conn, (c) => c);
  useNow(1000);
  if (conn.status === 'online' || (conn.status === 'connecting' && !conn.cachedAt)) return null;
  const since = conn.offlineSince ? ` for ${Math.max(1, Math.round((Date.now() - conn.offlineSince) / 1000))} s` : '';
  const text = conn.status === 'offline'
    ? `Offline${since}. Showing the last setlist this phone saw; it reconnects by itself when the network is back.`
    : conn.status === 'connecting'
      ? 'Connecting… showing the setlist saved on this phone.'
      : `Connection lost${since}. Reconnecting…`;
  return <div class="banner offline" role="status" data-testid="offline-banner">{text}</div>;
}

/** Pinned cues: large, coloured, until the next cue replaces them or this device dismisses them. */
export function CueBanner({ room, compact = false, dismissable = true }: { room: Room; compact?: boolean; dismissable?: boolean }) {
  const key = useStore(room.state, (s) => JSON.stringify(visibleCues(s).map((c) => ({ ...c, name: participantName(s, c.from) }))));
  const cues = JSON.parse(key) as Array<Cue & { name: string }>;
  if (cues.length === 0) return null;
  return (
    <div class="cues-pinned" aria-live="assertive">
      {cues.map((cue) => (
        <div class={`cue cue-${cue.color ?? 'yellow'} ${compact ? 'compact' : ''}`} data-testid="cue-banner" data-cue-id={cue.id} data-group={cue.group ?? ''} role="alert">
          <span class="cue-body">
            <span class="cue-text" data-testid="cue-text">{cue.text}</span>
            <span class="cue-from">{cue.name}{cue.group ? ` → ${cue.group}` : ' → everyone'}</span>
          </span>
          {dismissable && (
            <button class="cue-dismiss" data-testid="cue-dismiss" aria-label={`Dismiss the cue "${cue.text}" on this device`} onClick={() => room.dismissCue(cue.id)}>
              <Icon name="close" />
            </button>
          )}
        </div>
      ))}
    </div>
  );
}

/** Leave, asked first: a musician who leaves needs the QR code again. */
export function LeaveButton({ onLeave, compact = false }: { onLeave: () => void; compact?: boolean }) {
  const ref = useRef<HTMLDialogElement>(null);
  return (
    <>
      <button class={`btn ${compact ? 'ghost leave-compact' : 'danger leave-big'}`} data-testid="leave" onClick={() => ref.current?.showModal()}>
        Leave the room
      </button>
      <dialog ref={ref} class="confirm" data-testid="leave-dialog" onClick={(e) => { if (e.target === ref.current) ref.current?.close(); }}>
        <p class="confirm-q">Leave the room?</p>
        <p>You will need the QR code to come back.</p>
        <div class="row">
          <button class="btn big" data-testid="leave-cancel" autoFocus onClick={() => ref.current?.close()}>Stay</button>
          <button class="btn big danger" data-testid="leave-confirm" onClick={() => { ref.current?.close(); onLeave(); }}>Leave</button>
        </div>
      </dialog>
    </>
  );
}

/** After a reload the click is armed again; where the browser wants a tap first, one big button says so. */
export function ClickRearm({ room }: { room: Room }) {
  const needs = useStore(room.clickNeedsTap, (x) => x);
  if (!needs) return null;
  return (
    <button class="btn big primary rearm" data-testid="click-rearm" onClick={() => void room.enableClick().catch(() => {})}>
      <Icon name="speaker" /> Tap to turn the click back on
    </button>
  );
}

/** Who talks to whom, on every view; a talker reaching me can be muted on this device. */
export function Talking({ room }: { room: Room }) {
  const key = useStore(room.state, (s) => JSON.stringify(s.ptt.filter((p) => p.talking).map((p) => {
    const to = pttTo(p);
    return { id: p.participant, name: participantName(s, p.participant), target: shortTargetLabel(s, p.target), me: p.participant === s.me, toMe: !!s.me && to.includes(s.me) };
  })));
  const muted = useStore(room.voice.settings, (v) => v.muted);
  const items = JSON.parse(key) as Array<{ id: string; name: string; target: string; me: boolean; toMe: boolean }>;
  if (items.length === 0) return null;
  return (
    <div class="banner talking" data-testid="talking" role="status">
      <Icon name="mic" />
      {items.map((t) => (
        <span class={`talker ${t.toMe ? 'to-me' : ''}`}>
          <span data-testid="talking-item" data-participant={t.id} data-to-me={t.toMe ? 'true' : 'false'}>
            {t.name}{t.me ? ' (you)' : ''} → {t.target}{t.toMe ? ' (you hear it)' : ''}
          </span>
          {t.toMe && room.voice.enabled && (
            <button class="btn small ghost" data-testid="talker-mute" aria-pressed={muted.includes(t.id)}
              aria-label={`${muted.includes(t.id) ? 'Unmute' : 'Mute'} ${t.name} on this device`} onClick={() => room.voice.toggleMute(t.id)}>
              {muted.includes(t.id) ? 'Unmute' : 'Mute'}
            </button>
          )}
        </span>
      ))}
    </div>
  );
}

/** A talk target in the who-talks-to-whom line: "all", "MD", "vocals", "Bo (Drums)". */
function shortTargetLabel(s: RoomState, target: string | null): string {
  if (target === 'md') return 'MD';
  if (target === 'all') return 'all';
  return targetLabel(s, target);
}

export function BeatIndicator({ room, compact = false }: { room: Room; compact?: boolean }) {
  const beat = useStore(room.beat, (b) => b);
  const tempo = useStore(room.state, (s) => s.tempo);
  const per = tempo?.meter?.beats ?? 4;
  const running = !!tempo?.running;
  const label = beat ? (beat.countIn ? `${-beat.bar}·${beat.beat + 1}` : `${beat.bar + 1}:${beat.beat + 1}`) : running ? '…' : '—';
  return (
    <section class={`beat ${compact ? 'compact' : ''}`} data-testid="beat-indicator" aria-label="Beat">
      <div class={`beat-big ${beat ? (beat.accent === 2 ? 'accent' : 'normal') : ''} ${beat?.countIn ? 'countin' : ''}`} key={beat?.n}>
        {beat?.countIn && <span class="beat-tag">count-in</span>}
        <span class="beat-num" data-testid="beat-label">{label}</span>
      </div>
      <div class="beat-dots" aria-hidden="true">
        {Array.from({ length: Math.min(per, 16) }, (_, i) => (
          <span class={`bd ${beat && beat.beat === i ? (i === 0 ? 'on accent' : 'on') : ''}`} />
        ))}
      </div>
      <div class="beat-meta muted">
        {tempo ? `${fmtBpm(tempo.bpm)} bpm · ${tempo.meter.beats}/${tempo.meter.unit}${tempo.subdivision > 1 ? ` · ÷${tempo.subdivision}` : ''}` : 'no tempo yet'}
        {tempo && !running && ' · stopped'}
      </div>
    </section>
  );
}

/** A bpm as the band reads it: "120", "92.5"; "—" when there is none. */
export function fmtBpm(x: number | null | undefined): string {
  if (x === null || x === undefined) return '—';
  return Number.isInteger(x) ? String(x) : x.toFixed(1);
}

export function ClickControls({ room }: { room: Room }) {
  const on = useStore(room.audioOn, (a) => a);
  const settings = useStore(room.settings, (s) => s);
  const [err, setErr] = useState<string | null>(null);
  const toggle = async () => {
    setErr(null);
    try {
      if (on) await room.disableClick();
      else await room.enableClick();
    } catch {
      setErr('This browser would not start audio. Tap again, or check the phone is not on silent.');
    }
  };
  return (
    <section class="click">
      <button class={`btn big ${on ? 'on' : 'primary'}`} data-testid="click-toggle" aria-pressed={on} onClick={toggle}>
        <Icon name={on ? 'speaker-on' : 'speaker'} /> {on ? 'Click on — tap to mute' : 'Tap to hear the click'}
      </button>
      {err && <p class="error" role="alert">{err}</p>}
      <details class="click-settings">
        <summary>Click settings</summary>
        <label>Volume
          <input type="range" min="0" max="1" step="0.05" value={settings.volume} data-testid="click-volume"
            onInput={(e) => room.updateSettings({ volume: Number((e.target as HTMLInputElement).value) })} />
        </label>
        <Calibrate room={room} />
        <label>Latency offset (ms) <small class="muted">raise if your click sounds late (Bluetooth: ~150)</small>
          <input type="number" min={-OFFSET_LIMIT_MS} max={OFFSET_LIMIT_MS} step="1" value={settings.latencyMs} data-testid="click-latency"
            onChange={(e) => room.updateSettings({ latencyMs: Math.max(-OFFSET_LIMIT_MS, Math.min(OFFSET_LIMIT_MS, Number((e.target as HTMLInputElement).value) || 0)) })} />
        </label>
        <label class="check"><input type="checkbox" checked={settings.subdivisions}
          onChange={(e) => room.updateSettings({ subdivisions: (e.target as HTMLInputElement).checked })} /> Play subdivisions</label>
        <label class="check"><input type="checkbox" checked={settings.vibrate}
          onChange={(e) => room.updateSettings({ vibrate: (e.target as HTMLInputElement).checked })} /> Vibrate on the downbeat</label>
      </details>
    </section>
  );
}

/** How a slot reads charts: instrument pitch, capo, extra transpose. */
export type SlotReading = { capo: number; pitch: Pitch; transpose: number };
export function slotReading(slot: Slot | null): SlotReading {
  return { capo: slot?.capo ?? 0, pitch: slot?.pitch ?? 'C', transpose: slot?.transpose ?? 0 };
}

/** "B♭", "F♯m": a key or chord root written with the music signs. */
export function pretty(name: string | null | undefined): string {
  return (name ?? '').replace(/([A-G])b/g, '$1♭').replace(/([A-G])#/g, '$1♯');
}

export const PITCH_LABEL: Record<Pitch, string> = { C: 'concert pitch', Bb: 'B♭ instrument', Eb: 'E♭ instrument', F: 'F instrument' };

export type ReaderKey = {
  key: string | null; shapesKey: string | null; playKey: string | null; reading: SlotReading;
  /** Whether the reader sees something other than the play key. */
  shifted: boolean;
  /** "Capo 2 · shapes C", "E♭ instrument", "+2": how this slot reads the play key. */
  how: string[];
};

/** The key a musician reads: play key (setlist item key over song key), then their slot's pitch, transpose and capo. */
export function readerKey(s: RoomState, songKey: string | null, playKey: string | null): ReaderKey {
  const reading = slotReading(mySlot(s));
  let k: { key: string | null; shapesKey: string | null };
  try {
    k = transposeKeyFor({ songKey, playKey: playKey ?? songKey, ...reading, nashville: false });
  } catch {
    k = { key: playKey ?? songKey, shapesKey: playKey ?? songKey }; // charts not loaded: the concert key
  }
  const how: string[] = [];
  if (reading.pitch !== 'C') how.push(PITCH_LABEL[reading.pitch]);
  if (reading.transpose) how.push(`${reading.transpose > 0 ? '+' : '−'}${Math.abs(reading.transpose)}`);
  if (reading.capo) how.push(`Capo ${reading.capo} · shapes ${k.shapesKey ?? '—'}`);
  const pk = playKey ?? songKey;
  return { key: k.key, shapesKey: k.shapesKey, playKey: pk, reading, shifted: !!pk && how.length > 0, how };
}

/** Key to show a musician: the key moved by their slot (kept for the console's card). */
export function slotKey(s: RoomState, key: string | null): { key: string | null; shifted: boolean; by: number } {
  const r = readerKey(s, key, key);
  return { key: r.key, shifted: r.shifted, by: r.reading.transpose };
}

/** Inline icons: stage phones may lack an emoji font. */
export function Icon({ name }: { name: 'speaker' | 'speaker-on' | 'mic' | 'close' }) {
  const paths: Record<string, string> = {
    speaker: 'M3 9v6h4l5 4V5L7 9H3z',
    'speaker-on': 'M3 9v6h4l5 4V5L7 9H3zm13.5 3a4.5 4.5 0 0 0-2.5-4v8a4.5 4.5 0 0 0 2.5-4zM14 3.2v2.1a7 7 0 0 1 0 13.4v2.1a9 9 0 0 0 0-17.6z',
    close: 'M6.4 5 5 6.4 10.6 12 5 17.6 6.4 19 12 13.4 17.6 19 19 17.6 13.4 12 19 6.4 17.6 5 12 10.6z',
    mic: 'M12 14a3 3 0 0 0 3-3V5a3 3 0 0 0-6 0v6a3 3 0 0 0 3 3zm5-3a5 5 0 0 1-10 0H5a7 7 0 0 0 6 6.9V21h2v-3.1a7 7 0 0 0 6-6.9h-2z',
  };
  return <svg class="icon" viewBox="0 0 24 24" width="1.2em" height="1.2em" aria-hidden="true"><path fill="currentColor" d={paths[name]} /></svg>;
}

export function SongCard({ room, compact = false }: { room: Room; compact?: boolean }) {
  const s = useStore(room.state, (x) => x);
  const cur = currentSong(s);
  if (!cur) {
    return (
      <section class={`now empty ${compact ? 'compact' : ''}`} data-testid="now">
        <p class="now-pos muted">Now</p>
        <h2 class="song-title" data-testid="song-title">Waiting for the MD to pick a song</h2>
      </section>
    );
  }
  const k = readerKey(s, cur.song?.key ?? null, cur.key);
  return (
    <section class={`now ${compact ? 'compact' : ''}`} data-testid="now">
      <p class="now-pos muted">Now · {cur.index + 1} of {cur.setlist.items.length} · {cur.setlist.title}</p>
      <h2 class="song-title" data-testid="song-title">{cur.song?.title ?? 'Unknown song'}</h2>
      {cur.song?.artist && <p class="song-artist muted">{cur.song.artist}</p>}
      <div class="stats">
        <div class="stat key"><span class="stat-label">{k.shifted ? 'Your key' : 'Key'}</span>
          <span class="stat-value" data-testid="song-key">{k.key ?? '—'}</span>
          {k.shifted && <span class="stat-sub muted" data-testid="song-key-concert">concert {cur.key} · {k.how.join(' · ')}</span>}
        </div>
        <div class="stat"><span class="stat-label">BPM</span><span class="stat-value" data-testid="song-bpm">{cur.bpm ?? '—'}</span></div>
        <div class="stat"><span class="stat-label">Meter</span><span class="stat-value" data-testid="song-meter">{cur.meter ? `${cur.meter.beats}/${cur.meter.unit}` : '—'}</span></div>
      </div>
      {cur.section && <p class="section-chip" data-testid="song-section">{cur.section}</p>}
      {cur.notes && <p class="notes">Note: {cur.notes}</p>}
    </section>
  );
}

export function SetlistView({ room }: { room: Room }) {
  const s = useStore(room.state, (x) => x);
  const list = activeSetlist(s);
  if (!list) return <section class="setlist"><h3>Setlist</h3><p class="muted">No setlist yet.</p></section>;
  const idx = s.songCurrent?.setlist === list.id ? s.songCurrent.index : -1;
  return (
    <section class="setlist" data-testid="setlist">
      <h3>{list.title}</h3>
      <ol>
        {list.items.map((_, i) => {
          const { song, key: playKey, bpm, notes } = itemView(s, list, i)!;
          const key = readerKey(s, song?.key ?? null, playKey).key;
          return (
            <li class={i === idx ? 'current' : i < idx ? 'done' : ''} aria-current={i === idx ? 'true' : undefined} data-testid="setlist-item">
              <span class="sl-n">{i + 1}</span>
              <span class="sl-title">{song?.title ?? '(deleted song)'}</span>
              <span class="sl-key">{key ?? ''}</span>
              <span class="sl-bpm muted">{bpm ?? ''}</span>
              {notes && <span class="sl-notes" data-testid="setlist-notes">{notes}</span>}
            </li>
          );
        })}
      </ol>
    </section>
  );
}


// ---- link health: the MD console's tables, shared with the tech view ----------------------

/** Everyone in the room: role, slot, online, RTT and clock sync (from each device's 5 s report). */
export function HealthTable({ room, actions }: { room: Room; actions?: (id: string) => ComponentChildren }) {
  const s = useStore(room.state, (x) => x);
  const clock = useStore(room.clockStats, (c) => c);
  useNow(5000);
  return (
    <div class="table-wrap"><table class="table" data-testid="health">
      <thead><tr><th>Name</th><th>Role</th><th>Slot</th><th>Online</th><th>RTT</th><th>Sync ±</th><th>Last seen</th>{actions && <th />}</tr></thead>
      <tbody>
        {s.participants.map((p) => {
          const mine = p.id === s.me;
          const m = s.metrics[p.id];
          const rtt = mine ? fmtMs(clock?.rttUs) : m?.rtt_ms !== undefined ? `${m.rtt_ms.toFixed(1)} ms` : '—';
          const unc = mine ? fmtMs(clock?.uncertaintyUs, 2) : m?.clock_uncertainty_ms !== undefined ? `${m.clock_uncertainty_ms.toFixed(2)} ms` : '—';
          const slot = s.slots.find((x) => x.participant === p.id)?.name ?? '';
          const talking = s.ptt.some((t) => t.participant === p.id && t.talking);
          return (
            <tr data-testid="health-row" data-participant={p.id}>
              <td>{p.name}{mine ? ' (you)' : ''}{talking && <span class="pill talking-pill" data-testid="health-talking">talking</span>}</td>
              <td>{p.role}</td>
              <td>{slot}</td>
              <td><span class={`dot ${p.online ? 'ok' : 'away'}`} aria-hidden="true" /> {p.online ? 'online' : 'away'}</td>
              <td class="num">{rtt}</td>
              <td class="num">{unc}</td>
              <td class="num">{mine ? 'now' : m ? ago(m.at) : p.online ? '—' : ago(s.lastSeen[p.id])}</td>
              {actions && <td>{!mine && actions(p.id)}</td>}
            </tr>
          );
        })}
      </tbody>
    </table></div>
  );
}

/** Every voice link as each end reports it: RTT, jitter, loss, concealment, buffer, path. */
export function LinkHealthTable({ room }: { room: Room }) {
  const s = useStore(room.state, (x) => x);
  const mine = useStore(room.voice.links, (l) => l);
  useNow(5000);
  const rows: Array<{ from: string; l: LinkReport; at: number | null }> = [];
  if (s.me) for (const l of mine) rows.push({ from: s.me, l, at: null });
  for (const [id, m] of Object.entries(s.metrics)) {
    if (id === s.me) continue;
    for (const l of m.links ?? []) rows.push({ from: id, l, at: m.at });
  }
  const pct = (x: number | undefined) => (x === undefined ? '—' : `${(x * 100).toFixed(x < 0.1 ? 1 : 0)} %`);
  const num = (x: number | undefined) => (x === undefined ? '—' : `${x.toFixed(1)} ms`);
  return (
    <>
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
    </>
  );
}
