// Slots: create, edit (slot.update: name, instrument, group, capo, pitch, transpose), assign with a
// move confirmation when the person already holds another slot.
import { useRef, useState } from 'preact/hooks';
import { Grip, moveItem, useSortable } from './sortable';
import { useStore } from '../../store';
import type { Room } from '../../room';
import { CommandError } from '../../connection';
import { DeleteButton } from './DeleteButton';
import type { Pitch, Slot } from '../../model';
import type { CommandMap } from '../../protocol.gen';
import { pretty } from '../common';
import { refusal, run, toast } from './util';

const TRANSPOSE = Array.from({ length: 23 }, (_, i) => i - 11);
const CAPO = [0, 1, 2, 3, 4, 5, 6, 7];
const PITCHES: Array<[Pitch, string]> = [['C', 'C (concert)'], ['Bb', 'B♭'], ['Eb', 'E♭'], ['F', 'F']];
const signed = (n: number) => (n > 0 ? `+${n}` : String(n));
type Ask = { slot: string; slotName: string; participant: string; person: string; holds: string };

export function SlotsPanel({ room }: { room: Room }) {
  const s = useStore(room.state, (x) => x);
  const [name, setName] = useState('');
  const [instrument, setInstrument] = useState('');
  const [group, setGroup] = useState('band');
  const [transpose, setTranspose] = useState('0');
  const [editing, setEditing] = useState<string | null>(null);
  const [ask, setAsk] = useState<Ask | null>(null);
  const people = s.participants.filter((p) => p.role !== 'viewer');
  const slots = s.slots;
  const bodyRef = useRef<HTMLTableSectionElement>(null);
  // The order every screen lists the slots in: sent at once, as the server keeps it (slot.order).
  const reorder = (from: number, to: number) => {
    const ids = room.state.get().slots.map((x) => x.id);
    const next = moveItem(ids, from, to);
    if (next !== ids) void run('Slots not reordered', room.send('slot.order', { slots: next }));
  };
  useSortable(bodyRef, reorder, []);

  const create = async (e: Event) => {
    e.preventDefault();
    if (!name.trim()) { toast('A slot needs a name, e.g. “Keys 1”'); return; }
    const t = Number(transpose) || 0;
    const ack = await run('Slot not created', room.send('slot.create', {
      name: name.trim(), ...(instrument.trim() ? { instrument: instrument.trim() } : {}), ...(group.trim() ? { group: group.trim() } : {}), ...(t ? { transpose: t } : {}),
    }));
    if (ack) { setName(''); setInstrument(''); setTranspose('0'); }
  };

  const assignNow = async (a: Pick<Ask, 'slot' | 'participant'>, move: boolean) => {
    try {
      await room.send('slot.assign', move ? { slot: a.slot, participant: a.participant, move: true } : { slot: a.slot, participant: a.participant });
    } catch (e) {
      // Someone else's change reached the server first: ask, as for a move we knew of.
      if (e instanceof CommandError && e.code === 'conflict' && !move) { askMove(a.slot, a.participant, true); return; }
      toast(refusal('Could not assign', e));
    }
  };
  const askMove = (slot: string, participant: string, force = false) => {
    const st = room.state.get();
    const holds = (st.slots.find((x) => x.participant === participant && x.id !== slot));
    const person = st.participants.find((p) => p.id === participant)?.name ?? 'This person';
    const target = st.slots.find((x) => x.id === slot);
    if (!holds && !force) { void assignNow({ slot, participant }, false); return; }
    setAsk({ slot, slotName: target?.name ?? 'this slot', participant, person, holds: holds?.name ?? 'another slot' });
  };
  const pick = (slot: string, participant: string) => {
    if (!participant) { void run('Could not free the slot', room.send('slot.release', { slot })); return; }
    askMove(slot, participant);
  };

  return (
    <section class="panel slots-panel" aria-label="Slots">
      <h2>Slots</h2>
      {ask && (
        <div class="confirm" role="alertdialog" aria-labelledby="move-q" data-testid="move-confirm">
          <p id="move-q"><b>{ask.person}</b> holds <b>{ask.holds}</b> — move to <b>{ask.slotName}</b>?</p>
          <div class="row">
            <button class="btn primary" data-testid="move-yes" onClick={() => { const a = ask; setAsk(null); void assignNow(a, true); }}>Move {ask.person} to {ask.slotName}</button>
            <button class="btn" data-testid="move-no" onClick={() => setAsk(null)}>Cancel</button>
          </div>
        </div>
      )}
      <div class="table-wrap"><table class="table slots-table">
        <thead><tr><th aria-label="Order" /><th>Slot</th><th>Instrument</th><th>Group</th><th>Reads</th><th>Who</th><th /></tr></thead>
        <tbody ref={bodyRef}>
          {slots.map((sl, i) => editing === sl.id ? (
            <tr data-testid="slot-row" data-slot={sl.name} class="editing"><td colSpan={7}><SlotEditor room={room} slot={sl} onDone={() => setEditing(null)} /></td></tr>
          ) : (
            <tr data-testid="slot-row" data-slot={sl.name}>
              <td class="slot-order">
                <span class="drag-handle" data-testid="slot-drag" aria-hidden="true" title="Drag to reorder"><Grip /></span>
                <button class="btn icon-btn" aria-label={`Move ${sl.name} up`} data-testid="slot-up" onClick={() => reorder(i, i - 1)} disabled={i === 0}>↑</button>
                <button class="btn icon-btn" aria-label={`Move ${sl.name} down`} data-testid="slot-down" onClick={() => reorder(i, i + 1)} disabled={i === slots.length - 1}>↓</button>
              </td>
              <td><b>{sl.name}</b></td>
              <td>{sl.instrument ?? ''}</td>
              <td>{sl.group ?? ''}</td>
              <td data-testid="slot-reads">{readsLabel(sl)}</td>
              <td>
                <select data-testid="slot-assign" value={sl.participant ?? ''} aria-label={`Who plays ${sl.name}`}
                  onChange={(e) => { const v = (e.target as HTMLSelectElement).value; (e.target as HTMLSelectElement).value = sl.participant ?? ''; /* shows the holder until the server agrees */ pick(sl.id, v); }}>
                  <option value="">— free —</option>
                  {people.map((p) => <option value={p.id}>{p.name}{p.online ? '' : ' (away)'}</option>)}
                </select>
              </td>
              <td class="slot-actions">
                <button class="btn" data-testid="slot-edit" onClick={() => setEditing(sl.id)}>Edit</button>
                <DeleteButton label="Delete" onConfirm={() => run('Slot not deleted', room.send('slot.delete', { slot: sl.id }))} />
              </td>
            </tr>
          ))}
          {slots.length === 0 && <tr><td colSpan={7} class="muted">No slots yet: add “Keys”, “Drums”, “Vox 1”…</td></tr>}
        </tbody>
      </table></div>
      <form class="row wrap" onSubmit={create}>
        <input data-testid="slot-name" placeholder="Slot name (Keys 1)" maxLength={40} value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} aria-label="New slot name" />
        <input data-testid="slot-instrument" placeholder="Instrument" maxLength={40} value={instrument} onInput={(e) => setInstrument((e.target as HTMLInputElement).value)} aria-label="Instrument" />
        <input data-testid="slot-group" class="narrow" placeholder="Group" maxLength={24} value={group} onInput={(e) => setGroup((e.target as HTMLInputElement).value)} aria-label="Group" />
        <label class="inline">Transpose
          <select data-testid="slot-transpose" value={transpose} onChange={(e) => setTranspose((e.target as HTMLSelectElement).value)}>
            {TRANSPOSE.map((n) => <option value={String(n)}>{signed(n)}</option>)}
          </select>
        </label>
        <button class="btn primary" type="submit" data-testid="slot-create">Add slot</button>
      </form>
    </section>
  );
}

