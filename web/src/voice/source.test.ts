// LiveSource against a fake AudioContext: a fresh source node replaces the old one (cross-faded),
// the old one is let go, and close() leaves nothing connected or ticking.
import { describe, it, expect, vi, afterEach } from 'vitest';
import { LiveSource } from './source';

type Fake = { kind: string; connected: Fake[]; disconnected: boolean; gain?: { ramps: number[]; setValueAtTime: (v: number) => void; linearRampToValueAtTime: (v: number) => void } };

function fakeCtx() {
  const made: Fake[] = [];
  const node = (kind: string): Fake & { connect(n: Fake): Fake; disconnect(): void } => {
    const n = {
      kind, connected: [] as Fake[], disconnected: false,
      connect(to: Fake) { n.connected.push(to); return to; },
      disconnect() { n.disconnected = true; n.connected = []; },
    } as Fake & { connect(n: Fake): Fake; disconnect(): void };
    made.push(n);
    return n;
  };
  const ctx = {
    currentTime: 1,
    createMediaStreamSource: () => node('source'),
    createGain: () => {
      const g = node('gain');
      const ramps: number[] = [];
      g.gain = { ramps, setValueAtTime: () => {}, linearRampToValueAtTime: (v: number) => { ramps.push(v); } };
      return g;
    },
  };
  return { ctx: ctx as unknown as AudioContext, made };
}

afterEach(() => { vi.useRealTimers(); });

describe('LiveSource', () => {
  it('replaces its source node on refresh, fades the new one in and the old one out, then drops the old one', () => {
    vi.useFakeTimers();
    const { ctx, made } = fakeCtx();
    const s = new LiveSource(ctx, {} as MediaStream, { refreshMs: 0 });
    const sources = () => made.filter((n) => n.kind === 'source');
    expect(sources()).toHaveLength(1);
    const first = sources()[0];
    s.refresh();
    expect(sources()).toHaveLength(2);
    const second = sources()[1];
    expect(second.connected).toHaveLength(1); // → its own gain → out
    const gains = made.filter((n) => n.kind === 'gain');
    const [, firstGain, secondGain] = gains; // [out, first's gain, second's gain]
    expect(secondGain.gain?.ramps).toEqual([1]);
    expect(firstGain.gain?.ramps).toEqual([0]);
    expect(first.disconnected).toBe(false); // still fading out
    vi.advanceTimersByTime(100);
    expect(first.disconnected).toBe(true);
    expect(second.disconnected).toBe(false);
    s.close();
    expect(second.disconnected).toBe(true);
  });

  it('refreshes by itself every refreshMs until closed', () => {
    vi.useFakeTimers();
    const { ctx, made } = fakeCtx();
    const s = new LiveSource(ctx, {} as MediaStream, { refreshMs: 1000 });
    vi.advanceTimersByTime(3500);
    expect(made.filter((n) => n.kind === 'source')).toHaveLength(4);
    s.close();
    vi.advanceTimersByTime(5000);
    expect(made.filter((n) => n.kind === 'source')).toHaveLength(4);
    s.refresh(); // closed: nothing new
    expect(made.filter((n) => n.kind === 'source')).toHaveLength(4);
  });
});
