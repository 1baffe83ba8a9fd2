// The audio rig: a private PulseAudio server and an Xvfb display, both children of this process
// and killed with it. Everything lives in one temp dir; nothing touches a real sound card.
//
//   rig (null sink, stereo 48 kHz) ── monitor ── parec: left = spoken, right = heard
//    ├── left  (remap sink → rig front-left)   ← paplay plays the pulses here
//    ├── right (remap sink → rig front-right)  ← the listener's Chromium plays here (PULSE_SINK)
//    └── mic   (remap source ← rig.monitor front-left) → the talker's Chromium microphone (PULSE_SOURCE)
//   discard (null sink, mono): where a talker's own output goes; its monitor is a silent microphone.
import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync, existsSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { sleep, waitFor } from '../../../tests/integration/lib/wait.mjs';

export const RATE = 48000;
const children = new Set();
let onTrack = null;
// Called with every child as it starts (the run's reaper writes their pids down).
export function setOnTrack(fn) { onTrack = fn; }

// paplay and parec are the rig's sound card: as root they run at nice −10 (a starved paplay
// underruns and splits a burst in two; a starved parec only delivers late).
const spawnRig = (bin, args, opts) => (process.getuid?.() === 0 ? spawn('nice', ['-n', '-10', bin, ...args], opts) : spawn(bin, args, opts));

export { sleep };

// Every child of the benchmark goes through here, so one call kills them all (also on failure).
export function track(child, name) {
  children.add(child);
  onTrack?.(child);
  child.benchName = name;
  child.on('exit', () => children.delete(child));
  return child;
}

export async function killAll() {
  const list = [...children];
  for (const c of list) { try { c.kill('SIGTERM'); } catch {} }
  const end = Date.now() + 3000;
  while ([...children].some((c) => list.includes(c)) && Date.now() < end) await sleep(50);
  for (const c of children) { try { c.kill('SIGKILL'); } catch {} }
}


export class Rig {
  constructor(dir, { latencyMsec = 5, log = () => {} } = {}) {
    this.dir = dir;
    this.latencyMsec = latencyMsec;
    this.log = log;
    this.socket = join(dir, 'pulse', 'native');
    this.env = {};
  }

  async start() {
    const pulseDir = join(this.dir, 'pulse');
    const home = join(this.dir, 'home');
    for (const d of [pulseDir, home, join(this.dir, 'xdg')]) mkdirSync(d, { recursive: true, mode: 0o700 });
    const script = join(this.dir, 'rig.pa');
    writeFileSync(script, [
      `load-module module-native-protocol-unix socket=${this.socket} auth-anonymous=1`,
      `load-module module-null-sink sink_name=rig channels=2 rate=${RATE} channel_map=front-left,front-right`,
      `load-module module-null-sink sink_name=discard channels=1 rate=${RATE} channel_map=mono`,
      `load-module module-remap-sink sink_name=left master=rig channels=1 channel_map=mono master_channel_map=front-left remix=no`,
      `load-module module-remap-sink sink_name=right master=rig channels=1 channel_map=mono master_channel_map=front-right remix=no`,
      `load-module module-remap-source source_name=mic master=rig.monitor channels=1 channel_map=mono master_channel_map=front-left remix=no`,
      '',
    ].join('\n'));
    mkdirSync(join(home, '.config', 'pulse'), { recursive: true });
    writeFileSync(join(home, '.config', 'pulse', 'daemon.conf'), [
      `default-sample-rate = ${RATE}`, `alternate-sample-rate = ${RATE}`, 'avoid-resampling = yes',
      'default-sample-channels = 2', 'default-fragments = 2', 'default-fragment-size-msec = 5',
      'enable-shm = no', 'realtime-scheduling = yes', 'realtime-priority = 9', 'high-priority = yes', 'nice-level = -11', 'exit-idle-time = -1', 'flat-volumes = no', '',
    ].join('\n'));
    const env = { ...process.env, HOME: home, XDG_CONFIG_HOME: join(home, '.config'), XDG_RUNTIME_DIR: join(this.dir, 'xdg'), PULSE_RUNTIME_PATH: pulseDir };
    const pa = track(spawn('pulseaudio', ['-n', '-F', script, '--daemonize=no', '--exit-idle-time=-1', '--use-pid-file=no',
      '--system=no', '--disallow-exit', '--log-target=stderr', '--log-level=error',
      // The rig stands for a sound card: its clock must not starve on a busy machine (as root: SCHED_RR, nice −11).
      '--realtime=yes', '--high-priority=yes',
      '--disable-shm=yes'],
    { env, stdio: ['ignore', 'ignore', 'pipe'] }), 'pulseaudio');
    let paErr = '';
    pa.stderr.on('data', (d) => { paErr += d; appendFileSync(join(this.dir, 'pulseaudio.log'), d); });
    this.pulse = pa;
    this.env = {
      PULSE_SERVER: `unix:${this.socket}`, PULSE_LATENCY_MSEC: String(this.latencyMsec),
      PULSE_RUNTIME_PATH: pulseDir, PULSE_COOKIE: join(this.dir, 'cookie'),
    };
    await waitFor(() => {
      if (pa.exitCode !== null) throw Object.assign(new Error(`pulseaudio exited (${pa.exitCode}): ${paErr.trim()}`), { fatal: true });
      return existsSync(this.socket) && this.pactl(['list', 'short', 'sources']).includes('mic');
    }, 'the PulseAudio server and its mic source', 10_000).catch((e) => { throw new Error(`${e.message}\n${paErr}`); });
    this.log(`# PulseAudio up: ${this.socket}`);
  }

