#!/usr/bin/env node
// Voice latency benchmark: mouth-to-ear through real Chromiums, measured on one PulseAudio timeline.
// Method, figures and the one command for a full run: bench/voice/REPORT.md.
//
//   node bench/voice/run.mjs [--smoke] [--pulses N] [--trials N] [--only floor,peer,app,press,impaired,stall]
//                            [--nice N] [--downbeatd PATH] [--web-root DIR] [--netem PATH] [--out results.jsonl] [--label TEXT]
//
// Env: CHROMIUM (default /usr/bin/chromium), VOICE_KEEP=1 (keep the temp dir and the recordings).
import { spawn, execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtempSync, readFileSync, writeFileSync, existsSync, openSync, rmSync, appendFileSync } from 'node:fs';
import { tmpdir, cpus, loadavg } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Fail, check, waitFor } from '../../tests/integration/lib/wait.mjs';
import { Rig, RATE, sleep, track, killAll, setOnTrack, pulseTrain, talkLoop, writeWav } from './lib/rig.mjs';
import { findOnsets, pair, summary, envelope, firstAudible, audibleFraction } from './lib/onsets.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '../..');
const { chromium } = createRequire(join(repo, 'web/package.json'))('playwright-core');

// ---- options ---------------------------------------------------------------------------------
const argv = process.argv.slice(2);
const opt = (name, def) => { const i = argv.indexOf(name); return i >= 0 ? argv[i + 1] : def; };
const SMOKE = argv.includes('--smoke');
const PULSES = Number(opt('--pulses', SMOKE ? 20 : 120)); // 20 in the smoke: at CI load 5–7 of 10 paired, too near its half
const TRIALS = Number(opt('--trials', SMOKE ? 3 : 30));
const ALL = ['floor', 'peer', 'app', 'press', 'impaired', 'stall'];
const ONLY = (opt('--only', SMOKE ? 'floor,peer,app,press' : ALL.join(','))).split(',');
const DOWNBEATD = resolve(opt('--downbeatd', process.env.DOWNBEATD ?? join(repo, 'build/bin/downbeatd')));
const NETEM = resolve(opt('--netem', process.env.VOICE_NETEM ?? join(repo, 'build/bin/voice_netem')));
const OUT = opt('--out', null);
// The built web app the server serves (a copy keeps a long run safe from a rebuild meanwhile).
const WEB_ROOT = resolve(opt('--web-root', join(repo, 'web/dist')));
const LABEL = opt('--label', SMOKE ? 'smoke' : 'full');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
// Chromium's audio threads ask RTKit (D-Bus) for real-time priority; there is none here. On a busy
// machine `--nice -10` gives the Chromiums (all their threads) a head start instead; 0 = as they are.
const NICE = Number(opt('--nice', 0));
// Experiments with the capture → output floor: extra Chromium flags (space-separated), another
// PULSE_LATENCY_MSEC for the Chromiums only, and the floor variants to measure (names of FLOOR_VARIANTS).
const CHROMIUM_ARGS = (opt('--chromium-args', '') ?? '').split(' ').filter(Boolean);
const CHROMIUM_PULSE_MS = opt('--chromium-pulse-latency', null);
const FLOOR_ONLY = opt('--floor', null)?.split(',') ?? null;
// The app: its AudioContext latencyHint (localStorage downbeat.audio.latencyHint; default: the app's)
// and which of APP_VARIANTS to measure (names, comma-separated).
const APP_LATENCY_HINT = opt('--app-latency-hint', null);
const APP_ONLY = opt('--app', null)?.split(',') ?? null;
// More localStorage for the app pages before their first gesture, e.g. '{"downbeat.voice.sourceRefreshMs":"0"}'.
const APP_STORAGE = JSON.parse(opt('--app-storage', '{}'));
const IMPAIR = { delayMs: 5, jitterMs: 5, loss: 0.01 };
const IS_ROOT = process.getuid?.() === 0;

const tmp = mkdtempSync(join(tmpdir(), 'downbeat-voice-'));
const log = (m) => process.stdout.write(m + '\n');
const results = [];
const notes = [];
const stamp = new Date().toISOString();

const withTimeout = (p, ms, what) => Promise.race([p, sleep(ms).then(() => { throw new Fail(`${what} took longer than ${ms} ms`); })]);

function sh(cmd, args, { allowFail = false } = {}) {
  try { return execFileSync(cmd, args, { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] }); }
  catch (e) { if (allowFail) return null; throw new Fail(`${cmd} ${args.join(' ')}: ${e.stderr || e.message}`); }
}

