// A small ChordPro reader: sections with chord-over-lyric lines, for the musician view.
import { transposeChord } from './transpose';

export type Segment = { chord: string | null; text: string };
export type Line = { kind: 'lyrics'; segments: Segment[] } | { kind: 'comment'; text: string } | { kind: 'blank' };
export type Section = { name: string | null; kind: string; lines: Line[] };
export type ChordPro = { title: string | null; meta: Record<string, string>; sections: Section[] };

const SECTION_NAMES: Record<string, string> = {
  chorus: 'Chorus', verse: 'Verse', bridge: 'Bridge', tab: 'Tab', grid: 'Grid', intro: 'Intro', outro: 'Outro', tag: 'Tag',
};
const SHORT: Record<string, string> = { soc: 'start_of_chorus', eoc: 'end_of_chorus', sov: 'start_of_verse', eov: 'end_of_verse', sob: 'start_of_bridge', eob: 'end_of_bridge', sot: 'start_of_tab', eot: 'end_of_tab' };

export function parseChordPro(src: string | null | undefined, transpose = 0, flats = false): ChordPro {
  const out: ChordPro = { title: null, meta: {}, sections: [] };
  let cur: Section = { name: null, kind: 'none', lines: [] };
  const push = () => { if (cur.lines.some((l) => l.kind !== 'blank') || cur.name) out.sections.push(cur); };
  for (const raw of (src ?? '').replace(/\r\n?/g, '\n').split('\n')) {
    const line = raw.trimEnd();
    const dir = /^\s*\{([^}:]+)(?::\s*([^}]*))?\}\s*$/.exec(line);
    if (dir) {
      let name = dir[1].trim().toLowerCase();
      name = SHORT[name] ?? name;
      const value = (dir[2] ?? '').trim();
      const start = /^start_of_(\w+)$/.exec(name);
      const end = /^end_of_(\w+)$/.exec(name);
      if (start) {
        push();
        cur = { name: value || SECTION_NAMES[start[1]] || start[1], kind: start[1], lines: [] };
      } else if (end) {
        push();
        cur = { name: null, kind: 'none', lines: [] };
      } else if (name === 'title' || name === 't') {
        out.title = value;
      } else if (name === 'comment' || name === 'c' || name === 'ci' || name === 'comment_italic') {
        // A comment that names a section ("Verse 2") starts one, as many charts are written that way.
        if (/^(intro|verse|pre-?chorus|chorus|bridge|tag|outro|interlude|instrumental|ending)\b/i.test(value)) {
          push();
          cur = { name: value, kind: 'comment', lines: [] };
        } else {
          cur.lines.push({ kind: 'comment', text: value });
        }
      } else {
        out.meta[name] = value;
      }
      continue;
    }
    if (line.trim() === '') { cur.lines.push({ kind: 'blank' }); continue; }
    if (line.trimStart().startsWith('#')) continue;
    const segments: Segment[] = [];
    const re = /\[([^\]]*)\]/g;
    let last = 0;
    let chord: string | null = null;
    let m: RegExpExecArray | null;
    while ((m = re.exec(line))) {
      if (m.index > last || chord !== null) segments.push({ chord, text: line.slice(last, m.index) });
      chord = transposeChord(m[1], transpose, flats);
      last = m.index + m[0].length;
    }
    segments.push({ chord, text: line.slice(last) });
    cur.lines.push({ kind: 'lyrics', segments: segments.filter((s) => s.chord !== null || s.text !== '') });
  }
  push();
  return out;
}

/** Section names in order (for the MD's section buttons). */
export function sectionNames(src: string | null | undefined): string[] {
  const names: string[] = [];
  for (const s of parseChordPro(src).sections) if (s.name && !names.includes(s.name)) names.push(s.name);
  return names;
}
