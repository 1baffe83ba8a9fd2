// Now: the current song, what comes next, song navigation and the section map.
import { useStore } from '../../store';
import type { Room } from '../../room';
import { activeSetlist, currentSong, itemView } from '../../state';
import { SongCard, fmtBpm, pretty } from '../common';
import { followTempo, goTo, sectionsOf, songTempo, stepSong, tempoData, tempoMatches } from './live';
import { run } from './util';

export function NowPanel({ room }: { room: Room }) {
  const s = useStore(room.state, (x) => x);
  const follow = useStore(followTempo, (f) => f);
  const cur = currentSong(s);
  const list = activeSetlist(s) ?? s.setlists[0] ?? null;
  const next = cur ? itemView(s, cur.setlist, cur.index + 1) : itemView(s, list, 0);
  const want = cur ? songTempo(s, cur.setlist.id, cur.index) : null;
  const off = want && s.tempo && !tempoMatches(s.tempo, want);

  return (
    <section class="panel now-panel" aria-label="Now playing">
      <h2>Now</h2>
      <div class="now-pair">
        <SongCard room={room} compact />
        <aside class={`next-song ${next ? '' : 'empty'}`} data-testid="next-song" aria-label="Next song">
          <p class="next-label">{cur ? 'Next' : 'First'}</p>
          {next ? (
            <>
              <p class="next-title" data-testid="next-title">{next.song?.title ?? '(deleted song)'}</p>
              <p class="next-meta">
                <span class="next-key" data-testid="next-key">{pretty(next.key) || '—'}</span>
                <span>{fmtBpm(next.bpm)} bpm</span>
                {next.meter && <span>{next.meter.beats}/{next.meter.unit}</span>}
              </p>
              {next.notes && <p class="next-notes" data-testid="next-notes">{next.notes}</p>}
            </>
          ) : <p class="muted">{cur ? 'Last song of the set' : 'No setlist yet'}</p>}
        </aside>
      </div>
      {off && want && (
        <p class="tempo-off" data-testid="tempo-off" role="status">
          Click runs {fmtBpm(s.tempo?.bpm)} bpm {s.tempo?.meter.beats}/{s.tempo?.meter.unit}; this song asks for {fmtBpm(want.bpm ?? s.tempo?.bpm)} bpm
          {want.meter ? ` ${want.meter.beats}/${want.meter.unit}` : ''}.
          <button class="btn" data-testid="tempo-load-song" onClick={() => run('Could not set the tempo', room.send('tempo.set', tempoData(want)))}>Load song tempo</button>
        </p>
      )}
      <div class="row nav-row">
        <button class="btn big" data-testid="song-prev" disabled={!cur || cur.index <= 0} onClick={() => stepSong(room, -1)}
          aria-keyshortcuts="ArrowLeft">◀ Previous</button>
        <button class="btn big primary" data-testid="song-next" disabled={!list || (cur !== null && cur.index >= cur.setlist.items.length - 1)}
          onClick={() => stepSong(room, 1)} aria-keyshortcuts="ArrowRight">{cur ? 'Next song ▶' : 'Start set ▶'}</button>
      </div>
      <label class="check big-check">
        <input type="checkbox" data-testid="follow-tempo" checked={follow} onChange={(e) => followTempo.set((e.target as HTMLInputElement).checked)} />
        Load each song's bpm and meter into the click
      </label>
    </section>
  );
}

/** Sections move everyone's chart (song.current section); they look like a song map, not like cues. */
export function SectionsPanel({ room }: { room: Room }) {
  const s = useStore(room.state, (x) => x);
  const cur = currentSong(s);
  const names = sectionsOf(s);
  return (
    <section class="panel sections-panel" aria-label="Sections">
      <h2>Jump to section <span class="h-hint">moves every chart · ↑ ↓</span></h2>
      {!cur && <p class="muted">Start the set to jump between sections.</p>}
      {cur && names.length === 0 && <p class="muted">This song's chart names no sections ({'{start_of_verse: Verse 1}'} …).</p>}
      {cur && names.length > 0 && (
        <ol class="section-map">
          {names.map((name, i) => (
            <li>
              <button class={`section-btn ${cur.section === name ? 'on' : ''}`} data-testid="section-btn" aria-pressed={cur.section === name}
                onClick={() => goTo(room, cur.setlist.id, cur.index, name)}>
                <span class="section-n">{i + 1}</span><span class="section-name">{name}</span>
              </button>
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
