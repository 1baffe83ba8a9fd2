// The shared chart vectors (protocol/vectors/chart.json) through the WebAssembly build of core/chart,
// the same file core/chart.test.cpp replays natively: the app and the server read charts alike.
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkUtf8, initChart, parseChart, renderChart, sectionNames, transposeKeyFor, type ChartView, type RenderedChart } from './chart';

type Case = {
  name: string;
  input: string;
  view: ChartView;
  expect: {
    key?: string | null; shapesKey?: string | null; chords?: string[]; texts?: string[]; title?: string;
    sections?: string[]; sectionNames?: string[]; issueLines?: number[]; directives?: [string, string][];
  };
};
const vectors = JSON.parse(readFileSync(new URL('../../protocol/vectors/chart.json', import.meta.url), 'utf8')) as { cases: Case[] };

function chords(c: RenderedChart): string[] {
  return c.sections.flatMap((s) => s.lines.flatMap((l) => (l.kind === 'lyrics' ? l.segments.flatMap((g) => (g.chord === null ? [] : [g.chord])) : [])));
}
function texts(c: RenderedChart): string[] {
  return c.sections.flatMap((s) => s.lines.flatMap((l) => (l.kind === 'lyrics' ? [l.segments.map((g) => g.text).join('')] : [])));
}

beforeAll(async () => {
  // Node's fetch cannot read a file URL: the module gets the bytes of the file vite bundles.
  await initChart({ wasmBinary: readFileSync(new URL('./gen/chart.wasm', import.meta.url)) });
});

describe('chart vectors (WebAssembly)', () => {
  it('has the shared cases', () => {
    expect(vectors.cases.length).toBeGreaterThanOrEqual(20);
  });
  for (const c of vectors.cases) {
    it(c.name, () => {
      const r = renderChart(c.input, c.view);
      const e = c.expect;
      if ('key' in e) expect(r.key).toBe(e.key);
      if ('shapesKey' in e) expect(r.shapesKey).toBe(e.shapesKey);
      if (c.view.songKey !== null && 'key' in e) {
        expect(transposeKeyFor(c.view)).toEqual({ key: r.key, shapesKey: r.shapesKey });
      }
      if (e.chords) expect(chords(r)).toEqual(e.chords);
      if (e.texts) expect(texts(r)).toEqual(e.texts);
      if (e.title) expect(r.title).toBe(e.title);
      if (e.sections) expect(r.sections.map((s) => s.name ?? '')).toEqual(e.sections);
      if (e.sectionNames) expect(sectionNames(c.input)).toEqual(e.sectionNames);
      if (e.issueLines) expect(r.issues.map((i) => i.line)).toEqual(e.issueLines);
      if (e.directives) {
        const got = r.sections.flatMap((s) => s.lines.flatMap((l) => (l.kind === 'directive' ? [[l.name, l.value]] : [])));
        expect(got).toEqual(e.directives);
      }
    });
  }
});

describe('chart wrapper', () => {
  it('gives the shapes the app renders: null for absent values, meta as a record', () => {
    const r = renderChart('{title: Grace}\n{artist: Newton}\n{start_of_verse: Verse 1}\nA[G]mazing\n{c: slowly}\n\n{textfont: x}\n[C]\n{end_of_verse}\nafter');
    expect(r.title).toBe('Grace');
    expect(r.meta).toEqual({ title: 'Grace', artist: 'Newton', textfont: 'x' });
    expect(r.key).toBe('G'); // inferred from the first chord
    expect(r.sections[0]).toEqual({
      name: 'Verse 1', kind: 'verse', lines: [
        { kind: 'lyrics', segments: [{ chord: null, text: 'A' }, { chord: 'G', text: 'mazing' }] },
        { kind: 'comment', text: 'slowly' },
        { kind: 'blank' },
        { kind: 'directive', name: 'textfont', value: 'x' },
        { kind: 'lyrics', segments: [{ chord: 'C', text: '' }] },
      ],
    });
    expect(r.sections[1]).toEqual({ name: null, kind: 'none', lines: [{ kind: 'lyrics', segments: [{ chord: null, text: 'after' }] }] });
  });

  it('reads the directives an importer needs', () => {
    const p = parseChart('{t: Song}\n{st: Sub}\n{key: Bb}\n{tempo: 128}\n{time: 6/8}\n[Bb]x');
    expect([p.title, p.subtitle, p.key, p.tempo, p.time, p.inferredKey]).toEqual(['Song', 'Sub', 'Bb', '128', '6/8', 'Bb']);
  });

  it('names the first line that is not UTF-8', () => {
    expect(checkUtf8(new TextEncoder().encode('ok\nCafé\n'))).toBeNull();
    expect(checkUtf8(new Uint8Array([0x61, 0x0a, 0x62, 0x0a, 0xff, 0x0a]))).toBe(3);
  });

  it('keeps a bad view harmless', () => {
    const view = { songKey: 'C', playKey: 'X#', capo: Number.NaN, pitch: 'Q', transpose: 99, nashville: false } as unknown as ChartView;
    expect(transposeKeyFor(view)).toEqual({ key: 'B', shapesKey: 'B' });
    expect(renderChart('[C]a', view).sections[0].lines[0]).toEqual({ kind: 'lyrics', segments: [{ chord: 'B', text: 'a' }] });
  });
});
