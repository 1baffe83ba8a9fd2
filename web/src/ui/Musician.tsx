import { useState } from 'preact/hooks';
import type { Room } from '../room';
import { useStore } from '../store';
import { mySlot, me } from '../state';
import { StatusBar, OfflineBanner, CueBanner, Talking, BeatIndicator, ClickControls, SongCard, SetlistView, Chart } from './common';
import { Talk } from './Talk';

/** When the MD allows it, a musician without a slot can take a free one. */
function ClaimSlot({ room }: { room: Room }) {
  const selfClaim = useStore(room.state, (s) => !!s.room?.settings?.self_claim);
  const free = useStore(room.state, (s) => s.slots.filter((x) => !x.participant));
  const meId = useStore(room.state, (s) => s.me);
  const [err, setErr] = useState<string | null>(null);
  if (!selfClaim || free.length === 0 || !meId) return null;
  return (
    <section class="claim">
      <p class="muted">Free slots — tap yours:</p>
      <div class="chips">
        {free.map((sl) => (
          <button class="chip" data-testid="claim-slot" onClick={() => room.send('slot.assign', { slot: sl.id, participant: meId })
            .then(() => setErr(null), (e: Error) => setErr(e.message))}>{sl.name}</button>
        ))}
      </div>
      {err && <p class="error" role="alert">{err}</p>}
    </section>
  );
}

/** The phone view: what to play now, in what key, and the beat. No controls that change the room. */
export function Musician({ room, onLeave }: { room: Room; onLeave: () => void }) {
  const slot = useStore(room.state, (s) => mySlot(s));
  const self = useStore(room.state, (s) => me(s));
  return (
    <div class="musician">
      <StatusBar room={room} title={self ? `${self.name} · ${self.role}` : ''} onLeave={onLeave} />
      <OfflineBanner room={room} />
      <CueBanner room={room} />
      {!room.voice.enabled && <Talking room={room} />}
      <p class="slot-line">
        <span class="muted">Your slot</span>{' '}
        <b data-testid="my-slot">{slot ? slot.name : 'not assigned yet'}</b>
        {slot?.instrument && <span class="muted"> · {slot.instrument}</span>}
        {slot?.transpose ? <span class="muted"> · transpose {slot.transpose > 0 ? '+' : ''}{slot.transpose}</span> : null}
      </p>
      {!slot && <ClaimSlot room={room} />}
      <SongCard room={room} />
      <BeatIndicator room={room} />
      <Talk room={room} />
      <ClickControls room={room} />
      <SetlistView room={room} />
      <Chart room={room} />
    </div>
  );
}
