import { useEffect, useRef, useState } from 'preact/hooks';
import QRCode from 'qrcode';
import type { Room } from '../room';
import { useStore, Store } from '../store';
import { activeSetlist, currentSong, type RoomState } from '../state';
import { sectionNames } from '../chordpro';
import { fetchCodes, rotateCodes } from '../api';
import * as persist from '../persist';
import { COMMAND_SCHEMAS, DEFINITIONS, ROLES } from '../protocol.gen';
import type { Setlist, SetlistItem, Song, CueColor } from '../model';
import { StatusBar, OfflineBanner, CueBanner, Talking, BeatIndicator, ClickControls, SongCard, fmtMs, ago, useNow } from './common';
import { Talk } from './Talk';
import { isVoiceRole, personLabel } from '../voice/targets';
import { isWeak } from '../voice/stats';
import type { LinkReport } from '../model';

type Toast = { id: number; text: string; kind: 'error' | 'ok' };
const toasts = new Store<Toast[]>([]);
let toastId = 0;
function toast(text: string, kind: Toast['kind'] = 'error') {
  const id = ++toastId;
  toasts.set((t) => [...t.slice(-3), { id, text, kind }]);
  setTimeout(() => toasts.set((t) => t.filter((x) => x.id !== id)), kind === 'error' ? 6000 : 2500);
}

/** Runs a command; a refusal becomes a toast that says what went wrong. */
async function run<T>(what: string, p: Promise<T>): Promise<T | null> {
  try {
    return await p;
  } catch (e) {
    toast(`${what}: ${(e as Error).message}`);
    return null;
  }
}

const CUE_COLORS = (COMMAND_SCHEMAS.cue.properties.color.enum as readonly CueColor[]);
const QUICK_CUES: Array<[string, CueColor]> = [['Verse', 'blue'], ['Chorus', 'green'], ['Bridge', 'purple'], ['Tag', 'orange'], ['Out', 'red']];
const BPM_MIN = DEFINITIONS.bpm.minimum;
const BPM_MAX = DEFINITIONS.bpm.maximum;
const METERS: Array<[number, number]> = [[2, 4], [3, 4], [4, 4], [5, 4], [6, 8], [7, 8], [9, 8], [12, 8]];
const DEFAULT_SECTIONS = ['Intro', 'Verse', 'Pre-Chorus', 'Chorus', 'Bridge', 'Tag', 'Outro'];

export function Console({ room, onLeave }: { room: Room; onLeave: () => void }) {
  const list = useStore(toasts, (t) => t);
  return (
    <div class="console">
      <StatusBar room={room} title="MD console" onLeave={onLeave} />
      <OfflineBanner room={room} />
      <CueBanner room={room} compact />
      {!room.voice.enabled && <Talking room={room} />}
      <Talk room={room} />
      <div class="grid">
        <NowPanel room={room} />
        <TempoPanel room={room} />
        <SetlistPanel room={room} />
        <LibraryPanel room={room} />
        <SlotsPanel room={room} />
        <HealthPanel room={room} />
        <VoicePanel room={room} />
        <QrPanel room={room} />
      </div>
      <div class="toasts" aria-live="polite">
        {list.map((t) => <p class={`toast ${t.kind}`} data-testid="toast">{t.text}</p>)}
      </div>
    </div>
  );
}

// ---- now playing, song navigation, sections, cues ------------------------------------------

