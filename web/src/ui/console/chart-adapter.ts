// TEMPORARY adapter with the exact signature of web/src/chart.ts (common.md), over the old
// chordpro.ts / transpose.ts. When the chart branch is merged, import from '../../chart'
// instead and delete this file.
import { parseChordPro, sectionNames as oldSectionNames } from '../../chordpro';
import { noteIndex, prefersFlats, transposeKey } from '../../transpose';

export type ChartView = { songKey: string | null; playKey: string | null; capo: number; pitch: 'C' | 'Bb' | 'Eb' | 'F'; transpose: number; nashville: boolean };
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

const PITCH_SHIFT = { C: 0, Bb: 2, Eb: 9, F: 7 } as const;

export async function initChart(): Promise<void> { /* the old reader needs no set-up */ }

function root(key: string | null): number | null {
  const m = key ? /^\s*([A-G][#b♯♭]?)/.exec(key) : null;
  return m ? noteIndex(m[1]) : null;
}

/** Semitones from the song key to what the reader plays: play key, instrument pitch, transpose (capo apart). */
function written(view: ChartView): number {
  const from = root(view.songKey), to = root(view.playKey);
  const move = from !== null && to !== null ? (to - from + 12) % 12 : 0;
  return move + PITCH_SHIFT[view.pitch] + view.transpose;
}

export function transposeKeyFor(view: ChartView): { key: string | null; shapesKey: string | null } {
  const base = view.playKey ?? view.songKey;
  const w = PITCH_SHIFT[view.pitch] + view.transpose;
  const key = transposeKey(base, ((w % 12) + 12) % 12);
  return { key, shapesKey: view.capo ? transposeKey(base, (((w - view.capo) % 12) + 12) % 12) : key };
}

export function renderChart(src: string, view: ChartView): RenderedChart {
  const shift = ((written(view) - view.capo) % 12 + 12) % 12;
  const { key, shapesKey } = transposeKeyFor(view);
  const cp = parseChordPro(src, shift, prefersFlats(shapesKey));
  return { title: cp.title, meta: cp.meta, key, shapesKey, sections: cp.sections, issues: [] };
}

export function sectionNames(src: string): string[] {
  return oldSectionNames(src);
}
