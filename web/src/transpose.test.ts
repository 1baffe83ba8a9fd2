import { describe, it, expect } from 'vitest';
import { transposeKey, transposeChord, prefersFlats } from './transpose';
import { parseChordPro, sectionNames } from './chordpro';

describe('transpose', () => {
  it('moves keys by semitones with conventional spelling', () => {
    expect(transposeKey('Bb', 2)).toBe('C');
    expect(transposeKey('C', 2)).toBe('D');
    expect(transposeKey('C', -2)).toBe('Bb');
    expect(transposeKey('A', 1)).toBe('Bb');
    expect(transposeKey('F#m', 2)).toBe('G#m');
    expect(transposeKey('Em', -1)).toBe('Ebm');
    expect(transposeKey('G', 0)).toBe('G');
    expect(transposeKey('G', 12)).toBe('G');
    expect(transposeKey('weird', 3)).toBe('weird');
    expect(transposeKey(null, 3)).toBeNull();
  });

  it('transposes chord symbols including slash bass', () => {
    expect(transposeChord('F#m7/C#', 1, false)).toBe('Gm7/D');
    expect(transposeChord('Bb/D', 2, false)).toBe('C/E');
    expect(transposeChord('Cmaj7', 3, true)).toBe('Ebmaj7');
    expect(prefersFlats('F')).toBe(true);
    expect(prefersFlats('G')).toBe(false);
  });
});

describe('chordpro', () => {
  const src = `{title: Amazing Grace}
{key: G}
{start_of_verse: Verse 1}
A[G]mazing [G7]grace how [C]sweet
{end_of_verse}
{soc}
[D]Chorus line
{eoc}
{comment: Bridge}
[Em]Bridge line`;

  it('reads sections, chords over lyrics, transposed', () => {
    const cp = parseChordPro(src, 2, false);
    expect(cp.title).toBe('Amazing Grace');
    expect(cp.meta.key).toBe('G');
    expect(cp.sections.map((s) => s.name)).toEqual(['Verse 1', 'Chorus', 'Bridge']);
    const line = cp.sections[0].lines[0];
    expect(line.kind).toBe('lyrics');
    if (line.kind === 'lyrics') {
      expect(line.segments).toEqual([
        { chord: null, text: 'A' }, { chord: 'A', text: 'mazing ' }, { chord: 'A7', text: 'grace how ' }, { chord: 'D', text: 'sweet' },
      ]);
    }
    expect(sectionNames(src)).toEqual(['Verse 1', 'Chorus', 'Bridge']);
  });

  it('copes with nothing', () => {
    expect(parseChordPro(null).sections).toEqual([]);
  });
});