function NowPanel({ room }: { room: Room }) {
  const s = useStore(room.state, (x) => x);
  const cur = currentSong(s);
  const list = activeSetlist(s);
  const [follow, setFollow] = useState(true);
  const [text, setText] = useState('');
  const [color, setColor] = useState<CueColor>('yellow');

  const go = async (index: number, section?: string) => {
    if (!list) return;
    if (index < 0 || index >= list.items.length) return;
    const ack = await run('Could not change the song', room.send('song.current', section ? { setlist: list.id, index, section } : { setlist: list.id, index }));
    if (ack && follow && section === undefined) await applySongTempo(room, s, list, index);
  };
  const sections = cur?.song ? sectionNames(cur.song.chordpro) : [];
  const cue = (t: string, c: CueColor) => run('Cue not sent', room.send('cue', { text: t, color: c }));

  return (
    <section class="panel now-panel">
      <h2>Now</h2>
      <SongCard room={room} compact />
      <div class="row">
        <button class="btn big" data-testid="song-prev" disabled={!list || !cur || cur.index <= 0} onClick={() => go((cur?.index ?? 0) - 1)}>◀ Previous</button>
        <button class="btn big primary" data-testid="song-next" disabled={!list || (cur !== null && cur.index >= list.items.length - 1)}
          onClick={() => go(cur ? cur.index + 1 : 0)}>{cur ? 'Next ▶' : 'Start set ▶'}</button>
      </div>
      <label class="check"><input type="checkbox" checked={follow} onChange={(e) => setFollow((e.target as HTMLInputElement).checked)} /> Load each song's bpm and meter into the click</label>
      {cur && (
        <div class="sections">
          <h3>Section</h3>
          <div class="chips">
            {(sections.length ? sections : DEFAULT_SECTIONS).map((name) => (
              <button class={`chip ${cur.section === name ? 'on' : ''}`} data-testid="section-btn" onClick={() => go(cur.index, name)}>{name}</button>
            ))}
          </div>
        </div>
      )}
      <div class="cues">
        <h3>Cue the band</h3>
        <div class="chips">
          {QUICK_CUES.map(([t, c]) => (
            <button class={`chip cue-chip cue-${c}`} data-testid={`cue-btn-${t}`} onClick={() => cue(t, c)}>{t}</button>
          ))}
        </div>
        <form class="row" onSubmit={(e) => { e.preventDefault(); if (text.trim()) void cue(text.trim(), color).then((ok) => ok && setText('')); }}>
          <input data-testid="cue-text" placeholder="Free text cue, e.g. “Half time”" maxLength={COMMAND_SCHEMAS.cue.properties.text.maxLength}
            value={text} onInput={(e) => setText((e.target as HTMLInputElement).value)} />
          <select data-testid="cue-color" value={color} onChange={(e) => setColor((e.target as HTMLSelectElement).value as CueColor)} aria-label="Cue colour">
            {CUE_COLORS.map((c) => <option value={c}>{c}</option>)}
          </select>
          <button class="btn" type="submit" data-testid="cue-send">Send cue</button>
        </form>
      </div>
    </section>
  );
}

async function applySongTempo(room: Room, s: RoomState, list: Setlist, index: number) {
  const item = list.items[index];
  const song = s.songs.find((x) => x.id === item?.song);
  const bpm = item?.bpm ?? song?.bpm ?? null;
  const data: { bpm?: number; meter?: { beats: number; unit: 1 | 2 | 4 | 8 | 16 } } = {};
  if (bpm) data.bpm = bpm;
  if (song?.meter) data.meter = song.meter as { beats: number; unit: 1 | 2 | 4 | 8 | 16 };
  if (data.bpm === undefined && data.meter === undefined) return;
  if (s.tempo && data.bpm === s.tempo.bpm && data.meter?.beats === s.tempo.meter.beats && data.meter?.unit === s.tempo.meter.unit) return;
  await run('Could not set the tempo', room.send('tempo.set', data));
}

// ---- tempo ---------------------------------------------------------------------------------

