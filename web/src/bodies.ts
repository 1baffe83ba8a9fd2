// Song charts on demand: the snapshot and the song events carry metadata only, so this fetches the
// chart of the current song at once and then those of the active setlist (GET /api/room/songs/<id>),
// again when a song event brings a new body revision. Fetched charts live in the room state
// (state.bodies), which persist.ts keeps across reloads: the set stays readable without the server.
import { ApiError, fetchSongBody, type SongBodyReply } from './api';
import { missingBodies, withBody, withBodyError, chartOf, type RoomState } from './state';
import type { Store } from './store';

const PARALLEL = 2;
const RETRY_MS = [1000, 3000, 10_000, 30_000];

export class ChartLoader {
  private inFlight = new Set<string>();
  private failures = new Map<string, number>();
  private notBefore = new Map<string, number>();
  private extra: string[] = [];
  private timer: ReturnType<typeof setTimeout> | null = null;
  private unsubscribe: (() => void) | null = null;

  constructor(
    private readonly state: Store<RoomState>,
    private readonly token: () => string,
    private readonly fetchBody: (token: string, id: string) => Promise<SongBodyReply> = fetchSongBody,
    private readonly now: () => number = Date.now,
  ) {}

  start(): void {
    // Only what decides which charts are wanted: not the beat-by-beat tempo.update and the like.
    let last: unknown[] = [];
    const watch = (s: RoomState) => {
      const now = [s.songs, s.setlists, s.songCurrent, s.activeSetlist, s.bodies];
      if (now.every((x, i) => x === last[i])) return;
      last = now;
      this.pump();
    };
    this.unsubscribe ??= this.state.subscribe(watch);
    this.pump();
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Charts wanted besides the active setlist's (a setlist being printed, a song being edited). */
  want(ids: string[]): void {
    if (ids.join() === this.extra.join()) return;
    this.extra = ids;
    this.pump();
  }

  /** One song's chart now (the console's song editor): at once when this device has it, else fetched. */
  async load(id: string): Promise<string | null> {
    const song = this.state.get().songs.find((x) => x.id === id);
    const chart = chartOf(this.state.get(), song);
    if (chart.status === 'ready') return chart.chordpro;
    if (chart.status === 'none') return null;
    const r = await this.fetchBody(this.token(), id);
    this.state.set((s) => withBody(s, id, r.body_rev, r.chordpro, this.now()));
    return r.chordpro;
  }

  private pump(): void {
    if (!this.unsubscribe) return;
    const now = this.now();
    let wait = Infinity;
    for (const id of missingBodies(this.state.get(), this.extra)) {
      if (this.inFlight.size >= PARALLEL) break;
      if (this.inFlight.has(id)) continue;
      const at = this.notBefore.get(id) ?? 0;
      if (at > now) { wait = Math.min(wait, at - now); continue; }
      void this.fetchOne(id);
    }
    if (wait !== Infinity && this.timer === null) {
      this.timer = setTimeout(() => { this.timer = null; this.pump(); }, wait);
    }
  }

  private async fetchOne(id: string): Promise<void> {
    this.inFlight.add(id);
    try {
      const r = await this.fetchBody(this.token(), id);
      this.failures.delete(id);
      // A song event may still be on its way with this revision: do not ask again at once.
      this.notBefore.set(id, this.now() + RETRY_MS[0]);
      this.state.set((s) => withBody(s, id, r.body_rev, r.chordpro, this.now()));
    } catch (e) {
      const n = (this.failures.get(id) ?? 0) + 1;
      this.failures.set(id, n);
      this.notBefore.set(id, this.now() + RETRY_MS[Math.min(n - 1, RETRY_MS.length - 1)]);
      const message = e instanceof ApiError ? e.message : `This chart could not be loaded (${String(e)}): it retries by itself.`;
      this.state.set((s) => withBodyError(s, id, message));
    } finally {
      this.inFlight.delete(id);
      this.pump();
    }
  }
}
