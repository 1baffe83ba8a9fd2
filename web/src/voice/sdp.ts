// SDP munging for the low-latency RTP path: Opus mono in 10 ms frames, in-band FEC on, DTX off.
// The fmtp of a description tells the *other* end how to encode what it sends here, so both the
// descriptions we send and the ones we apply are munged (idempotent).

export const OPUS_PARAMS: Readonly<Record<string, string>> = {
  minptime: '10', useinbandfec: '1', usedtx: '0', stereo: '0', 'sprop-stereo': '0',
};
export const PTIME_MS = 10;

type Section = { lines: string[] };

function splitSections(sdp: string): { head: string[]; media: Section[] } {
  const lines = sdp.split(/\r?\n/);
  while (lines.length && lines[lines.length - 1] === '') lines.pop();
  const head: string[] = [];
  const media: Section[] = [];
  for (const l of lines) {
    if (l.startsWith('m=')) media.push({ lines: [l] });
    else if (media.length) media[media.length - 1].lines.push(l);
    else head.push(l);
  }
  return { head, media };
}

function parseFmtp(params: string): Array<[string, string]> {
  return params.split(';').map((p) => p.trim()).filter(Boolean).map((p) => {
    const i = p.indexOf('=');
    return i < 0 ? [p, ''] : [p.slice(0, i).trim(), p.slice(i + 1).trim()];
  });
}

function mungeAudio(sec: Section, ptime: number): void {
  const pts = sec.lines
    .map((l) => /^a=rtpmap:(\d+) opus\/48000(\/\d+)?$/i.exec(l))
    .filter((m): m is RegExpExecArray => !!m)
    .map((m) => m[1]);
  if (pts.length === 0) return;
  for (const pt of pts) {
    const i = sec.lines.findIndex((l) => l.startsWith(`a=fmtp:${pt} `));
    const kv = i >= 0 ? parseFmtp(sec.lines[i].slice(`a=fmtp:${pt} `.length)) : [];
    const map = new Map(kv);
    for (const [k, v] of Object.entries(OPUS_PARAMS)) map.set(k, v);
    const line = `a=fmtp:${pt} ${[...map].map(([k, v]) => (v === '' ? k : `${k}=${v}`)).join(';')}`;
    if (i >= 0) sec.lines[i] = line;
    else sec.lines.splice(sec.lines.findIndex((l) => l.startsWith(`a=rtpmap:${pt} `)) + 1, 0, line);
  }
  const p = sec.lines.findIndex((l) => l.startsWith('a=ptime:'));
  if (p >= 0) sec.lines[p] = `a=ptime:${ptime}`;
  else sec.lines.push(`a=ptime:${ptime}`);
}

/** Returns the SDP with every Opus payload set to 10 ms mono frames, FEC on, DTX off. */
export function mungeOpus(sdp: string, ptime = PTIME_MS): string {
  const { head, media } = splitSections(sdp);
  for (const sec of media) if (sec.lines[0].startsWith('m=audio ')) mungeAudio(sec, ptime);
  return [...head, ...media.flatMap((s) => s.lines)].join('\r\n') + '\r\n';
}

/** The session id of the `o=` line: a new RTCPeerConnection at the other end has a new one. */
export function sdpSessionId(sdp: string): string | null {
  const m = /^o=\S+ (\d+) /m.exec(sdp);
  return m ? m[1] : null;
}