function TempoPanel({ room }: { room: Room }) {
  const tempo = useStore(room.state, (s) => s.tempo);
  const [countIn, setCountIn] = useState(1);
  const [taps, setTaps] = useState<number[]>([]);
  const bpm = tempo?.bpm ?? 120;
  const clamp = (x: number) => Math.max(BPM_MIN, Math.min(BPM_MAX, Math.round(x * 10) / 10));
  const setBpm = (x: number) => run('Could not set the tempo', room.send('tempo.set', { bpm: clamp(x) }));
  const tapBpm = taps.length >= 2 ? 60000 / ((taps[taps.length - 1] - taps[0]) / (taps.length - 1)) : null;

  const tap = () => {
    const now = performance.now();
    setTaps((t) => {
      const keep = t.length && now - t[t.length - 1] > 2000 ? [] : t; // a pause starts a new count
      return [...keep, now].slice(-8);
    });
  };

  return (
    <section class="panel tempo-panel">
      <h2>Tempo</h2>
      <BeatIndicator room={room} compact />
      <div class="row bpm-row">
        <button class="btn" data-testid="tempo-minus5" onClick={() => setBpm(bpm - 5)}>−5</button>
        <button class="btn" data-testid="tempo-minus" onClick={() => setBpm(bpm - 1)}>−1</button>
        <BpmInput value={bpm} onSet={setBpm} />
        <button class="btn" data-testid="tempo-plus" onClick={() => setBpm(bpm + 1)}>+1</button>
        <button class="btn" data-testid="tempo-plus5" onClick={() => setBpm(bpm + 5)}>+5</button>
      </div>
      <div class="row">
        <button class="btn big" data-testid="tempo-tap" onClick={tap}>Tap{tapBpm ? ` · ${Math.round(tapBpm)}` : ''}</button>
        <button class="btn" data-testid="tempo-tap-apply" disabled={!tapBpm} onClick={() => { if (tapBpm) void setBpm(tapBpm); setTaps([]); }}>Use tapped tempo</button>
      </div>
      <div class="row">
        <label>Meter
          <select data-testid="tempo-meter" value={tempo ? `${tempo.meter.beats}/${tempo.meter.unit}` : '4/4'}
            onChange={(e) => {
              const [b, u] = (e.target as HTMLSelectElement).value.split('/').map(Number);
              void run('Could not set the meter', room.send('tempo.set', { meter: { beats: b, unit: u as 4 } }));
            }}>
            {METERS.map(([b, u]) => <option value={`${b}/${u}`}>{b}/{u}</option>)}
          </select>
        </label>
        <label>Subdivision
          <select data-testid="tempo-subdivision" value={String(tempo?.subdivision ?? 1)}
            onChange={(e) => void run('Could not set the subdivision', room.send('tempo.set', { subdivision: Number((e.target as HTMLSelectElement).value) }))}>
            <option value="1">none</option><option value="2">eighths</option><option value="3">triplets</option><option value="4">sixteenths</option>
          </select>
        </label>
        <label>Count-in
          <select data-testid="tempo-countin" value={String(countIn)} onChange={(e) => setCountIn(Number((e.target as HTMLSelectElement).value))}>
            {[0, 1, 2, 3, 4].map((n) => <option value={String(n)}>{n} bar{n === 1 ? '' : 's'}</option>)}
          </select>
        </label>
      </div>
      <div class="row">
        <button class="btn big go" data-testid="tempo-start" onClick={() => run('Could not start', room.send('tempo.start', { count_in_bars: countIn }))}>▶ Start</button>
        <button class="btn big stop" data-testid="tempo-stop" onClick={() => run('Could not stop', room.send('tempo.stop', {}))}>■ Stop</button>
      </div>
      <ClickControls room={room} />
    </section>
  );
}

function BpmInput({ value, onSet }: { value: number; onSet: (x: number) => void }) {
  const [draft, setDraft] = useState(String(value));
  useEffect(() => setDraft(String(value)), [value]);
  return (
    <input class="bpm-input" data-testid="tempo-bpm" type="number" min={BPM_MIN} max={BPM_MAX} step="1" value={draft} aria-label="BPM"
      onInput={(e) => setDraft((e.target as HTMLInputElement).value)}
      onKeyDown={(e) => { if (e.key === 'Enter') onSet(Number(draft)); }}
      onBlur={() => { if (Number(draft) !== value && Number(draft) > 0) onSet(Number(draft)); }} />
  );
}

// ---- setlist builder -----------------------------------------------------------------------

