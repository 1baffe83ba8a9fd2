import { useEffect, useRef, useState } from 'preact/hooks';
import { exchange, peek, ApiError, validateName, nameLength, NAME_MAX, ROLE_WORDS, type PeekResult, type Session } from '../api';
import * as persist from '../persist';

export function Join({ code: urlCode, notice, onJoined }: { code: string | null; notice: string | null; onJoined: (s: Session) => void }) {
  const [code, setCode] = useState(urlCode ?? '');
  const [name, setName] = useState(persist.savedName());
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [certSeen, setCertSeen] = useState(persist.certNoticeSeen());
  const [editCode, setEditCode] = useState(!urlCode);
  // Which room and role the code joins, asked once per code (a wrong code costs a guess, as a wrong join does).
  const [target, setTarget] = useState<PeekResult | null>(null);
  const [targetError, setTargetError] = useState<string | null>(null);
  const peeked = useRef<string | null>(null);

  const lookUp = async (raw: string) => {
    const c = raw.trim();
    if (!c || c === peeked.current) return;
    peeked.current = c;
    setTarget(null);
    setTargetError(null);
    try {
      const t = await peek(c);
      if (peeked.current === c) setTarget(t);
    } catch (err) {
      if (peeked.current !== c) return;
      // Not reached (or an old server without peek): say nothing and let Join try; only a real answer about the code is shown.
      if (err instanceof ApiError && (err.status === 401 || err.status === 404 || err.status === 429)) {
        setTargetError(err.message);
        if (err.status !== 429) setEditCode(true);
      }
      // Not a verdict on the code (unreachable, busy, rate-limited): leaving the field again asks again.
      if (!(err instanceof ApiError && (err.status === 401 || err.status === 404))) peeked.current = null;
    }
  };
  useEffect(() => { if (urlCode) void lookUp(urlCode); }, [urlCode]);

  const submit = async (e?: Event) => {
    e?.preventDefault();
    const bad = validateName(name);
    if (bad) { setError(bad); return; }
    const c = code.trim();
    if (!c) { setError('Type the join code from the QR card, or scan the QR code again.'); setEditCode(true); return; }
    setBusy(true);
    setError(null);
    try {
      const s = await exchange(c, name, persist.deviceId());
      persist.saveName(name.trim());
      if (location.pathname !== `/j/${encodeURIComponent(c)}`) history.replaceState(null, '', `/j/${encodeURIComponent(c)}`);
      onJoined(s);
    } catch (err) {
      setError(err instanceof ApiError ? err.message : 'Something went wrong while joining. Try again.');
      if (err instanceof ApiError && (err.status === 401 || err.status === 404)) setEditCode(true);
    } finally {
      setBusy(false);
    }
  };

  const len = nameLength(name);
  return (
    <main class="join">
      <h1 class="brand"><span class="brand-dot" aria-hidden="true" />Downbeat</h1>
      <p class="lead">Join the band's room: setlist, cues and one shared click.</p>
      {notice && <p class="notice" role="status">{notice}</p>}
      {!certSeen && (
        <aside class="cert" data-testid="cert-notice">
          <h2>About the “not private” warning</h2>
          <p>
            Your browser may have warned that this connection is not private. That is expected here: the Downbeat box
            on this network made its own security certificate instead of buying one from the internet. The connection is
            still encrypted. If you are on the band's Wi-Fi, choose <b>Advanced</b> → <b>Proceed</b> (or <b>Show details</b> →
            <b>visit this website</b> on iPhone).
          </p>
          <button type="button" class="btn" onClick={() => { persist.markCertNoticeSeen(); setCertSeen(true); }}>Got it</button>
        </aside>
      )}
      <form onSubmit={submit} class="join-form" noValidate>
        {editCode ? (
          <label>
            Join code
            <input data-testid="join-code" value={code} autoComplete="off" autoCapitalize="characters" spellcheck={false}
              onInput={(e) => {
                const v = (e.target as HTMLInputElement).value;
                setCode(v);
                if (v.trim() !== peeked.current) { peeked.current = null; setTarget(null); setTargetError(null); }
              }}
              onBlur={(e) => void lookUp((e.target as HTMLInputElement).value)} />
          </label>
        ) : (
          <p class="code-line">Code <b data-testid="join-code-shown">{code}</b> <button type="button" class="link" onClick={() => setEditCode(true)}>change</button></p>
        )}
        {target && (
          <p class="notice" data-testid="join-target">
            Joining <b>{target.room.name}</b> as <b>{ROLE_WORDS[target.role] ?? target.role}</b>
          </p>
        )}
        {targetError && !error && (
          <div class="error" role="alert" data-testid="join-target-error">
            <p>{targetError}</p>
          </div>
        )}
        <label>
          Your name
          <input data-testid="join-name" value={name} autoComplete="nickname" enterKeyHint="go"
            aria-invalid={len > NAME_MAX} aria-describedby="name-help"
            onInput={(e) => { setName((e.target as HTMLInputElement).value); if (error) setError(null); }} />
        </label>
        <small id="name-help" class={len > NAME_MAX ? 'over' : ''}>{len}/{NAME_MAX} · emoji welcome</small>
        {error && (
          <div class="error" role="alert" data-testid="join-error">
            <p>{error}</p>
          </div>
        )}
        <button class="btn primary big" type="submit" data-testid="join-submit" disabled={busy}>
          {busy ? 'Joining…' : error ? 'Try again' : 'Join'}
        </button>
      </form>
    </main>
  );
}
