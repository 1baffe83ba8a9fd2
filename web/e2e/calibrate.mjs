#!/usr/bin/env node
// End-to-end test of the output latency calibration (web/src/calibrate.ts) in real Chromium,
// against a real downbeatd, through a private PulseAudio server standing in for the speakers:
//   A: a wired speaker — the page plays to sink spk_a and its microphone is spk_a's monitor;
//   B: a "Bluetooth" speaker — the page plays to spk_b, module-loopback carries that sound to sink bt
//      BT_DELAY_MS later, and the page's microphone is bt's monitor.
// Each musician page runs "Measure with the microphone"; B's offset must exceed A's by the delay we
// put in (±TOLERANCE_MS), and the offset lands in the latency field and survives a reload. Then the
// tap-along fallback: ten taps on the pad give an offset the field takes over.
//   node e2e/calibrate.mjs [path/to/downbeatd]      (headed Chromium under Xvfb; root not needed)
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Fail, check, sleep, waitFor } from '../../tests/integration/lib/wait.mjs';
import { webDir, serverBin, chromiumPath, checkSetup, createRoom, serve, serverLogTail, text, expectText, joinRoom } from './harness.mjs';
import { Rig, killAll } from '../../bench/voice/lib/rig.mjs';

const webRoot = resolve(process.env.E2E_WEB_ROOT ?? join(webDir, 'dist'));
const BT_DELAY_MS = 150;
const TOLERANCE_MS = 30;
const WATCHDOG_MS = 200_000;

const dir = mkdtempSync(join(tmpdir(), 'downbeat-calibrate-e2e-'));
const dataDir = join(dir, 'data');
let server = null;
const browsers = [];
let failures = 0;

async function step(name, fn) {
  const t0 = Date.now();
  try { await fn(); console.log(`ok   ${name} (${Date.now() - t0} ms)`); } catch (e) { failures++; console.log(`FAIL ${name}: ${e.message}`); }
}