function SetlistPanel({ room }: { room: Room }) {
  const s = useStore(room.state, (x) => x);
  const [editing, setEditing] = useState<string | null>(null); // setlist id, or '' for a new one
  const [title, setTitle] = useState('');
  const [items, setItems] = useState<SetlistItem[]>([]);
  const [pick, setPick] = useState('');
  const [dirty, setDirty] = useState(false);
  const live = activeSetlist(s);

  // Follow the live setlist until the MD starts editing something.
  useEffect(() => {
    if (dirty) return;
    const target = s.setlists.find((x) => x.id === editing) ?? (editing === null ? live ?? s.setlists[0] : null);
    if (target) { setEditing(target.id); setTitle(target.title); setItems(target.items); }
  }, [s.setlists, live?.id, editing, dirty]);

  const change = (f: () => void) => { f(); setDirty(true); };
  const move = (i: number, d: number) => change(() => {
    const j = i + d;
    if (j < 0 || j >= items.length) return;
    const copy = items.slice();
    [copy[i], copy[j]] = [copy[j], copy[i]];
    setItems(copy);
  });

  const save = async () => {
    const clean = items.map((it) => {
      const o: { song: string; key?: string; bpm?: number; notes?: string } = { song: it.song };
      if (it.key) o.key = it.key;
      if (it.bpm) o.bpm = it.bpm;
      if (it.notes) o.notes = it.notes;
      return o;
    });
    const data = editing ? { id: editing, title: title.trim() || 'Setlist', items: clean } : { title: title.trim() || 'Setlist', items: clean };
    const ack = await run('Setlist not saved', room.send('setlist.update', data));
    if (!ack) return;
    if (ack.seq !== undefined) {
      const ev = await room.waitForSeq(ack.seq).catch(() => null);
      const saved = (ev?.data as { setlist?: Setlist } | undefined)?.setlist;
      if (saved) setEditing(saved.id);
    }
    setDirty(false);
    toast('Setlist saved', 'ok');
  };

  const goLive = async () => {
    if (!editing || dirty) { toast('Save the setlist first'); return; }
    await run('Could not start the setlist', room.send('song.current', { setlist: editing, index: 0 }));
  };

  return (
    <section class="panel setlist-panel">
      <h2>Setlist</h2>
      <div class="row">
        <select data-testid="setlist-select" value={editing ?? ''} onChange={(e) => {
          const id = (e.target as HTMLSelectElement).value;
          const sl = s.setlists.find((x) => x.id === id);
          setDirty(id === '');
          setEditing(id || '');
          setTitle(sl?.title ?? '');
          setItems(sl?.items ?? []);
        }} aria-label="Setlist">
          {s.setlists.map((x) => <option value={x.id}>{x.title}{live?.id === x.id ? ' (live)' : ''}</option>)}
          <option value="">+ New setlist</option>
        </select>
        <input data-testid="setlist-title" placeholder="Setlist title" value={title} maxLength={120}
          onInput={(e) => change(() => setTitle((e.target as HTMLInputElement).value))} />
      </div>
      <ol class="builder">
        {items.map((it, i) => {
          const song = s.songs.find((x) => x.id === it.song);
          const isCur = s.songCurrent?.setlist === editing && s.songCurrent?.index === i;
          return (
            <li class={isCur ? 'current' : ''} data-testid="builder-item">
              <span class="sl-title">{song?.title ?? '(deleted song)'}</span>
              <input class="narrow" placeholder={song?.key ?? 'key'} value={it.key ?? ''} maxLength={8} aria-label="Key override"
                onInput={(e) => change(() => setItems(items.map((x, j) => (j === i ? { ...x, key: (e.target as HTMLInputElement).value || null } : x))))} />
              <button class="btn small" aria-label="Move up" onClick={() => move(i, -1)} disabled={i === 0}>↑</button>
              <button class="btn small" aria-label="Move down" onClick={() => move(i, 1)} disabled={i === items.length - 1}>↓</button>
              <button class="btn small danger" aria-label="Remove" data-testid="builder-remove" onClick={() => change(() => setItems(items.filter((_, j) => j !== i)))}>✕</button>
              {!dirty && editing && <button class="btn small" data-testid="builder-goto" onClick={() => run('Could not change the song', room.send('song.current', { setlist: editing, index: i }))}>Play</button>}
            </li>
          );
        })}
      </ol>
      <div class="row">
        <select data-testid="setlist-add-select" value={pick} onChange={(e) => setPick((e.target as HTMLSelectElement).value)} aria-label="Song to add">
          <option value="">Add a song…</option>
          {s.songs.map((x) => <option value={x.id}>{x.title}{x.key ? ` (${x.key})` : ''}</option>)}
        </select>
        <button class="btn" data-testid="setlist-add" disabled={!pick} onClick={() => change(() => { setItems([...items, { song: pick }]); setPick(''); })}>Add</button>
      </div>
      <div class="row">
        <button class="btn primary" data-testid="setlist-save" disabled={!dirty && !!editing} onClick={save}>Save setlist</button>
        <button class="btn" data-testid="setlist-golive" disabled={!editing || dirty || items.length === 0} onClick={goLive}>Go live from song 1</button>
        {editing && !dirty && <DeleteButton label="Delete setlist" onConfirm={async () => {
          if (await run('Setlist not deleted', room.send('setlist.delete', { id: editing }))) { setEditing(null); }
        }} />}
      </div>
    </section>
  );
}

