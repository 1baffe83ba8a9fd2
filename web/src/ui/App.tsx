import { useEffect, useMemo, useState } from 'preact/hooks';
import { Join } from './Join';
import { Musician } from './Musician';
import { Console } from './Console';
import { Room } from '../room';
import type { Session } from '../api';
import * as persist from '../persist';
import { useStore } from '../store';

function codeFromPath(): string | null {
  const m = /^\/j\/([^/?#]+)/.exec(location.pathname);
  return m ? decodeURIComponent(m[1]) : null;
}

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
    setSession(null);
    setEnded(reason);
  };

  if (!session) return <Join code={urlCode} notice={ended} onJoined={onJoined} />;
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
  return role === 'md'
    ? <Console room={room} onLeave={() => onLeave(null)} />
    : <Musician room={room} onLeave={() => onLeave(null)} />;
}
