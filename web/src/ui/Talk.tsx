// The Talk button (hold to talk, tap to latch, space bar), the target picker, the one-tap
// microphone, this end's weak links and the per-device talk settings.
import { useState } from 'preact/hooks';
import type { Room } from '../room';
import { useStore } from '../store';
import { talkTargets, personLabel } from '../voice/targets';
import { isTalkingMode } from '../voice/ptt';
import type { PeerView } from '../voice/voice';
import { Icon, Talking } from './common';

const DUCK_STEPS = [0, -3, -6, -10, -15, -20];

/** When the input happened (a busy page may run the handler late: a tap must still latch). */
export function eventTime(e: Event): number {
  return e.timeStamp > 0 && e.timeStamp <= performance.now() ? e.timeStamp : performance.now();
}

/** A target the way the button says it: "all", "MD", "vocals", "Bo (Drums)". */
function shortTarget(label: string, value: string): string {
  if (value === 'all') return 'all';
  if (value === 'md') return 'MD';
  if (value.startsWith('@')) return label.replace(/ only$/, '');
  return value;
}

export function Talk({ room }: { room: Room }) {
  const v = room.voice;
  const mic = useStore(v.mic, (m) => m);
  const micMessage = useStore(v.micMessage, (m) => m);
  const ptt = useStore(v.ptt, (p) => p);
  const targetsKey = useStore(room.state, (s) => JSON.stringify(talkTargets(s)));
  const targets = JSON.parse(targetsKey) as ReturnType<typeof talkTargets>;
  const serverTalking = useStore(room.state, (s) => s.ptt.some((e) => e.participant === s.me && e.talking));
  if (!v.enabled) return null;

  const cur = targets.find((t) => t.value === ptt.target);
  const to = cur ? shortTarget(cur.label, cur.value) : ptt.target;
  const talking = isTalkingMode(ptt.mode);
  const canTalk = mic === 'on';
  const down = (e: PointerEvent) => {
    if (!canTalk || e.button > 0) return;
    e.preventDefault();
    (e.currentTarget as HTMLElement).setPointerCapture?.(e.pointerId);
    v.input({ kind: 'down', at: eventTime(e) });
  };
  const up = (e: PointerEvent) => { e.preventDefault(); v.input({ kind: 'up', at: eventTime(e) }); };
  const cancel = () => v.input({ kind: 'cancel' });
  const main = !talking ? 'Talk' : ptt.mode === 'latched' ? 'Talking (latched)' : 'Talking';
  const hint = !canTalk ? 'enable the mic first' : !talking ? 'hold, or tap to latch' : ptt.mode === 'latched' ? 'tap to stop' : 'let go to stop';

  return (
    <section class={`talk ${talking ? 'on' : ''}`} data-testid="talk">
      {mic !== 'on' && (
        <div class="mic-row">
          <button class="btn big primary" data-testid="enable-mic" disabled={mic === 'asking'} onClick={() => void v.enableMic()}>
            <Icon name="mic" /> {mic === 'asking' ? 'Asking for the microphone…' : mic === 'off' ? 'Enable microphone' : 'Try the microphone again'}
          </button>
          {micMessage && <p class="mic-status" data-testid="mic-status" role="status">{micMessage}</p>}
          {mic === 'off' && <p class="muted small">You hear talk without it; the mic is only needed to talk.</p>}
        </div>
      )}
      <div class="talk-row">
        <button
          class={`talk-btn ${talking ? 'on' : ''} ${talking && !serverTalking ? 'pending' : ''}`}
          data-testid="talk-button" data-mode={ptt.mode} aria-pressed={talking} disabled={!canTalk}
          onPointerDown={down} onPointerUp={up} onPointerCancel={cancel} onLostPointerCapture={(e) => up(e as unknown as PointerEvent)}
          onContextMenu={(e) => e.preventDefault()}
          onKeyDown={(e) => { if (e.key === 'Enter') { e.preventDefault(); if (!e.repeat) v.input({ kind: 'down', at: eventTime(e) }); } }}
          onKeyUp={(e) => { if (e.key === 'Enter') { e.preventDefault(); v.input({ kind: 'up', at: eventTime(e) }); } }}
        >
          <Icon name="mic" />
          <span class="talk-main">{main}</span>
          <span class="talk-to">to {to}</span>
          <span class="talk-hint">{hint}</span>
        </button>
        <label class="talk-target">
          <span class="muted small">Talk to</span>
          <select data-testid="talk-target" data-space-talks value={ptt.target} aria-label="Talk to" onChange={(e) => v.setTarget((e.target as HTMLSelectElement).value)}>
            {targets.map((t) => <option value={t.value}>{t.label}</option>)}
          </select>
        </label>
      </div>
      {ptt.error && <p class="error" role="alert" data-testid="talk-error">{ptt.error}</p>}
      {/* Below the button, not above it: a line that appears must not move the button under the finger. */}
      <Talking room={room} />
      <WeakLinks room={room} />
      <TalkSettings room={room} />
    </section>
  );
}

