import { useEffect, useState } from 'preact/hooks';
import type { Room } from '../room';
import { useStore } from '../store';
import { currentSong, mySlot, participantName, activeSetlist, type RoomState } from '../state';
import { transposeKey, prefersFlats } from '../transpose';
import { parseChordPro } from '../chordpro';
import { pttTo, targetLabel } from '../voice/targets';

const CUE_SHOW_MS = 12000;

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

export function StatusBar({ room, title, onLeave }: { room: Room; title: string; onLeave: () => void }) {
  const conn = useStore(room.conn, (c) => c);
  const clock = useStore(room.clockStats, (c) => c);
  const roomName = useStore(room.state, (s) => s.room?.name ?? '');
  const label = { connecting: 'Connecting', online: 'Live', reconnecting: 'Reconnecting', offline: 'Offline', ended: 'Ended' }[conn.status];
  const unc = clock?.synced ? clock.uncertaintyUs : null;
  const quality = unc === null ? 'none' : unc < 2000 ? 'good' : unc < 10000 ? 'fair' : 'poor';
  return (
    <header class="topbar">
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
        <button class="btn ghost small" onClick={onLeave} data-testid="leave">Leave</button>
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

export function CueBanner({ room, compact = false }: { room: Room; compact?: boolean }) {
  const cue = useStore(room.state, (s) => s.cue);
  const from = useStore(room.state, (s) => participantName(s, s.cue?.from));
  const now = useNow(1000);
  const [dismissed, setDismissed] = useState<number | null>(null);
  if (!cue || now - cue.at > CUE_SHOW_MS || dismissed === cue.at) return null;
  return (
    <button class={`cue cue-${cue.color ?? 'yellow'} ${compact ? 'compact' : ''}`} data-testid="cue-banner" onClick={() => setDismissed(cue.at)} aria-live="assertive">
      <span class="cue-text">{cue.text}</span>
      <span class="cue-from">{from}{cue.group ? ` → ${cue.group}` : ''}</span>
    </button>
  );
}

/** Who talks to whom, on every view; a talker reaching me can be muted on this device. */
export function Talking({ room }: { room: Room }) {
  const key = useStore(room.state, (s) => JSON.stringify(s.ptt.filter((p) => p.talking).map((p) => {
    const to = pttTo(s, p);
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
        {tempo ? `${round(tempo.bpm)} bpm · ${tempo.meter.beats}/${tempo.meter.unit}${tempo.subdivision > 1 ? ` · ÷${tempo.subdivision}` : ''}` : 'no tempo yet'}
        {tempo && !running && ' · stopped'}
      </div>
    </section>
  );
}

function round(x: number): string {
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
        <label>Latency offset (ms) <small class="muted">raise if your click sounds late (Bluetooth: ~150)</small>
          <input type="number" min="-500" max="500" step="1" value={settings.latencyMs} data-testid="click-latency"
            onChange={(e) => room.updateSettings({ latencyMs: Math.max(-500, Math.min(500, Number((e.target as HTMLInputElement).value) || 0)) })} />
        </label>
        <label class="check"><input type="checkbox" checked={settings.subdivisions}
          onChange={(e) => room.updateSettings({ subdivisions: (e.target as HTMLInputElement).checked })} /> Play subdivisions</label>
        <label class="check"><input type="checkbox" checked={settings.vibrate}
          onChange={(e) => room.updateSettings({ vibrate: (e.target as HTMLInputElement).checked })} /> Vibrate on the downbeat</label>
      </details>
    </section>
  );
}

/** Key to show a musician: the song key moved by their slot's transposition. */
export function slotKey(s: RoomState, key: string | null): { key: string | null; shifted: boolean; by: number } {
  const t = mySlot(s)?.transpose ?? 0;
  return { key: transposeKey(key, t), shifted: !!t && !!key, by: t };
}

/** Inline icons: stage phones may lack an emoji font. */
export function Icon({ name }: { name: 'speaker' | 'speaker-on' | 'mic' }) {
  const paths: Record<string, string> = {
    speaker: 'M3 9v6h4l5 4V5L7 9H3z',
    'speaker-on': 'M3 9v6h4l5 4V5L7 9H3zm13.5 3a4.5 4.5 0 0 0-2.5-4v8a4.5 4.5 0 0 0 2.5-4zM14 3.2v2.1a7 7 0 0 1 0 13.4v2.1a9 9 0 0 0 0-17.6z',
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
  const k = slotKey(s, cur.key);
  return (
    <section class={`now ${compact ? 'compact' : ''}`} data-testid="now">
      <p class="now-pos muted">Now · {cur.index + 1} of {cur.setlist.items.length} · {cur.setlist.title}</p>
      <h2 class="song-title" data-testid="song-title">{cur.song?.title ?? 'Unknown song'}</h2>
      {cur.song?.artist && <p class="song-artist muted">{cur.song.artist}</p>}
      <div class="stats">
        <div class="stat key"><span class="stat-label">{k.shifted ? 'Your key' : 'Key'}</span>
          <span class="stat-value" data-testid="song-key">{k.key ?? '—'}</span>
          {k.shifted && <span class="stat-sub muted" data-testid="song-key-concert">concert {cur.key} · {k.by > 0 ? '+' : ''}{k.by}</span>}
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
        {list.items.map((it, i) => {
          const song = s.songs.find((x) => x.id === it.song);
          const key = slotKey(s, it.key ?? song?.key ?? null).key;
          return (
            <li class={i === idx ? 'current' : i < idx ? 'done' : ''} aria-current={i === idx ? 'true' : undefined} data-testid="setlist-item">
              <span class="sl-n">{i + 1}</span>
              <span class="sl-title">{song?.title ?? '(deleted song)'}</span>
              <span class="sl-key">{key ?? ''}</span>
              <span class="sl-bpm muted">{it.bpm ?? song?.bpm ?? ''}</span>
            </li>
          );
        })}
      </ol>
    </section>
  );
}

export function Chart({ room }: { room: Room }) {
  const s = useStore(room.state, (x) => x);
  const cur = currentSong(s);
  if (!cur?.song?.chordpro) return null;
  const t = mySlot(s)?.transpose ?? 0;
  const target = transposeKey(cur.key, t);
  const cp = parseChordPro(cur.song.chordpro, t, prefersFlats(target));
  return (
    <details class="chart" open>
      <summary>Chart{t ? ` (transposed ${t > 0 ? '+' : ''}${t})` : ''}</summary>
      {cp.sections.map((sec) => (
        <div class={`cp-section ${cur.section && sec.name === cur.section ? 'current' : ''}`}>
          {sec.name && <h4>{sec.name}</h4>}
          {sec.lines.map((l) => l.kind === 'comment' ? <p class="cp-comment">{l.text}</p>
            : l.kind === 'blank' ? <div class="cp-blank" />
            : (
              <div class="cp-line">
                {l.segments.map((seg) => (
                  <span class="cp-seg"><span class="cp-chord">{seg.chord ?? '\u00a0'}</span><span class="cp-text">{seg.text || '\u00a0'}</span></span>
                ))}
              </div>
            ))}
        </div>
      ))}
    </details>
  );
}