  pactl(args) {
    return execFileSync('pactl', args, { env: { ...process.env, ...this.env }, encoding: 'utf8', timeout: 5000 });
  }

  // Xvfb picks its own free display (-displayfd), so parallel runs never clash.
  async startX() {
    const x = track(spawn('Xvfb', ['-displayfd', '3', '-screen', '0', '1280x800x24', '-nolisten', 'tcp', '-noreset'],
      { stdio: ['ignore', 'ignore', 'pipe', 'pipe'] }), 'Xvfb');
    let err = '';
    x.stderr.on('data', (d) => { err += d; });
    let fdOut = '';
    x.stdio[3].on('data', (d) => { fdOut += d; });
    const n = await waitFor(() => {
      if (x.exitCode !== null) throw Object.assign(new Error(`Xvfb exited (${x.exitCode}): ${err.trim()}`), { fatal: true });
      return /\n/.test(fdOut) && fdOut.trim();
    }, 'Xvfb to report its display', 10_000);
    this.display = `:${n}`;
    this.xvfb = x;
    this.log(`# Xvfb on ${this.display}`);
    return this.display;
  }

  // Raw stereo s16le of the rig's monitor, with the arrival time of each chunk (for press → audible).
  record() {
    const p = track(spawnRig('parec', ['--device=rig.monitor', '--format=s16le', `--rate=${RATE}`, '--channels=2', '--raw',
      `--latency-msec=${this.latencyMsec}`], { env: { ...process.env, ...this.env }, stdio: ['ignore', 'pipe', 'pipe'] }), 'parec');
    const chunks = [];
    let bytes = 0;
    let offset = Infinity; // min over chunks of (arrival wall ms − stream time of the chunk's end)
    let err = '';
    p.stderr.on('data', (d) => { err += d; });
    p.stdout.on('data', (d) => {
      const now = performance.timeOrigin + performance.now();
      chunks.push(d);
      bytes += d.length;
      offset = Math.min(offset, now - (bytes / 4 / RATE) * 1000);
    });
    const stop = async () => {
      if (p.exitCode === null) { p.kill('SIGTERM'); await new Promise((r) => (p.exitCode !== null ? r() : p.once('exit', r))); }
      const buf = Buffer.concat(chunks);
      const n = Math.floor(buf.length / 4);
      const left = new Float32Array(n), right = new Float32Array(n);
      for (let i = 0; i < n; i++) { left[i] = buf.readInt16LE(4 * i) / 32768; right[i] = buf.readInt16LE(4 * i + 2) / 32768; }
      if (n === 0) throw new Error(`parec recorded nothing: ${err.trim()}`);
      return { left, right, rate: RATE, wallAtZero: offset, seconds: n / RATE };
    };
    return { stop, wallNow: () => performance.timeOrigin + performance.now(), started: () => bytes > 0 };
  }

