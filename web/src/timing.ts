// The timing core for the app: core/tempo_math (beat arithmetic) and core/clock_sync (the
// clock-sync estimator), the C++ the server and the SDK run, compiled to WebAssembly by
// wasm/build.sh into src/gen. Call `await initTiming()` once at start (main.tsx); src/tempo.ts and
// src/clock.ts wrap the module. docs/decisions/0009-wasm-timing-core.md.
import createTimingModule from './gen/timing.mjs';
import wasmUrl from './gen/timing.wasm?url';

/** A core::ClockSync instance (embind: free it with delete()). Times are µs as JS numbers. */
export interface CoreClock {
  addSample(t0: number, t1: number, t2: number, t3: number): boolean;
  noteLostPing(): void;
  locked(): boolean;
  sampleCount(): number;
  toServer(localUs: number): number;
  toLocal(serverUs: number): number;
  offsetUs(atLocalUs: number): number;
  uncertaintyAtUs(atLocalUs: number): number;
  uncertaintyUs(): number;
  minRttUs(): number;
  lastRttUs(): number;
  jitterUs(): number;
  skewPpm(): number;
  skewUncertaintyPpm(): number;
  lostPings(): number;
  nextPingDelayUs(): number;
  delete(): void;
}

export type CoreClockConfig = {
  window?: number;
  burstCount?: number;
  burstIntervalUs?: number;
  steadyIntervalUs?: number;
  maxSkewPpm?: number;
};

export type TimingModule = {
  ticksBetween(tempo: unknown, from: number, to: number, subdivide: boolean, max: number): unknown[];
  positionAt(tempo: unknown, t: number): unknown;
  barDurationUs(segment: unknown): number;
  beatTime(segment: unknown, k: number): number;
  ClockSync: new (config: CoreClockConfig) => CoreClock;
};

let mod: TimingModule | null = null;
let loading: Promise<void> | null = null;
const waiting: (() => void)[] = [];

/**
 * Loads the WebAssembly module (once). In the browser it fetches timing.wasm (precached by the
 * service worker); node has no fetch for file URLs, so tests pass the file's bytes as `wasmBinary`.
 */
export function initTiming(options: { wasmBinary?: Uint8Array | ArrayBuffer } = {}): Promise<void> {
  if (mod) return Promise.resolve();
  loading ??= createTimingModule({
    ...(options.wasmBinary ? { wasmBinary: options.wasmBinary } : {}),
    locateFile: (path: string) => (path.endsWith('.wasm') ? wasmUrl : path),
  }).then((m) => {
    mod = m as TimingModule;
    for (const fn of waiting.splice(0)) fn();
  }, (e: unknown) => { loading = null; throw e; });
  return loading;
}

/** True once initTiming() has finished. */
export function timingReady(): boolean {
  return mod !== null;
}

/** The module, or null before initTiming() has finished. */
export function timingModule(): TimingModule | null {
  return mod;
}

/** Runs `fn` once the module is loaded (at once if it is). */
export function whenTimingReady(fn: () => void): void {
  if (mod) fn();
  else waiting.push(fn);
}
