// The chart of the live song, in the key this slot reads (setlist item key, then the slot's
// pitch / transpose / capo), with the MD's current section highlighted and scrolled into view.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { Room } from '../room';
import { useStore } from '../store';
import { currentSong, mySlot } from '../state';
import { renderChart, type RenderedChart } from '../chart';
import { Store } from '../store';
import * as persist from '../persist';
import { slotReading } from './common';

const STEP = 0.1;

/** Bumped when the chart module has loaded, so a view drawn before that draws its chart then. */
export const chartsLoaded = new Store<number>(0);

/** The chart, or why it cannot be drawn (the module did not load on this device). */
function tryRender(src: string, view: Parameters<typeof renderChart>[1]): RenderedChart | Error {
  try {
    return renderChart(src, view);
  } catch (e) {
    return e instanceof Error ? e : new Error(String(e));
  }
}

/** Which chart section the MD's section name points at: the next one of that name after the
 *  one highlighted now (a chart may have three choruses), else the first. */
export function pickSection(names: (string | null)[], name: string | null, prev: number | null): number | null {
  if (!name) return null;
  const norm = (x: string | null) => (x ?? '').trim().toLowerCase();
  const hits = names.map((n, i) => (norm(n) === norm(name) ? i : -1)).filter((i) => i >= 0);
  if (hits.length === 0) {
    // "Verse" picks "Verse 1" when no section is called just "Verse".
    const loose = names.map((n, i) => (norm(n).startsWith(norm(name)) ? i : -1)).filter((i) => i >= 0);
    if (loose.length === 0) return null;
    return loose.find((i) => prev !== null && i > prev) ?? loose[0];
  }
  if (prev !== null && hits.includes(prev)) return prev;
  return hits.find((i) => prev !== null && i > prev) ?? hits[0];
}

/** Scrolls `el` to just below the sticky header (its height read now, as banners come and go). */
function scrollToSection(el: HTMLElement): void {
  const sticky = document.querySelector<HTMLElement>('.m-sticky');
  const h = sticky ? sticky.getBoundingClientRect().height : 0;
  window.scrollTo({ top: Math.max(0, el.getBoundingClientRect().top + window.scrollY - h - 8), behavior: 'instant' as ScrollBehavior });
}

/** Follows the MD to `el`, again for a moment while the page settles (a snapshot, a banner), until
 *  the reader scrolls by hand. Returns the cancel function. */
function follow(el: HTMLElement): () => void {
  const timers: number[] = [];
  const stop = () => {
    for (const t of timers) clearTimeout(t);
    for (const e of USER_SCROLL) window.removeEventListener(e, stop, true);
  };
  scrollToSection(el);
  for (const ms of [50, 200, 500, 1000]) timers.push(window.setTimeout(() => { if (el.isConnected) scrollToSection(el); }, ms));
  timers.push(window.setTimeout(stop, 1100));
  for (const e of USER_SCROLL) window.addEventListener(e, stop, { capture: true, passive: true });
  return stop;
}
const USER_SCROLL = ['wheel', 'touchstart', 'pointerdown', 'keydown'] as const;

export function ChartControls({ prefs, onChange }: { prefs: persist.ChartPrefs; onChange: (p: persist.ChartPrefs) => void }) {
  const set = (p: Partial<persist.ChartPrefs>) => onChange({ ...prefs, ...p });
  const clamp = (x: number) => Math.round(Math.max(persist.CHART_SCALE_MIN, Math.min(persist.CHART_SCALE_MAX, x)) * 10) / 10;
  const nextCols = prefs.columns === 'auto' ? 1 : prefs.columns === 1 ? 2 : 'auto';
  return (
    <div class="chart-controls" role="toolbar" aria-label="Chart display">
      <button class="btn" data-testid="chart-smaller" aria-label="Smaller chart text" disabled={prefs.scale <= persist.CHART_SCALE_MIN}
        onClick={() => set({ scale: clamp(prefs.scale - STEP) })}>A−</button>
      <button class="btn" data-testid="chart-bigger" aria-label="Bigger chart text" disabled={prefs.scale >= persist.CHART_SCALE_MAX}
        onClick={() => set({ scale: clamp(prefs.scale + STEP) })}>A+</button>
      <button class="btn" data-testid="chart-columns" data-columns={String(prefs.columns)} onClick={() => set({ columns: nextCols })}>
        {prefs.columns === 'auto' ? 'Cols: auto' : prefs.columns === 1 ? '1 col' : '2 cols'}
      </button>
      <button class={`btn ${prefs.nashville ? 'on' : ''}`} data-testid="chart-nashville" aria-pressed={prefs.nashville}
        onClick={() => set({ nashville: !prefs.nashville })}>Numbers</button>
    </div>
  );
}

