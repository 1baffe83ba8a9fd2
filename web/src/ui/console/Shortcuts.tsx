// Keyboard shortcuts of the MD console and their help overlay ("?").
// Space is push-to-talk (voice.ts), so the click starts and stops with S.
import { useEffect } from 'preact/hooks';
import type { Room } from '../../room';
import { stepSection, stepSong } from './live';
import { QUICK_CUES, sendCue, nextSongCueText } from './CuePanel';
import { startStop } from './TempoPanel';
import { isTyping } from './util';

export const SHORTCUTS: Array<[string, string]> = [
  ['→', 'next song'],
  ['←', 'previous song'],
  ['↓', 'next section'],
  ['↑', 'previous section'],
  ['S', 'start / stop the click'],
  ['1 – 9', `cues: ${QUICK_CUES.map(([t]) => t).join(', ')}`],
  ['N', 'cue “Next song: …”'],
  ['Space', 'hold to talk (when the mic is on)'],
  ['?', 'this help'],
  ['Esc', 'close this help'],
];

export function useShortcuts(room: Room, opts: { countIn: () => number; help: boolean; setHelp: (on: boolean) => void }) {
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey || e.repeat) return;
      if (isTyping(e.target)) return;
      if (opts.help) {
        if (e.key === 'Escape' || e.key === '?') { e.preventDefault(); opts.setHelp(false); }
        return;
      }
      const k = e.key;
      let act: (() => unknown) | null = null;
      if (k === 'ArrowRight') act = () => stepSong(room, 1);
      else if (k === 'ArrowLeft') act = () => stepSong(room, -1);
      else if (k === 'ArrowDown') act = () => stepSection(room, 1);
      else if (k === 'ArrowUp') act = () => stepSection(room, -1);
      else if (k === 's' || k === 'S') act = () => startStop(room, opts.countIn());
      else if (k === '?') act = () => opts.setHelp(true);
      else if (k === 'n' || k === 'N') act = () => { const t = nextSongCueText(room); if (t) void sendCue(room, t, 'white'); };
      else if (/^[1-9]$/.test(k) && QUICK_CUES[Number(k) - 1]) act = () => { const [t, c] = QUICK_CUES[Number(k) - 1]; void sendCue(room, t, c); };
      if (!act) return;
      e.preventDefault();
      void act();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [room, opts.help]);
}

export function HelpOverlay({ onClose }: { onClose: () => void }) {
  return (
    <div class="overlay" role="dialog" aria-modal="true" aria-labelledby="help-title" data-testid="help-overlay" onClick={onClose}>
      <div class="overlay-card" onClick={(e) => e.stopPropagation()}>
        <h2 id="help-title">Keyboard shortcuts</h2>
        <table class="keys">
          <tbody>
            {SHORTCUTS.map(([k, what]) => <tr><td><kbd>{k}</kbd></td><td>{what}</td></tr>)}
          </tbody>
        </table>
        <p class="muted small">Shortcuts pause while you type in a field.</p>
        <button class="btn primary" data-testid="help-close" onClick={onClose} autoFocus>Close</button>
      </div>
    </div>
  );
}
