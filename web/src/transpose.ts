// Key and chord transposition for a slot's `transpose` (semitones, e.g. capo or a B♭ instrument).

const SHARP = ['C', 'C#', 'D', 'D#', 'E', 'F', 'F#', 'G', 'G#', 'A', 'A#', 'B'];
const FLAT = ['C', 'Db', 'D', 'Eb', 'E', 'F', 'Gb', 'G', 'Ab', 'A', 'Bb', 'B'];
// Conventional spelling of each key root: major keys and minor keys differ (F# major vs G♭ is a toss-up; F# wins).
const MAJOR_NAMES = ['C', 'Db', 'D', 'Eb', 'E', 'F', 'F#', 'G', 'Ab', 'A', 'Bb', 'B'];
const MINOR_NAMES = ['C', 'C#', 'D', 'Eb', 'E', 'F', 'F#', 'G', 'G#', 'A', 'Bb', 'B'];

const NOTE_RE = /^([A-Ga-g])([#b♯♭]?)(.*)$/;

export function noteIndex(root: string): number | null {
  const m = NOTE_RE.exec(root);
  if (!m) return null;
  const base = SHARP.indexOf(m[1].toUpperCase());
  const acc = m[2] === '#' || m[2] === '♯' ? 1 : m[2] === 'b' || m[2] === '♭' ? -1 : 0;
  return (base + acc + 12) % 12;
}

function isMinor(rest: string): boolean {
  return /^(m(?!aj)|min|-)/.test(rest);
}

/** Transposes a key name ("Bb", "F#m", "Ebm") by `semitones`; unknown text is returned unchanged. */
export function transposeKey(key: string | null | undefined, semitones: number | null | undefined): string | null {
  if (!key) return key ?? null;
  const n = semitones ?? 0;
  const m = NOTE_RE.exec(key.trim());
  if (!m || n === 0) return key;
  const idx = noteIndex(m[1] + m[2]);
  if (idx === null) return key;
  const to = (((idx + n) % 12) + 12) % 12;
  const names = isMinor(m[3]) ? MINOR_NAMES : MAJOR_NAMES;
  return names[to] + m[3];
}

/** Whether a key is spelled with flats, so chords in it should be too. */
export function prefersFlats(key: string | null | undefined): boolean {
  if (!key) return false;
  const m = NOTE_RE.exec(key.trim());
  if (!m) return false;
  if (m[2] === 'b' || m[2] === '♭') return true;
  const idx = noteIndex(m[1] + m[2]);
  // F major and D minor have one flat.
  return (idx === 5 && !isMinor(m[3])) || (idx === 2 && isMinor(m[3])) || (idx === 0 && isMinor(m[3])) ||
    (idx === 7 && isMinor(m[3]));
}

/** Transposes a chord symbol like "F#m7/C#"; `flats` picks the spelling. */
export function transposeChord(chord: string, semitones: number, flats: boolean): string {
  if (!semitones) return chord;
  const names = flats ? FLAT : SHARP;
  return chord.replace(/(^|\/)([A-G][#b♯♭]?)/g, (_all, pre: string, root: string) => {
    const idx = noteIndex(root);
    if (idx === null) return pre + root;
    return pre + names[(((idx + semitones) % 12) + 12) % 12];
  });
}
