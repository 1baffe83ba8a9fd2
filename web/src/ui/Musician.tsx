import { useEffect, useRef, useState } from 'preact/hooks';
import type { Room } from '../room';
import { useStore } from '../store';
import { currentSong, mySlot, me } from '../state';
import { isTalkingMode } from '../voice/ptt';
import {
  StatusBar, OfflineBanner, CueBanner, Talking, BeatIndicator, ClickControls, SongCard, SetlistView, LeaveButton, ClickRearm,
  readerKey, Icon, pretty, PITCH_LABEL,
} from './common';
import { ChartView, chartsLoaded } from './ChartView';
import { Talk, eventTime } from './Talk';

/** When the MD allows it, a musician without a slot can take a free one. */
function ClaimSlot({ room }: { room: Room }) {
  const selfClaim = useStore(room.state, (s) => !!s.room?.settings?.self_claim);
  const free = useStore(room.state, (s) => s.slots.filter((x) => !x.participant));
  const meId = useStore(room.state, (s) => s.me);
  const [err, setErr] = useState<string | null>(null);
  if (!selfClaim || free.length === 0 || !meId) return null;
  return (
    <section class="claim">
      <p class="muted">Free slots — tap yours:</p>
      <div class="chips">
        {free.map((sl) => (
          <button class="chip" data-testid="claim-slot" onClick={() => room.send('slot.assign', { slot: sl.id, participant: meId })
            .then(() => setErr(null), (e: Error) => setErr(e.message))}>{sl.name}</button>
        ))}
      </div>
      {err && <p class="error" role="alert">{err}</p>}
    </section>
  );
}

/** bar:beat of the click as the server numbers it (each song starts at bar 1). */
export function BarBeat({ room }: { room: Room }) {
  const beat = useStore(room.beat, (b) => b);
  const running = useStore(room.state, (s) => !!s.tempo?.running);
  const label = beat ? (beat.countIn ? `${-beat.bar}·${beat.beat + 1}` : `${beat.bar + 1}:${beat.beat + 1}`) : running ? '…' : '—';
  return (
    <span class={`bar-beat ${beat ? (beat.accent === 2 || beat.beat === 0 ? 'accent' : 'on') : ''} ${beat?.countIn ? 'countin' : ''}`}
      data-testid="bar-beat" key={beat?.n} aria-label="Bar and beat">
      {beat?.countIn && <small>in </small>}{label}
    </span>
  );
}

/** The Talk button of the sticky bar: hold or tap to latch, like the big one below. */
function BarTalk({ room }: { room: Room }) {
  const v = room.voice;
  const mic = useStore(v.mic, (m) => m);
  const ptt = useStore(v.ptt, (p) => p);
  if (!v.enabled) return null;
  const talking = isTalkingMode(ptt.mode);
  if (mic !== 'on') {
    return (
      <button class="btn bar-talk" data-testid="bar-talk" disabled={mic === 'asking'} onClick={() => void v.enableMic()}>
        <Icon name="mic" /> {mic === 'asking' ? 'Mic…' : 'Enable mic'}
      </button>
    );
  }
  return (
    <button class={`btn bar-talk ${talking ? 'talking' : ''}`} data-testid="bar-talk" aria-pressed={talking}
      onPointerDown={(e) => { if (e.button > 0) return; e.preventDefault(); (e.currentTarget as HTMLElement).setPointerCapture?.(e.pointerId); v.input({ kind: 'down', at: eventTime(e) }); }}
      onPointerUp={(e) => { e.preventDefault(); v.input({ kind: 'up', at: eventTime(e) }); }}
      onPointerCancel={() => v.input({ kind: 'cancel' })}
      onContextMenu={(e) => e.preventDefault()}>
      <Icon name="mic" /> {talking ? 'Talking' : 'Talk'}
    </button>
  );
}