// ---- networks --------------------------------------------------------------------------------
// "lo": one namespace of our own with only a loopback interface; server and both Chromiums in it
// (host candidates on 127.0.0.1, no real interface). Without root: the root namespace, loopback.
// "impaired": talker + server in namespace A, listener in B, joined only by voice_netem (TUN ↔ TUN).
const nsPrefix = `dbv${process.pid}`;
const namespaces = [];
function nsAdd(name) {
  sh('ip', ['netns', 'add', name]);
  namespaces.push(name);
  appendFileSync(join(tmp, 'reap.ns'), name + '\n');
  sh('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
}
// Namespaces left by a run that was killed (-9) before it could delete them.
function nsStale() {
  for (const line of (sh('ip', ['netns', 'list'], { allowFail: true }) ?? '').split('\n')) {
    const m = /^(dbv(\d+)(lo|a|b))\b/.exec(line.trim());
    if (m && !existsSync(`/proc/${m[2]}`)) sh('ip', ['netns', 'del', m[1]], { allowFail: true });
  }
}
// If this process dies without cleaning up (SIGKILL, a crash), a detached watcher kills what it
// started and deletes its namespaces; it exits by itself within a second of this process's end.
function startReaper() {
  setOnTrack((c) => { if (c.pid) appendFileSync(join(tmp, 'reap.pids'), c.pid + '\n'); });
  const script = `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; ` +
    `[ -f ${tmp}/reap.pids ] && for p in $(cat ${tmp}/reap.pids); do kill -9 $p 2>/dev/null; done; ` +
    `[ -f ${tmp}/reap.ns ] && for n in $(cat ${tmp}/reap.ns); do ip netns del $n 2>/dev/null; done; exit 0`;
  spawn('sh', ['-c', script], { detached: true, stdio: 'ignore' }).unref();
}
function nsCleanup() { for (const n of namespaces.splice(0)) sh('ip', ['netns', 'del', n], { allowFail: true }); }

class LoNet {
  async up() {
    this.kind = 'lo';
    if (IS_ROOT) {
      this.ns = `${nsPrefix}lo`;
      nsAdd(this.ns);
      // With only `lo` Chromium believes it is offline (navigator.onLine false: the app would not
      // even connect). A veth pair with both ends inside the namespace makes it "online"; its address
      // is local, so whatever uses it still loops back in the kernel.
      sh('ip', ['-n', this.ns, 'link', 'add', 'vbo0', 'type', 'veth', 'peer', 'name', 'vbo1']);
      sh('ip', ['-n', this.ns, 'addr', 'add', '10.233.0.1/32', 'dev', 'vbo0']);
      for (const d of ['vbo0', 'vbo1']) sh('ip', ['-n', this.ns, 'link', 'set', d, 'up']);
    }
    else notes.push('not root: loopback in the root namespace (Chromium may also see other interfaces)');
    this.serverHost = '127.0.0.1';
  }
  nsOf() { return this.ns ?? null; }
  async down() { if (this.ns) { sh('ip', ['netns', 'del', this.ns], { allowFail: true }); namespaces.splice(namespaces.indexOf(this.ns), 1); } }
}

class ImpairedNet {
  async up() {
    this.kind = 'impaired';
    check(IS_ROOT, 'the impaired runs need root (network namespaces, TUN devices)');
    check(existsSync(NETEM), `voice_netem not found at ${NETEM}: build it (cmake --build --preset dev --target voice_netem) or pass --netem`);
    this.a = `${nsPrefix}a`; this.b = `${nsPrefix}b`;
    nsAdd(this.a); nsAdd(this.b);
    const sub = `10.232.${process.pid % 250}.`;
    this.addrA = `${sub}1`; this.addrB = `${sub}2`;
    const p = track(spawn(NETEM, ['--ns-a', `/run/netns/${this.a}`, '--dev-a', 'tva', '--ns-b', `/run/netns/${this.b}`, '--dev-b', 'tvb',
      '--delay-ms', '0', '--jitter-ms', '0', '--loss', '0', '--seed', '7', '--max-seconds', '3600'],
    { stdio: ['pipe', 'pipe', 'pipe'] }), 'voice_netem');
    this.proc = p;
    let out = '', err = '';
    this.waiters = [];
    p.stdout.on('data', (d) => {
      out += d;
      let nl;
      while ((nl = out.indexOf('\n')) >= 0) { const line = out.slice(0, nl); out = out.slice(nl + 1); this.waiters.shift()?.(line); }
    });
    p.stderr.on('data', (d) => { err += d; });
    const ready = await withTimeout(new Promise((r) => this.waiters.push(r)), 5000, 'voice_netem start').catch((e) => { throw new Fail(`${e.message}: ${err}`); });
    check(ready === 'ready', `voice_netem: ${ready} ${err}`);
    for (const [ns, dev, me, peer] of [[this.a, 'tva', this.addrA, this.addrB], [this.b, 'tvb', this.addrB, this.addrA]]) {
      sh('ip', ['-n', ns, 'addr', 'add', me, 'peer', peer, 'dev', dev]);
      sh('ip', ['-n', ns, 'link', 'set', dev, 'up']);
    }
    this.serverHost = this.addrA;
  }
  nsOf(role) { return role === 'listener' ? this.b : this.a; }
  cmd(line) {
    const r = withTimeout(new Promise((res) => this.waiters.push(res)), 3000, `voice_netem "${line}"`);
    this.proc.stdin.write(line + '\n');
    return r;
  }
  set({ delayMs, jitterMs, loss }) { return this.cmd(`set ${delayMs} ${jitterMs} ${loss}`); }
  async down() { try { this.proc.stdin.end(); } catch {} await sleep(100); for (const n of [this.a, this.b]) { sh('ip', ['netns', 'del', n], { allowFail: true }); namespaces.splice(namespaces.indexOf(n), 1); } }
}

// ---- server ----------------------------------------------------------------------------------
async function startServer(net) {
  check(existsSync(DOWNBEATD), `downbeatd not found at ${DOWNBEATD}: build it (make build) or pass --downbeatd`);
  check(existsSync(join(WEB_ROOT, 'index.html')), `${WEB_ROOT}/index.html missing: run \`npm run build\` in web/`);
  const dataDir = mkdtempSync(join(tmp, 'server-'));
  const out = execFileSync(DOWNBEATD, ['room', 'create', 'Voice bench', '--data-dir', dataDir, '--json'], { encoding: 'utf8' });
  const created = JSON.parse(out.trim().split('\n').filter((l) => l.trim().startsWith('{')).pop());
  const readyFile = join(dataDir, 'ready.json');
  const logFd = openSync(join(dataDir, 'server.log'), 'w');
  const ns = net.nsOf('server');
  const cmd = ns ? 'ip' : DOWNBEATD;
  const args = [...(ns ? ['netns', 'exec', ns, DOWNBEATD] : []), 'serve', '--data-dir', dataDir, '--listen', `${net.serverHost}:0`,
    '--tls', net.kind === 'lo' ? 'off' : 'auto', '--ready-file', readyFile, '--web-root', WEB_ROOT];
  const proc = track(spawn(cmd, args, { stdio: ['ignore', logFd, logFd] }), 'downbeatd');
  const ready = await waitFor(() => {
    if (proc.exitCode !== null) throw new Fail(`downbeatd exited: ${readFileSync(join(dataDir, 'server.log'), 'utf8').slice(-2000)}`);
    return existsSync(readyFile) && JSON.parse(readFileSync(readyFile, 'utf8'));
  }, 'the server ready file', 20_000);
  const port = ready.port ?? Number(new URL(ready.url).port);
  // Off loopback the server insists on TLS (its self-signed certificate; Chromium is told to accept it).
  return { base: `${net.kind === 'lo' ? 'http' : 'https'}://${net.serverHost}:${port}`, codes: created.codes, proc, stop: async () => { proc.kill('SIGTERM'); await sleep(200); } };
}

// ---- browsers --------------------------------------------------------------------------------
const pagesDir = join(here, 'pages');
const BENCH_ORIGIN = 'http://127.0.0.1:9'; // never contacted: the benchmark's own pages are served by page.route
const openPages = new Set();
const statsScript = readFileSync(join(pagesDir, 'stats.js'), 'utf8');

async function launch(name, { source, sink, ns, secureOrigin }) {
  let exe = CHROMIUM;
  if (ns || NICE) {
    exe = join(tmp, `chromium-${ns ?? 'root'}.sh`);
    writeFileSync(exe, `#!/bin/sh\nexec ${NICE ? `nice -n ${NICE} ` : ''}${ns ? `ip netns exec ${ns} ` : ''}${CHROMIUM} "$@"\n`, { mode: 0o755 });
  }
  const args = ['--no-sandbox', '--use-fake-ui-for-media-stream', '--autoplay-policy=no-user-gesture-required', '--disable-gpu',
    '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run',
    '--allow-loopback-in-peer-connection', '--disable-features=WebRtcHideLocalIpsWithMdns',
    '--disable-renderer-backgrounding', '--disable-background-timer-throttling', '--disable-backgrounding-occluded-windows',
    '--window-size=1000,760'];
  if (secureOrigin) args.push('--ignore-certificate-errors');
  args.push(...CHROMIUM_ARGS);
  const env = { ...process.env, ...rig.env, DISPLAY: rig.display, PULSE_SOURCE: source, PULSE_SINK: sink, PULSE_PROP: `application.name=bench-${name}` };
  if (CHROMIUM_PULSE_MS !== null) env.PULSE_LATENCY_MSEC = CHROMIUM_PULSE_MS;
  const browser = await chromium.launch({ executablePath: exe, headless: false, args, env, timeout: 60_000 });
  const context = await browser.newContext({ viewport: { width: 1000, height: 700 }, ignoreHTTPSErrors: !!secureOrigin });
  await context.addInitScript(statsScript);
  await context.route(`${BENCH_ORIGIN}/**`, (route) => {
    const file = new URL(route.request().url()).pathname.replace(/^\/+/, '');
    if (!/^[a-z-]+\.html$/.test(file)) return route.fulfill({ status: 404, body: 'not found' });
    return route.fulfill({ status: 200, contentType: 'text/html', body: readFileSync(join(pagesDir, file), 'utf8') });
  });
  const page = await context.newPage();
  openPages.add({ name, page });
  browser.on('disconnected', () => { for (const x of openPages) if (x.page === page) openPages.delete(x); });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()}`); });
  return { name, browser, context, page, errors, close: () => browser.close().catch(() => {}) };
}

// ---- measuring -------------------------------------------------------------------------------
let seed = 1;
const ms1 = (x) => (x == null || !Number.isFinite(x) ? null : Math.round(x * 10) / 10);

function statsDelta(before, after) {
  // The peer connection that received the most audio is the talker's (the listener has one per peer).
  const idx = (after ?? []).reduce((best, e, i, a) => ((e.inbound?.packetsReceived ?? -1) > (a[best]?.inbound?.packetsReceived ?? -1) ? i : best), 0);
  const a = after?.[idx], b = before?.[idx] ?? {};
  if (!a) return null;
  const dcMessages = (a.dc?.voice?.messagesReceived ?? 0) - (b.dc?.voice?.messagesReceived ?? 0);
  if (!a.inbound) return { packets: dcMessages, dcMessages, rttMs: ms1(a.rttMs) };
  const d = (k, o = 'inbound') => (a[o]?.[k] ?? 0) - (b[o]?.[k] ?? 0);
  const emitted = d('jitterBufferEmittedCount');
  const samples = d('totalSamplesCount', 'playout');
  const lost = d('packetsLost'), recv = d('packetsReceived');
  return {
    packets: recv,
    loss: recv + lost > 0 ? Math.round((lost / (recv + lost)) * 10000) / 10000 : null,
    jitterBufferMs: emitted > 0 ? ms1((d('jitterBufferDelay') / emitted) * 1000) : null,
    jitterBufferTargetMs: emitted > 0 && a.inbound.jitterBufferTargetDelay !== undefined ? ms1((d('jitterBufferTargetDelay') / emitted) * 1000) : null,
    jitterBufferMinimumMs: emitted > 0 && a.inbound.jitterBufferMinimumDelay !== undefined ? ms1((d('jitterBufferMinimumDelay') / emitted) * 1000) : null,
    playoutDelayMs: samples > 0 ? ms1((d('totalPlayoutDelay', 'playout') / samples) * 1000) : null,
    concealed: d('totalSamplesReceived') > 0 ? Math.round((d('concealedSamples') / d('totalSamplesReceived')) * 10000) / 10000 : null,
    jitterMs: ms1((a.inbound.jitter ?? NaN) * 1000),
    rttMs: ms1(a.rttMs),
    codec: a.codec ? `${a.codec.mimeType} ${a.codec.sdpFmtpLine ?? ''}`.trim() : null,
    dcMessages,
  };
}
const statsOf = (p) => (p ? p.page.evaluate(() => window.__benchStats?.() ?? []).catch(() => null) : null);

// Plays a train of bursts into the talker's mouth and pairs them with what the listener's ear got.
async function measurePulses(label, { listener = null, count = PULSES, extra = {} } = {}) {
  const train = pulseTrain({ count, seed: seed++ });
  const wav = join(tmp, `pulses-${seed}.wav`);
  writeWav(wav, train.samples);
  const before = await statsOf(listener);
  const tBefore = Date.now();
  const rec = rig.record();
  await waitFor(() => rec.started(), 'parec to deliver audio', 5000, 20);
  await sleep(300);
  const play = rig.play(wav, 'left');
  // paplay's exit waits for its stream to drain; a busy PulseAudio can hold that back for long,
  // and the recording does not need it: the file's length plus a margin is enough.
  await Promise.race([play.done, sleep(train.seconds * 1500 + 3000)]);
  await play.stop();
  await sleep(700);
  const r = await rec.stop();
  const after = await statsOf(listener);
  const stats = statsDelta(before, after);
  // Packets per second tells the encoder frame (10 ms → 100/s, 20 ms → 50/s) where the SDP does not.
  if (stats) stats.packetsPerSecond = Math.round(stats.packets / ((Date.now() - tBefore) / 1000));
  const spoken = findOnsets(r.left, RATE);
  const heard = findOnsets(r.right, RATE);
  const { pairs, spurious } = pair(spoken.onsets, heard.onsets, RATE);
  const lat = pairs.filter((p) => p.ms !== null).map((p) => p.ms);
  const res = {
    kind: 'm2e', label, ...extra, pulses: count, spoken: spoken.onsets.length, heard: heard.onsets.length, paired: lat.length,
    spurious, m2e_ms: summary(lat), drift_ms: lat.length >= 9 ? ms1(summary(lat.slice(-Math.floor(lat.length / 3))).p50 - summary(lat.slice(0, Math.floor(lat.length / 3))).p50) : null, stats, latencies_ms: lat.map((x) => ms1(x)),
  };
  if (process.env.VOICE_KEEP === '1') writeFileSync(join(tmp, `rec-${label.replace(/\W+/g, '_')}.json`), JSON.stringify({ spoken: spoken.onsets, heard: heard.onsets }));
  const s = res.m2e_ms;
  log(`  ${label.padEnd(34)} paired ${String(res.paired).padStart(3)}/${count}  m2e p50 ${s.p50 ?? '-'}  p95 ${s.p95 ?? '-'}  max ${s.max ?? '-'} ms` +
    (res.stats?.jitterBufferMs != null ? `  jb ${res.stats.jitterBufferMs} ms` : '') + (res.stats?.rttMs != null ? `  rtt ${res.stats.rttMs} ms` : '') +
    (res.stats?.loss ? `  loss ${(res.stats.loss * 100).toFixed(1)} %` : '') + (spurious ? `  (${spurious} spurious)` : ''));
  results.push(res);
  return res;
}

// Continuous talk into the mouth; the talker presses and releases N times; each press →
// the first audible sample at the listener, on the recording's timeline (mapped from wall time).
async function measurePress(label, { press, release, trials = TRIALS, holdMs = 1200, extra = {} }) {
  const seconds = trials * (holdMs + 1100) / 1000 + 4;
  const wav = join(tmp, `talk-${seed++}.wav`);
  writeWav(wav, talkLoop(seconds, seed));
  const rec = rig.record();
  await waitFor(() => rec.started(), 'parec to deliver audio', 5000, 20);
  const play = rig.play(wav, 'left');
  await sleep(1500);
  const marks = [];
  for (let i = 0; i < trials; i++) {
    await sleep(600 + Math.random() * 400);
    const tPress = await press();
    await sleep(holdMs);
    const tRelease = await release();
    marks.push({ tPress, tRelease });
  }
  await sleep(800);
  await play.stop();
  const r = await rec.stop();
  const m = envelope(r.right, RATE);
  const thr = 0.01;
  const idx = (t) => Math.round(((t - r.wallAtZero) / 1000) * RATE);
  const values = [], leaks = [];
  for (const { tPress, tRelease } of marks) {
    const i0 = idx(tPress);
    const a = firstAudible(m, RATE, i0 - Math.round(0.05 * RATE), idx(tRelease), thr);
    values.push(a >= 0 ? ((a - i0) / RATE) * 1000 : null);
    leaks.push(audibleFraction(m, i0 - Math.round(0.45 * RATE), i0 - Math.round(0.05 * RATE), thr));
  }
  // A trial whose sound was already there 50 ms before the press (the last release still playing
  // out, or the path never went quiet) says nothing about the press: counted apart.
  const already = values.filter((v) => v !== null && v <= -49).length;
  const ok = values.filter((v) => v !== null && v > -49);
  const res = {
    kind: 'press', label, ...extra, trials, audible: ok.length, already_audible: already, press_to_audible_ms: summary(ok), values_ms: values.map(ms1),
    heard_while_released: Math.round(Math.max(0, ...leaks) * 1000) / 1000,
  };
  const s = res.press_to_audible_ms;
  log(`  ${label.padEnd(34)} audible ${ok.length}/${trials}${already ? ` (+${already} already audible)` : ''}  press→audible p50 ${s.p50 ?? '-'}  p95 ${s.p95 ?? '-'}  max ${s.max ?? '-'} ms` +
    (res.heard_while_released > 0.05 ? `  (sound before the press in ${Math.round(res.heard_while_released * 100)} % of a window)` : ''));
  results.push(res);
  return res;
}

// ---- the three kinds of pages ----------------------------------------------------------------
// What PulseAudio holds for each client stream now: playback (buffer + sink) and record (buffer + source) latency.
function pulseLatencies() {
  try {
    const out = [];
    for (const kind of ['sink-inputs', 'source-outputs']) {
      let name = '', buf = null;
      for (const line of rig.pactl(['list', kind]).split('\n')) {
        const m = /application\.name = "([^"]*)"/.exec(line); if (m) name = m[1];
        const b = /Buffer Latency: (\d+) usec/.exec(line); if (b) buf = Number(b[1]) / 1000;
        const l = /(Sink|Source) Latency: (\d+) usec/.exec(line); if (l) out.push({ kind: kind === 'sink-inputs' ? 'play' : 'rec', buf, dev: Number(l[2]) / 1000 });
        const n = /^\s*Properties:/.test(line); if (n) name = '';
        if (/application\.name/.test(line) && out.length && !out.at(-1).name) out.at(-1).name = name;
      }
    }
    return out.map((x) => `${x.kind}${x.name ? ' ' + x.name : ''} ${ms1(x.buf)}+${ms1(x.dev)} ms`).join(', ');
  } catch (e) { return `? (${e.message})`; }
}

// The floor variants: what the page's AudioContext and capture can change about the floor.
const FLOOR_VARIANTS = [
  { name: 'webaudio', mode: 'webaudio' },
  { name: 'webaudio-processing', mode: 'webaudio-processing' },
  { name: 'audio-element', mode: 'audio-element' },
  { name: 'webaudio 48k', mode: 'webaudio', options: { sampleRate: 48000 } },
  { name: 'webaudio hint 0', mode: 'webaudio', options: { latencyHint: 0 } },
  { name: 'webaudio hint 0 48k', mode: 'webaudio', options: { latencyHint: 0, sampleRate: 48000 } },
  { name: 'webaudio balanced', mode: 'webaudio', options: { latencyHint: 'balanced' } },
  { name: 'trackprocessor', mode: 'trackprocessor' },
  { name: 'webaudio hint 0 fresh source', mode: 'webaudio', options: { latencyHint: 0, recreateMs: 1000 } },
  { name: 'webaudio fresh source', mode: 'webaudio', options: { recreateMs: 1000 } },
  { name: 'webaudio-processing hint 0 fresh source', mode: 'webaudio-processing', options: { latencyHint: 0, recreateMs: 1000 } },
  { name: 'trackprocessor 48k', mode: 'trackprocessor', options: { latencyHint: 0, sampleRate: 48000 } },
  { name: 'webaudio-processing 48k', mode: 'webaudio-processing', options: { latencyHint: 0, sampleRate: 48000 } },
];
const FULL_FLOORS = ['webaudio', 'webaudio-processing', 'audio-element', 'webaudio hint 0', 'webaudio fresh source', 'webaudio hint 0 fresh source', 'webaudio-processing hint 0 fresh source'];

async function floorRuns() {
  log('# floor: one Chromium, its microphone straight to its own output (no network, no codec)');
  const f = await launch('floor', { source: 'mic', sink: 'right' });
  const names = FLOOR_ONLY ?? (SMOKE ? ['webaudio'] : FULL_FLOORS);
  try {
    for (const name of names) {
      const v = FLOOR_VARIANTS.find((x) => x.name === name);
      check(v, `unknown floor variant "${name}" (known: ${FLOOR_VARIANTS.map((x) => x.name).join(', ')})`);
      await f.page.goto(`${BENCH_ORIGIN}/floor.html`);
      const info = await f.page.evaluate(([m, o]) => window.startFloor(m, o), [v.mode, v.options ?? {}]);
      log(`  (floor ${v.name}: context ${info.sampleRate ?? '-'} Hz, base ${ms1((info.baseLatency ?? NaN) * 1000) ?? '-'} ms, output ${ms1((info.outputLatency ?? NaN) * 1000) ?? '-'} ms, track ${info.settings?.sampleRate ?? '-'} Hz, latency ${ms1((info.settings?.latency ?? NaN) * 1000) ?? '-'} ms)`);
      await sleep(500);
      await measurePulses(`floor ${v.name}`, { extra: { path: 'floor', mode: v.mode, variant: v.name, net: 'none', audio: info, chromium_args: CHROMIUM_ARGS, chromium_pulse_ms: CHROMIUM_PULSE_MS } });
      if (v.name === names[0] && v.mode !== 'audio-element' && ONLY.includes('press') && !SMOKE) {
        // Checks the press timing itself: opening a gain node in the floor page should be heard
        // after about the page's output latency (AudioContext base + output latency), nothing more.
        await f.page.evaluate(() => window.gate(false));
        await sleep(300);
        await measurePress('floor gate (checks the press timing)', {
          press: () => f.page.evaluate(() => window.gate(true)), release: () => f.page.evaluate(() => window.gate(false)),
          trials: Math.min(TRIALS, 10), extra: { path: 'floor', net: 'none', audio: info } });
      }
      log(`  (floor ${v.name}: PulseAudio ${pulseLatencies()})`);
      if (f.errors.length) log(`  (floor ${v.name}: page errors: ${f.errors.splice(0).slice(0, 3).join(' | ')})`);
      await f.page.evaluate(() => window.stopFloor());
    }
  } finally { await f.close(); }
}

async function peerPair(net) {
  const secure = null;
  const t = await launch('talker', { source: 'mic', sink: 'discard', ns: net.nsOf('talker'), secureOrigin: secure });
  const l = await launch('listener', { source: 'discard.monitor', sink: 'right', ns: net.nsOf('listener'), secureOrigin: secure });
  return { t, l, close: async () => { await t.close(); await l.close(); } };
}

async function connectPeer(pp, { tuned, playout }) {
  for (const p of [pp.t, pp.l]) await p.page.goto(`${BENCH_ORIGIN}/peer.html`);
  const offer = await pp.t.page.evaluate((o) => window.startSender(o), { tuned });
  const answer = await pp.l.page.evaluate((o) => window.startReceiver(o), { offer, tuned, playout });
  await pp.t.page.evaluate((sdp) => window.acceptAnswer(sdp), answer);
  await waitFor(async () => (await pp.l.page.evaluate(() => window.pcState())) === 'connected', 'the plain peer connection to connect', 15_000);
  await sleep(1000);
  return pp.l.page.evaluate(() => window.contextInfo());
}

// The app's voice paths; the dc path also with Opus (WebCodecs) instead of its default PCM, to show
// what the codec costs.
// `processing: false` is the in-ear mode (echo cancellation, noise suppression, AGC off); `rtp`
// and `dc` are the paths' localStorage options (rtp.ts, ll/index.ts).
const APP_VARIANTS = [
  { path: 'rtp', name: 'rtp' },
  { path: 'rtp', name: 'rtp primed', rtp: { prime: true } },
  { path: 'rtp', name: 'rtp in-ear', processing: false },
  { path: 'dc', name: 'dc' },
  { path: 'dc', name: 'dc main thread', dc: { worker: false } },
  { path: 'dc', name: 'dc in-ear', processing: false },
  { path: 'dc', name: 'dc buffer 80 ms', dc: { maxBufferMs: 80 } },
  { path: 'dc', name: 'dc opus 5 ms', dc: { codec: 'opus', frameMs: 5 } },
];
const FULL_APP = ['rtp', 'rtp primed', 'rtp in-ear', 'dc', 'dc main thread', 'dc in-ear', 'dc buffer 80 ms', 'dc opus 5 ms'];

const PEER_VARIANTS = [
  { name: 'peer default', tuned: false, playout: 'audio' },
  { name: 'peer tuned', tuned: true, playout: 'webaudio' },
];

async function peerRuns(net, { variants = PEER_VARIANTS, press = false } = {}) {
  log(`# plain RTCPeerConnection between two Chromiums (${net.kind})`);
  for (const v of SMOKE ? variants.slice(0, 1) : variants) {
    const pp = await peerPair(net);
    try {
      const audio = await connectPeer(pp, v);
      await measurePulses(`${v.name} (${net.kind})`, { listener: pp.l, extra: { path: v.name.replace(' ', '-'), net: net.kind, audio } });
      if (press) {
        await pp.t.page.evaluate(() => window.mute());
        await sleep(500);
        await measurePress(`${v.name} replaceTrack (${net.kind})`, {
          press: () => pp.t.page.evaluate(() => window.unmute()),
          release: () => pp.t.page.evaluate(async () => { const t = performance.timeOrigin + performance.now(); await window.mute(); return t; }),
          extra: { path: v.name.replace(' ', '-'), net: net.kind },
        });
      }
    } finally { await pp.close(); }
  }
}