function DeleteButton({ label, onConfirm }: { label: string; onConfirm: () => void }) {
  const [armed, setArmed] = useState(false);
  useEffect(() => {
    if (!armed) return;
    const t = setTimeout(() => setArmed(false), 3000);
    return () => clearTimeout(t);
  }, [armed]);
  return (
    <button class={`btn small ${armed ? 'danger' : 'ghost'}`} onClick={() => (armed ? (setArmed(false), onConfirm()) : setArmed(true))}>
      {armed ? 'Sure? Tap again' : label}
    </button>
  );
}

// ---- song library --------------------------------------------------------------------------

type SongDraft = { id: string | null; title: string; artist: string; key: string; bpm: string; beats: string; unit: string; chordpro: string };
const emptyDraft: SongDraft = { id: null, title: '', artist: '', key: '', bpm: '', beats: '4', unit: '4', chordpro: '' };

function LibraryPanel({ room }: { room: Room }) {
  const songs = useStore(room.state, (s) => s.songs);
  const [d, setD] = useState<SongDraft>(emptyDraft);
  const [open, setOpen] = useState(false);
  const field = (k: keyof SongDraft) => ({
    value: d[k] ?? '',
    onInput: (e: Event) => setD({ ...d, [k]: (e.target as HTMLInputElement).value }),
  });
  const edit = (x: Song) => {
    setD({ id: x.id, title: x.title, artist: x.artist ?? '', key: x.key ?? '', bpm: x.bpm ? String(x.bpm) : '', beats: String(x.meter?.beats ?? 4), unit: String(x.meter?.unit ?? 4), chordpro: x.chordpro ?? '' });
    setOpen(true);
  };
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
    if (ack) { toast(d.id ? 'Song updated' : 'Song added', 'ok'); setD(emptyDraft); setOpen(false); }
  };
  return (
    <section class="panel library-panel">
      <h2>Song library</h2>
      <ul class="songs">
        {songs.map((x) => (
          <li data-testid="library-song">
            <span class="sl-title">{x.title}</span>
            <span class="muted">{[x.key, x.bpm && `${x.bpm} bpm`, x.meter && `${x.meter.beats}/${x.meter.unit}`].filter(Boolean).join(' · ')}</span>
            <button class="btn small" onClick={() => edit(x)}>Edit</button>
            <DeleteButton label="Delete" onConfirm={() => run('Song not deleted', room.send('song.delete', { id: x.id }))} />
          </li>
        ))}
        {songs.length === 0 && <li class="muted">No songs yet: add the first one below.</li>}
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
            <textarea data-testid="song-form-chordpro" rows={8} maxLength={32768} spellcheck={false}
              placeholder={'{start_of_verse: Verse 1}\n[G]Amazing [C]grace…\n{end_of_verse}'} {...field('chordpro')} />
          </label>
          <div class="row">
            <button class="btn primary" type="submit" data-testid="song-save">{d.id ? 'Save song' : 'Add song'}</button>
            {d.id && <button class="btn ghost" type="button" onClick={() => setD(emptyDraft)}>New instead</button>}
          </div>
        </form>
      </details>
    </section>
  );
}

