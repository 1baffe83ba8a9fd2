// Printable setlist (route #print/<setlist id> of the MD console): the running order, then every
// chart in its setlist item's key, one song per page. "Print" hands it to the browser (PDF-ready).
import { useEffect, useState } from 'preact/hooks';
import type { Room } from '../room';
import { useStore } from '../store';
import { initChart, renderChart, type RenderedChart } from '../chart';
import { itemView } from '../state';
import { pretty, fmtBpm } from './common';

export function printHash(setlist: string): string {
  return `#print/${encodeURIComponent(setlist)}`;
}

export function printTarget(hash: string): string | null {
  const m = /^#print\/([^/?#]+)/.exec(hash);
  return m ? decodeURIComponent(m[1]) : null;
}

export function Print({ room, setlist, onClose }: { room: Room; setlist: string; onClose: () => void }) {
  const s = useStore(room.state, (x) => x);
  const [ready, setReady] = useState(false);
  useEffect(() => { void initChart().then(() => setReady(true)); }, []);
  useEffect(() => {
    const prev = document.title;
    const list = s.setlists.find((x) => x.id === setlist);
    if (list) document.title = `${list.title} · ${s.room?.name ?? 'Downbeat'}`;
    return () => { document.title = prev; };
  }, [setlist, s.setlists]);
  const list = s.setlists.find((x) => x.id === setlist);
  // Every chart of the printed setlist is fetched (charts come on demand, not with the snapshot).
  const songIds = list?.items.map((x) => x.song).join(',') ?? '';
  useEffect(() => {
    room.charts.want(songIds ? songIds.split(',') : []);
    return () => room.charts.want([]);
  }, [room, songIds]);
  const songs = list?.items.map((_, i) => {
    const item = itemView(s, list, i)!;
    const { song, key } = item;
    let chart: RenderedChart | null = null;
    if (ready && song?.chordpro) chart = renderChart(song.chordpro, { songKey: song.key, playKey: key, capo: 0, pitch: 'C', transpose: 0, nashville: false });
    return { ...item, chart, status: item.chart };
  }) ?? [];

  return (
    <div class="print-page" data-testid="print-page">
      <div class="print-bar no-print">
        <button class="btn" data-testid="print-back" onClick={onClose}>◀ Back to the console</button>
        <button class="btn primary" data-testid="print-go" onClick={() => window.print()} disabled={!list}>Print / save as PDF</button>
      </div>
      {!list && <p class="print-missing">This setlist no longer exists.</p>}
      {list && (
        <>
          <header class="print-head">
            <h1 data-testid="print-title">{list.title}</h1>
            <p>{s.room?.name ?? ''} · {new Date().toLocaleDateString()}</p>
          </header>
          <ul class="print-order" data-testid="print-order">
            {songs.map(({ song, key, bpm, meter, notes }, i) => (
              <li>
                <span class="po-n">{i + 1}.</span>
                <span class="po-title">{song?.title ?? '(deleted song)'}</span>
                <span class="po-key">{pretty(key)}</span>
                <span class="po-bpm">{bpm ? `${fmtBpm(bpm)} bpm` : ''}</span>
                <span class="po-meter">{meter ? `${meter.beats}/${meter.unit}` : ''}</span>
                {notes && <span class="po-notes">{notes}</span>}
              </li>
            ))}
          </ul>
          {songs.map(({ song, key, bpm, meter, notes, chart, status }, i) => (
            <article class="print-song" data-testid="print-song" data-key={key ?? ''}>
              <h2>{i + 1}. {song?.title ?? '(deleted song)'}</h2>
              <p class="print-meta">
                {song?.artist && <span>{song.artist}</span>}
                <span>Key <b data-testid="print-key">{pretty(key) || '—'}</b>{song?.key && key && song.key !== key ? ` (written in ${pretty(song.key)})` : ''}</span>
                {bpm && <span>{fmtBpm(bpm)} bpm</span>}
                {meter && <span>{meter.beats}/{meter.unit}</span>}
              </p>
              {notes && <p class="print-notes">Note: {notes}</p>}
              {status.status === 'none' && <p class="print-nochart">No chart for this song.</p>}
              {status.status === 'loading' && <p class="print-nochart" data-testid="print-loading">loading chart…</p>}
              {status.status === 'error' && <p class="print-nochart" role="alert">The chart could not be loaded: {status.message}</p>}
              {chart?.sections.map((sec) => (
                <section class="print-section">
                  {sec.name && <h3>{sec.name}</h3>}
                  {sec.lines.map((l) => l.kind === 'comment' ? <p class="print-comment">{l.text}</p>
                    : l.kind === 'blank' ? <div class="print-blank" />
                    : l.kind === 'directive' ? null
                    : (
                      <div class="print-line">
                        {l.segments.map((seg) => (
                          <span class="print-seg"><span class="print-chord" data-testid="print-chord">{seg.chord ? pretty(seg.chord) : '\u00a0'}</span><span>{seg.text || '\u00a0'}</span></span>
                        ))}
                      </div>
                    ))}
                </section>
              ))}
            </article>
          ))}
        </>
      )}
    </div>
  );
}