// The real app: MD page talks (`__downbeat.voice.press('all')` after enableMic), a musician listens.
async function appSession(net) {
  const server = await startServer(net);
  const secure = net.kind === 'impaired' ? server.base : null;
  const md = await launch('md', { source: 'mic', sink: 'discard', ns: net.nsOf('talker'), secureOrigin: secure });
  const mu = await launch('musician', { source: 'discard.monitor', sink: 'right', ns: net.nsOf('listener'), secureOrigin: secure });
  const close = async () => { await md.close(); await mu.close(); await server.stop(); };
  try {
    for (const [p, code, name] of [[md, server.codes.md, 'Mia (MD)'], [mu, server.codes.musician, 'Bo']]) {
      await p.page.goto(`${server.base}/j/${code}`);
      // Before the first gesture: the AudioContext is made then (audio.ts latencyHint()).
      const store = { ...APP_STORAGE, ...(APP_LATENCY_HINT !== null ? { 'downbeat.audio.latencyHint': APP_LATENCY_HINT } : {}) };
      await p.page.evaluate((o) => { for (const [k, v] of Object.entries(o)) localStorage.setItem(k, String(v)); }, store);
      await p.page.fill('[data-testid="join-name"]', name);
      await p.page.click('[data-testid="join-submit"]');
      await waitFor(async () => (await p.page.locator('[data-testid="conn-status"]').first().innerText().catch(() => '')).trim() === 'Live', `${p.name} to be Live`, 20_000);
    }
    const hasVoice = await waitFor(() => md.page.evaluate(() => !!window.__downbeat?.voice), 'window.__downbeat.voice', 5000).catch(() => false);
    check(hasVoice, 'the app page has no window.__downbeat.voice (docs/voice.md): the app paths cannot be measured');
    // One tap each (a real gesture unlocks the page's AudioContext); the musician's microphone is the silent one.
    for (const p of [md, mu]) {
      const btn = p.page.locator('[data-testid="enable-mic"]');
      if (await btn.count()) await btn.first().click();
      else await p.page.evaluate(() => window.__downbeat.voice.enableMic());
    }
    await waitFor(async () => (await md.page.evaluate(() => window.__downbeat.voice.micState())) === 'on', 'the MD microphone to be on', 10_000);
    await waitFor(async () => (await md.page.evaluate(() => window.__downbeat.voice.peers())).some((x) => x.connectionState === 'connected'),
      'the MD ↔ musician voice link to connect', 20_000);
    const mdId = await md.page.evaluate(() => window.__downbeat.state?.().me?.id ?? window.__downbeat.connection?.().participant ?? null);
    return { server, md, mu, mdId, close };
  } catch (e) { await shoot([md, mu]); await close(); throw e; }
}

