// The stage display for the viewer role: a TV (1920 × 1080) or a confidence monitor. Current and
// next song, section, key, a big beat, the current cue and a clock; the only control is audio.
import type { Room } from '../room';
import { useStore } from '../store';
import { currentSong } from '../state';
import { CueBanner, Talking, useNow, Icon, fmtBpm } from './common';

const CONN_LABEL = { connecting: 'Connecting', online: 'Live', reconnecting: 'Reconnecting', offline: 'Offline', ended: 'Ended' } as const;

function Clock() {
  const now = useNow(1000);
  const d = new Date(now);
  const hh = String(d.getHours()).padStart(2, '0');
  const mm = String(d.getMinutes()).padStart(2, '0');
  return <time class="stage-clock" data-testid="stage-clock" dateTime={d.toISOString()}>{hh}:{mm}</time>;
}

function BigBeat({ room }: { room: Room }) {
  const beat = useStore(room.beat, (b) => b);
  const tempo = useStore(room.state, (s) => s.tempo);
  const per = Math.min(tempo?.meter?.beats ?? 4, 16);
  const label = beat ? (beat.countIn ? `${-beat.bar}·${beat.beat + 1}` : `${beat.bar + 1}:${beat.beat + 1}`) : tempo?.running ? '…' : '—';
  return (
    <section class="stage-beat" aria-label="Beat">
      <div class={`stage-beat-num ${beat ? (beat.beat === 0 ? 'accent' : 'on') : ''} ${beat?.countIn ? 'countin' : ''}`} data-testid="beat-label" key={beat?.n}>
        {label}
      </div>
      <div class="beat-dots stage-dots" aria-hidden="true">
        {Array.from({ length: per }, (_, i) => <span class={`bd ${beat && beat.beat === i ? (i === 0 ? 'on accent' : 'on') : ''}`} />)}
      </div>
      <div class="stage-tempo">
        {tempo ? `${fmtBpm(tempo.bpm)} bpm · ${tempo.meter.beats}/${tempo.meter.unit}` : 'no tempo yet'}
        {tempo && !tempo.running && ' · stopped'}
      </div>
    </section>
  );
}

function AudioToggle({ room }: { room: Room }) {
  const on = useStore(room.audioOn, (a) => a);
  const needs = useStore(room.clickNeedsTap, (x) => x);
  return (
    <button class={`btn ${on ? 'on' : 'primary'} stage-audio`} data-testid="click-toggle" aria-pressed={on}
      onClick={() => void (on ? room.disableClick() : room.enableClick()).catch(() => {})}>
      <Icon name={on ? 'speaker-on' : 'speaker'} /> {on ? 'Audio on' : needs ? 'Tap to turn the click back on' : 'Audio off'}
    </button>
  );
}

export function Stage({ room }: { room: Room }) {
  const s = useStore(room.state, (x) => x);
  const conn = useStore(room.conn, (c) => c.status);
  const cur = currentSong(s);
  const next = cur ? cur.setlist.items[cur.index + 1] : null;
  const nextSong = next ? s.songs.find((x) => x.id === next.song) ?? null : null;
  return (
    <div class="stage" data-testid="stage">
      <header class="stage-top">
        <span class="stage-room">{s.room?.name ?? 'Downbeat'}
          <span class={`pill conn-${conn}`} data-testid="conn-status" data-status={conn}>
            <span class="dot" aria-hidden="true" />{CONN_LABEL[conn]}
          </span>
        </span>
        <Clock />
        <AudioToggle room={room} />
      </header>
      <CueBanner room={room} dismissable={false} />
      <main class="stage-main">
        <section class="stage-now">
          {cur ? (
            <>
              <p class="stage-label">Now · {cur.index + 1} of {cur.setlist.items.length}</p>
              <h1 class="stage-title" data-testid="stage-song">{cur.song?.title ?? 'Unknown song'}</h1>
              {cur.song?.artist && <p class="stage-artist">{cur.song.artist}</p>}
              <div class="stage-facts">
                <span class="stage-fact"><span class="stage-label">Key</span><b data-testid="stage-key">{cur.key ?? '—'}</b></span>
                <span class="stage-fact"><span class="stage-label">Section</span><b data-testid="stage-section">{cur.section ?? '—'}</b></span>
              </div>
              {cur.notes && <p class="stage-notes" data-testid="stage-notes">{cur.notes}</p>}
            </>
          ) : (
            <h1 class="stage-title waiting" data-testid="stage-song">Waiting for the first song</h1>
          )}
        </section>
        <BigBeat room={room} />
        <section class="stage-next">
          <p class="stage-label">Next</p>
          <p class="stage-next-title" data-testid="stage-next">{nextSong ? nextSong.title : cur ? 'End of the set' : '—'}</p>
          {next && <p class="stage-next-key">Key {next.key ?? nextSong?.key ?? '—'}{next.notes ? ` · ${next.notes}` : ''}</p>}
        </section>
      </main>
      <Talking room={room} />
    </div>
  );
}