// ---- slots ---------------------------------------------------------------------------------

function SlotsPanel({ room }: { room: Room }) {
  const s = useStore(room.state, (x) => x);
  const [name, setName] = useState('');
  const [instrument, setInstrument] = useState('');
  const [group, setGroup] = useState('band');
  const [transpose, setTranspose] = useState('0');
  const people = s.participants.filter((p) => p.role !== 'viewer');

  const create = async (e: Event) => {
    e.preventDefault();
    if (!name.trim()) { toast('A slot needs a name, e.g. “Keys 1”'); return; }
    const t = Number(transpose) || 0;
    const ack = await run('Slot not created', room.send('slot.create', {
      name: name.trim(), ...(instrument.trim() ? { instrument: instrument.trim() } : {}), ...(group.trim() ? { group: group.trim() } : {}), ...(t ? { transpose: t } : {}),
    }));
    if (ack) { setName(''); setInstrument(''); setTranspose('0'); }
  };
  const assign = (slot: string, participant: string) => participant
    ? run('Could not assign', room.send('slot.assign', { slot, participant }))
    : run('Could not free the slot', room.send('slot.release', { slot }));

  return (
    <section class="panel slots-panel">
      <h2>Slots</h2>
      <div class="table-wrap"><table class="table">
        <thead><tr><th>Slot</th><th>Instrument</th><th>Group</th><th>Transp.</th><th>Who</th><th /></tr></thead>
        <tbody>
          {s.slots.map((sl) => (
            <tr data-testid="slot-row" data-slot={sl.name}>
              <td><b>{sl.name}</b></td>
              <td>{sl.instrument ?? ''}</td>
              <td>{sl.group ?? ''}</td>
              <td>{sl.transpose ? (sl.transpose > 0 ? `+${sl.transpose}` : sl.transpose) : ''}</td>
              <td>
                <select data-testid="slot-assign" value={sl.participant ?? ''} aria-label={`Who plays ${sl.name}`}
                  onChange={(e) => assign(sl.id, (e.target as HTMLSelectElement).value)}>
                  <option value="">— free —</option>
                  {people.map((p) => <option value={p.id}>{p.name}{p.online ? '' : ' (away)'}</option>)}
                </select>
              </td>
              <td><DeleteButton label="Delete" onConfirm={() => run('Slot not deleted', room.send('slot.delete', { slot: sl.id }))} /></td>
            </tr>
          ))}
          {s.slots.length === 0 && <tr><td colSpan={6} class="muted">No slots yet: add “Keys”, “Drums”, “Vox 1”…</td></tr>}
        </tbody>
      </table></div>
      <form class="row wrap" onSubmit={create}>
        <input data-testid="slot-name" placeholder="Slot name (Keys 1)" maxLength={40} value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
        <input data-testid="slot-instrument" placeholder="Instrument" maxLength={40} value={instrument} onInput={(e) => setInstrument((e.target as HTMLInputElement).value)} />
        <input data-testid="slot-group" class="narrow" placeholder="Group" maxLength={24} value={group} onInput={(e) => setGroup((e.target as HTMLInputElement).value)} />
        <label class="inline">Transpose
          <select data-testid="slot-transpose" value={transpose} onChange={(e) => setTranspose((e.target as HTMLSelectElement).value)}>
            {Array.from({ length: 23 }, (_, i) => i - 11).map((n) => <option value={String(n)}>{n > 0 ? `+${n}` : n}</option>)}
          </select>
        </label>
        <button class="btn primary" type="submit" data-testid="slot-create">Add slot</button>
      </form>
    </section>
  );
}