async function setPath(s, path) {
  for (const p of [s.md, s.mu]) {
    const ok = await p.page.evaluate((x) => window.__downbeat.voice.setPath(x), path);
    if (ok === false) throw new Fail(`${p.name}: setPath('${path}') returned false`);
  }
  await waitFor(async () => {
    const [a, b] = await Promise.all([s.md, s.mu].map((p) => p.page.evaluate(() => window.__downbeat.voice.path())));
    return a === path && b === path;
  }, `both pages on path ${path}`, 5000);
  if (path === 'dc') await waitFor(async () => (await s.md.page.evaluate(() => window.__downbeat.voice.peers())).some((x) => x.dataChannel === 'open'), 'the voice data channel to open', 10_000);
  await sleep(500);
}

const appPress = (s) => s.md.page.evaluate(() => { const t = performance.timeOrigin + performance.now(); window.__downbeat.voice.press('all'); return t; });
const appRelease = (s) => s.md.page.evaluate(() => { const t = performance.timeOrigin + performance.now(); window.__downbeat.voice.release(); return t; });
const audioInfo = (p) => p.page.evaluate(() => { const c = window.__downbeat.voice.audioTap?.()?.ctx; return c ? { baseLatency: c.baseLatency, outputLatency: c.outputLatency, state: c.state, sampleRate: c.sampleRate } : null; });