function why(p: PeerView): string {
  if (p.stalled) return 'no audio from them';
  if (p.link?.loss !== undefined && p.link.loss > 0.02) return `${(p.link.loss * 100).toFixed(0)} % of their audio lost`;
  if (p.sentLoss > 0.02) return `${(p.sentLoss * 100).toFixed(0)} % of your audio lost`;
  if (p.link?.rtt_ms) return `${Math.round(p.link.rtt_ms)} ms round trip`;
  return 'poor';
}

function WeakLinks({ room }: { room: Room }) {
  const peers = useStore(room.voice.peers, (p) => p);
  const s = useStore(room.state, (x) => x);
  const up = peers.filter((p) => p.connectionState === 'connected').length;
  const weak = peers.filter((p) => p.weak);
  if (peers.length === 0) return null;
  return (
    <div class="voice-links">
      <span class="muted small" data-testid="voice-peers">Voice links: {up} of {peers.length} up</span>
      {weak.map((p) => (
        <span class="pill weak" data-testid="weak-link" data-peer={p.id}>
          Weak link to {personLabel(s, p.id)}: {why(p)}
        </span>
      ))}
    </div>
  );
}

function TalkSettings({ room }: { room: Room }) {
  const v = room.voice;
  const set = useStore(v.settings, (x) => x);
  const path = useStore(v.pathName, (p) => p);
  const s = useStore(room.state, (x) => x);
  const [stun, setStun] = useState(set.stunUrl);
  return (
    <details class="talk-settings">
      <summary>Talk settings</summary>
      <label>Talk volume
        <input type="range" min="0" max="2" step="0.05" value={set.talkVolume} data-testid="talk-volume"
          onInput={(e) => v.updateSettings({ talkVolume: Number((e.target as HTMLInputElement).value) })} />
      </label>
      <label>While the MD talks, lower the click and other talk by
        <select data-testid="talk-duck" value={String(set.duckDb)} onChange={(e) => v.updateSettings({ duckDb: Number((e.target as HTMLSelectElement).value) })}>
          {DUCK_STEPS.map((d) => <option value={String(d)}>{d === 0 ? 'never duck' : `${d} dB`}</option>)}
        </select>
      </label>
      <label class="check"><input type="checkbox" data-testid="mic-processing" checked={set.processing}
        onChange={(e) => void v.setProcessing((e.target as HTMLInputElement).checked)} /> Echo cancellation, noise suppression and auto gain</label>
      <p class="muted small" data-testid="in-ear-hint">{set.processing
        ? 'With in-ear monitors (no speaker), turn this off: your talk reaches the others some 15–30 ms sooner.'
        : 'In-ear mode: quickest talk. Use headphones or in-ears — a speaker would echo back into the microphone.'}</p>
      {set.muted.length > 0 && (
        <div class="muted-list">
          <span class="muted small">Muted on this device:</span>
          {set.muted.map((id) => <button class="chip" data-testid="unmute" onClick={() => v.toggleMute(id)}>{personLabel(s, id)} ✕</button>)}
        </div>
      )}
      <p class="muted small" data-testid="voice-path">Voice path: {path === 'rtp' ? 'WebRTC audio' : 'low latency (data channel)'} — the MD sets it for the whole room.</p>
      <form class="row" onSubmit={(e) => { e.preventDefault(); v.updateSettings({ stunUrl: stun.trim() }); }}>
        <label>STUN server (optional, used for new links)
          <input data-testid="stun-url" placeholder="stun:192.168.1.2:3478" value={stun} onInput={(e) => setStun((e.target as HTMLInputElement).value)} />
        </label>
        <button class="btn small" type="submit">Save</button>
      </form>
    </details>
  );
}
