// Join QR codes. They follow a rotation live: the room.codes push (rotation through the API or on
// schedule) and a re-read every 10 s and on reconnect (`downbeatd room codes --rotate` from a
// shell changes the database without telling the running server's consoles).
import { useEffect, useRef, useState } from 'preact/hooks';
import QRCode from 'qrcode';
import type { Room } from '../../room';
import { useStore } from '../../store';
import { fetchCodes, rotateCodes } from '../../api';
import { ROLES } from '../../protocol.gen';

const REFRESH_MS = 10_000;

export function QrPanel({ room }: { room: Room }) {
  const session = room.connection.currentSession;
  const [codes, setCodes] = useState<Record<string, string>>(() => ({ [session.participant.role]: session.code }));
  const [loadErr, setLoadErr] = useState<string | null>(null);
  const [role, setRole] = useState<string>('musician');
  const status = useStore(room.conn, (c) => c.status);

  useEffect(() => {
    let live = true;
    const load = () => {
      if (document.visibilityState === 'hidden') return;
      void fetchCodes(room.connection.currentSession.token).then((c) => {
        if (!live) return;
        setLoadErr(null);
        setCodes((old) => ({ ...old, ...c }));
      }, (e: Error) => { if (live) setLoadErr(e.message); });
    };
    load();
    const t = window.setInterval(load, REFRESH_MS);
    document.addEventListener('visibilitychange', load);
    return () => { live = false; clearInterval(t); document.removeEventListener('visibilitychange', load); };
  }, [status === 'online']);
  // A rotation (from this console, another one, or the server's schedule) shows the new QR at once.
  const pushed = useStore(room.codes, (c) => c);
  useEffect(() => { if (pushed) setCodes((old) => ({ ...old, ...pushed })); }, [pushed]);
  const [rotateErr, setRotateErr] = useState<string | null>(null);
  const rotate = (r: string) => rotateCodes(room.connection.currentSession.token, [r]).then(
    (c) => { setRotateErr(null); setCodes((old) => ({ ...old, ...c })); }, (e: Error) => setRotateErr(e.message));

  const code = codes[role];
  const url = code ? `${location.origin}/j/${encodeURIComponent(code)}` : null;

  return (
    <section class="panel qr-panel" aria-label="Join by QR">
      <h2>Join by QR</h2>
      <div class="chips" role="tablist">
        {ROLES.map((r) => <button class={`chip ${r === role ? 'on' : ''}`} role="tab" aria-selected={r === role} data-testid={`qr-role-${r}`} onClick={() => setRole(r)}>{r}</button>)}
      </div>
      {url ? (
        <div class="qr">
          <QrImage text={url} />
          <p class="qr-url" data-testid="qr-url">{url}</p>
          <button class="btn ghost" data-testid="qr-rotate" onClick={() => void rotate(role)}>
            New {role} code (the old QR stops working)
          </button>
          {rotateErr && <p class="error" role="alert">{rotateErr}</p>}
        </div>
      ) : (
        <p class="muted qr-missing">{loadErr ? `Could not load the join codes: ${loadErr}` : 'Loading join codes…'}</p>
      )}
    </section>
  );
}

function QrImage({ text }: { text: string }) {
  const ref = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    if (ref.current) void QRCode.toCanvas(ref.current, text, { margin: 2, width: 220, errorCorrectionLevel: 'M', color: { dark: '#000000', light: '#ffffff' } });
  }, [text]);
  return <canvas ref={ref} class="qr-canvas" aria-label={`QR code for ${text}`} data-testid="qr-canvas" data-text={text} />;
}
