#!/usr/bin/env node
// End-to-end test of push-to-talk voice in real Chromium against a real downbeatd.
//   node e2e/voice.mjs [path/to/downbeatd]
// Env: CHROMIUM (default /usr/bin/chromium), E2E_HEADFUL=1, E2E_KEEP=1 (keep the data dir),
//      E2E_STEPS=7a,7c (run only these numbered steps after the setup, while debugging),
//      E2E_WEB_ROOT (default web/dist), E2E_VERBOSE=1 (print the measured levels).
//
// One Chromium process per talker, each with its own fake microphone: a WAV with its own tone
// (MD 440 Hz, musician A 660 Hz, musician B 990 Hz). Who hears whom is judged inside each page
// by our own AnalyserNodes on the app's talk bus and per-talker nodes
// (`__downbeat.voice.audioTap()`, docs/voice.md), never by the app's own state.
import { chromium } from 'playwright-core';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Fail, check, sleep, waitFor as waitUntil } from '../../tests/integration/lib/wait.mjs';
import { webDir, serverBin, chromiumPath, checkSetup, createRoom, serve, serverLogTail, text, expectText, joinRoom, hook, send } from './harness.mjs';

const webRoot = resolve(process.env.E2E_WEB_ROOT ?? join(webDir, 'dist'));

const waitFor = (fn, what, timeout = T, every = 100) => waitUntil(fn, what, timeout, every);
const T = 10_000;          // default wait for something a user would see
const WATCHDOG_MS = 240_000; // the whole run, below the ctest TIMEOUT: children are killed either way
const TONES = { md: 440, a: 660, b: 990 };
// Judged on the analyser's peak level (dB, Blackman window, no smoothing) within ±3 bins of a tone.
// A received tone through Opus with the default echo cancellation / noise suppression sits around
// −45 dB here; digital silence is −∞ (reported as ≤ −150). "Heard" wants the median of the window
// above HEARD_DB; "nothing heard" wants every sample of the window below SILENT_DB on every tone
// and a bus RMS below SILENT_RMS_DB.
const HEARD_DB = -70;
const SILENT_DB = -85;
const SILENT_RMS_DB = -60;
const HEARD_RAW_DB = -55; // RMS before the gate of a talk that carries the fake microphone's tone (about −35 dB here)
const RECOVERY_LIMIT_MS = 10_000;

let failures = 0;
const results = [];
let server = null;
const browsers = [];
const dataDir = mkdtempSync(join(tmpdir(), 'downbeat-voice-e2e-'));
const pageErrors = [];
const allPages = [];
const t0Run = Date.now();

function log(msg) { process.stdout.write(msg + '\n'); }
function vlog(msg) { if (process.env.E2E_VERBOSE === '1') log(`     · ${msg}`); }

// A step prints ok/FAIL. A fatal step (setup the rest depends on) stops the run; the others
// are followed by `afterFail` (release every talk) and the run goes on, so one report shows
// every broken behaviour.
let afterFail = async () => {};
const onlySteps = process.env.E2E_STEPS ? process.env.E2E_STEPS.split(',').map((x) => x.trim()) : null;
async function step(name, fn, { fatal = false } = {}) {
  const num = /^(\d+[a-z]?)\./.exec(name)?.[1];
  if (onlySteps && num && !fatal && !onlySteps.includes(num)) return;
  const t0 = Date.now();
  try {
    await fn();
    log(`ok   ${name} (${Date.now() - t0} ms)`);
    results.push({ name, ok: true });
  } catch (e) {
    failures++;
    results.push({ name, ok: false });
    log(`FAIL ${name}: ${e instanceof Fail ? e.message : (e?.stack ?? e)}`);
    // What the pages said during the step: renegotiations, ICE restarts, presses and releases.
    for (const p of allPages) {
      const said = p.sent.filter((f) => f.t >= t0 && /^(rtc\.(offer|answer|restart)|ptt\.)/.test(f.m.type))
        .map((f) => `+${f.t - t0}ms ${f.m.type}${f.m.data?.to ? ' to ' + f.m.data.to : ''}${f.m.data?.target ? ' ' + f.m.data.target : ''}`);
      if (said.length) log(`     ${p.name} sent: ${said.slice(0, 30).join(', ')}${said.length > 30 ? ` … (${said.length})` : ''}`);
    }
    if (fatal) throw e;
    await afterFail().catch((err) => log(`     (cleanup after the failure failed too: ${err.message})`));
  }
}


// ---- fake microphones ----------------------------------------------------------------------

/** 48 kHz mono 16-bit PCM, a whole number of cycles so Chromium's loop of the file is seamless. */
function writeToneWav(path, freq, seconds = 2, rate = 48000, amp = 0.3) {
  const n = seconds * rate;
  const buf = Buffer.alloc(44 + n * 2);
  buf.write('RIFF', 0); buf.writeUInt32LE(36 + n * 2, 4); buf.write('WAVE', 8);
  buf.write('fmt ', 12); buf.writeUInt32LE(16, 16); buf.writeUInt16LE(1, 20); buf.writeUInt16LE(1, 22);
  buf.writeUInt32LE(rate, 24); buf.writeUInt32LE(rate * 2, 28); buf.writeUInt16LE(2, 32); buf.writeUInt16LE(16, 34);
  buf.write('data', 36); buf.writeUInt32LE(n * 2, 40);
  for (let i = 0; i < n; i++) buf.writeInt16LE(Math.round(32767 * amp * Math.sin((2 * Math.PI * freq * i) / rate)), 44 + i * 2);
  writeFileSync(path, buf);
}

// ---- server --------------------------------------------------------------------------------

function onServerExit(code, sig) {
  if (server) log(`downbeatd exited (code ${code}, signal ${sig})`);
  server = null;
}

async function startServer() {
  checkSetup({ serverBin, chromiumPath, webRoot });
  const { codes } = createRoom(serverBin, dataDir, 'Voice E2E');
  const { codes: otherCodes } = createRoom(serverBin, dataDir, 'Other'); // a second room: signalling must never cross into it
  const { proc, url } = await serve({ serverBin, dataDir, webRoot, onExit: onServerExit });
  server = proc;
  return { base: url, codes, otherCodes };
}

// ---- browsers and pages --------------------------------------------------------------------

// Each talker's Chromium runs as a browser server, so that step 8 can kill its process outright.
async function launch(wav) {
  const bs = await chromium.launchServer({
    executablePath: chromiumPath,
    headless: process.env.E2E_HEADFUL !== '1',
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-extensions', '--mute-audio',
      '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
      ...(wav ? [`--use-file-for-fake-audio-capture=${wav}`] : []),
      '--autoplay-policy=no-user-gesture-required',
      // Pages in the background of one process must not be throttled: the viewer and the
      // other room's page share the MD's process.
      '--disable-background-timer-throttling', '--disable-renderer-backgrounding', '--disable-backgrounding-occluded-windows'],
  });
  browsers.push(bs);
  const b = await chromium.connect(bs.wsEndpoint());
  b.server = bs;
  return b;
}

