// Talk playout on the page's one AudioContext: each talker's audio → its own gain (the gate, the
// local mute, ducking) → the talk bus (talk volume) → the destination. The gains are set from the
// server's ptt.state (targets.ts talkerGains), never from what happens to arrive.

const OPEN_S = 0.004;   // time constant when a talker is let through: the first syllable must not be lost
const CLOSE_S = 0.015;  // when gated off or muted: no click

export class Mixer {
  readonly bus: GainNode;
  private talkers = new Map<string, GainNode>();
  private received = new Map<string, GainNode>(); // before the gate: what arrived from the talker
  private gains = new Map<string, number>();

  constructor(readonly ctx: AudioContext) {
    this.bus = ctx.createGain();
    this.bus.connect(ctx.destination);
  }

  /** Talker `id`'s input: a unity node (what arrived, before the gate) → the talker's gain → the bus. */
  input(id: string): GainNode {
    let r = this.received.get(id);
    if (!r) {
      const g = this.ctx.createGain();
      g.gain.value = this.gains.get(id) ?? 0;
      g.connect(this.bus);
      this.talkers.set(id, g);
      r = this.ctx.createGain();
      r.connect(g);
      this.received.set(id, r);
    }
    return r;
  }

  setGains(gains: ReadonlyMap<string, number>): void {
    const now = this.ctx.currentTime;
    for (const [id, node] of this.talkers) {
      const v = gains.get(id) ?? 0;
      if (this.gains.get(id) === v) continue;
      node.gain.cancelScheduledValues(now);
      node.gain.setTargetAtTime(v, now, v > (this.gains.get(id) ?? 0) ? OPEN_S : CLOSE_S);
    }
    this.gains = new Map(gains);
  }

  setVolume(v: number): void {
    this.bus.gain.setTargetAtTime(Math.max(0, Math.min(2, v)), this.ctx.currentTime, 0.02);
  }

  talkerNodes(): Map<string, AudioNode> {
    return new Map(this.talkers);
  }

  /** Talker id → what arrived from them, before the gate (tests: nothing must arrive unless meant for me). */
  receivedNodes(): Map<string, AudioNode> {
    return new Map(this.received);
  }
}
