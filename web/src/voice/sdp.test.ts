import { describe, it, expect } from 'vitest';
import { mungeOpus, sdpSessionId } from './sdp';

const offer = [
  'v=0', 'o=- 4611731400430051336 2 IN IP4 127.0.0.1', 's=-', 't=0 0', 'a=group:BUNDLE 0 1',
  'm=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126', 'c=IN IP4 0.0.0.0', 'a=mid:0', 'a=sendrecv',
  'a=rtpmap:111 opus/48000/2', 'a=rtcp-fb:111 transport-cc', 'a=fmtp:111 minptime=10;useinbandfec=1',
  'a=rtpmap:63 red/48000/2', 'a=fmtp:63 111/111', 'a=rtpmap:9 G722/8000',
  'm=application 9 UDP/DTLS/SCTP webrtc-datachannel', 'c=IN IP4 0.0.0.0', 'a=mid:1', 'a=sctp-port:5000',
].join('\r\n') + '\r\n';

function audioSection(sdp: string): string[] {
  const lines = sdp.split('\r\n');
  const a = lines.findIndex((l) => l.startsWith('m=audio'));
  const b = lines.findIndex((l, i) => i > a && l.startsWith('m='));
  return lines.slice(a, b);
}

describe('SDP munging for 10 ms Opus', () => {
  it('sets 10 ms mono frames with FEC and without DTX on the Opus payload', () => {
    const out = mungeOpus(offer);
    const fmtp = out.split('\r\n').find((l) => l.startsWith('a=fmtp:111 '))!;
    expect(fmtp).toBe('a=fmtp:111 minptime=10;useinbandfec=1;usedtx=0;stereo=0;sprop-stereo=0');
    expect(audioSection(out)).toContain('a=ptime:10');
  });

  it('leaves other payloads, the data channel section and the line endings alone', () => {
    const out = mungeOpus(offer);
    expect(out).toContain('a=fmtp:63 111/111\r\n');
    expect(out.split('\r\n').filter((l) => l.startsWith('a=ptime')).length).toBe(1);
    const app = out.slice(out.indexOf('m=application'));
    expect(app).not.toContain('ptime');
    expect(out.endsWith('\r\n')).toBe(true);
    expect(out).not.toMatch(/[^\r]\n/);
  });

  it('is idempotent and replaces an existing ptime and DTX setting', () => {
    const other = offer.replace('a=fmtp:111 minptime=10;useinbandfec=1', 'a=fmtp:111 usedtx=1;maxplaybackrate=16000')
      .replace('a=mid:0', 'a=mid:0\r\na=ptime:20');
    const once = mungeOpus(other);
    expect(mungeOpus(once)).toBe(once);
    expect(once).toContain('a=fmtp:111 usedtx=0;maxplaybackrate=16000;minptime=10;useinbandfec=1;stereo=0;sprop-stereo=0');
    expect(audioSection(once).filter((l) => l.startsWith('a=ptime'))).toEqual(['a=ptime:10']);
  });

  it('adds an fmtp line when Opus has none', () => {
    const out = mungeOpus(offer.replace('a=fmtp:111 minptime=10;useinbandfec=1\r\n', ''));
    const lines = out.split('\r\n');
    expect(lines[lines.indexOf('a=rtpmap:111 opus/48000/2') + 1]).toMatch(/^a=fmtp:111 minptime=10;useinbandfec=1;usedtx=0/);
  });

  it('leaves an SDP without Opus untouched', () => {
    const noOpus = offer.split('\r\n').filter((l) => !/111/.test(l)).join('\r\n');
    expect(mungeOpus(noOpus)).toBe(noOpus);
  });

  it('reads the session id that tells a new peer connection from a renegotiation', () => {
    expect(sdpSessionId(offer)).toBe('4611731400430051336');
    expect(sdpSessionId('v=0\r\n')).toBeNull();
  });
});
