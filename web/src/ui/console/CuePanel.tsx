// Cues flash a message on the band's screens (cue); they never move the chart. Keys 1–9 send the quick cues.
import { useState } from 'preact/hooks';
import { useStore } from '../../store';
import type { Room } from '../../room';
import { currentSong, activeSetlist, participantName, currentCues, itemView, TECH_GROUP } from '../../state';
import { COMMAND_SCHEMAS, DEFINITIONS, type CommandMap } from '../../protocol.gen';
import type { CueColor } from '../../model';
import { run, slotGroups } from './util';
import { Store } from '../../store';

const CUE_COLORS = (DEFINITIONS.cue_color.enum as readonly CueColor[]);
/** Quick cues, keys 1–9 in this order. */
export const QUICK_CUES: Array<[string, CueColor]> = [
  ['Verse', 'blue'], ['Chorus', 'green'], ['Bridge', 'purple'], ['Tag', 'orange'], ['Again', 'yellow'],
  ['Build', 'orange'], ['Down', 'blue'], ['Half time', 'white'], ['Out', 'red'],
];

/** Who a cue goes to: '' everyone, else a slot group or "tech". Shared with the keyboard shortcuts. */
export const cueTarget = new Store<string>('');

export async function sendCue(room: Room, text: string, color: CueColor): Promise<boolean> {
  const group = cueTarget.get();
  const data: CommandMap['cue'] = { text, color };
  if (group) data.group = group;
  return (await run('Cue not sent', room.send('cue', data))) !== null;
}

export function nextSongCueText(room: Room): string | null {
  const s = room.state.get();
  const cur = currentSong(s);
  const next = cur ? itemView(s, cur.setlist, cur.index + 1) : itemView(s, activeSetlist(s), 0);
  if (!next?.song) return null;
  const max = COMMAND_SCHEMAS.cue.properties.text.maxLength;
  return `Next song: ${next.song.title}${next.key ? ` (${next.key})` : ''}`.slice(0, max);
}

export function CuePanel({ room }: { room: Room }) {
  const s = useStore(room.state, (x) => x);
  const target = useStore(cueTarget, (t) => t);
  const [text, setText] = useState('');
  const [color, setColor] = useState<CueColor>('yellow');
  const groups = slotGroups(s);
  const cues = currentCues(s);
  const nextText = nextSongCueText(room);

  const clear = (group: string | null) => run('Cue not cleared', room.send('cue.clear', group ? { group } : {}));

  return (
    <section class="panel cue-panel" aria-label="Cues">
      <h2>Flash a cue <span class="h-hint">shows a message · keys 1–9</span></h2>
      <div class="cue-to" role="radiogroup" aria-label="Cue goes to">
        <span class="cue-to-label">To</span>
        {[['', 'Everyone'], ...groups.map((g) => [g, g]), [TECH_GROUP, 'Tech']].map(([g, label]) => (
          <button class={`chip ${target === g ? 'on' : ''}`} role="radio" aria-checked={target === g} data-testid={`cue-to-${g || 'all'}`}
            onClick={() => cueTarget.set(g)}>{label}</button>
        ))}
      </div>
      <div class="cue-grid">
        {QUICK_CUES.map(([t, c], i) => (
          <button class={`cue-btn cue-${c}`} data-testid={`cue-btn-${t}`} aria-keyshortcuts={String(i + 1)} onClick={() => sendCue(room, t, c)}>
            <span class="cue-key" aria-hidden="true">{i + 1}</span>{t}
          </button>
        ))}
      </div>
      <button class="btn cue-next" data-testid="cue-next-song" disabled={!nextText} onClick={() => nextText && sendCue(room, nextText, 'white')}>
        {nextText ?? 'Next song: —'}
      </button>
      <form class="row" onSubmit={(e) => { e.preventDefault(); if (text.trim()) void sendCue(room, text.trim(), color).then((ok) => ok && setText('')); }}>
        <input data-testid="cue-input" placeholder="Free text, e.g. “Half time”" maxLength={COMMAND_SCHEMAS.cue.properties.text.maxLength}
          value={text} onInput={(e) => setText((e.target as HTMLInputElement).value)} aria-label="Cue text" />
        <select data-testid="cue-color" value={color} class={`cue-select cue-${color}`} onChange={(e) => setColor((e.target as HTMLSelectElement).value as CueColor)} aria-label="Cue colour">
          {CUE_COLORS.map((c) => <option value={c}>{c}</option>)}
        </select>
        <button class="btn" type="submit" data-testid="cue-send">Send</button>
      </form>
      <div class="cue-now" data-testid="cue-now">
        <h3>On the band's screens</h3>
        {cues.length === 0 && <p class="muted">No cue showing.</p>}
        {cues.map((c) => (
          <div class={`cue-current cue-${c.color ?? 'yellow'}`} data-testid="cue-current" data-group={c.group ?? ''}>
            <span class="cue-current-text">{c.text}</span>
            <span class="cue-current-to">{c.group ? `→ ${c.group}` : '→ everyone'} · {participantName(s, c.from)}</span>
            <button class="btn" data-testid="cue-clear-one" aria-label={`Clear the cue ${c.text}`} onClick={() => clear(c.group)}>Clear</button>
          </div>
        ))}
        {cues.length > 0 && <button class="btn" data-testid="cue-clear" onClick={() => clear(null)}>Clear all cues</button>}
      </div>
    </section>
  );
}