// ---- health --------------------------------------------------------------------------------

function HealthPanel({ room }: { room: Room }) {
  const s = useStore(room.state, (x) => x);
  const clock = useStore(room.clockStats, (c) => c);
  useNow(5000);
  return (
    <section class="panel health-panel">
      <h2>Band health</h2>
      <div class="table-wrap"><table class="table" data-testid="health">
        <thead><tr><th>Name</th><th>Role</th><th>Slot</th><th>Online</th><th>RTT</th><th>Sync ±</th><th>Last seen</th><th /></tr></thead>
        <tbody>
          {s.participants.map((p) => {
            const mine = p.id === s.me;
            const m = s.metrics[p.id];
            const rtt = mine ? fmtMs(clock?.rttUs) : m?.rtt_ms !== undefined ? `${m.rtt_ms.toFixed(1)} ms` : '—';
            const unc = mine ? fmtMs(clock?.uncertaintyUs, 2) : m?.clock_uncertainty_ms !== undefined ? `${m.clock_uncertainty_ms.toFixed(2)} ms` : '—';
            const slot = s.slots.find((x) => x.participant === p.id)?.name ?? '';
            return (
              <tr data-testid="health-row">
                <td>{p.name}{mine ? ' (you)' : ''}</td>
                <td>{p.role}</td>
                <td>{slot}</td>
                <td><span class={`dot ${p.online ? 'ok' : 'away'}`} aria-hidden="true" /> {p.online ? 'online' : 'away'}</td>
                <td class="num">{rtt}</td>
                <td class="num">{unc}</td>
                <td class="num">{mine ? 'now' : m ? ago(m.at) : p.online ? '—' : ago(s.lastSeen[p.id])}</td>
                <td>{!mine && <DeleteButton label="Remove" onConfirm={() => run('Could not remove', room.send('participant.kick', { participant: p.id }))} />}</td>
              </tr>
            );
          })}
        </tbody>
      </table></div>
      <p class="muted small">RTT and sync come from each device's report every 5 s.</p>
    </section>
  );
}

// ---- voice: who may talk to everyone, link health ----------------------------------------

const MESH_TALKERS = 15;

function VoicePanel({ room }: { room: Room }) {
  const s = useStore(room.state, (x) => x);
  const mine = useStore(room.voice.links, (l) => l);
  useNow(5000);
  const talkAll = s.room?.settings?.talk_all ?? [];
  const setTalkAll = (role: 'musician' | 'tech', on: boolean) => {
    const next = on ? [...new Set([...talkAll, role])] : talkAll.filter((r) => r !== role);
    void run('Room setting not changed', room.connection.sendFrame('room.settings', { talk_all: next }));
  };
  const rows: Array<{ from: string; l: LinkReport; at: number | null }> = [];
  if (s.me) for (const l of mine) rows.push({ from: s.me, l, at: null });
  for (const [id, m] of Object.entries(s.metrics)) {
    if (id === s.me) continue;
    for (const l of m.links ?? []) rows.push({ from: id, l, at: m.at });
  }
  const voiceCount = s.participants.filter((p) => p.online && isVoiceRole(p.role)).length;
  const pct = (x: number | undefined) => (x === undefined ? '—' : `${(x * 100).toFixed(x < 0.1 ? 1 : 0)} %`);
  const num = (x: number | undefined) => (x === undefined ? '—' : `${x.toFixed(1)} ms`);
  return (
    <section class="panel voice-panel">
      <h2>Talk</h2>
      <label class="check"><input type="checkbox" data-testid="talk-all-musician" checked={talkAll.includes('musician')}
        onChange={(e) => setTalkAll('musician', (e.target as HTMLInputElement).checked)} /> Musicians may talk to everyone</label>
      <label class="check"><input type="checkbox" data-testid="talk-all-tech" checked={talkAll.includes('tech')}
        onChange={(e) => setTalkAll('tech', (e.target as HTMLInputElement).checked)} /> Tech may talk to everyone</label>
      {voiceCount > MESH_TALKERS && (
        <p class="banner warn" data-testid="mesh-limit" role="status">
          {voiceCount} people who can talk are online; the voice mesh carries about {MESH_TALKERS} talkers (every phone sends one copy per listener). Talk may break up beyond that.
        </p>
      )}
      <h3>Link health</h3>
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
    </section>
  );
}