async function launch(rig, name, { sink, source }) {
  const env = { ...process.env, ...rig.env, DISPLAY: rig.display, PULSE_SINK: sink, PULSE_SOURCE: source, PULSE_PROP: `application.name=e2e-${name}` };
  const browser = await chromium.launch({
    executablePath: chromiumPath, headless: false, env, timeout: 60_000,
    args: ['--no-sandbox', '--use-fake-ui-for-media-stream', '--autoplay-policy=no-user-gesture-required', '--disable-gpu',
      '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run',
      '--disable-renderer-backgrounding', '--disable-background-timer-throttling', '--disable-backgrounding-occluded-windows', '--window-size=900,900'],
  });
  browsers.push(browser);
  const context = await browser.newContext({ viewport: { width: 420, height: 860 } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  return { name, page, errors };
}

async function openSettings(p) {
  const details = p.page.locator('details.click-settings');
  if (!(await details.evaluate((d) => d.open))) await p.page.click('details.click-settings > summary');
  await p.page.waitForSelector('[data-testid="calibrate-mic"]', { state: 'visible' });
}

// As a musician would: when the page says "try again" (a noisy or busy moment), try again, up to 3 times.
async function calibrate(p) {
  let last = null;
  for (let attempt = 1; attempt <= 3; attempt++) {
    try { return await calibrateOnce(p); } catch (e) { last = e; console.log(`     ${p.name}, attempt ${attempt}: ${e.message}`); }
  }
  throw last;
}

async function calibrateOnce(p) {
  await openSettings(p);
  await p.page.click('[data-testid="calibrate-mic"]');
  await expectText(p.page, 'calibrate-status', /Latency offset set to|heard|failed|No microphone|delivered no sound|different delays/, p.name, 20_000);
  await waitFor(async () => !(await p.page.locator('[data-testid="calibrate-mic"]').isDisabled()), `${p.name}: the measurement to end`, 20_000);
  const status = await text(p.page, 'calibrate-status');
  const m = /Latency offset set to (-?\d+) ms/.exec(status ?? '');
  if (!m) throw new Fail(`${p.name}: no offset measured: ${JSON.stringify(status)}`);
  const field = Number(await p.page.inputValue('[data-testid="click-latency"]'));
  check(field === Number(m[1]), `${p.name}: the latency field shows ${field}, the status says ${m[1]}`);
  return { offset: Number(m[1]), status };
}

const watchdog = setTimeout(() => { console.log('FAIL watchdog: the run took too long'); void cleanup().then(() => process.exit(1)); }, WATCHDOG_MS);

async function cleanup() {
  for (const b of browsers) await b.close().catch(() => {});
  if (server) server.proc.kill('SIGTERM');
  await killAll();
  if (!process.env.E2E_KEEP) rmSync(dir, { recursive: true, force: true });
}

try {
  checkSetup({ serverBin, chromiumPath, webRoot });
  const rig = new Rig(dir, { latencyMsec: 5 });
  await rig.start();
  await rig.startX();
  rig.pactl(['load-module', 'module-null-sink', 'sink_name=spk_a', 'channels=1', 'rate=48000', 'channel_map=mono']);
  rig.pactl(['load-module', 'module-null-sink', 'sink_name=spk_b', 'channels=1', 'rate=48000', 'channel_map=mono']);
  rig.pactl(['load-module', 'module-null-sink', 'sink_name=bt', 'channels=1', 'rate=48000', 'channel_map=mono']);
  rig.pactl(['load-module', 'module-loopback', 'source=spk_b.monitor', 'sink=bt', `latency_msec=${BT_DELAY_MS}`, 'adjust_time=0', 'source_dont_move=true', 'sink_dont_move=true']);
  const { mkdirSync } = await import('node:fs');
  mkdirSync(dataDir, { recursive: true });
  const room = createRoom(serverBin, dataDir, 'Calibration');
  server = await serve({ serverBin, dataDir, webRoot, onExit: (code) => { if (code) console.log(`server exited ${code}\n${serverLogTail(dataDir)}`); } });

  const a = await launch(rig, 'wired', { sink: 'spk_a', source: 'spk_a.monitor' });
  const b = await launch(rig, 'bluetooth', { sink: 'spk_b', source: 'bt.monitor' });
  await joinRoom(a, server.url, room.codes.musician, 'Ana (wired)');
  await joinRoom(b, server.url, room.codes.musician, 'Ben (bluetooth)');

  let ra = null, rb = null;
  await step('a wired speaker measures its offset with the microphone', async () => {
    ra = await calibrate(a);
    console.log(`     wired: ${ra.status}`);
  });
  await step(`a speaker ${BT_DELAY_MS} ms late (Bluetooth-like) measures that much more`, async () => {
    rb = await calibrate(b);
    console.log(`     bluetooth: ${rb.status}`);
    check(ra, 'the wired measurement is needed first');
    const diff = rb.offset - ra.offset;
    check(Math.abs(diff - BT_DELAY_MS) <= TOLERANCE_MS, `offset difference ${diff} ms; expected ${BT_DELAY_MS} ± ${TOLERANCE_MS}`);
  });
  await step('the measured offset survives a reload', async () => {
    check(rb, 'needs the measurement');
    await b.page.reload();
    await expectText(b.page, 'conn-status', 'Live', 'bluetooth after reload');
    await openSettings(b);
    const field = Number(await b.page.inputValue('[data-testid="click-latency"]'));
    check(field === rb.offset, `after a reload the field shows ${field}, expected ${rb.offset}`);
  });
  await step('tap along: steady taps on the pad set the offset', async () => {
    await openSettings(a);
    await a.page.click('[data-testid="calibrate-tap"]');
    await a.page.waitForSelector('[data-testid="calibrate-tap-pad"]', { state: 'visible' });
    const pad = a.page.locator('[data-testid="calibrate-tap-pad"]');
    await pad.scrollIntoViewIfNeeded();
    // Taps from a timer inside the page (steadier than one round trip per tap from here).
    await a.page.evaluate(async () => {
      const el = document.querySelector('[data-testid="calibrate-tap-pad"]');
      await new Promise((r) => setTimeout(r, 900));
      for (let i = 0; i < 12; i++) {
        el.dispatchEvent(new PointerEvent('pointerdown', { bubbles: true, cancelable: true, pointerType: 'touch', isPrimary: true }));
        await new Promise((r) => setTimeout(r, 600));
      }
    });
    await expectText(a.page, 'calibrate-status', /Latency offset set to|taps/, 'wired after tapping', 15_000);
    const status = await text(a.page, 'calibrate-status');
    console.log(`     tap along: ${status}`);
    const m = /Latency offset set to (-?\d+) ms/.exec(status ?? '');
    check(m, `tap along gave no offset: ${JSON.stringify(status)}`);
    const field = Number(await a.page.inputValue('[data-testid="click-latency"]'));
    check(field === Number(m[1]), `the latency field shows ${field}, the status says ${m[1]}`);
  });
  await step('no page errors', async () => {
    const errs = [...a.errors, ...b.errors];
    check(errs.length === 0, `page errors: ${errs.join(' | ')}`);
  });
} catch (e) {
  failures++;
  console.log(`FAIL setup: ${e.stack ?? e.message}`);
} finally {
  clearTimeout(watchdog);
  await cleanup();
}
console.log(failures ? `calibration e2e: ${failures} failed` : 'calibration e2e: all passed');
process.exit(failures ? 1 : 0);