async function appRuns(net, { paths, pulses = true, press = false, stall = false }) {
  log(`# the app: MD page talks to all, a musician page listens (${net.kind})`);
  const s = await appSession(net);
  try {
    for (const v of paths.map((x) => (typeof x === 'string' ? APP_VARIANTS.find((y) => y.name === x) ?? { path: x, name: x } : x))) {
      const { path, name } = v;
      try {
        // Path options (codec, Opus frame, buffer, priming) come from localStorage; a path reads them
        // when it starts, so it is restarted (via the other path).
        for (const p of [s.md, s.mu]) {
          await p.page.evaluate((o) => {
            for (const [k, x] of [['downbeat.voice.dc', o.dc], ['downbeat.voice.rtp', o.rtp]]) if (x) localStorage.setItem(k, JSON.stringify(x)); else localStorage.removeItem(k);
          }, { dc: v.dc ?? null, rtp: v.rtp ?? null });
        }
        await setPath(s, path === 'dc' ? 'rtp' : 'dc').catch(() => {});
        await setPath(s, path);
        const processing = v.processing ?? true;
        await s.md.page.evaluate((on) => window.__downbeat.voice.setProcessing?.(on), processing);
        await waitFor(async () => (await s.md.page.evaluate(() => window.__downbeat.voice.micState())) === 'on', 'the MD microphone to be on again', 10_000);
        const mic = await s.md.page.evaluate(() => window.__downbeat.voice.micSettings?.() ?? null);
        log(`  (app ${name}: mic ${mic ? `echoCancellation ${mic.echoCancellation}, noiseSuppression ${mic.noiseSuppression}, autoGainControl ${mic.autoGainControl}, latency ${ms1((mic.latency ?? NaN) * 1000) ?? '-'} ms` : '?'})`);
        await sleep(500);
      } catch (e) {
        const m = `app path ${name}: not available (${e.message})`; log(`  SKIP ${m}`); notes.push(m); continue;
      }
      const audio = await audioInfo(s.mu).catch(() => null);
      log(`  (app ${name}: listener context ${audio?.sampleRate ?? '-'} Hz, base ${ms1((audio?.baseLatency ?? NaN) * 1000) ?? '-'} ms, output ${ms1((audio?.outputLatency ?? NaN) * 1000) ?? '-'} ms)`);
      const extra = { path: `app-${path}`, variant: name, dc_options: v.dc ?? null, rtp_options: v.rtp ?? null, processing: v.processing ?? true, latency_hint: APP_LATENCY_HINT, storage: APP_STORAGE, net: net.kind, audio };
      if (pulses) {
        await appPress(s);
        await sleep(800);
        let links = null;
        try {
          await measurePulses(`app ${name} (${net.kind})`, { listener: s.mu, extra });
          links = await s.mu.page.evaluate(() => window.__downbeat.voice.linkStats()).catch(() => null);
        } finally { await appRelease(s); }
        results.at(-1).links = links;
        const jb = links?.find((l) => l.jitter_buffer_ms != null)?.jitter_buffer_ms;
        if (jb != null && results.at(-1).stats) results.at(-1).stats.appJitterBufferMs = jb;
        await sleep(500);
      }
      if (press) await measurePress(`app ${name} press (${net.kind})`, { press: () => appPress(s), release: () => appRelease(s), extra });
      if (stall) await measureStall(`app ${name} stall`, s, net, path);
    }
  } finally { await s.close(); }
  return true;
}