/** The compact bar that stays on top: song, reader's key, bar:beat and Talk. */
function MusicBar({ room }: { room: Room }) {
  const s = useStore(room.state, (x) => x);
  const conn = useStore(room.conn, (c) => c.status);
  useStore(chartsLoaded, (n) => n); // the key line is redrawn once the chart module is there
  const cur = currentSong(s);
  const k = cur ? readerKey(s, cur.song?.key ?? null, cur.key) : null;
  return (
    <div class="m-bar" data-testid="music-bar">
      <div class="m-song">
        <span class={`dot ${conn === 'online' ? 'ok' : 'away'}`} title={conn} aria-hidden="true" />
        <b class="m-title" data-testid="song-title">{cur ? (cur.song?.title ?? 'Unknown song') : 'Waiting for the MD to pick a song'}</b>
        {cur?.section && <span class="m-section" data-testid="song-section">{cur.section}</span>}
      </div>
      <div class="m-row">
        {cur && (
          <span class="m-key" aria-label="Your key">
            <span class="m-key-label">Key</span>
            <b data-testid="song-key">{k?.key ?? '—'}</b>
            {k && (k.shifted || k.reading.capo > 0) && (
              <span class="m-key-how" data-testid="key-how">{k.how.join(' · ')}{k.playKey && k.playKey !== k.key ? ` · concert ${pretty(k.playKey)}` : ''}</span>
            )}
          </span>
        )}
        <BarBeat room={room} />
        <BarTalk room={room} />
      </div>
    </div>
  );
}

/** Keeps `--sticky-h` equal to the sticky block's height, so sections scroll to just below it. */
function useStickyHeight() {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    const apply = () => document.documentElement.style.setProperty('--sticky-h', `${Math.ceil(el.getBoundingClientRect().height)}px`);
    apply();
    const ro = new ResizeObserver(apply);
    ro.observe(el);
    return () => { ro.disconnect(); document.documentElement.style.removeProperty('--sticky-h'); };
  }, []);
  return ref;
}

/** The phone view: when a song is live the chart is the screen; no controls that change the room. */
export function Musician({ room, onLeave }: { room: Room; onLeave: () => void }) {
  const slot = useStore(room.state, (s) => mySlot(s));
  const self = useStore(room.state, (s) => me(s));
  const live = useStore(room.state, (s) => currentSong(s));
  // A chart that is still coming (or failed to come) takes its place with a line saying so.
  const hasChart = !!live && live.chart.status !== 'none';
  const sticky = useStickyHeight();
  const reading = slot as (typeof slot & { capo?: number; pitch?: keyof typeof PITCH_LABEL }) | null;
  return (
    <div class="musician">
      <StatusBar room={room} title={self ? `${self.name} · ${self.role}` : ''} />
      <div class="m-sticky" ref={sticky}>
        <MusicBar room={room} />
        <OfflineBanner room={room} />
        <CueBanner room={room} />
        <ClickRearm room={room} />
        {/* Who is talking stays in sight with the Talk button (the list inside Talk below is hidden here). */}
        <Talking room={room} />
      </div>
      {hasChart ? <ChartView room={room} /> : <SongCard room={room} />}
      {live && (
        <p class="song-facts muted" data-testid="song-facts">
          {live.index + 1} of {live.setlist.items.length} · <span data-testid="song-bpm">{live.bpm ?? '—'}</span> bpm ·{' '}
          <span data-testid="song-meter">{live.meter ? `${live.meter.beats}/${live.meter.unit}` : '—'}</span>
          {live.notes && <span class="notes" data-testid="song-notes"> · Note: {live.notes}</span>}
        </p>
      )}
      <p class="slot-line">
        <span class="muted">Your slot</span>{' '}
        <b data-testid="my-slot">{slot ? slot.name : 'not assigned yet'}</b>
        {slot?.instrument && <span class="muted"> · {slot.instrument}</span>}
        {reading?.pitch && reading.pitch !== 'C' ? <span class="muted"> · {PITCH_LABEL[reading.pitch]}</span> : null}
        {reading?.capo ? <span class="muted"> · capo {reading.capo}</span> : null}
        {slot?.transpose ? <span class="muted"> · transpose {slot.transpose > 0 ? '+' : ''}{slot.transpose}</span> : null}
      </p>
      {!slot && <ClaimSlot room={room} />}
      <BeatIndicator room={room} />
      <ClickControls room={room} />
      <Talk room={room} />
      <SetlistView room={room} />
      <section class="leave-row">
        <LeaveButton onLeave={onLeave} />
      </section>
    </div>
  );
}
