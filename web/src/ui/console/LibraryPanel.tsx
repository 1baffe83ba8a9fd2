// Song library: edit songs by hand, or import files (ChordPro, OpenLyrics, OpenSong, plain text) in one go.
import { useRef, useState } from 'preact/hooks';
import { useStore } from '../../store';
import type { Room } from '../../room';
import { DEFINITIONS } from '../../protocol.gen';
import type { Song } from '../../model';
import { DeleteButton } from './DeleteButton';
import { chartOf } from '../../state';
import { run, toast } from './util';

const BPM_MIN = DEFINITIONS.bpm.minimum;
const BPM_MAX = DEFINITIONS.bpm.maximum;
type SongDraft = { id: string | null; title: string; artist: string; key: string; bpm: string; beats: string; unit: string; chordpro: string };
const emptyDraft: SongDraft = { id: null, title: '', artist: '', key: '', bpm: '', beats: '4', unit: '4', chordpro: '' };
export const IMPORT_EXTENSIONS = ['.cho', '.chordpro', '.pro', '.crd', '.xml', '.txt'];

type ImportResult = { file: string; state: 'waiting' | 'sending' | 'ok' | 'error'; message: string; warnings: string[] };

/** POST /api/room/songs/import?name=<file> with the raw bytes; the reply names the song or the problem. */
async function importOne(token: string, file: File): Promise<Omit<ImportResult, 'file' | 'state'> & { ok: boolean }> {
  let res: Response;
  try {
    res = await fetch(`/api/room/songs/import?name=${encodeURIComponent(file.name)}`, {
      method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' }, body: file, cache: 'no-store',
    });
  } catch {
    return { ok: false, message: "can't reach the server: check the Wi-Fi, then import this file again", warnings: [] };
  }
  const j = await res.json().catch(() => null) as { song?: Song; warnings?: unknown[]; error?: { message?: string } } | null;
  const warnings = (j?.warnings ?? []).map((w) => (typeof w === 'string' ? w : (w as { message?: string; line?: number }).message
    ? `${(w as { line?: number }).line ? `line ${(w as { line?: number }).line}: ` : ''}${(w as { message: string }).message}` : JSON.stringify(w)));
  if (res.ok && j?.song) return { ok: true, message: `added “${j.song.title}”${j.song.key ? ` in ${j.song.key}` : ''}`, warnings };
  return { ok: false, message: j?.error?.message ?? `the server answered ${res.status}`, warnings };
}