export function ChartView({ room, readOnly = false }: { room: Room; readOnly?: boolean }) {
  const cur = useStore(room.state, (s) => currentSong(s));
  const slot = useStore(room.state, (s) => mySlot(s));
  const [prefs, setPrefs] = useState(persist.chartPrefs);
  const src = cur?.song?.chordpro ?? '';
  const reading = slotReading(readOnly ? null : slot);
  const loaded = useStore(chartsLoaded, (n) => n);
  const result = useMemo(
    () => (src ? tryRender(src, { songKey: cur?.song?.key ?? null, playKey: cur?.key ?? null, ...reading, nashville: prefs.nashville }) : null),
    [src, cur?.song?.key, cur?.key, reading.capo, reading.pitch, reading.transpose, prefs.nashville, loaded],
  );
  const chart = result instanceof Error ? null : result;
  const names = chart?.sections.map((s) => s.name) ?? [];
  const songId = cur ? `${cur.setlist.id}:${cur.index}` : '';
  const [active, setActive] = useState<number | null>(null);
  const prevSong = useRef(songId);
  const body = useRef<HTMLDivElement>(null);

  // Follow the MD: a new section (or a new song) moves the highlight and scrolls it into view.
  useEffect(() => {
    const fresh = prevSong.current !== songId;
    prevSong.current = songId;
    const idx = pickSection(names, cur?.section ?? null, fresh ? null : active);
    setActive(idx);
    const el = idx === null ? null : body.current?.querySelector<HTMLElement>(`[data-section-index="${idx}"]`);
    if (el) return follow(el);
    if (fresh) window.scrollTo({ top: 0 });
    return undefined;
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [cur?.section, songId, chart]);

  const change = (p: persist.ChartPrefs) => { persist.saveChartPrefs(p); setPrefs(p); };
  if (result instanceof Error) {
    return (
      <section class="chart" data-testid="chart-error">
        <p class="error" role="alert">The chart cannot be shown on this device ({result.message}). Reload the page; the key and the song are above.</p>
      </section>
    );
  }
  if (cur && !chart) {
    const status = cur.chart.status;
    if (status === 'loading') {
      return <section class="chart" data-testid="chart-loading" aria-busy="true"><p class="muted">loading chart…</p></section>;
    }
    if (status === 'error') {
      return (
        <section class="chart" data-testid="chart-load-error">
          <p class="error" role="alert">The chart could not be loaded: {cur.chart.message}</p>
        </section>
      );
    }
  }
  if (!cur || !chart) return null;
  return (
    <section class="chart" data-testid="chart" aria-label="Chart">
      <ChartControls prefs={prefs} onChange={change} />
      <div class={`chart-body cols-${prefs.columns}`} ref={body} data-testid="chart-body" style={{ '--chart-scale': String(prefs.scale) }}>
        {chart.sections.map((sec, i) => (
          <div class={`cp-section ${i === active ? 'current' : ''}`} data-testid="chart-section" data-section-index={i}
            data-section={sec.name ?? ''} aria-current={i === active ? 'true' : undefined}>
            {sec.name && <h4 class="cp-name">{sec.name}{i === active && <span class="cp-now"> · now</span>}</h4>}
            {sec.lines.map((l) => l.kind === 'comment' ? <p class="cp-comment">{l.text}</p>
              : l.kind === 'blank' ? <div class="cp-blank" />
              : l.kind === 'directive' ? <p class="cp-comment">{l.value}</p>
              : (
                <div class="cp-line">
                  {l.segments.map((seg) => (
                    <span class="cp-seg"><span class="cp-chord" data-testid={seg.chord ? 'chord' : undefined}>{seg.chord ?? '\u00a0'}</span><span class="cp-text">{seg.text || '\u00a0'}</span></span>
                  ))}
                </div>
              ))}
          </div>
        ))}
      </div>
    </section>
  );
}
