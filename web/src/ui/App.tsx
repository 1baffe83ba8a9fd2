import { useEffect, useMemo, useState } from 'preact/hooks';
import { Join } from './Join';
import { Musician } from './Musician';
import { Console } from './Console';
import { Stage } from './Stage';
import { Tech } from './Tech';
import { initChart } from '../chart';
import { chartsLoaded } from './ChartView';
import { Room } from '../room';
import type { Session } from '../api';
import * as persist from '../persist';
import { useStore } from '../store';

function codeFromPath(): string | null {
  const m = /^\/j\/([^/?#]+)/.exec(location.pathname);
  return m ? decodeURIComponent(m[1]) : null;
}

// The chart scrolls to the MD's section by itself; the browser's restored scroll position would fight it.
if ('scrollRestoration' in history) history.scrollRestoration = 'manual';

export function App() {
  const urlCode = useMemo(codeFromPath, []);
  const [session, setSession] = useState<Session | null>(() => {
    const s = persist.savedSession();
    // A QR code for another room or role wins over the remembered session.
    return s && (!urlCode || s.code === urlCode) ? s : null;
  });
  const [ended, setEnded] = useState<string | null>(null);

  const onJoined = (s: Session) => {
    persist.saveSession(s);
    setEnded(null);
    setSession(s);
  };
  const leave = (reason: string | null) => {
    persist.saveSession(null);
    if (reason === null) persist.saveClickArmed(false); // left on purpose: the next room starts quiet
    setSession(null);
    setEnded(reason);
  };

  // Charts render synchronously once the chart module is loaded (WebAssembly in the chart build).
  const [chartReady, setChartReady] = useState(false);
  useEffect(() => {
    // A module that never loads must not keep the room from opening: after a short wait the room
    // shows without charts (the chart view says so) and picks them up if they arrive later.
    const t = window.setTimeout(() => setChartReady(true), 3000);
    void initChart().catch((e) => console.warn('downbeat: charts unavailable', e)).finally(() => { clearTimeout(t); setChartReady(true); chartsLoaded.set(chartsLoaded.get() + 1); });
    return () => clearTimeout(t);
  }, []);

  if (!session) return <Join code={urlCode} notice={ended} onJoined={onJoined} />;
  if (!chartReady) return <p class="muted loading">Loading…</p>;
  return <RoomScreen key={session.participant.id + session.code} session={session} onLeave={leave} />;
}

function RoomScreen({ session, onLeave }: { session: Session; onLeave: (reason: string | null) => void }) {
  const room = useMemo(() => new Room(session, (reason) => onLeave(reason)), [session]);
  useEffect(() => {
    void room.start();
    return () => room.stop();
  }, [room]);
  const role = useStore(room.state, (s) => s.participants.find((p) => p.id === s.me)?.role ?? session.participant.role);
  useEffect(() => {
    document.body.dataset.role = role;
  }, [role]);
  if (role === 'md') return <Console room={room} onLeave={() => onLeave(null)} />;
  if (role === 'viewer') return <Stage room={room} />;
  if (role === 'tech') return <Tech room={room} onLeave={() => onLeave(null)} />;
  return <Musician room={room} onLeave={() => onLeave(null)} />;
}
