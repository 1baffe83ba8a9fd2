// Thin adapter with the chart API of common.md ("ChordPro charts"), over the old chordpro.ts /
// transpose.ts, until the chart helper's WebAssembly build replaces this file.
import { parseChordPro, sectionNames as oldSectionNames, type Line as OldLine } from './chordpro';
import { transposeKey, transposeChord, noteIndex } from './transpose';

export type Pitch = 'C' | 'Bb' | 'Eb' | 'F';
export type ChartView = {
  songKey: string | null; playKey: string | null; capo: number; pitch: Pitch; transpose: number; nashville: boolean;
};
export type Line =
  | { kind: 'lyrics'; segments: { chord: string | null; text: string }[] }
  | { kind: 'comment'; text: string }
  | { kind: 'blank' }
  | { kind: 'directive'; name: string; value: string };
export type Section = { name: string | null; kind: string; lines: Line[] };
export type RenderedChart = {
  title: string | null; meta: Record<string, string>; key: string | null; shapesKey: string | null;
  sections: Section[]; issues: { line: number; message: string }[];
};

/** Same signature as the WebAssembly build's (options are for its node tests); nothing to load here. */
export async function initChart(_options: { wasmBinary?: Uint8Array | ArrayBuffer } = {}): Promise<void> { /* nothing to load */ }

const PITCH_SHIFT: Record<Pitch, number> = { C: 0, Bb: 2, Eb: 9, F: 7 };

function mod12(n: number): number { return ((n % 12) + 12) % 12; }

function rootOf(key: string | null | undefined): number | null {
  if (!key) return null;
  const m = /^\s*([A-Ga-g][#b♯♭]?)/.exec(key);
  return m ? noteIndex(m[1]) : null;
}

function isMinorKey(key: string): boolean {
  return /^\s*[A-Ga-g][#b♯♭]?(m(?!aj)|min|-)/.test(key);
}

/** Keys written with flats (so their chords are too): F B♭ E♭ A♭ D♭ G♭ and d g c f b♭ e♭ minor. */
function flatKey(key: string | null): boolean {
  if (!key) return false;
  if (/^\s*[A-G][b♭]/.test(key)) return true;
  const r = rootOf(key);
  if (r === null) return false;
  return isMinorKey(key) ? [2, 7, 0, 5].includes(r) : r === 5;
}

/** Semitones from the song key to what the reader plays: play key, instrument pitch, transpose, capo. */
function shifts(view: ChartView, fallbackKey: string | null) {
  const songKey = view.songKey ?? fallbackKey;
  const from = rootOf(songKey);
  const to = rootOf(view.playKey ?? songKey);
  const toPlay = from !== null && to !== null ? mod12(to - from) : 0;
  const written = toPlay + PITCH_SHIFT[view.pitch] + (view.transpose || 0);
  const capo = Math.max(0, Math.min(11, view.capo || 0));
  return { songKey, toPlay, written, shapes: written - capo, capo };
}

function keysFor(view: ChartView, fallbackKey: string | null): { key: string | null; shapesKey: string | null } {
  const sh = shifts(view, fallbackKey);
  if (!sh.songKey) return { key: view.playKey, shapesKey: view.playKey };
  // No shift beyond the play key: the play key as the MD spelled it.
  const key = view.playKey && mod12(sh.written - sh.toPlay) === 0 ? view.playKey : transposeKey(sh.songKey, mod12(sh.written));
  return { key, shapesKey: sh.capo ? transposeKey(sh.songKey, mod12(sh.shapes)) : key };
}

export function transposeKeyFor(view: ChartView): { key: string | null; shapesKey: string | null } {
  return keysFor(view, null);
}

const DEGREES = ['1', '♭2', '2', '♭3', '3', '4', '♭5', '5', '♭6', '6', '♭7', '7'];

/** A chord as a Nashville number in `key` ("Em7/B" in G → "6m7/3"). */
function nashville(chord: string, key: string): string {
  const tonic = rootOf(key);
  if (tonic === null) return chord;
  return chord.replace(/(^|\/)([A-G][#b♯♭]?)/g, (_a, pre: string, root: string) => {
    const n = noteIndex(root);
    return pre + (n === null ? root : DEGREES[mod12(n - tonic)]);
  });
}

export function renderChart(src: string, view: ChartView): RenderedChart {
  const raw = parseChordPro(src);
  const sh = shifts(view, raw.meta.key ?? null);
  const { key, shapesKey } = keysFor(view, raw.meta.key ?? null);
  const flats = flatKey(shapesKey);
  const chord = (c: string | null) => {
    if (c === null) return null;
    const t = transposeChord(c, mod12(sh.shapes), flats);
    return view.nashville && shapesKey ? nashville(t, shapesKey) : t;
  };
  const line = (l: OldLine): Line => l.kind === 'lyrics' ? { kind: 'lyrics', segments: l.segments.map((s) => ({ chord: chord(s.chord), text: s.text })) } : l;
  return {
    title: raw.title, meta: raw.meta, key, shapesKey,
    sections: raw.sections.map((s) => ({ name: s.name, kind: s.kind, lines: s.lines.map(line) })),
    issues: [],
  };
}

export function sectionNames(src: string): string[] {
  return oldSectionNames(src);
}
