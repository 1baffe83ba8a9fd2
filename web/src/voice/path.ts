// The seam between the mesh and a voice transport. The mesh (mesh.ts) owns the peer connections
// and their negotiated `voice` data channel; a path moves the microphone's audio over them to the
// peers the server named in `ptt.state.to`, and hands each talker's received audio to the mixer.
// 'rtp' (rtp.ts) uses the audio transceiver; 'dc' (ll/) the data channel. A path registers itself
// with registerPath(); voice.ts loads `./ll/index.ts` when it exists.

export type VoicePathName = 'rtp' | 'dc';
export const PATH_NAMES: readonly VoicePathName[] = ['rtp', 'dc'];

/** One peer connection of the mesh, handed to the path once both its audio transceiver and its data channel exist. */
export type PeerLink = {
  readonly id: string;                       // the peer's participant id
  readonly pc: RTCPeerConnection;
  /** Negotiated (id 0, label `voice`, unordered, no retransmits); may still be `connecting`. */
  readonly dataChannel: RTCDataChannel;
  /** The one audio transceiver (sendrecv). */
  readonly transceiver: RTCRtpTransceiver;
  readonly polite: boolean;
};

/** What the page gives a path. */
export type PathHost = {
  /** The page's one AudioContext (the click's, audio.ts); null until a gesture unlocked audio. */
  audioContext(): AudioContext | null;
  /**
   * Where talker `id`'s audio goes: connect the decoded audio of that peer to this node. The node
   * applies the gate (only while the server says the talker talks to me), the local mute, the
   * ducking and the talk volume. Null while there is no AudioContext (see PathHost.onAudio).
   */
  talkerInput(id: string): AudioNode | null;
  /** Calls `fn` with the AudioContext once it exists (at once if it already does). */
  onAudio(fn: (ctx: AudioContext) => void): () => void;
  /** The microphone track; null when the mic is off, blocked or missing. */
  mic(): MediaStreamTrack | null;
};

/** Monotonic counters of what this end received from one peer, read every ~500 ms. */
export type PathCounters = {
  packetsReceived: number;    // audio packets (or frames) received from the peer so far
  packetsLost?: number;       // so far
  samplesReceived?: number;   // samples played out, concealed ones included, so far
  concealedSamples?: number;  // so far
  jitterMs?: number;          // current inter-arrival jitter
  jitterBufferMs?: number;    // current playout buffering
};

export interface VoicePath {
  readonly name: VoicePathName;
  /** A peer connection is ready; called again with a new link after the mesh rebuilt it. */
  addPeer(link: PeerLink): void;
  /** The peer connection is closed (gone offline, left, or about to be rebuilt). */
  removePeer(id: string): void;
  /** The microphone track changed (null: none). */
  setMic(track: MediaStreamTrack | null): void;
  /** Send the microphone to exactly these peers from now on (empty: to nobody). Must not renegotiate. */
  setSendTo(peers: ReadonlySet<string>): void;
  /** Counters for the stall detector and metrics.report; `report` is that peer connection's getStats(). */
  counters(id: string, report: RTCStatsReport): PathCounters | null;
  /** Stops sending and disconnects everything it connected (the path is being switched off). */
  close(): void;
}

export type PathFactory = (host: PathHost) => VoicePath;

const factories = new Map<VoicePathName, PathFactory>();

export function registerPath(name: VoicePathName, factory: PathFactory): void {
  factories.set(name, factory);
}

export function pathFactory(name: VoicePathName): PathFactory | null {
  return factories.get(name) ?? null;
}

export function availablePaths(): VoicePathName[] {
  return PATH_NAMES.filter((n) => factories.has(n));
}