  // Plays a mono s16le WAV into a sink (default: the left channel = the talker's mouth).
  play(wavPath, device = 'left') {
    const p = track(spawnRig('paplay', [`--device=${device}`, `--latency-msec=${this.latencyMsec}`, wavPath],
      { env: { ...process.env, ...this.env }, stdio: ['ignore', 'ignore', 'pipe'] }), 'paplay');
    let err = '';
    p.stderr.on('data', (d) => { err += d; });
    const done = new Promise((resolve, reject) => p.once('exit', (code) => (code === 0 || p.killed ? resolve() : reject(new Error(`paplay exited ${code}: ${err.trim()}`)))));
    return { done, stop: () => { if (p.exitCode === null) p.kill('SIGTERM'); return done.catch(() => {}); } };
  }
}

// ---- signals ---------------------------------------------------------------------------------

export function writeWav(path, samples, rate = RATE) {
  const n = samples.length;
  const buf = Buffer.alloc(44 + 2 * n);
  buf.write('RIFF', 0); buf.writeUInt32LE(36 + 2 * n, 4); buf.write('WAVE', 8);
  buf.write('fmt ', 12); buf.writeUInt32LE(16, 16); buf.writeUInt16LE(1, 20); buf.writeUInt16LE(1, 22);
  buf.writeUInt32LE(rate, 24); buf.writeUInt32LE(rate * 2, 28); buf.writeUInt16LE(2, 32); buf.writeUInt16LE(16, 34);
  buf.write('data', 36); buf.writeUInt32LE(2 * n, 40);
  for (let i = 0; i < n; i++) buf.writeInt16LE(Math.max(-32767, Math.min(32767, Math.round(samples[i] * 32767))), 44 + 2 * i);
  writeFileSync(path, buf);
}

// A deterministic PRNG, so a run's pulse spacing can be reproduced.
export function rng(seed) {
  let s = seed >>> 0 || 1;
  return () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s / 4294967296; };
}

// N tone bursts (30 ms, 1 kHz + 2.5 kHz, 1 ms raised-cosine attack) at irregular spacing, so a
// periodic delay cannot alias into a wrong pairing. Voice processing (noise suppression, AGC) keeps
// a short loud burst; a steady tone it would learn and remove.
export function pulseTrain({ count, spacingMs = 420, spreadMs = 120, leadMs = 500, tailMs = 800, amp = 0.5, seed = 1 }) {
  const r = rng(seed);
  const burst = Math.round(0.030 * RATE), attack = Math.round(0.001 * RATE), release = Math.round(0.004 * RATE);
  const starts = [];
  let t = Math.round((leadMs / 1000) * RATE);
  for (let i = 0; i < count; i++) { starts.push(t); t += Math.round(((spacingMs + r() * spreadMs) / 1000) * RATE); }
  const total = t + Math.round((tailMs / 1000) * RATE);
  const x = new Float32Array(total);
  for (const s of starts) {
    for (let i = 0; i < burst; i++) {
      let env = 1;
      if (i < attack) env = 0.5 - 0.5 * Math.cos((Math.PI * i) / attack);
      else if (i > burst - release) env = 0.5 - 0.5 * Math.cos((Math.PI * (burst - i)) / release);
      const ph = (2 * Math.PI * i) / RATE;
      x[s + i] = amp * env * (0.6 * Math.sin(1000 * ph) + 0.4 * Math.sin(2500 * ph));
    }
  }
  return { samples: x, starts, seconds: total / RATE };
}

// Continuous speech-like sound for press → audible and the stall: "syllables" of 50–150 ms, each
// a random pitch (150–400 Hz) with three harmonics under a soft envelope, 4 ms apart. Whatever
// instant the path opens, a syllable starts within a few ms; the changing spectrum keeps noise
// suppression from learning it as noise.
export function talkLoop(seconds, seed = 1, amp = 0.45) {
  const r = rng(seed * 7919 + 3);
  const n = Math.round(seconds * RATE);
  const x = new Float32Array(n);
  const gap = Math.round(0.004 * RATE), edge = Math.round(0.003 * RATE);
  let i = 0;
  while (i < n) {
    const len = Math.round((0.05 + 0.1 * r()) * RATE);
    const f0 = 150 + 250 * r();
    const a = amp * (0.7 + 0.3 * r());
    for (let k = 0; k < len && i + k < n; k++) {
      const env = Math.min(1, k / edge, (len - k) / edge);
      const t = k / RATE;
      x[i + k] = a * env * (0.5 * Math.sin(2 * Math.PI * f0 * t) + 0.3 * Math.sin(2 * Math.PI * 3 * f0 * t) + 0.2 * Math.sin(2 * Math.PI * 7 * f0 * t));
    }
    i += len + gap;
  }
  return x;
}