function ImportBox({ room }: { room: Room }) {
  const [results, setResults] = useState<ImportResult[]>([]);
  const [busy, setBusy] = useState(false);
  const start = async (files: File[]) => {
    if (!files.length) return;
    setBusy(true);
    const list: ImportResult[] = files.map((f) => ({ file: f.name, state: 'waiting', message: 'waiting', warnings: [] }));
    setResults(list.slice());
    // One by one: each file is its own song.create on the server; a bad file does not stop the rest.
    for (let i = 0; i < files.length; i++) {
      list[i] = { ...list[i], state: 'sending', message: 'importing…' };
      setResults(list.slice());
      const ext = files[i].name.toLowerCase().replace(/^.*(\.[^.]+)$/, '$1');
      const r = IMPORT_EXTENSIONS.includes(ext)
        ? await importOne(room.connection.currentSession.token, files[i])
        : { ok: false, message: `not a song file: use ${IMPORT_EXTENSIONS.join(' ')}`, warnings: [] };
      list[i] = { ...list[i], state: r.ok ? 'ok' : 'error', message: r.message, warnings: r.warnings };
      setResults(list.slice());
    }
    setBusy(false);
    const bad = list.filter((x) => x.state === 'error').length;
    toast(bad ? `${list.length - bad} of ${list.length} files imported` : `${list.length} file${list.length === 1 ? '' : 's'} imported`, bad ? 'error' : 'ok');
  };
  return (
    <div class="import-box">
      <label class="btn import-btn">
        {busy ? 'Importing…' : 'Import song files…'}
        <input type="file" multiple accept={IMPORT_EXTENSIONS.join(',')} data-testid="import-files" disabled={busy} class="visually-hidden"
          onChange={(e) => { const el = e.target as HTMLInputElement; void start([...(el.files ?? [])]); el.value = ''; }} />
      </label>
      <span class="muted small">ChordPro (.cho .chordpro .pro), OpenLyrics / OpenSong (.xml), chords over lyrics (.txt); several at once.</span>
      {results.length > 0 && (
        <ul class="import-results" data-testid="import-results">
          {results.map((r) => (
            <li class={`import-${r.state}`} data-testid="import-result" data-file={r.file} data-state={r.state}>
              <b>{r.file}</b>: {r.message}
              {r.warnings.length > 0 && <ul class="import-warnings">{r.warnings.map((w) => <li>{w}</li>)}</ul>}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

export function LibraryPanel({ room }: { room: Room }) {
  const songs = useStore(room.state, (s) => s.songs);
  const [d, setD] = useState<SongDraft>(emptyDraft);
  const [open, setOpen] = useState(false);
  // The chart of the song being edited comes on demand: null = here, else what the box says meanwhile.
  const [chartNote, setChartNote] = useState<string | null>(null);
  const editing = useRef<string | null>(null);
  const field = (k: keyof SongDraft) => ({
    value: d[k] ?? '',
    onInput: (e: Event) => setD({ ...d, [k]: (e.target as HTMLInputElement).value }),
  });
  const edit = (x: Song) => {
    const chart = chartOf(room.state.get(), x);
    const draft = { id: x.id, title: x.title, artist: x.artist ?? '', key: x.key ?? '', bpm: x.bpm ? String(x.bpm) : '', beats: String(x.meter?.beats ?? 4), unit: String(x.meter?.unit ?? 4), chordpro: chart.status === 'ready' ? chart.chordpro : '' };
    setD(draft);
    setOpen(true);
    editing.current = x.id;
    setChartNote(null);
    if (chart.status === 'ready' || chart.status === 'none') return;
    setChartNote('loading chart…');
    room.charts.load(x.id).then((text) => {
      if (editing.current !== x.id) return;
      setChartNote(null);
      setD((cur) => (cur.id === x.id && !cur.chordpro ? { ...cur, chordpro: text ?? '' } : cur));
    }, (e: Error) => {
      if (editing.current === x.id) setChartNote(`The chart could not be loaded (${e.message}); saving keeps the chart the song has.`);
    });
  };
  const startNew = () => { editing.current = null; setChartNote(null); setD(emptyDraft); };
  const save = async (e: Event) => {
    e.preventDefault();
    if (!d.title.trim()) { toast('A song needs a title'); return; }
    const bpm = Number(d.bpm);
    if (d.bpm && !(bpm >= BPM_MIN && bpm <= BPM_MAX)) { toast(`BPM must be between ${BPM_MIN} and ${BPM_MAX}`); return; }
    const body = {
      title: d.title.trim(),
      ...(d.artist.trim() ? { artist: d.artist.trim() } : {}),
      ...(d.key.trim() ? { key: d.key.trim() } : {}),
      ...(d.bpm ? { bpm } : {}),
      meter: { beats: Number(d.beats) || 4, unit: (Number(d.unit) || 4) as 4 },
      ...(d.chordpro ? { chordpro: d.chordpro } : {}),
    };
    const ack = d.id ? await run('Song not saved', room.send('song.update', { id: d.id, ...body }))
      : await run('Song not created', room.send('song.create', body));
    if (ack) { toast(d.id ? 'Song updated' : 'Song added', 'ok'); startNew(); setOpen(false); }
  };
  return (
    <section class="panel library-panel" aria-label="Song library">
      <h2>Song library</h2>
      <ImportBox room={room} />
      <ul class="songs">
        {songs.map((x) => (
          <li data-testid="library-song">
            <span class="sl-title">{x.title}</span>
            <span class="muted">{[x.key, x.bpm && `${x.bpm} bpm`, x.meter && `${x.meter.beats}/${x.meter.unit}`].filter(Boolean).join(' · ')}</span>
            <button class="btn" data-testid="library-song-edit" onClick={() => edit(x)}>Edit</button>
            <DeleteButton label="Delete" onConfirm={() => run('Song not deleted', room.send('song.delete', { id: x.id }))} />
          </li>
        ))}
        {songs.length === 0 && <li class="muted">No songs yet: import files above or add the first one below.</li>}
      </ul>
      <details open={open} onToggle={(e) => setOpen((e.target as HTMLDetailsElement).open)}>
        <summary data-testid="song-form-toggle">{d.id ? `Edit “${d.title}”` : 'New song'}</summary>
        <form class="song-form" onSubmit={save}>
          <label>Title<input data-testid="song-form-title" maxLength={120} required {...field('title')} /></label>
          <label>Artist<input data-testid="song-form-artist" maxLength={120} {...field('artist')} /></label>
          <div class="row">
            <label>Key<input data-testid="song-form-key" class="narrow" maxLength={8} placeholder="G" {...field('key')} /></label>
            <label>BPM<input data-testid="song-form-bpm" class="narrow" type="number" min={BPM_MIN} max={BPM_MAX} step="0.1" {...field('bpm')} /></label>
            <label>Meter
              <span class="meter">
                <input data-testid="song-form-beats" class="tiny" type="number" min="1" max="32" {...field('beats')} aria-label="Beats per bar" />/
                <select data-testid="song-form-unit" value={d.unit} onChange={(e) => setD({ ...d, unit: (e.target as HTMLSelectElement).value })} aria-label="Beat unit">
                  {[1, 2, 4, 8, 16].map((u) => <option value={String(u)}>{u}</option>)}
                </select>
              </span>
            </label>
          </div>
          <label>ChordPro
            <textarea data-testid="song-form-chordpro" rows={8} maxLength={32768} spellcheck={false} disabled={chartNote === 'loading chart…'}
              placeholder={chartNote === 'loading chart…' ? chartNote : '{start_of_verse: Verse 1}\n[G]Amazing [C]grace…\n{end_of_verse}'} {...field('chordpro')} />
          </label>
          {chartNote && <p class="muted small" data-testid="song-form-chart-note" role="status">{chartNote}</p>}
          <div class="row">
            <button class="btn primary" type="submit" data-testid="song-save">{d.id ? 'Save song' : 'Add song'}</button>
            {d.id && <button class="btn ghost" type="button" onClick={startNew}>New instead</button>}
          </div>
        </form>
      </details>
    </section>
  );
}
