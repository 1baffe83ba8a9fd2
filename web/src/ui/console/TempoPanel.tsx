// The click: bpm, tap tempo, meter, accents (tap a beat: 0 silent / 1 normal / 2 accent), subdivision, start/stop.
import { useEffect, useState } from 'preact/hooks';
import { useStore } from '../../store';
import type { Room } from '../../room';
import { DEFINITIONS } from '../../protocol.gen';
import { BeatIndicator, ClickControls } from '../common';
import { run } from './util';
import { fmtBpm } from '../common';

const BPM_MIN = DEFINITIONS.bpm.minimum;
const BPM_MAX = DEFINITIONS.bpm.maximum;
const METERS: Array<[number, number]> = [[2, 4], [3, 4], [4, 4], [5, 4], [6, 8], [7, 8], [9, 8], [12, 8]];
const ACCENT_LABEL = ['silent', 'normal', 'accent'];

/** The accents the click plays: the tempo's own list, else an accented downbeat. */
export function accentsFor(beats: number, accents: number[] | undefined): number[] {
  return Array.from({ length: Math.min(beats, 32) }, (_, i) => accents?.[i] ?? (i === 0 ? 2 : 1));
}

export function startStop(room: Room, countIn: number) {
  const running = !!room.state.get().tempo?.running;
  return running
    ? run('Could not stop', room.send('tempo.stop', {}))
    : run('Could not start', room.send('tempo.start', { count_in_bars: countIn }));
}

export function TempoPanel({ room, countIn, setCountIn }: { room: Room; countIn: number; setCountIn: (n: number) => void }) {
  const tempo = useStore(room.state, (s) => s.tempo);
  const songCountIn = useStore(room.state, (s) => (s.room?.settings as { song_count_in?: number } | undefined)?.song_count_in ?? 0);
  const [taps, setTaps] = useState<number[]>([]);
  const bpm = tempo?.bpm ?? 120;
  const clamp = (x: number) => Math.max(BPM_MIN, Math.min(BPM_MAX, Math.round(x * 10) / 10));
  const setBpm = (x: number) => run('Could not set the tempo', room.send('tempo.set', { bpm: clamp(x) }));
  const tapBpm = taps.length >= 2 ? 60000 / ((taps[taps.length - 1] - taps[0]) / (taps.length - 1)) : null;
  const beats = tempo?.meter.beats ?? 4;
  const accents = accentsFor(beats, tempo?.accents);

  const tap = () => {
    const now = performance.now();
    setTaps((t) => {
      const keep = t.length && now - t[t.length - 1] > 2000 ? [] : t; // a pause starts a new count
      return [...keep, now].slice(-8);
    });
  };
  const cycleAccent = (i: number) => {
    const next = accents.slice();
    next[i] = (next[i] + 1) % 3;
    void run('Could not set the accents', room.send('tempo.set', { accents: next }));
  };

  return (
    <section class="panel tempo-panel" aria-label="Tempo">
      <h2>Tempo <span class="h-hint">start/stop · S</span></h2>
      <div class="tempo-top">
        <BeatIndicator room={room} compact />
        <div class="startstop">
          <button class="btn big go" data-testid="tempo-start" aria-keyshortcuts="S" onClick={() => run('Could not start', room.send('tempo.start', { count_in_bars: countIn }))}>▶ Start</button>
          <button class="btn big stop" data-testid="tempo-stop" aria-keyshortcuts="S" onClick={() => run('Could not stop', room.send('tempo.stop', {}))}>■ Stop</button>
        </div>
      </div>
      <div class="row bpm-row">
        <button class="btn" data-testid="tempo-minus5" onClick={() => setBpm(bpm - 5)} aria-label="5 bpm slower">−5</button>
        <button class="btn" data-testid="tempo-minus" onClick={() => setBpm(bpm - 1)} aria-label="1 bpm slower">−1</button>
        <BpmInput value={bpm} onSet={setBpm} />
        <button class="btn" data-testid="tempo-plus" onClick={() => setBpm(bpm + 1)} aria-label="1 bpm faster">+1</button>
        <button class="btn" data-testid="tempo-plus5" onClick={() => setBpm(bpm + 5)} aria-label="5 bpm faster">+5</button>
      </div>
      <div class="row">
        <button class="btn big grow" data-testid="tempo-tap" onClick={tap}>Tap{tapBpm ? ` · ${Math.round(tapBpm)}` : ''}</button>
        <button class="btn grow" data-testid="tempo-tap-apply" disabled={!tapBpm} onClick={() => { if (tapBpm) void setBpm(tapBpm); setTaps([]); }}>Use tapped</button>
      </div>
      <div class="accents" data-testid="accents" aria-label="Accents: tap a beat to change it">
        {accents.map((a, i) => (
          <button class={`accent-btn a${a}`} data-testid="accent-btn" data-level={a} aria-label={`Beat ${i + 1}: ${ACCENT_LABEL[a]}`} onClick={() => cycleAccent(i)}>
            <span class="accent-n">{i + 1}</span><span class="accent-l">{ACCENT_LABEL[a]}</span>
          </button>
        ))}
      </div>
      <div class="row wrap tempo-selects">
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
        <label>On song change
          <select data-testid="song-countin" value={String(songCountIn)} aria-label="Count-in bars when the song changes while the click runs"
            onChange={(e) => void run('Room setting not changed', room.send('room.settings', { song_count_in: Number((e.target as HTMLSelectElement).value) }))}>
            {[0, 1, 2, 3, 4].map((n) => <option value={String(n)}>{n ? `count ${n} bar${n === 1 ? '' : 's'}` : 'no count-in'}</option>)}
          </select>
        </label>
      </div>
      <p class="muted small" data-testid="tempo-loaded">Click: {tempo ? `${fmtBpm(tempo.bpm)} bpm · ${tempo.meter.beats}/${tempo.meter.unit}${tempo.running ? ' · running' : ' · stopped'}` : 'not set yet'}</p>
      <ClickControls room={room} />
    </section>
  );
}

function BpmInput({ value, onSet }: { value: number; onSet: (x: number) => void }) {
  const [draft, setDraft] = useState(fmtBpm(value));
  useEffect(() => setDraft(fmtBpm(value)), [value]);
  const commit = () => {
    const x = Number(draft.replace(',', '.'));
    if (!(x > 0)) { setDraft(fmtBpm(value)); return; }
    if (Math.abs(x - value) >= 0.05) onSet(x);
  };
  return (
    <input class="bpm-input" data-testid="tempo-bpm" type="text" inputMode="decimal" value={draft} aria-label="BPM"
      onInput={(e) => setDraft((e.target as HTMLInputElement).value)}
      onKeyDown={(e) => { if (e.key === 'Enter') commit(); }}
      onBlur={commit} />
  );
}
