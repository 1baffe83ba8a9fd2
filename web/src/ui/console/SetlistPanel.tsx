// Setlist editor: drag a song by its handle (SortableJS) or use ↑ ↓; per item key / bpm / notes override.
import { useEffect, useRef, useState } from 'preact/hooks';
import { Grip, moveItem, useSortable } from './sortable';
import { useStore } from '../../store';
import type { Room } from '../../room';
import { activeSetlist } from '../../state';
import { DEFINITIONS } from '../../protocol.gen';
import type { Setlist, SetlistItem } from '../../model';
import { goTo } from './live';
import { DeleteButton } from './DeleteButton';
import { run, toast } from './util';
import { pretty } from '../common';

type Draft = SetlistItem & { uid: number };
let uidSeq = 0;
const withUid = (items: SetlistItem[]): Draft[] => items.map((it) => ({ ...it, uid: ++uidSeq }));
const BPM_MIN = DEFINITIONS.bpm.minimum;
const BPM_MAX = DEFINITIONS.bpm.maximum;

/** Moves one element of a list (for drag and drop and the ↑ ↓ buttons). */

export function SetlistPanel({ room, onPrint }: { room: Room; onPrint: (id: string) => void }) {
  const s = useStore(room.state, (x) => x);
  const [editing, setEditing] = useState<string | null>(null); // setlist id, or '' for a new one
  const [title, setTitle] = useState('');
  const [items, setItems] = useState<Draft[]>([]);
  const [pick, setPick] = useState('');
  const [dirty, setDirty] = useState(false);
  // Where the live song sits in the draft (it follows the song when the MD reorders).
  const [liveUid, setLiveUid] = useState<number | null>(null);
  const listRef = useRef<HTMLOListElement>(null);
  const itemsRef = useRef(items);
  itemsRef.current = items;
  const live = activeSetlist(s);
  const liveIndex = s.songCurrent && s.songCurrent.setlist === editing ? s.songCurrent.index : null;

  // Follow the live setlist until the MD starts editing something.
  useEffect(() => {
    if (dirty) return;
    const target = s.setlists.find((x) => x.id === editing) ?? (editing === null ? live ?? s.setlists[0] : null);
    if (target) { setEditing(target.id); setTitle(target.title); setItems(withUid(target.items)); }
  }, [s.setlists, live?.id, editing, dirty]);
  useEffect(() => {
    if (!dirty) setLiveUid(liveIndex !== null ? items[liveIndex]?.uid ?? null : null);
  }, [liveIndex, items, dirty]);

  const change = (f: () => void) => { f(); setDirty(true); };
  const move = (from: number, to: number) => change(() => setItems((cur) => moveItem(cur, from, to)));
  const patch = (i: number, p: Partial<SetlistItem>) => change(() => setItems((cur) => cur.map((x, j) => (j === i ? { ...x, ...p } : x))));

  useSortable(listRef, move, [editing]);

  const save = async () => {
    for (const it of items) {
      if (it.bpm !== null && it.bpm !== undefined && !(it.bpm >= BPM_MIN && it.bpm <= BPM_MAX)) {
        toast(`BPM must be between ${BPM_MIN} and ${BPM_MAX} (song ${items.indexOf(it) + 1})`);
        return;
      }
    }
    const clean = items.map((it) => {
      const o: { song: string; key?: string; bpm?: number; notes?: string } = { song: it.song };
      if (it.key?.trim()) o.key = it.key.trim();
      if (it.bpm) o.bpm = it.bpm;
      if (it.notes?.trim()) o.notes = it.notes.trim();
      return o;
    });
    const data = editing ? { id: editing, title: title.trim() || 'Setlist', items: clean } : { title: title.trim() || 'Setlist', items: clean };
    const ack = await run('Setlist not saved', room.send('setlist.update', data));
    if (!ack) return;
    let id = editing;
    if (ack.seq !== undefined) {
      const ev = await room.waitForSeq(ack.seq).catch(() => null);
      const saved = (ev?.data as { setlist?: Setlist } | undefined)?.setlist;
      if (saved) { id = saved.id; setEditing(saved.id); }
    }
    // The live song keeps playing when the MD moves it: point song.current at its new place.
    const sc = room.state.get().songCurrent;
    const at = liveUid !== null ? items.findIndex((x) => x.uid === liveUid) : -1;
    if (id && sc && sc.setlist === id && at >= 0 && at !== sc.index) {
      await run('Could not follow the live song', room.send('song.current', { setlist: id, index: at, keep_tempo: true, ...(sc.section ? { section: sc.section } : {}) }));
    }
    setDirty(false);
    toast('Setlist saved', 'ok');
  };

  const goLive = async () => {
    if (!editing || dirty) { toast('Save the setlist first'); return; }
    await goTo(room, editing, 0);
  };

  return (
    <section class="panel setlist-panel" aria-label="Setlist">
      <h2>Setlist <span class="h-hint">drag a song by its grip to reorder</span></h2>
      <div class="row">
        <select data-testid="setlist-select" value={editing ?? ''} onChange={(e) => {
          const id = (e.target as HTMLSelectElement).value;
          const sl = s.setlists.find((x) => x.id === id);
          setDirty(id === '');
          setEditing(id || '');
          setTitle(sl?.title ?? '');
          setItems(withUid(sl?.items ?? []));
        }} aria-label="Setlist">
          {s.setlists.map((x) => <option value={x.id}>{x.title}{live?.id === x.id ? ' (live)' : ''}</option>)}
          <option value="">+ New setlist</option>
        </select>
        <input data-testid="setlist-title" placeholder="Setlist title" value={title} maxLength={120} aria-label="Setlist title"
          onInput={(e) => change(() => setTitle((e.target as HTMLInputElement).value))} />
      </div>
      <ol class="builder" ref={listRef} key={editing ?? 'new'}>
        {items.map((it, i) => {
          const song = s.songs.find((x) => x.id === it.song);
          const isCur = dirty ? it.uid === liveUid : liveIndex === i;
          return (
            <li class={`builder-item ${isCur ? 'current' : ''}`} data-testid="builder-item" data-song={song?.title ?? ''} key={it.uid}>
              <div class="builder-main">
                <span class="drag-handle" data-testid="drag-handle" aria-hidden="true" title="Drag to reorder"><Grip /></span>
                <span class="sl-n">{i + 1}</span>
                <span class="sl-title" data-testid="builder-title">{song?.title ?? '(deleted song)'}</span>
                <span class="builder-actions">
                  <button class="btn icon-btn" aria-label={`Move ${song?.title ?? 'song'} up`} data-testid="builder-up" onClick={() => move(i, i - 1)} disabled={i === 0}>↑</button>
                  <button class="btn icon-btn" aria-label={`Move ${song?.title ?? 'song'} down`} data-testid="builder-down" onClick={() => move(i, i + 1)} disabled={i === items.length - 1}>↓</button>
                  <button class="btn icon-btn danger" aria-label={`Remove ${song?.title ?? 'song'}`} data-testid="builder-remove" onClick={() => change(() => setItems(items.filter((_, j) => j !== i)))}>✕</button>
                  {!dirty && editing && <button class="btn" data-testid="builder-goto" onClick={() => goTo(room, editing, i)}>Play</button>}
                </span>
              </div>
              <div class="builder-extra">
                <label>Key<input class="narrow" placeholder={pretty(song?.key) || 'key'} value={it.key ?? ''} maxLength={8} data-testid="builder-key"
                  onInput={(e) => patch(i, { key: (e.target as HTMLInputElement).value || null })} /></label>
                <label>BPM<input class="narrow" type="number" min={BPM_MIN} max={BPM_MAX} step="0.1" placeholder={song?.bpm ? String(song.bpm) : 'bpm'}
                  value={it.bpm ?? ''} data-testid="builder-bpm"
                  onInput={(e) => { const v = (e.target as HTMLInputElement).value; patch(i, { bpm: v === '' ? null : Number(v) }); }} /></label>
                <label class="grow">Notes for the band<input placeholder="e.g. capo 2, start soft" value={it.notes ?? ''} maxLength={500} data-testid="builder-notes"
                  onInput={(e) => patch(i, { notes: (e.target as HTMLInputElement).value || null })} /></label>
              </div>
            </li>
          );
        })}
      </ol>
      <div class="row">
        <select data-testid="setlist-add-select" value={pick} onChange={(e) => setPick((e.target as HTMLSelectElement).value)} aria-label="Song to add">
          <option value="">Add a song…</option>
          {s.songs.map((x) => <option value={x.id}>{x.title}{x.key ? ` (${x.key})` : ''}</option>)}
        </select>
        <button class="btn" data-testid="setlist-add" disabled={!pick} onClick={() => change(() => { setItems([...items, { song: pick, key: null, bpm: null, notes: null, uid: ++uidSeq }]); setPick(''); })}>Add</button>
      </div>
      <div class="row wrap">
        <button class="btn primary" data-testid="setlist-save" disabled={!dirty && !!editing} onClick={save}>{dirty ? 'Save setlist •' : 'Save setlist'}</button>
        <button class="btn" data-testid="setlist-golive" disabled={!editing || dirty || items.length === 0} onClick={goLive}>Go live from song 1</button>
        {editing && !dirty && <button class="btn" data-testid="setlist-print" onClick={() => onPrint(editing)}>Print setlist</button>}
        {editing && !dirty && <ExportLink room={room} setlist={editing} title={title} />}
        {editing && !dirty && <DeleteButton label="Delete setlist" onConfirm={async () => {
          if (await run('Setlist not deleted', room.send('setlist.delete', { id: editing }))) { setEditing(null); }
        }} />}
      </div>
    </section>
  );
}


/** GET /api/room/setlists/<id>/export.chordpro with the MD's token, saved as a file. */
function ExportLink({ room, setlist, title }: { room: Room; setlist: string; title: string }) {
  const href = `/api/room/setlists/${encodeURIComponent(setlist)}/export.chordpro`;
  const download = async (e: Event) => {
    e.preventDefault();
    let res: Response;
    try {
      res = await fetch(href, { headers: { authorization: `Bearer ${room.connection.currentSession.token}` }, cache: 'no-store' });
    } catch {
      toast('Export failed: the server cannot be reached. Check the Wi-Fi, then try again.');
      return;
    }
    if (!res.ok) {
      const j = await res.json().catch(() => null) as { error?: { message?: string } } | null;
      toast(`Export failed: ${j?.error?.message ?? `the server answered ${res.status}`}`);
      return;
    }
    const name = /filename="?([^";]+)"?/.exec(res.headers.get('content-disposition') ?? '')?.[1] ?? `${title || 'setlist'}.chordpro`;
    const url = URL.createObjectURL(await res.blob());
    const a = document.createElement('a');
    a.href = url; a.download = name;
    document.body.appendChild(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  };
  return <a class="btn" href={href} data-testid="setlist-export" onClick={download}>Export ChordPro</a>;
}