async function newPage(browser, name, viewport) {
  const context = await browser.newContext({ viewport, deviceScaleFactor: 1 });
  await context.grantPermissions(['microphone']).catch(() => {});
  // Keep a handle on every RTCPeerConnection the app makes, to count the RTP packets that
  // really arrive (the app may gate playout; talk not meant for a page must not even reach it).
  // VOICE_PATH=rtp|dc runs the pages on that voice path (default: the app's own default).
  if (process.env.VOICE_PATH) await context.addInitScript((path) => { try { localStorage.setItem('downbeat.voicePath', path); } catch { /* not the app's origin */ } }, process.env.VOICE_PATH);
  await context.addInitScript(() => {
    const Orig = window.RTCPeerConnection;
    if (!Orig) return;
    const pcs = (window.__e2ePcs = []);
    window.RTCPeerConnection = class extends Orig {
      constructor(...args) { super(...args); pcs.push(this); }
    };
  });
  const page = await context.newPage();
  const p = { name, browser, context, page, id: null, sent: [], received: [], sockets: 0 };
  allPages.push(p);
  page.on('pageerror', (e) => pageErrors.push(`${name}: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource|ERR_INTERNET_DISCONNECTED|WebSocket connection/.test(m.text())) pageErrors.push(`${name} console: ${m.text()}`);
  });
  // Every frame on the page's sockets, as the server sent it: error codes and `re` are judged here.
  page.on('websocket', (ws) => {
    p.sockets++;
    const parse = (payload) => { try { return typeof payload === 'string' ? JSON.parse(payload) : null; } catch { return null; } };
    ws.on('framereceived', (f) => { const m = parse(f.payload); if (m) p.received.push({ t: Date.now(), m }); });
    ws.on('framesent', (f) => { const m = parse(f.payload); if (m) p.sent.push({ t: Date.now(), m }); });
  });
  return p;
}


// ---- listening: our own analysers on the app's audio tap -----------------------------------

// Runs inside the page. Keeps one AnalyserNode per tapped node (bus and each talker) and
// returns, for a window of `ms`, per node and tone: the median and max peak level, and the
// max RMS. Talkers that appear later (the Map grows) are picked up on every call.
function meterInPage({ ms, tones }) {
  const v = window.__downbeat?.voice;
  if (!v) return { none: true, noHook: true }; // checked separately: a voice page without the hook fails step 1
  const tap = v.audioTap();
  if (!tap || !tap.ctx) return { none: true };
  const M = (window.__voiceMeter ??= { ctx: null, nodes: new Map() });
  if (M.ctx !== tap.ctx) { M.ctx = tap.ctx; M.nodes = new Map(); }
  const analyser = (node) => {
    let a = M.nodes.get(node);
    if (!a) {
      a = tap.ctx.createAnalyser();
      a.fftSize = 8192; a.smoothingTimeConstant = 0;
      node.connect(a);
      M.nodes.set(node, a);
    }
    return a;
  };
  const targets = [['bus', tap.bus]];
  for (const [id, node] of tap.talkers ?? []) targets.push([id, node]);
  const rate = tap.ctx.sampleRate;
  const samples = targets.map(([key, node]) => ({ key, a: analyser(node), peaks: Object.fromEntries(Object.keys(tones).map((k) => [k, []])), rms: -200 }));
  return new Promise((resolve) => {
    const sampleOnce = () => {
      for (const s of samples) {
        const f = new Float32Array(s.a.frequencyBinCount);
        const td = new Float32Array(s.a.fftSize);
        s.a.getFloatFrequencyData(f);
        s.a.getFloatTimeDomainData(td);
        for (const [k, hz] of Object.entries(tones)) {
          const bin = Math.round(hz / (rate / s.a.fftSize));
          let pk = -200;
          for (let i = bin - 3; i <= bin + 3; i++) if (Number.isFinite(f[i])) pk = Math.max(pk, f[i]);
          s.peaks[k].push(pk);
        }
        let sum = 0;
        for (const x of td) sum += x * x;
        s.rms = Math.max(s.rms, 20 * Math.log10(Math.sqrt(sum / td.length) + 1e-10));
      }
    };
    const end = performance.now() + ms;
    const tick = () => {
      sampleOnce();
      if (performance.now() < end) setTimeout(tick, 60);
      else {
        const out = { ctxState: tap.ctx.state, nodes: {} };
        for (const s of samples) {
          const r = { rms: Math.round(s.rms) };
          for (const [k, arr] of Object.entries(s.peaks)) {
            const sorted = [...arr].sort((x, y) => x - y);
            r[k] = { med: Math.round(sorted[Math.floor(sorted.length / 2)]), max: Math.round(sorted[sorted.length - 1]) };
          }
          out.nodes[s.key] = r;
        }
        resolve(out);
      }
    };
    tick();
  });
}

// Runs inside the page: polls the bus analyser every few ms and keeps the wall-clock time
// (ms since the epoch, the same clock as Date.now() in Node on this machine) when `hz` first
// rises above `db`. Informational: the latency targets belong to bench/voice.
function onsetInPage({ hz, db }) {
  const M = window.__voiceMeter;
  const tap = window.__downbeat.voice.audioTap();
  const a = M?.nodes.get(tap.bus);
  if (!a) throw new Error('no analyser on the bus yet');
  window.__onset = null;
  const f = new Float32Array(a.frequencyBinCount);
  const bin = Math.round(hz / (tap.ctx.sampleRate / a.fftSize));
  const end = performance.now() + 10_000;
  const poll = () => {
    a.getFloatFrequencyData(f);
    let pk = -200;
    for (let i = bin - 3; i <= bin + 3; i++) if (Number.isFinite(f[i])) pk = Math.max(pk, f[i]);
    if (pk > db) { window.__onset = performance.timeOrigin + performance.now(); return; }
    if (performance.now() < end) setTimeout(poll, 4);
  };
  poll();
}

const toneHz = Object.fromEntries(Object.entries(TONES).map(([k, v]) => [k, v]));
async function meter(p, ms = 600) {
  return hook(p, meterInPage, { ms, tones: toneHz });
}
function heardTones(r, key = 'bus') {
  const n = r?.nodes?.[key];
  if (!n) return [];
  return Object.keys(TONES).filter((k) => n[k].med > HEARD_DB);
}
function isSilent(r) {
  if (r?.none) return true; // no audio graph at all: nothing can be heard
  const n = r?.nodes?.bus;
  if (!n) return false;
  return n.rms < SILENT_RMS_DB && Object.keys(TONES).every((k) => n[k].max < SILENT_DB);
}
function fmt(r, key = 'bus') {
  if (r?.none) return 'no audio graph';
  const n = r?.nodes?.[key];
  if (!n) return `no node ${key}`;
  return `rms ${n.rms} dB; ` + Object.entries(TONES).map(([k, hz]) => `${hz} Hz med ${n[k].med}/max ${n[k].max}`).join(', ');
}
const who = { md: 'the MD', a: 'musician A', b: 'musician B' };

/** Waits until `p` hears exactly the tone of `from` on its bus (and on that talker's node). */
async function expectHears(p, from, fromId, timeout = 8000) {
  let last;
  await waitFor(async () => {
    last = await meter(p, 400);
    const h = heardTones(last);
    return h.length === 1 && h[0] === from;
  }, `${p.name} to hear ${who[from]} (${TONES[from]} Hz) and nobody else`, timeout, 0)
    .catch((e) => { throw new Fail(`${e.message}; last: ${fmt(last)}`); });
  // Confirm over a longer window: the talk flows, not one lucky burst. One dropout is logged
  // with what the receiving end saw (packets, concealment) and measured again: on a starved
  // machine the jitter buffer conceals; two bad windows in a row fail.
  let r, h;
  for (let attempt = 0; ; attempt++) {
    const rx0 = await rxStats(p);
    r = await meter(p, 800);
    const rx1 = await rxStats(p);
    h = heardTones(r);
    vlog(`${p.name} hears ${who[from]}: ${fmt(r)}`);
    if (h.length === 1 && h[0] === from) break;
    const rx = { packets: rx1.packets - rx0.packets, concealedPct: rx1.samples > rx0.samples ? Math.round((100 * (rx1.concealed - rx0.concealed)) / (rx1.samples - rx0.samples)) : null };
    check(attempt === 0, `${p.name}: ${who[from]}'s tone did not keep flowing (twice in a row): ${fmt(r)}; in that window ${rx.packets} audio packets arrived, ${rx.concealedPct ?? '?'} % concealed`);
    log(`     (${p.name}: a dropout while hearing ${who[from]}: ${fmt(r)}; ${rx.packets} audio packets arrived, ${rx.concealedPct ?? '?'} % concealed; measuring again)`);
  }
  if (fromId) {
    const tr = heardTones(r, fromId);
    check(tr.length === 1 && tr[0] === from, `${p.name}: the tone is on the bus but not on ${who[from]}'s talker node (${fmt(r, fromId)}); talkers tapped: ${Object.keys(r.nodes).join(', ')}`);
  }
  return r;
}

async function expectSilent(p, ms = 1000, why = '') {
  const r = await meter(p, ms);
  vlog(`${p.name} silent? ${fmt(r)}`);
  check(isSilent(r), `${p.name} hears something${why ? ' ' + why : ''}: ${fmt(r)}`);
  return r;
}

async function waitSilent(p, timeout = 3000, why = '') {
  let last;
  await waitFor(async () => { last = await meter(p, 300); return isSilent(last); }, `${p.name} to go silent${why ? ' ' + why : ''}`, timeout, 0)
    .catch((e) => { throw new Fail(`${e.message}; last: ${fmt(last)}`); });
}

// ---- talking through the real UI -----------------------------------------------------------

const talkButton = (p) => p.page.locator('[data-testid="talk-button"]');

async function pickTarget(p, value) {
  const sel = p.page.locator('[data-testid="talk-target"]');
  check((await sel.count()) === 1, `${p.name} has no talk target picker [data-testid="talk-target"]`);
  const options = await sel.locator('option').evaluateAll((os) => os.map((o) => ({ value: o.value, label: o.textContent.trim(), disabled: o.disabled })));
  const opt = options.find((o) => o.value === value);
  check(opt && !opt.disabled, `${p.name}: the talk target picker has no usable option "${value}" (options: ${JSON.stringify(options)})`);
  await sel.selectOption(value);
  return opt;
}

async function buttonCenter(p) {
  const btn = talkButton(p);
  check((await btn.count()) === 1, `${p.name} has no Talk button [data-testid="talk-button"]`);
  await btn.scrollIntoViewIfNeeded();
  const box = await btn.boundingBox();
  check(box, `${p.name}: the Talk button is not visible`);
  return { x: box.x + box.width / 2, y: box.y + box.height / 2 };
}

/** Pointer down on Talk and keep holding; returns the function that lets go. */
async function holdTalk(p) {
  const c = await buttonCenter(p);
  await p.page.mouse.move(c.x, c.y);
  await p.page.mouse.down();
  return async () => { await p.page.mouse.move(c.x, c.y); await p.page.mouse.up(); };
}

/** `talker` holds Talk to all: every page of `listeners` hears it (as `label`), then all fall silent. */
async function talkToAllHeard(talker, label, listeners) {
  await pickTarget(talker, 'all');
  const letGo = await holdTalk(talker);
  try {
    await Promise.all(listeners.map((p) => expectHears(p, label, talker.id)));
  } finally { await letGo(); }
  await Promise.all(listeners.map((p) => waitSilent(p)));
}

// Down and up back to back: a tap is < 250 ms by the app's clock, and a sleep here could
// stretch past that on a loaded machine before the renderer sees the up.
async function tapTalk(p) {
  const c = await buttonCenter(p);
  await p.page.mouse.move(c.x, c.y);
  await p.page.mouse.click(c.x, c.y, { delay: 0 });
}

// The who-is-talking list, as each page shows it.
async function talkingItems(p) {
  return p.page.locator('[data-testid="talking-item"]').evaluateAll((els) => els.map((e) => e.textContent.replace(/\s+/g, ' ').trim()));
}
async function expectTalkingItem(p, re, what, timeout = 5000) {
  await waitFor(async () => (await talkingItems(p)).some((t) => re.test(t)), `${p.name} to show ${what} in the who-is-talking list`, timeout)
    .catch(async (e) => { throw new Fail(`${e.message}; it shows ${JSON.stringify(await talkingItems(p))}`); });
}
async function expectNoTalkingItem(p, re, what, timeout = 5000) {
  await waitFor(async () => !(await talkingItems(p)).some((t) => re.test(t)), `${p.name} to stop showing ${what}`, timeout)
    .catch(async (e) => { throw new Fail(`${e.message}; it shows ${JSON.stringify(await talkingItems(p))}`); });
}

async function peersOf(p) { return hook(p, () => window.__downbeat.voice.peers()); }
async function connectedTo(p, ids) {
  const peers = await peersOf(p);
  return ids.every((id) => peers.some((x) => x.id === id && x.connectionState === 'connected'));
}

/** The server's answers on `p`'s socket to the frames it sent since `since`, by command type. */
function errorsFor(p, since, type) {
  const ids = new Set(p.sent.filter((f) => f.t >= since && f.m.type === type).map((f) => f.m.id));
  return p.received.filter((f) => f.t >= since && f.m.type === 'error' && ids.has(f.m.re)).map((f) => f.m);
}

/** Audio RTP packets, samples and concealed samples received so far on all of `p`'s open peer connections. */
async function rxStats(p) {
  return hook(p, async () => {
    const t = { packets: 0, samples: 0, concealed: 0 };
    for (const pc of window.__e2ePcs ?? []) {
      if (pc.connectionState === 'closed') continue;
      const stats = await pc.getStats();
      stats.forEach((r) => {
        if (r.type !== 'inbound-rtp' || r.kind !== 'audio') return;
        t.packets += r.packetsReceived ?? 0; t.samples += r.totalSamplesReceived ?? 0; t.concealed += r.concealedSamples ?? 0;
      });
    }
    return t;
  });
}
async function inboundPackets(p) { return (await rxStats(p)).packets; }

// Runs inside the page: an analyser of our own on what arrived from each talker *before* the
// app's gate (`audioTap().received`, docs/voice.md) — so it hears whatever the talker sent, on
// either voice path. (The RTP path can keep its senders primed, sending encoded silence toward
// every peer while not talking: packets may flow to a page that is not a target; sound must not.)
function rawMeterInPage({ ms }) {
  const tap = window.__downbeat?.voice?.audioTap();
  if (!tap?.ctx) return { rms: -200, tracks: 0, ctxState: 'none' };
  const R = (window.__rawMeter ??= { ctx: tap.ctx, nodes: new Map() });
  if (R.ctx !== tap.ctx) { R.ctx = tap.ctx; R.nodes = new Map(); }
  for (const [, node] of tap.received ?? []) {
    if (R.nodes.has(node)) continue;
    const a = R.ctx.createAnalyser();
    a.fftSize = 2048;
    node.connect(a);
    R.nodes.set(node, a);
  }
  let max = -200;
  const td = new Float32Array(2048);
  return new Promise((resolve) => {
    const end = performance.now() + ms;
    const tick = () => {
      for (const a of R.nodes.values()) {
        a.getFloatTimeDomainData(td);
        let sum = 0;
        for (const x of td) sum += x * x;
        max = Math.max(max, 20 * Math.log10(Math.sqrt(sum / td.length) + 1e-10));
      }
      if (performance.now() < end) setTimeout(tick, 40);
      else resolve({ rms: Math.round(max), tracks: R.nodes.size, ctxState: R.ctx.state, path: window.__downbeat.voice.path() });
    };
    tick();
  });
}
/** Runs `during` and measures, meanwhile, the audio packets `p` received and the energy of what arrived (max RMS dB over its received tracks). */
async function receivedDuring(p, during) {
  const before = await inboundPackets(p);
  const t0 = Date.now();
  const [raw] = await Promise.all([hook(p, rawMeterInPage, { ms: 900 }), during()]);
  return { n: (await inboundPackets(p)) - before, ms: Date.now() - t0, rms: raw.rms, tracks: raw.tracks, ctxState: raw.ctxState, path: raw.path };
}
/** What `p` received carries no sound (the talker sent silence, or nothing). */
function checkNothingSent(p, rx, what) {
  check(rx.ctxState === 'running', `${p.name}: the test's own AudioContext is ${rx.ctxState}: the received tracks cannot be measured`);
  check(rx.rms < SILENT_RMS_DB, `${p.name} received sound (${rx.rms} dB RMS before the app's gate, ${rx.path} path, ${rx.n} RTP packets in ${rx.ms} ms) ${what}: audio is sent beyond the ptt.state "to" (only gated at playout)`);
}

/** The server-resolved `to` of the latest ptt.state talking:true for `talker`, as `p` received it. */
async function expectPttTo(p, talker, target, want) {
  let got;
  await waitFor(() => {
    const st = p.received.filter((f) => f.m.type === 'ptt.state' && f.m.data?.participant === talker.id && f.m.data?.talking).pop();
    got = st?.m.data;
    return got && got.target === target && JSON.stringify([...(got.to ?? [])].sort()) === JSON.stringify(want.map((x) => x.id).sort());
  }, `${p.name}: ptt.state for ${talker.name} → ${target} with to = [${want.map((x) => x.name).join(', ')}]`, 5000)
    .catch((e) => { throw new Fail(`${e.message}; last: ${JSON.stringify(got)}`); });
}

function expectRefused(r, codes, what) {
  check(r && r.error && codes.includes(r.error.code), `${what}: expected an error ${codes.join(' or ')}, got ${JSON.stringify(r)}`);
}

// ---- the scenario --------------------------------------------------------------------------

async function main() {
  const { base, codes, otherCodes } = await startServer();
  log(`# downbeatd at ${base}, data dir ${dataDir}`);
  const wav = {};
  for (const [k, hz] of Object.entries(TONES)) { wav[k] = join(dataDir, `mic-${k}-${hz}.wav`); writeToneWav(wav[k], hz); }

  const [brMd, brA, brB] = await Promise.all([launch(wav.md), launch(wav.a), launch(wav.b)]);
  const md = await newPage(brMd, 'MD', { width: 1100, height: 760 });
  const viewer = await newPage(brMd, 'viewer', { width: 360, height: 640 });
  const other = await newPage(brMd, 'other room', { width: 360, height: 640 });
  const a = await newPage(brA, 'musician A', { width: 390, height: 740 });
  const b = await newPage(brB, 'musician B', { width: 390, height: 740 });
  const talkers = [md, a, b];
  const listeners = [md, a, b, viewer];

  afterFail = async () => {
    for (const p of [md, a, b]) {
      if (p.page.isClosed()) continue;
      await p.page.mouse.up().catch(() => {});
      await p.page.keyboard.up('Space').catch(() => {});
      await hook(p, () => window.__downbeat?.voice?.release()).catch(() => {});
    }
    await sleep(300);
  };

  await step('setup: MD, musicians A and B, a viewer and a page in another room join', async () => {
    await joinRoom(md, base, codes.md, 'Mia');
    await Promise.all([joinRoom(a, base, codes.musician, 'Ana'), joinRoom(b, base, codes.musician, 'Ben'),
      joinRoom(viewer, base, codes.viewer, 'Stage'), joinRoom(other, base, otherCodes.musician, 'Olga')]);
    check(new Set([md.id, a.id, b.id, viewer.id, other.id]).size === 5, 'participant ids are not distinct');
  }, { fatal: true });

  await step('setup: MD creates "Vox 1" (group vocals) for A and "Drums" (group band) for B', async () => {
    for (const [slot, instrument, group, p] of [['Vox 1', 'voice', 'vocals', a], ['Drums', 'drums', 'band', b]]) {
      await md.page.fill('[data-testid="slot-name"]', slot);
      await md.page.fill('[data-testid="slot-instrument"]', instrument);
      await md.page.fill('[data-testid="slot-group"]', group);
      await md.page.click('[data-testid="slot-create"]');
      const row = md.page.locator(`[data-testid="slot-row"][data-slot="${slot}"]`);
      await waitFor(async () => (await row.count()) === 1, `slot "${slot}" in the MD slot table`);
      await row.locator('[data-testid="slot-assign"]').selectOption({ label: p === a ? 'Ana' : 'Ben' });
      await expectText(p.page, 'my-slot', slot, p.name);
    }
    let slots;
    await waitFor(async () => {
      slots = await hook(md, () => window.__downbeat.state().slots.map((s) => ({ name: s.name, group: s.group, participant: s.participant })));
      return slots.some((s) => s.name === 'Vox 1' && s.group === 'vocals' && s.participant === a.id)
        && slots.some((s) => s.name === 'Drums' && s.group === 'band' && s.participant === b.id);
    }, 'the slot plan on the MD page', 5000).catch((e) => { throw new Fail(`${e.message}: ${JSON.stringify(slots)}`); });
  }, { fatal: true });

  await step('1. everyone enables the mic; voice links are up before anyone presses Talk', async () => {
    for (const p of talkers) {
      const btn = p.page.locator('[data-testid="enable-mic"]');
      await waitFor(async () => (await btn.count()) > 0, `${p.name}: the enable-mic button`);
      await btn.first().click();
    }
    for (const p of talkers) {
      await waitFor(async () => (await hook(p, () => window.__downbeat.voice.micState())) === 'on', `${p.name}: micState() to be 'on'`)
        .catch(async (e) => { throw new Fail(`${e.message} (it is ${JSON.stringify(await hook(p, () => window.__downbeat.voice.micState()))})`); });
    }
    const t0 = Date.now();
    const want = { MD: [a.id, b.id], 'musician A': [md.id, b.id], 'musician B': [md.id, a.id] };
    for (const p of talkers) {
      await waitFor(() => connectedTo(p, want[p.name]), `${p.name}: voice peer connections to ${want[p.name].join(', ')} to be connected`, 15_000)
        .catch(async (e) => { throw new Fail(`${e.message}; peers(): ${JSON.stringify(await peersOf(p))}`); });
    }
    log(`     mesh of 3 connected ${Date.now() - t0} ms after the last mic was enabled`);
    const vp = await hook(viewer, () => window.__downbeat.voice?.peers() ?? []);
    check(vp.length === 0, `the viewer has voice peer connections: ${JSON.stringify(vp)}`);
    const mp = await peersOf(md);
    check(!mp.some((x) => x.id === viewer.id || x.id === other.id), `the MD made a voice link to the viewer or to another room: ${JSON.stringify(mp)}`);
    for (const p of listeners) {
      const r = await meter(p, 100);
      if (!r.none) check(r.ctxState === 'running', `${p.name}: the talk AudioContext is ${r.ctxState}, incoming talk would not play`);
    }
  }, { fatal: true });

  await step('2. nothing is heard while nobody holds Talk', async () => {
    let rs = [];
    const raw = await Promise.all(talkers.map((p) => receivedDuring(p, async () => { if (p === talkers[0]) rs = await Promise.all(listeners.map((q) => meter(q, 1000))); })));
    const bad = listeners.map((p, i) => [p, rs[i]]).filter(([, r]) => !isSilent(r)).map(([p, r]) => `${p.name}: ${fmt(r)}`);
    check(bad.length === 0, `sound while nobody talks: ${bad.join('; ')}`);
    talkers.forEach((p, i) => checkNothingSent(p, raw[i], 'while nobody talks'));
    vlog(`while nobody talks: ${talkers.map((p, i) => `${p.name} received ${raw[i].n} packets, ${raw[i].rms} dB`).join('; ')}`);
  });

  await step('3. MD holds Talk to all: both musicians hear the MD, the viewer hears nothing, every page shows "Mia → all"', async () => {
    check((await talkButton(viewer).count()) === 0, 'the viewer has a Talk button');
    check((await viewer.page.getByRole('button', { name: /Talk/ }).count()) === 0, 'the viewer has a button named "Talk"');
    check((await md.page.getByRole('button', { name: /Talk/ }).and(talkButton(md)).count()) === 1,
      `the MD's Talk button's accessible name has no "Talk" (text ${JSON.stringify(await talkButton(md).innerText().catch(() => null))})`);
    await pickTarget(md, 'all');
    const offersBefore = talkers.map((p) => p.sent.filter((f) => /^rtc\.(offer|answer)$/.test(f.m.type)).length);
    await Promise.all([a, b].map((p) => hook(p, onsetInPage, { hz: TONES.md, db: HEARD_DB })));
    const c = await buttonCenter(md);
    await md.page.mouse.move(c.x, c.y);
    const tPress = Date.now();
    await md.page.mouse.down();
    const letGo = async () => { await md.page.mouse.move(c.x, c.y); await md.page.mouse.up(); };
    try {
      await Promise.all([expectHears(a, 'md', md.id), expectHears(b, 'md', md.id)]);
      const onsets = await Promise.all([a, b].map((p) => hook(p, () => window.__onset)));
      log(`     press → first audible at A ${onsets[0] ? Math.round(onsets[0] - tPress) + ' ms' : '?'}, at B ${onsets[1] ? Math.round(onsets[1] - tPress) + ' ms' : '?'} ` +
        '(wall clock from the pointer-down sent by the test to the tone above the threshold on the bus analyser, polled every ~4 ms; not a latency benchmark)');
      const rx = await receivedDuring(a, () => sleep(1000));
      vlog(`musician A received ${rx.n} audio packets in ${rx.ms} ms, ${rx.rms} dB RMS, while the MD talks to all`);
      if (rx.path === 'rtp') check(rx.n >= 20, `musician A hears the MD but its peer connections received only ${rx.n} audio packets in ${rx.ms} ms (is the __e2ePcs wrapper seeing the app's connections?)`);
      // The meter before the gate must hear a talk meant for the page, or its "silent" says nothing.
      check(rx.rms > HEARD_RAW_DB, `musician A hears the MD but the test's meter before the gate reads ${rx.rms} dB RMS (${rx.tracks} talkers, context ${rx.ctxState}, ${rx.path} path)`);
      const [rMd, rV] = await Promise.all([meter(md, 800), meter(viewer, 800)]);
      check(isSilent(rMd), `the MD hears something while only the MD talks: ${fmt(rMd)}`);
      check(isSilent(rV), `the viewer hears something: ${fmt(rV)}`);
      for (const p of listeners) await expectTalkingItem(p, /Mia.*→\s*all/, '"Mia → all"');
      await expectPttTo(viewer, md, 'all', [a, b]);
      const offersAfter = talkers.map((p) => p.sent.filter((f) => /^rtc\.(offer|answer)$/.test(f.m.type)).length);
      check(offersAfter.every((n, i) => n === offersBefore[i]), `pressing Talk renegotiated: rtc.offer/answer sent during the press by ${talkers.filter((_, i) => offersAfter[i] !== offersBefore[i]).map((p) => p.name).join(', ')}`);
      check(/all/i.test(await talkButton(md).innerText()) || /all/i.test(await talkButton(md).getAttribute('aria-label') ?? ''), `the Talk button does not show its target: ${JSON.stringify(await talkButton(md).innerText())}`);
    } finally { await letGo(); }
    await Promise.all([waitSilent(a, 3000, 'after the MD let go'), waitSilent(b, 3000, 'after the MD let go')]);
    for (const p of listeners) await expectNoTalkingItem(p, /Mia/, 'Mia in the who-is-talking list');
  });

  await step('4. musician A talks back (md): only the MD hears A', async () => {
    await pickTarget(a, 'md');
    const letGo = await holdTalk(a);
    try {
      await expectHears(md, 'a', a.id);
      let rB, rV;
      const rx = await receivedDuring(b, async () => { [rB, rV] = await Promise.all([meter(b, 1000), meter(viewer, 600)]); });
      check(isSilent(rB), `musician B hears A's talkback to the MD: ${fmt(rB)}`);
      checkNothingSent(b, rx, "of A's talkback to the MD");
      check(isSilent(rV), `the viewer hears A's talkback: ${fmt(rV)}`);
      for (const p of listeners) await expectTalkingItem(p, /Ana/, 'Ana talking');
      await expectPttTo(b, a, 'md', [md]);
    } finally { await letGo(); }
    await waitSilent(md, 3000, 'after A let go');
  });

  await step('4b. space bar on the MD laptop: hold Space to talk, let go to stop', async () => {
    await pickTarget(md, 'all');
    await md.page.evaluate(() => { document.activeElement?.blur?.(); });
    await md.page.keyboard.down('Space');
    try {
      await expectHears(a, 'md', md.id);
    } finally { await md.page.keyboard.up('Space'); }
    await waitSilent(a, 3000, 'after Space was let go');
  });

  await step('5. group target: MD talks to vocals → A hears, B not', async () => {
    await pickTarget(md, 'vocals');
    const letGo = await holdTalk(md);
    try {
      await expectHears(a, 'md', md.id);
      const rx = await receivedDuring(b, () => expectSilent(b, 1000, 'although the MD talks to vocals only'));
      checkNothingSent(b, rx, 'while the MD talks to vocals');
      for (const p of listeners) await expectTalkingItem(p, /Mia.*vocals/i, '"Mia → vocals"');
      await expectPttTo(b, md, 'vocals', [a]);
    } finally { await letGo(); }
    await waitSilent(a, 3000, 'after the MD let go');
  });

  await step('5b. single person: MD talks to "Drums only" (@B) → B hears, A not', async () => {
    const opt = await pickTarget(md, `@${b.id}`);
    check(/Drums/.test(opt.label), `the picker's option for B does not say "Drums": ${JSON.stringify(opt)}`);
    const letGo = await holdTalk(md);
    try {
      await expectHears(b, 'md', md.id);
      const rx = await receivedDuring(a, () => expectSilent(a, 1000, 'although the MD talks to Drums only'));
      checkNothingSent(a, rx, 'while the MD talks to Drums only');
      await expectPttTo(a, md, `@${b.id}`, [b]);
    } finally { await letGo(); }
    await waitSilent(b, 3000, 'after the MD let go');
  });

  await step('6. latch: a short tap keeps the MD talking, a second tap releases', async () => {
    await pickTarget(md, 'all');
    await tapTalk(md);
    await waitFor(async () => (await talkButton(md).getAttribute('data-mode')) === 'latched', 'the Talk button to show it latched', 3000)
      .catch(async (e) => { throw new Fail(`${e.message} (data-mode=${await talkButton(md).getAttribute('data-mode')})`); });
    await expectHears(a, 'md', md.id);
    await sleep(1000);
    await Promise.all([expectHears(a, 'md', md.id, 1500), expectHears(b, 'md', md.id, 1500)]);
    await expectTalkingItem(viewer, /Mia.*→\s*all/, '"Mia → all" while latched');
    await tapTalk(md);
    await Promise.all([waitSilent(a, 3000, 'after the second tap'), waitSilent(b, 3000, 'after the second tap')]);
    await expectNoTalkingItem(viewer, /Mia/, 'Mia after the second tap');
  });

  await step('7a. the viewer\'s ptt.press is refused (forbidden)', async () => {
    expectRefused(await send(viewer, 'ptt.press', { target: 'all' }), ['forbidden'], "the viewer's ptt.press to all");
    expectRefused(await send(viewer, 'ptt.press', { target: 'md' }), ['forbidden'], "the viewer's ptt.press to md");
    await sleep(300);
    for (const p of listeners) check(!(await talkingItems(p)).some((t) => /Stage/.test(t)), `${p.name} shows the viewer talking`);
  });

  await step('7b. a musician\'s press to all is refused until the MD allows it in the room settings', async () => {
    const opts = await hook(a, () => [...document.querySelectorAll('[data-testid="talk-target"] option')].filter((o) => !o.disabled).map((o) => o.value));
    check(!opts.includes('all'), `musician A's picker offers "all" although the MD has not allowed it: ${JSON.stringify(opts)}`);
    expectRefused(await send(a, 'ptt.press', { target: 'all' }), ['forbidden'], "musician A's ptt.press to all");
    const set = await send(md, 'room.settings', { talk_all: ['musician'] });
    check(!set?.error, `the MD could not change room.settings: ${JSON.stringify(set)}`);
    await waitFor(async () => (await hook(a, () => window.__downbeat.state().room?.settings?.talk_all))?.includes?.('musician'), "musician A to see talk_all include 'musician'", 5000);
    await talkToAllHeard(a, 'a', [md, b]);
    const unset = await send(md, 'room.settings', { talk_all: [] });
    check(!unset?.error, `the MD could not reset room.settings: ${JSON.stringify(unset)}`);
    await waitFor(async () => (await hook(a, () => window.__downbeat.state().room?.settings?.talk_all))?.length === 0, 'musician A to see talk_all emptied', 5000);
    expectRefused(await send(a, 'ptt.press', { target: 'all' }), ['forbidden'], "musician A's ptt.press to all after the MD took it back");
  });

  await step('7c. presses to a group the musician is not in, to an unknown group, or to one person are refused', async () => {
    expectRefused(await send(a, 'ptt.press', { target: 'band' }), ['forbidden'], 'musician A (vocals) pressing to band');
    expectRefused(await send(b, 'ptt.press', { target: 'vocals' }), ['forbidden'], 'musician B (band) pressing to vocals');
    expectRefused(await send(a, 'ptt.press', { target: `@${b.id}` }), ['forbidden'], 'musician A pressing to one person');
    expectRefused(await send(md, 'ptt.press', { target: 'no-such-group' }), ['not_found'], 'the MD pressing to a group nobody is in');
    expectRefused(await send(md, 'ptt.press', { target: '@pnobody' }), ['not_found'], 'the MD pressing to an unknown participant');
    expectRefused(await send(md, 'ptt.press', { target: `@${viewer.id}` }), ['forbidden'], 'the MD pressing to the viewer');
    expectRefused(await send(md, 'ptt.press', { target: `@${other.id}` }), ['not_found', 'forbidden'], 'the MD pressing to a participant of another room');
    await sleep(300);
    const rs = await Promise.all([md, a, b].map((p) => meter(p, 500)));
    check(rs.every(isSilent), `a refused press made sound: ${rs.map((r, i) => `${[md, a, b][i].name}: ${fmt(r)}`).join('; ')}`);
    for (const p of listeners) check((await talkingItems(p)).length === 0, `${p.name} shows someone talking after refused presses: ${JSON.stringify(await talkingItems(p))}`);
  });

  await step('7d. rtc.* to another room, an unknown id or the viewer is refused; nobody receives it', async () => {
    const since = Date.now();
    const sdp = 'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n';
    expectRefused(await send(a, 'rtc.offer', { to: other.id, sdp }), ['not_found', 'forbidden'], 'rtc.offer to a participant of another room');
    expectRefused(await send(a, 'rtc.ice', { to: other.id, candidate: { candidate: '' } }), ['not_found', 'forbidden'], 'rtc.ice to a participant of another room');
    expectRefused(await send(a, 'rtc.offer', { to: 'pnobody', sdp }), ['not_found'], 'rtc.offer to an unknown participant');
    expectRefused(await send(a, 'rtc.offer', { to: viewer.id, sdp }), ['forbidden', 'not_found'], 'rtc.offer to the viewer');
    await sleep(500);
    const leaked = [...other.received, ...viewer.received].filter((f) => f.t >= since && /^rtc\./.test(f.m.type));
    check(leaked.length === 0, `rtc frames reached the other room or the viewer: ${JSON.stringify(leaked.map((f) => f.m))}`);
  });

  await step('7e. oversized / malformed SDP and ICE get bad_request or too_large; the links are unaffected', async () => {
    const since = Date.now();
    const big = 'v=0\r\n' + 'a=x-padding:' + 'x'.repeat(17 * 1024) + '\r\n';
    expectRefused(await send(a, 'rtc.offer', { to: md.id, sdp: big }), ['too_large', 'bad_request'], 'a 17 KiB SDP');
    expectRefused(await send(a, 'rtc.offer', { to: md.id, sdp: 'hello, not an SDP' }), ['bad_request'], 'an SDP not starting with v=0');
    expectRefused(await send(a, 'rtc.answer', { to: md.id, sdp: '' }), ['bad_request'], 'an empty SDP answer');
    expectRefused(await send(a, 'rtc.ice', { to: md.id, candidate: { candidate: 'bogus' } }), ['bad_request'], 'an ICE candidate not starting with "candidate:"');
    expectRefused(await send(a, 'rtc.ice', { to: md.id, candidate: { candidate: 'candidate:' + 'x'.repeat(1100) } }), ['bad_request', 'too_large'], 'a 1.1 KiB ICE candidate');
    expectRefused(await send(a, 'rtc.ice', { to: md.id, candidate: 'candidate:1 1 udp 1 127.0.0.1 9 typ host' }), ['bad_request'], 'an ICE candidate that is not an object');
    await sleep(500);
    const leaked = md.received.filter((f) => f.t >= since && /^rtc\./.test(f.m.type) && f.m.data?.from === a.id);
    check(leaked.length === 0, `refused rtc frames reached the MD anyway: ${JSON.stringify(leaked.map((f) => ({ type: f.m.type, sdp: String(f.m.data?.sdp ?? '').slice(0, 40), candidate: f.m.data?.candidate })))}`);
    for (const [p, ids] of [[md, [a.id, b.id]], [a, [md.id, b.id]], [b, [md.id, a.id]]]) {
      check(await connectedTo(p, ids), `${p.name}: a link went down after the bad signalling: ${JSON.stringify(await peersOf(p))}`);
    }
  });

  await step('7f. a flood of 50 ptt.press gets rate_limited errors that carry re; the connection stays up', async () => {
    const since = Date.now();
    const connectsBefore = (await hook(a, () => window.__downbeat.connection())).connects;
    const socketsBefore = a.sockets;
    const rs = await hook(a, () => Promise.all(Array.from({ length: 50 }, () => window.__downbeat.send('ptt.press', { target: 'md' }))));
    await hook(a, () => window.__downbeat.send('ptt.release', {}));
    const limited = rs.filter((r) => r?.error?.code === 'rate_limited').length;
    const accepted = rs.filter((r) => !r?.error).length;
    const other = rs.filter((r) => r?.error && r.error.code !== 'rate_limited').map((r) => r.error.code);
    await sleep(300);
    const errs = errorsFor(a, since, 'ptt.press');
    const withRe = errs.filter((m) => m.code === 'rate_limited').length;
    const anon = a.received.filter((f) => f.t >= since && f.m.type === 'error' && f.m.re == null).map((f) => f.m);
    log(`     flood: ${accepted} accepted, ${limited} rate_limited (${withRe} error frames with re), other errors: ${JSON.stringify(other)}`);
    check(limited >= 30, `only ${limited} of 50 presses were rate_limited (a burst of 10 then 4/s is documented)`);
    check(withRe === limited, `${limited - withRe} rate_limited answers did not come as error frames with re naming the press`);
    check(anon.length === 0, `errors without re during the flood: ${JSON.stringify(anon.slice(0, 3))}`);
    check(other.length === 0, `presses refused for another reason: ${JSON.stringify(other)}`);
    check(a.sockets === socketsBefore && (await hook(a, () => window.__downbeat.connection())).connects === connectsBefore, 'the server dropped musician A\'s connection over 50 presses');
    await waitSilent(md, 3000, 'after the flood was released');
  });

  await step('7g. after all that the room still works: the MD talks to all and both musicians hear', async () => {
    await sleep(500);
    for (const [p, ids] of [[md, [a.id, b.id]], [a, [md.id, b.id]], [b, [md.id, a.id]]]) {
      check(await connectedTo(p, ids), `${p.name}: not all links are connected: ${JSON.stringify(await peersOf(p))}`);
    }
    await talkToAllHeard(md, 'md', [a, b]);
    // A musician's own talkback after the flood, once the press bucket has refilled.
    await pickTarget(a, 'md');
    const letGoA = await holdTalk(a);
    try { await expectHears(md, 'a', a.id); } finally { await letGoA(); }
    await waitSilent(md);
  });

  if (!process.env.VOICE_PATH) await step('7i. the MD switches the room to the other voice path: every page follows at once and talk still gets through', async () => {
    const was = await hook(md, () => window.__downbeat.voice.path());
    const other = was === 'dc' ? 'rtp' : 'dc';
    for (const path of [other, was]) {
      const set = await send(md, 'room.settings', { voice_path: path });
      check(!set?.error, `the MD could not set voice_path ${path}: ${JSON.stringify(set)}`);
      for (const p of [md, a, b]) await waitFor(async () => (await hook(p, () => window.__downbeat.voice.path())) === path, `${p.name} to follow the room to ${path}`, 5000);
      await talkToAllHeard(md, 'md', [a, b]);
    }
  });

  await step('7h. the MD console shows the health of each link (from metrics.report)', async () => {
    const rows = () => md.page.locator('[data-testid="link-row"]').evaluateAll((els) => els.map((e) => ({
      from: e.dataset.from, peer: e.dataset.peer, weak: e.dataset.weak, cells: [...e.querySelectorAll('td')].map((td) => td.textContent.trim()) })));
    const want = [[a.id, md.id], [b.id, md.id], [md.id, a.id], [a.id, b.id]];
    let last = [];
    await waitFor(async () => {
      last = await rows();
      return want.every(([f, t]) => last.some((r) => r.from === f && r.peer === t && /\d/.test(r.cells[1] ?? '')));
    }, 'link rows A→MD, B→MD, MD→A and A→B with an RTT on the MD console', 15_000)
      .catch((e) => { throw new Fail(`${e.message}; rows: ${JSON.stringify(last)}`); });
    const weak = last.filter((r) => r.weak === 'true');
    log(`     ${last.length} link rows (rtt / jitter / loss / concealed / jitter buffer): ${last.map((r) => r.cells.slice(1, 6).join(' / ')).join('; ')}; ` +
      `flagged weak on loopback: ${weak.length ? weak.map((r) => r.cells[0]).join(', ') : 'none'}`);
  });

  await step('8. musician B\'s Chromium dies while B talks: B\'s ptt.state clears everywhere and the audio stops', async () => {
    await pickTarget(b, 'md');
    await holdTalk(b); // never let go: the process is killed
    await expectHears(md, 'b', b.id);
    for (const p of [md, a, viewer]) await expectTalkingItem(p, /Ben/, 'Ben talking');
    const proc = brB.server.process();
    check(proc, 'no process handle for musician B\'s Chromium');
    const t0 = Date.now();
    proc.kill('SIGKILL');
    await Promise.all([md, a, viewer].map((p) => expectNoTalkingItem(p, /Ben/, 'Ben talking after his Chromium died', 5000)));
    const tCleared = Date.now() - t0;
    await waitSilent(md, 5000, "after B's Chromium died");
    log(`     talking-item gone on every page ${tCleared} ms, MD silent ${Date.now() - t0} ms after the kill`);
    const states = md.received.filter((f) => f.t >= t0 && f.m.type === 'ptt.state' && f.m.data?.participant === b.id);
    check(states.some((f) => f.m.data.talking === false), `the MD got no ptt.state talking:false for B (only ${JSON.stringify(states.map((f) => f.m.data))}): the list was cleared by something else`);
  });

  // Dropped on the talker's side, then on the listener's: either way the pair must rebuild it.
  for (const [num, dropper, peer, side] of [['9', md, a, "the MD's"], ['9b', a, md, "musician A's"]]) {
    await step(`${num}. a link dropped on ${side} side recovers by itself while the MD talks`, async () => {
      await pickTarget(md, 'all');
      const letGo = await holdTalk(md);
      try {
        await expectHears(a, 'md', md.id);
        const t0 = Date.now();
        await hook(dropper, (id) => window.__downbeat.voice.dropLink(id), peer.id);
        // A new peer connection needs a new offer/answer between the two: that is the proof the
        // link really went (on loopback it comes back faster than an analyser window can see a gap).
        const renegotiated = () => [md, a].some((p) => p.sent.some((f) => f.t >= t0 && f.m.type === 'rtc.offer'))
          && [md, a].some((p) => p.sent.some((f) => f.t >= t0 && f.m.type === 'rtc.answer'));
        let lastPeers = null, lastLevel = null;
        const recovered = await waitFor(async () => {
          const [peers, r] = await Promise.all([peersOf(dropper), meter(a, 300)]);
          lastPeers = peers; lastLevel = r;
          const up = peers.some((x) => x.id === peer.id && x.connectionState === 'connected');
          const h = heardTones(r);
          return renegotiated() && up && h.length === 1 && h[0] === 'md';
        }, 'the MD ↔ A link to be renegotiated, connected, and A to hear the MD again', RECOVERY_LIMIT_MS + 5000, 0)
          .catch(async (e) => {
            const sig = [md, a].map((p) => `${p.name} sent ${p.sent.filter((f) => f.t >= t0 && /^rtc\./.test(f.m.type)).map((f) => f.m.type).join(',') || 'no rtc.*'}`).join('; ');
            throw new Fail(`${e.message}; ${dropper.name} peers(): ${JSON.stringify(lastPeers)}; ${peer.name} peers(): ${JSON.stringify(await peersOf(peer))}; ` +
              `A hears: ${fmt(lastLevel)}; signalling since the drop: ${sig}`);
          });
        const ms = Date.now() - t0;
        log(`     link dropped on ${side} side; A hears the MD again ${ms} ms later (limit ${RECOVERY_LIMIT_MS} ms)`);
        check(recovered && ms <= RECOVERY_LIMIT_MS, `recovery took ${ms} ms (limit ${RECOVERY_LIMIT_MS} ms)`);
        await expectHears(a, 'md', md.id, 2000);
        check(await connectedTo(md, [a.id]) && await connectedTo(a, [md.id]), `the MD ↔ A link is not connected on both ends: MD ${JSON.stringify(await peersOf(md))}, A ${JSON.stringify(await peersOf(a))}`);
      } finally { await letGo(); }
      await waitSilent(a);
    });
  }

  await step('10. musician A closes the page while talking: the MD and the viewer stop showing and hearing A', async () => {
    await pickTarget(a, 'md');
    await holdTalk(a); // never let go: the tab goes
    await expectHears(md, 'a', a.id);
    await expectTalkingItem(viewer, /Ana/, 'Ana talking');
    const t0 = Date.now();
    await a.page.close();
    await Promise.all([md, viewer].map((p) => expectNoTalkingItem(p, /Ana/, 'Ana talking after her page closed', 5000)));
    await waitSilent(md, 5000, "after A's page closed");
    const selfReleased = a.sent.some((f) => f.t >= t0 && f.m.type === 'ptt.release');
    log(`     A's page closed: talking-item gone and the MD silent ${Date.now() - t0} ms later (${selfReleased ? 'the page sent ptt.release as it closed' : 'released by the server when the socket closed'})`);
  });

  await step('no uncaught errors in the pages', async () => {
    check(pageErrors.length === 0, `page errors:\n  ${pageErrors.join('\n  ')}`);
  });
}

// ---- run, always cleaning up ---------------------------------------------------------------

async function cleanup() {
  await Promise.all(browsers.map((bs) => Promise.race([bs.close().catch(() => {}), sleep(5000)])));
  for (const bs of browsers) { try { bs.process()?.kill('SIGKILL'); } catch { /* gone */ } }
  if (server) { const s = server; server = null; s.kill('SIGTERM'); setTimeout(() => { try { s.kill('SIGKILL'); } catch { /* gone */ } }, 3000).unref(); }
}
let cleaning = null;
function hardExit(code, why) {
  log(`FAIL ${why}`);
  cleaning ??= cleanup();
  cleaning.finally(() => process.exit(code));
  setTimeout(() => process.exit(code), 8000).unref();
}
const watchdog = setTimeout(() => hardExit(1, `watchdog: the run took longer than ${WATCHDOG_MS / 1000} s`), WATCHDOG_MS);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => hardExit(1, `interrupted by ${sig}`));

let exitCode = 0;
try {
  await main();
} catch (e) {
  // A failed step has been counted and printed already; anything else (setup) is a failure too.
  if (!results.some((r) => !r.ok)) { failures++; log(`FAIL setup: ${e instanceof Fail ? e.message : (e?.stack ?? e)}`); }
}
if (failures || results.length === 0) {
  exitCode = 1;
  log('--- last lines of the server log ---\n' + serverLogTail(dataDir));
  if (pageErrors.length) log('--- page errors ---\n' + pageErrors.join('\n'));
}
clearTimeout(watchdog);
cleaning ??= cleanup();
await cleaning;
if (process.env.E2E_KEEP !== '1' && exitCode === 0) rmSync(dataDir, { recursive: true, force: true });
else log(`# data dir kept: ${dataDir}`);
log(`# voice e2e: ${results.filter((r) => r.ok).length}/${results.length} steps passed in ${((Date.now() - t0Run) / 1000).toFixed(1)} s`);
log(exitCode === 0 ? '# voice e2e: all passed' : '# voice e2e: FAILED');
process.exit(exitCode);