// Talk continuously, cut the path for 5 s, restore: when does each end flag the link, and when is
// the talk heard again? (Link impairment off meanwhile: the stall alone.)
async function measureStall(label, s, net, path, cutMs = 5000) {
  await net.set({ delayMs: 0, jitterMs: 0, loss: 0 });
  const wav = join(tmp, `stall-${seed++}.wav`);
  writeWav(wav, talkLoop(30, seed));
  const rec = rig.record();
  await waitFor(() => rec.started(), 'parec', 5000, 20);
  const play = rig.play(wav, 'left');
  await appPress(s);
  await sleep(3000);
  const stalled = (p) => p.page.evaluate(() => (window.__downbeat.voice.linkStats() ?? []).some((l) => l.stalled)).catch(() => false);
  const states = (p) => p.page.evaluate(() => window.__downbeat.voice.peers().map((x) => `${x.connectionState}/${x.iceConnectionState}`).join(',')).catch(() => '?');
  const tCut = performance.timeOrigin + performance.now();
  await net.cmd('cut');
  const seen = { md: null, mu: null };
  const timeline = [];
  let tRestore = null;
  const end = tCut + cutMs + 12_000;
  let lastStates = '';
  while (performance.timeOrigin + performance.now() < end) {
    const now = performance.timeOrigin + performance.now();
    if (tRestore === null && now >= tCut + cutMs) { await net.cmd('restore'); tRestore = performance.timeOrigin + performance.now(); timeline.push({ t: Math.round(tRestore - tCut), ev: 'restore' }); }
    for (const [k, p] of [['md', s.md], ['mu', s.mu]]) {
      if (seen[k] === null && await stalled(p)) { seen[k] = performance.timeOrigin + performance.now() - tCut; timeline.push({ t: Math.round(seen[k]), ev: `${k} flags stalled` }); }
    }
    const st = `${await states(s.md)} | ${await states(s.mu)}`;
    if (st !== lastStates) { timeline.push({ t: Math.round(now - tCut), ev: `md ${st.split(' | ')[0]} / mu ${st.split(' | ')[1]}` }); lastStates = st; }
    await sleep(100);
  }
  await appRelease(s);
  await play.stop();
  const r = await rec.stop();
  const m = envelope(r.right, RATE);
  const idx = (t) => Math.round(((t - r.wallAtZero) / 1000) * RATE);
  const back = firstAudible(m, RATE, idx(tRestore), idx(end), 0.01);
  const goneAt = (() => { // the first 20 ms window after the cut with no sound
    const w = Math.round(0.02 * RATE);
    for (let i = idx(tCut); i < idx(tRestore); i += w) if (audibleFraction(m, i, i + w, 0.01) === 0) return i;
    return -1;
  })();
  const res = {
    kind: 'stall', label, path: `app-${path}`, net: net.kind, cut_ms: cutMs,
    detected_ms: { talker: ms1(seen.md), listener: ms1(seen.mu) },
    heard_before_cut: Math.round(audibleFraction(m, idx(tCut) - 2 * RATE, idx(tCut), 0.01) * 1000) / 1000,
    silent_after_cut_ms: goneAt >= 0 ? ms1(((goneAt - idx(tCut)) / RATE) * 1000) : null,
    audio_back_after_restore_ms: back >= 0 ? ms1(((back - idx(tRestore)) / RATE) * 1000) : null,
    timeline,
  };
  log(`  ${label.padEnd(34)} stall flagged after ${res.detected_ms.listener ?? '-'} ms (listener) / ${res.detected_ms.talker ?? '-'} ms (talker); audio back ${res.audio_back_after_restore_ms ?? 'never'} ms after restore`);
  results.push(res);
  await net.set(IMPAIR);
}