// ---- join QR codes -------------------------------------------------------------------------

function QrPanel({ room }: { room: Room }) {
  const session = room.connection.currentSession;
  const [codes, setCodes] = useState<Record<string, string>>(() => ({ ...persist.savedCodes(), [session.participant.role]: session.code }));
  const [fromServer, setFromServer] = useState<boolean | null>(null);
  const [role, setRole] = useState<string>('musician');
  const [draft, setDraft] = useState('');

  useEffect(() => {
    let live = true;
    void fetchCodes(room.connection.currentSession.token).then((c) => {
      if (!live) return;
      setFromServer(!!c);
      if (c) setCodes((old) => ({ ...old, ...c }));
    });
    return () => { live = false; };
  }, []);
  // A rotation (from this console, another one, or the server's schedule) shows the new QR at once.
  const pushed = useStore(room.codes, (c) => c);
  useEffect(() => { if (pushed) { setFromServer(true); setCodes((old) => ({ ...old, ...pushed })); } }, [pushed]);
  const [rotateErr, setRotateErr] = useState<string | null>(null);
  const rotate = (r: string) => rotateCodes(room.connection.currentSession.token, [r]).then(
    (c) => { setRotateErr(null); setCodes((old) => ({ ...old, ...c })); }, (e: Error) => setRotateErr(e.message));

  const setCode = (r: string, c: string) => {
    const next = { ...codes, [r]: c.trim() };
    if (!c.trim()) delete next[r];
    setCodes(next);
    const { [session.participant.role]: _own, ...rest } = next;
    persist.saveCodes(rest);
  };
  const code = codes[role];
  const url = code ? `${location.origin}/j/${encodeURIComponent(code)}` : null;

  return (
    <section class="panel qr-panel">
      <h2>Join by QR</h2>
      <div class="chips" role="tablist">
        {ROLES.map((r) => <button class={`chip ${r === role ? 'on' : ''}`} role="tab" aria-selected={r === role} data-testid={`qr-role-${r}`} onClick={() => { setRole(r); setDraft(''); }}>{r}</button>)}
      </div>
      {url ? (
        <div class="qr">
          <QrImage text={url} />
          <p class="qr-url" data-testid="qr-url">{url}</p>
          {fromServer !== true && <button class="btn small ghost" onClick={() => setCode(role, '')}>Forget this code</button>}
          {fromServer === true && (
            <button class="btn small ghost" data-testid="qr-rotate" onClick={() => void rotate(role)}>
              New {role} code (the old QR stops working)
            </button>
          )}
          {rotateErr && <p class="error" role="alert">{rotateErr}</p>}
        </div>
      ) : (
        <form class="qr-missing" onSubmit={(e) => { e.preventDefault(); setCode(role, draft); }}>
          <p class="muted">
            {fromServer === false
              ? `This server does not hand out join codes to the console yet. Copy the ${role} code printed by “downbeatd room create”, paste it here, and the band can scan it.`
              : 'Loading join codes…'}
          </p>
          <div class="row">
            <input data-testid="qr-code-input" placeholder={`${role} join code`} value={draft} onInput={(e) => setDraft((e.target as HTMLInputElement).value)} />
            <button class="btn" type="submit">Show QR</button>
          </div>
        </form>
      )}
    </section>
  );
}

function QrImage({ text }: { text: string }) {
  const ref = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    if (ref.current) void QRCode.toCanvas(ref.current, text, { margin: 2, width: 220, errorCorrectionLevel: 'M', color: { dark: '#000000', light: '#ffffff' } });
  }, [text]);
  return <canvas ref={ref} class="qr-canvas" aria-label={`QR code for ${text}`} data-testid="qr-canvas" />;
}

