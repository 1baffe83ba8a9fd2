// ChordPro charts for the app: core/chart (C++, the same parser and transposer the server and the
// CLI use) compiled to WebAssembly by wasm/build.sh into src/gen. Call `await initChart()` once at
// start; every other function is synchronous. Rules: docs/charts.md.
import createChartModule from './gen/chart.mjs';
import wasmUrl from './gen/chart.wasm?url';

export type Pitch = 'C' | 'Bb' | 'Eb' | 'F';
/** What one reader sees: the song moved to the play key, written for the instrument, capo, extra shift. */
export type ChartView = {
  songKey: string | null;
  playKey: string | null;
  capo: number; // 0..7
  pitch: Pitch;
  transpose: number; // −11..11
  nashville: boolean;
};
export type Segment = { chord: string | null; text: string };
export type Line =
  | { kind: 'lyrics'; segments: Segment[] }
  | { kind: 'comment'; text: string }
  | { kind: 'blank' }
  | { kind: 'directive'; name: string; value: string };
export type Section = { name: string | null; kind: string; lines: Line[] };
export type ChartIssue = { line: number; message: string };
export type RenderedChart = {
  title: string | null;
  meta: Record<string, string>;
  key: string | null; // the key the reader reads (before capo)
  shapesKey: string | null; // the key of the chords shown (with capo)
  sections: Section[];
  issues: ChartIssue[];
};
/** The chart as written, with the directives an importer reads. */
export type ParsedChart = Omit<RenderedChart, 'key' | 'shapesKey'> & {
  subtitle: string | null;
  artist: string | null;
  key: string | null; // the {key} directive as written
  tempo: string | null;
  time: string | null;
  inferredKey: string | null; // {key}, else the first chord's root ("Am7" → "Am")
};
export type ChartKeys = { key: string | null; shapesKey: string | null };

type ChartModule = {
  renderChart(src: string, view: ChartView): RenderedChart;
  parseChart(src: string): ParsedChart;
  sectionNames(src: string): string[];
  transposeKeyFor(view: ChartView): ChartKeys;
  checkUtf8(bytes: Uint8Array): number | null;
};

let mod: ChartModule | null = null;
let loading: Promise<void> | null = null;

/**
 * Loads the WebAssembly module (once). In the browser it fetches chart.wasm (precached by the
 * service worker); node has no fetch for file URLs, so tests pass the file's bytes as `wasmBinary`.
 */
export function initChart(options: { wasmBinary?: Uint8Array | ArrayBuffer } = {}): Promise<void> {
  if (mod) return Promise.resolve();
  loading ??= createChartModule({
    ...(options.wasmBinary ? { wasmBinary: options.wasmBinary } : {}),
    locateFile: (path: string) => (path.endsWith('.wasm') ? wasmUrl : path),
  }).then((m) => { mod = m as ChartModule; }, (e: unknown) => { loading = null; throw e; });
  return loading;
}

function chart(): ChartModule {
  if (!mod) throw new Error('charts are not loaded yet: await initChart() at start');
  return mod;
}

/** True once initChart() has finished. */
export function chartReady(): boolean {
  return mod !== null;
}

const concert: ChartView = { songKey: null, playKey: null, capo: 0, pitch: 'C', transpose: 0, nashville: false };

/** The chart as `view` reads it (chords moved, spelled for the key; or Nashville numbers). */
export function renderChart(src: string | null | undefined, view: ChartView = concert): RenderedChart {
  return chart().renderChart(src ?? '', view);
}

/** The chart as written: metadata ({title} {artist} {key} {tempo} {time} …), sections, issues. */
export function parseChart(src: string | null | undefined): ParsedChart {
  return chart().parseChart(src ?? '');
}

/** Section names in order, each once (the MD's section buttons). */
export function sectionNames(src: string | null | undefined): string[] {
  return chart().sectionNames(src ?? '');
}

/** The key card of a view: the key the reader reads and, with a capo, the key of the shapes. */
export function transposeKeyFor(view: ChartView): ChartKeys {
  return chart().transposeKeyFor(view);
}

/** The first line (1-based) of `bytes` that is not valid UTF-8, or null when all of it is. */
export function checkUtf8(bytes: Uint8Array): number | null {
  return chart().checkUtf8(bytes);
}