async function shoot(list) {
  for (const p of list) {
    const f = join(tmp, `fail-${p.name}.png`);
    await p.page.screenshot({ path: f, timeout: 5000 }).then(() => log(`# screenshot of ${p.name}: ${f}`)).catch(() => {});
    if (p.errors.length) log(`# ${p.name} page errors: ${p.errors.slice(0, 5).join(' | ')}`);
  }
}
let written = false;
function writeOut(ok) {
  if (!OUT || written) return;
  written = true;
  const line = { date: stamp, label: LABEL, ok, machine: { cores: cpus().length, cpu: cpus()[0]?.model, load_at_start: loadStart, load_at_end: loadavg().map((x) => Math.round(x * 100) / 100) },
    commit: sh('git', ['-C', repo, 'rev-parse', '--short', 'HEAD'], { allowFail: true })?.trim() ?? null, chromium: chromiumVersion, chromium_nice: NICE, pulses: PULSES, trials: TRIALS, impairment: IMPAIR, notes, results };
  appendFileSync(OUT, JSON.stringify(line) + '\n');
  log(`# appended to ${OUT}`);
}
let chromiumVersion = '?';
const loadStart = loadavg().map((x) => Math.round(x * 100) / 100);

// ---- main ------------------------------------------------------------------------------------
const rig = new Rig(join(tmp, 'rig'), { latencyMsec: 5, log });
let exitCode = 0;
const t0 = Date.now();
for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) {
  process.once(sig, async () => {
    log(`FAIL killed by ${sig}: cleaning up`);
    await killAll();
    nsCleanup();
    process.exit(1);
  });
}
try {
  check(existsSync(CHROMIUM), `Chromium not found at ${CHROMIUM}`);
  for (const bin of ['pulseaudio', 'parec', 'paplay', 'Xvfb']) check(sh('sh', ['-c', `command -v ${bin} || true`]).trim(), `${bin} missing: run scripts/install-deps.sh`);
  if (IS_ROOT) nsStale();
  startReaper();
  chromiumVersion = sh(CHROMIUM, ['--version'], { allowFail: true })?.trim() ?? '?';
  log(`# voice bench (${LABEL}): ${PULSES} pulses per path, ${cpus().length} cores (${cpus()[0]?.model}), load ${loadavg().map((x) => x.toFixed(2)).join(' ')}, ${chromiumVersion}${NICE ? `, Chromium at nice ${NICE}` : ''}`);
  await rig.start();
  await rig.startX();

  if (ONLY.includes('floor')) await floorRuns();
  const lo = new LoNet();
  if (['peer', 'app', 'press'].some((x) => ONLY.includes(x))) {
    await lo.up();
    try {
      if (ONLY.includes('peer')) await peerRuns(lo, { press: ONLY.includes('press') && !SMOKE });
      if (ONLY.includes('app') || ONLY.includes('press')) await appRuns(lo, { paths: SMOKE ? ['dc', 'rtp'] : (APP_ONLY ?? FULL_APP), pulses: ONLY.includes('app'), press: ONLY.includes('press') });
    } finally { await lo.down(); }
  }
  if (ONLY.includes('impaired') || ONLY.includes('stall')) {
    const net = new ImpairedNet();
    await net.up();
    try {
      await net.set(IMPAIR);
      log(`# impaired link: ${IMPAIR.delayMs} ms ± ${IMPAIR.jitterMs} ms each way, ${IMPAIR.loss * 100} % loss (voice_netem, TUN ↔ TUN between two namespaces)`);
      if (ONLY.includes('impaired')) await peerRuns(net);
      await appRuns(net, { paths: ['rtp', 'dc'], pulses: ONLY.includes('impaired'), stall: ONLY.includes('stall') });
      results.push({ kind: 'netem', ...IMPAIR, counters: await net.cmd('stats') });
    } finally { await net.down(); }
  }

  // The smoke's contract: every path it measured paired its pulses; otherwise the rig is broken.
  const m2e = results.filter((r) => r.kind === 'm2e');
  check(results.some((r) => ['m2e', 'press', 'stall'].includes(r.kind)), 'nothing was measured');
  // A path counts as measured when at least half its bursts were paired (a busy machine can push
  // a jitter buffer around enough to lose a few); none paired means the rig itself is broken.
  const bad = m2e.filter((r) => r.paired < Math.ceil(r.pulses / 2));
  check(bad.length === 0, `pulses not paired (the rig cannot measure these): ${bad.map((r) => `${r.label}: ${r.paired}/${r.pulses} (spoken ${r.spoken}, heard ${r.heard})`).join('; ')}`);
  if (SMOKE) {
    const press = results.filter((r) => r.kind === 'press');
    check(press.every((r) => r.audible > 0), `a press was never heard: ${press.map((r) => `${r.label} ${r.audible}/${r.trials}`).join('; ')}`);
  }
  writeOut(true);
  for (const n of notes) log(`# note: ${n}`);
} catch (e) {
  exitCode = 1;
  log(`FAIL ${e instanceof Fail ? e.message : (e?.stack ?? e)}`);
  for (const { name, page } of openPages) {
    const f = join(tmp, `fail-${name}.png`);
    await page.screenshot({ path: f, timeout: 5000 }).then(() => log(`# screenshot of ${name}: ${f}`)).catch(() => {});
  }
  if (results.length) writeOut(false);
} finally {
  await killAll();
  nsCleanup();
  if (process.env.VOICE_KEEP === '1' || exitCode !== 0) log(`# temp dir kept: ${tmp}`);
  else rmSync(tmp, { recursive: true, force: true });
}
log(`# voice bench ${exitCode === 0 ? 'passed' : 'FAILED'} in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
process.exit(exitCode);