/** "B♭ · capo 2 · +1": how a slot reads the chart. */
function readsLabel(sl: Slot): string {
  const parts: string[] = [];
  if (sl.pitch && sl.pitch !== 'C') parts.push(`${pretty(sl.pitch)} instrument`);
  if (sl.capo) parts.push(`capo ${sl.capo}`);
  if (sl.transpose) parts.push(signed(sl.transpose));
  return parts.join(' · ') || 'concert';
}

function SlotEditor({ room, slot, onDone }: { room: Room; slot: Slot; onDone: () => void }) {
  const [d, setD] = useState({
    name: slot.name, instrument: slot.instrument ?? '', group: slot.group ?? '',
    capo: String(slot.capo ?? 0), pitch: (slot.pitch ?? 'C') as Pitch, transpose: String(slot.transpose ?? 0),
  });
  const set = (k: keyof typeof d) => (e: Event) => setD({ ...d, [k]: (e.target as HTMLInputElement).value });
  const save = async (e: Event) => {
    e.preventDefault();
    if (!d.name.trim()) { toast('A slot needs a name, e.g. “Keys 1”'); return; }
    const data: CommandMap['slot.update'] = { slot: slot.id };
    if (d.name.trim() !== slot.name) data.name = d.name.trim();
    if (d.instrument.trim() !== (slot.instrument ?? '')) data.instrument = d.instrument.trim();
    if (d.group.trim() !== (slot.group ?? '')) data.group = d.group.trim();
    if (Number(d.capo) !== (slot.capo ?? 0)) data.capo = Number(d.capo);
    if (d.pitch !== (slot.pitch ?? 'C')) data.pitch = d.pitch;
    if (Number(d.transpose) !== (slot.transpose ?? 0)) data.transpose = Number(d.transpose);
    if (Object.keys(data).length === 1) { onDone(); return; }
    if (await run('Slot not saved', room.send('slot.update', data))) { toast(`Slot “${d.name.trim()}” saved`, 'ok'); onDone(); }
  };
  return (
    <form class="slot-editor" data-testid="slot-editor" onSubmit={save}>
      <label>Name<input data-testid="slot-edit-name" maxLength={40} value={d.name} onInput={set('name')} /></label>
      <label>Instrument<input data-testid="slot-edit-instrument" maxLength={40} value={d.instrument} onInput={set('instrument')} /></label>
      <label>Group<input data-testid="slot-edit-group" maxLength={24} value={d.group} onInput={set('group')} /></label>
      <label>Capo<select data-testid="slot-edit-capo" value={d.capo} onChange={set('capo')}>
        {CAPO.map((n) => <option value={String(n)}>{n ? `capo ${n}` : 'no capo'}</option>)}
      </select></label>
      <label>Pitch<select data-testid="slot-edit-pitch" value={d.pitch} onChange={set('pitch')}>
        {PITCHES.map(([p, label]) => <option value={p}>{label}</option>)}
      </select></label>
      <label>Transpose<select data-testid="slot-edit-transpose" value={d.transpose} onChange={set('transpose')}>
        {TRANSPOSE.map((n) => <option value={String(n)}>{signed(n)}</option>)}
      </select></label>
      <div class="row">
        <button class="btn primary" type="submit" data-testid="slot-edit-save">Save slot</button>
        <button class="btn" type="button" onClick={onDone}>Cancel</button>
      </div>
    </form>
  );
}
