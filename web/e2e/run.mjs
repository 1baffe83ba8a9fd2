#!/usr/bin/env node
// End-to-end test of the web app in real Chromium against a real downbeatd.
//   node e2e/run.mjs [path/to/downbeatd]
// Env: CHROMIUM (default /usr/bin/chromium), E2E_HEADFUL=1, E2E_KEEP=1 (keep the data dir).
import { chromium } from 'playwright-core';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Fail, check, sleep, waitFor as waitUntil } from '../../tests/integration/lib/wait.mjs';
import { webDir, serverBin, chromiumPath, shotsDir, checkSetup, createRoom, serve, serverLogTail, text, expectText } from './harness.mjs';

// The README's screenshots are refreshed on request only, so `make test` leaves the tree clean.

const T = 10_000; // default wait for something a user would see
const waitFor = (fn, what, timeout = T) => waitUntil(fn, what, timeout);
let failures = 0;
let server = null;
let browser = null;
const dataDir = mkdtempSync(join(tmpdir(), 'downbeat-e2e-'));
const pageErrors = [];

function log(msg) { process.stdout.write(msg + '\n'); }

async function step(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    log(`ok   ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    failures++;
    log(`FAIL ${name}: ${e instanceof Fail ? e.message : (e?.stack ?? e)}`);
    throw e;
  }
}



function onServerExit(code, sig) {
  if (server) log(`downbeatd exited (code ${code}, signal ${sig})`);
  server = null;
}

async function startServer() {
  checkSetup({ serverBin, chromiumPath, webRoot: join(webDir, 'dist') });
  const { codes } = createRoom(serverBin, dataDir, 'E2E');
  const { proc, url } = await serve({ serverBin, dataDir, webRoot: join(webDir, 'dist'), onExit: onServerExit });
  server = proc;
  return { url, codes };
}

async function newPage(name, viewport, mobile) {
  const context = await browser.newContext({
    viewport, deviceScaleFactor: 1, isMobile: mobile, hasTouch: mobile,
    userAgent: mobile ? 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126 Mobile Safari/537.36' : undefined,
  });
  const page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(`${name}: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error' && !/Failed to load resource|ERR_INTERNET_DISCONNECTED|WebSocket connection/.test(m.text())) pageErrors.push(`${name} console: ${m.text()}`); });
  const sockets = [];
  page.on('websocket', (ws) => sockets.push(ws.url()));
  return { name, context, page, sockets };
}

async function joinRoom(p, base, code, name, target) {
  await p.page.goto(`${base}/j/${code}`);
  // The QR link says which room and role it joins before a name is typed.
  if (target) await expectText(p.page, 'join-target', target, `${p.name} on the join page`);
  await p.page.fill('[data-testid="join-name"]', name);
  await p.page.click('[data-testid="join-submit"]');
  await expectText(p.page, 'conn-status', 'Live', `${p.name} after joining`);
}

const hook = (p, expr, arg) => p.page.evaluate(expr, arg);

async function main() {
  const { url: base, codes } = await startServer();
  log(`# downbeatd at ${base}, data dir ${dataDir}`);
  browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: process.env.E2E_HEADFUL !== '1',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
      '--autoplay-policy=no-user-gesture-required'],
  });
  const md = await newPage('MD', { width: 1366, height: 900 }, false);
  const a = await newPage('musician A', { width: 390, height: 844 }, true);
  const b = await newPage('musician B', { width: 390, height: 844 }, true);

  await step('bad input: a wrong code shows a clear message and a way to retry', async () => {
    await a.page.goto(`${base}/j/WRONG-CODE-123`);
    check(await a.page.locator('[data-testid="cert-notice"]').isVisible(), 'the self-signed certificate explanation is not shown on first visit');
    // Before a name is typed, the page already says the code is no good and what to do.
    await expectText(a.page, 'join-target-error', /not valid any more: ask the MD for the current QR code/, 'musician A on a wrong QR link');
    check((await a.page.locator('[data-testid="join-target"]').count()) === 0, 'a wrong code names a room');
    await a.page.fill('[data-testid="join-name"]', 'Bo');
    await a.page.click('[data-testid="join-submit"]');
    await expectText(a.page, 'join-error', /wrong or has expired.*new QR code/s, 'musician A with a wrong code');
    check((await text(a.page, 'join-submit')) === 'Try again', 'the join button does not offer "Try again" after a failure');
    check(await a.page.locator('[data-testid="join-code"]').isVisible(), 'no code field to correct a wrong code');
  });

  await step('bad input: empty and 200-character names are refused with a clear message', async () => {
    await a.page.fill('[data-testid="join-name"]', '   ');
    await a.page.click('[data-testid="join-submit"]');
    await expectText(a.page, 'join-error', /type your name/, 'musician A with an empty name');
    await a.page.fill('[data-testid="join-name"]', 'x'.repeat(200));
    await a.page.click('[data-testid="join-submit"]');
    await expectText(a.page, 'join-error', /200 characters.*40 or fewer/, 'musician A with a 200-character name');
    // The server enforces it too, whatever the page does.
    const r = await a.page.evaluate(async (code) => {
      const res = await fetch('/auth/exchange', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code, name: 'y'.repeat(200), device_id: 'e2e-device-0001' }) });
      return { status: res.status, body: await res.json().catch(() => null) };
    }, codes.musician);
    check(r.status === 400 && r.body?.error?.code === 'bad_request', `server accepted or mis-answered a 200-character name: ${JSON.stringify(r)}`);
  });

  await step('join: MD and two musicians (one after correcting the code, one with an emoji name)', async () => {
    await a.page.fill('[data-testid="join-code"]', codes.musician);
    await a.page.fill('[data-testid="join-name"]', 'Bo'); // leaving the code field looks the code up
    await expectText(a.page, 'join-target', 'Joining E2E as musician', 'musician A after typing the right code');
    check((await a.page.locator('[data-testid="join-target-error"]').count()) === 0, 'the wrong-code message stays after the code was corrected');
    await a.page.click('[data-testid="join-submit"]');
    await expectText(a.page, 'conn-status', 'Live', 'musician A after correcting the code');
    check(new URL(a.page.url()).pathname === `/j/${codes.musician}`, `URL not updated to the right code: ${a.page.url()}`);
    await joinRoom(md, base, codes.md, 'Mia (MD)', 'Joining E2E as MD');
    await joinRoom(b, base, codes.musician, 'Cy 🎸', 'Joining E2E as musician');
    await waitFor(async () => (await md.page.locator('[data-testid="health-row"]').count()) === 3, 'the MD health table to list 3 participants');
    check((await md.page.locator('[data-testid="health-row"]', { hasText: 'Cy 🎸' }).count()) === 1, 'the emoji name "Cy 🎸" is not shown intact in the MD health table');
  });

  await step('MD console shows a join QR code per role', async () => {
    await md.page.click('[data-testid="qr-role-musician"]');
    await expectText(md.page, 'qr-url', `${base}/j/${codes.musician}`, 'MD QR panel (musician)');
    check(await md.page.locator('[data-testid="qr-canvas"]').isVisible(), 'no QR code drawn');
    await md.page.click('[data-testid="qr-role-viewer"]');
    await expectText(md.page, 'qr-url', `${base}/j/${codes.viewer}`, 'MD QR panel (viewer)');
    await md.page.click('[data-testid="qr-role-musician"]');
  });

  await step('musician view has no song controls', async () => {
    for (const p of [a, b]) {
      for (const id of ['song-next', 'song-prev', 'tempo-start', 'cue-send', 'slot-create', 'setlist-save']) {
        check((await p.page.locator(`[data-testid="${id}"]`).count()) === 0, `${p.name} shows the MD control ${id}`);
      }
    }
  });

  await step('MD builds the song library', async () => {
    const addSong = async (s) => {
      const form = md.page.locator('.library-panel details');
      if (!(await form.getAttribute('open'))) await md.page.click('[data-testid="song-form-toggle"]');
      await md.page.fill('[data-testid="song-form-title"]', s.title);
      await md.page.fill('[data-testid="song-form-artist"]', s.artist);
      await md.page.fill('[data-testid="song-form-key"]', s.key);
      await md.page.fill('[data-testid="song-form-bpm"]', String(s.bpm));
      await md.page.fill('[data-testid="song-form-beats"]', String(s.beats));
      await md.page.selectOption('[data-testid="song-form-unit"]', String(s.unit));
      await md.page.fill('[data-testid="song-form-chordpro"]', s.chordpro);
      await md.page.click('[data-testid="song-save"]');
      await waitFor(async () => (await md.page.locator('[data-testid="library-song"]', { hasText: s.title }).count()) === 1, `song "${s.title}" in the library`);
    };
    await addSong({ title: 'Amazing Grace', artist: 'John Newton', key: 'G', bpm: 72, beats: 3, unit: 4,
      chordpro: '{start_of_verse: Verse 1}\nA[G]mazing [G7]grace how [C]sweet the [G]sound\n{end_of_verse}\n{start_of_chorus}\nMy [G]chains are [D]gone\n{end_of_chorus}' });
    await addSong({ title: 'Way Maker', artist: 'Sinach', key: 'E', bpm: 68, beats: 4, unit: 4, chordpro: '{soc}\n[E]Way maker, [B]miracle worker\n{eoc}' });
  });

  await step('MD creates a transposing slot and assigns musician A; A sees it', async () => {
    await md.page.fill('[data-testid="slot-name"]', 'Keys 1');
    await md.page.fill('[data-testid="slot-instrument"]', 'piano');
    await md.page.selectOption('[data-testid="slot-transpose"]', '2');
    await md.page.click('[data-testid="slot-create"]');
    const row = md.page.locator('[data-testid="slot-row"][data-slot="Keys 1"]');
    await waitFor(async () => (await row.count()) === 1, 'slot "Keys 1" in the MD slot table');
    await row.locator('[data-testid="slot-assign"]').selectOption({ label: 'Bo' });
    await expectText(a.page, 'my-slot', 'Keys 1', 'musician A');
    await expectText(b.page, 'my-slot', 'not assigned yet', 'musician B');
  });

  let setlistId = null;
  await step('MD builds and saves a setlist, goes live; musicians see the song (A in its slot key)', async () => {
    await md.page.selectOption('[data-testid="setlist-select"]', '');
    await md.page.fill('[data-testid="setlist-title"]', 'Sunday AM');
    for (const title of ['Amazing Grace', 'Way Maker']) {
      await md.page.selectOption('[data-testid="setlist-add-select"]', { label: title.startsWith('Amazing') ? 'Amazing Grace (G)' : 'Way Maker (E)' });
      await md.page.click('[data-testid="setlist-add"]');
    }
    check((await md.page.locator('[data-testid="builder-item"]').count()) === 2, 'the setlist builder does not hold 2 songs');
    await md.page.click('[data-testid="setlist-save"]');
    await waitFor(async () => !(await md.page.locator('[data-testid="setlist-golive"]').isDisabled()), 'the saved setlist to be ready to go live');
    await md.page.click('[data-testid="setlist-golive"]');
    await expectText(a.page, 'song-title', 'Amazing Grace', 'musician A');
    await expectText(b.page, 'song-title', 'Amazing Grace', 'musician B');
    await expectText(b.page, 'song-key', 'G', 'musician B (no transposition)');
    await expectText(a.page, 'song-key', 'A', 'musician A (Keys 1 transposes +2: G → A)');
    await expectText(a.page, 'song-meter', '3/4', 'musician A');
    setlistId = (await hook(a, () => window.__downbeat.state().songCurrent?.setlist)) ?? null;
    check(setlistId, 'no current setlist in musician A state');
  });

  await step('MD goes to the next song; setlist highlight follows', async () => {
    await md.page.click('[data-testid="song-next"]');
    await expectText(a.page, 'song-title', 'Way Maker', 'musician A');
    await expectText(b.page, 'song-title', 'Way Maker', 'musician B');
    await expectText(a.page, 'song-key', 'F#', 'musician A (E +2)');
    const current = await b.page.locator('[data-testid="setlist-item"][aria-current="true"]').innerText();
    check(/Way Maker/.test(current), `the highlighted setlist item on musician B is "${current}"`);
  });

  await step('a cue from the MD appears on both phones', async () => {
    await md.page.click('[data-testid="cue-btn-Chorus"]');
    await expectText(a.page, 'cue-banner', /Chorus/, 'musician A');
    await expectText(b.page, 'cue-banner', /Chorus/, 'musician B');
    const cls = await b.page.locator('[data-testid="cue-banner"]').getAttribute('class');
    check(/cue-green/.test(cls ?? ''), `cue colour class is "${cls}"`);
  });

  await step('the click: both phones schedule every beat within 2 ms of the room clock and of each other', async () => {
    for (const p of [a, b]) {
      await p.page.click('[data-testid="click-toggle"]');
      await waitFor(async () => (await p.page.locator('[data-testid="click-toggle"]').getAttribute('aria-pressed')) === 'true', `${p.name}: audio to start after the tap`);
    }
    await md.page.selectOption('[data-testid="tempo-countin"]', '1');
    await md.page.click('[data-testid="tempo-start"]');
    await waitFor(async () => (await hook(a, () => window.__downbeat.state().tempo?.running)) === true, 'musician A to receive the running tempo');
    await sleep(6000); // the count-in bar (3.5 s at 68 bpm) and a couple of beats of bar 0
    const beats = async (p) => hook(p, () => window.__downbeat.scheduledBeats().filter((x) => x.sub === 0));
    const [ba, bb] = [await beats(a), await beats(b)];
    const key = (x) => `${x.bar}:${x.beat}`;
    const mapB = new Map(bb.map((x) => [key(x), x]));
    const common = ba.filter((x) => mapB.has(key(x)));
    check(common.length >= 5, `only ${common.length} beats in common (A: ${ba.length}, B: ${bb.length}); A saw ${ba.slice(-5).map(key).join(' ')}`);
    check(common.some((x) => x.bar < 0), 'no count-in beats (negative bars) were scheduled');
    check(common.some((x) => x.bar >= 0), 'no beats after the count-in were scheduled');
    check(common.every((x) => x.audio && mapB.get(key(x)).audio), 'some beats were not scheduled into Web Audio');
    // Each beat's time is checked against the bpm arithmetic done here by hand (not the app's own
    // code), and the instant each page asked Web Audio to play it against that time on this
    // machine's clock: the room clock is CLOCK_MONOTONIC, which process.hrtime reads too.
    const tempo = await hook(a, () => window.__downbeat.state().tempo);
    const per = tempo.meter.beats;
    const expected = (x) => {
      const k = (x.bar - tempo.anchor.bar) * per + (x.beat - 1);
      return tempo.anchor.t + Number((BigInt(k) * 60_000_000_000n) / BigInt(Math.round(tempo.bpm * 1000)));
    };
    // A page's performance time on CLOCK_MONOTONIC: its performance.now() bracketed by two reads
    // of ours, the tightest of 40 tries (not performance.timeOrigin, which Chromium derives from
    // a wall-clock calibration of its own that can sit milliseconds off).
    const monoMs = () => Number(process.hrtime.bigint()) / 1e6;
    const perfToMono = async (p) => {
      let best = null;
      for (let i = 0; i < 40; i++) {
        const t0 = monoMs();
        const perf = await hook(p, () => performance.now());
        const t1 = monoMs();
        if (!best || t1 - t0 < best.width) best = { width: t1 - t0, offset: (t0 + t1) / 2 - perf };
      }
      return { ...best, timeOrigin: await hook(p, () => performance.timeOrigin) };
    };
    const [mapA, mapB2] = [await perfToMono(a), await perfToMono(b)];
    const monoOf = (x, m) => x.epochMs - m.timeOrigin + m.offset; // the instant asked of Web Audio, on CLOCK_MONOTONIC (ms)
    let maxWall = 0, maxErr = 0;
    for (const x of common) {
      const y = mapB.get(key(x));
      const want = expected(x);
      check(x.anchorTime === want && y.anchorTime === want,
        `beat ${key(x)}: the pages put it at ${x.anchorTime} / ${y.anchorTime} µs, the tempo says ${want} µs`);
      const truthMs = want / 1000;
      maxErr = Math.max(maxErr, Math.abs(monoOf(x, mapA) - truthMs), Math.abs(monoOf(y, mapB2) - truthMs));
      maxWall = Math.max(maxWall, Math.abs(monoOf(x, mapA) - monoOf(y, mapB2)));
    }
    const ca = await hook(a, () => window.__downbeat.clock());
    const cb = await hook(b, () => window.__downbeat.clock());
    log(`     ${common.length} common beats; max spread between the phones ${maxWall.toFixed(3)} ms, ` +
      `max error against the room clock ${maxErr.toFixed(3)} ms (clock mapping ±${(Math.max(mapA.width, mapB2.width) / 2).toFixed(3)} ms); ` +
      `sync ±${(ca.uncertainty / 1000).toFixed(2)} / ±${(cb.uncertainty / 1000).toFixed(2)} ms`);
    check(maxWall <= 2, `beats disagree by ${maxWall.toFixed(3)} ms in real time on one machine (limit 2 ms): clock sync is off`);
    const slack = Math.max(mapA.width, mapB2.width) / 2; // how well this script itself can read a page's clock
    check(maxErr <= 2 + slack, `a page scheduled a beat ${maxErr.toFixed(3)} ms away from when the room clock says it sounds ` +
      `(limit 2 ms + ${slack.toFixed(3)} ms for reading the page's clock)`);
    await expectText(a.page, 'beat-label', /^\d+:\d$/, 'musician A beat indicator');
  });

  await step('screenshots: musician phone and MD console', async () => {
    mkdirSync(shotsDir, { recursive: true });
    await md.page.click('[data-testid="cue-btn-Bridge"]');
    await expectText(a.page, 'cue-banner', /Bridge/, 'musician A');
    for (const p of [a, md]) await p.page.evaluate(() => window.scrollTo(0, 0));
    await sleep(200);
    await a.page.screenshot({ path: join(shotsDir, 'musician-phone.png') });
    await md.page.screenshot({ path: join(shotsDir, 'md-console.png') });
    log(`     wrote ${join(shotsDir, 'musician-phone.png')} and md-console.png`);
    if (process.env.E2E_FULL === '1') { // whole pages, for a person reviewing the layout
      const out = join(webDir, 'e2e/out');
      mkdirSync(out, { recursive: true });
      await a.page.screenshot({ path: join(out, 'musician-full.png'), fullPage: true });
      await md.page.screenshot({ path: join(out, 'md-full.png'), fullPage: true });
      await b.page.setViewportSize({ width: 320, height: 640 });
      await b.page.screenshot({ path: join(out, 'musician-320.png'), fullPage: true });
      await b.page.setViewportSize({ width: 390, height: 844 });
    }
  });

  await step('a forced song change from a musician page is refused by the server (forbidden)', async () => {
    const r = await hook(a, (sl) => window.__downbeat.send('song.current', { setlist: sl, index: 0 }), setlistId);
    check(r?.error?.code === 'forbidden', `expected error forbidden, got ${JSON.stringify(r)}`);
    await sleep(300);
    check((await text(b.page, 'song-title')) === 'Way Maker', 'the song changed although the server said forbidden');
  });

  await step('network drops for musician B: banner, cached set after reload, resume with since', async () => {
    await b.context.setOffline(true);
    await expectText(b.page, 'conn-status', /Offline|Reconnecting/, 'musician B while offline');
    check(await b.page.locator('[data-testid="offline-banner"]').isVisible(), 'no offline banner on musician B');
    await md.page.click('[data-testid="song-prev"]'); // the band moves on while B is away
    await expectText(a.page, 'song-title', 'Amazing Grace', 'musician A');
    // Reload with no network: the service worker serves the app, IndexedDB the last set.
    await b.page.reload();
    await expectText(b.page, 'song-title', 'Way Maker', 'musician B offline after reload (cached state)');
    await sleep(1500); // still offline: nothing may have reached the server
    check((await text(b.page, 'song-title')) === 'Way Maker', 'musician B changed song while offline: the reload was not really offline');
    check(await b.page.locator('[data-testid="offline-banner"]').isVisible(), 'no offline banner after the offline reload');
    check(/Offline|Reconnecting|Connecting/.test(await text(b.page, 'conn-status')), `status after offline reload: ${await text(b.page, 'conn-status')}`);
    check(await b.page.evaluate(() => !!navigator.serviceWorker?.controller), 'the offline reload was not served by the service worker');
    const before = b.sockets.length;
    await b.context.setOffline(false);
    await expectText(b.page, 'conn-status', 'Live', 'musician B back online', 15_000);
    await expectText(b.page, 'song-title', 'Amazing Grace', 'musician B after reconnecting');
    const wsUrl = b.sockets.slice(before).pop() ?? '';
    check(/[?&]since=\d+/.test(wsUrl), `the reconnect did not resume with since: ${wsUrl.replace(/token=[^&]+/, 'token=…')}`);
    const conn = await hook(b, () => window.__downbeat.connection());
    check(conn.resumed === true, `the server did not resume from since (hello.resumed=${conn.resumed}); the client would be fine with a snapshot, but resume was expected`);
    await waitFor(async () => !(await b.page.locator('[data-testid="offline-banner"]').isVisible()), 'the offline banner to go away');
  });

  await step('stop the click', async () => {
    await md.page.click('[data-testid="tempo-stop"]');
    await waitFor(async () => (await hook(b, () => window.__downbeat.state().tempo?.running)) === false, 'musician B to see the tempo stop');
  });

  await step('the MD makes a new viewer code: the QR changes at once, the old code is refused', async () => {
    await md.page.click('[data-testid="qr-role-viewer"]');
    await expectText(md.page, 'qr-url', `${base}/j/${codes.viewer}`, 'MD QR panel (viewer) before the rotation');
    await md.page.click('[data-testid="qr-rotate"]');
    await waitFor(async () => { const t = await text(md.page, 'qr-url'); return t && t !== `${base}/j/${codes.viewer}` && t.startsWith(`${base}/j/`); }, 'the QR to show a new viewer code');
    const fresh = (await text(md.page, 'qr-url')).split('/j/')[1];
    const tryCode = (code) => a.page.evaluate(async (c) => (await fetch('/auth/exchange', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code: c, name: 'Screen', device_id: 'e2e-screen-0001' }) })).status, code);
    check(await tryCode(codes.viewer) === 401, 'the old viewer code still joins after the rotation');
    check(await tryCode(fresh) === 200, 'the new viewer code does not join');
  });

  await step('server unreachable: the room keeps its cached set, joining says what to check', async () => {
    const s = server; server = null;
    s.kill('SIGTERM');
    await new Promise((r) => s.once('exit', r));
    await expectText(b.page, 'conn-status', /Reconnecting|Offline/, 'musician B with the server gone');
    check(await b.page.locator('[data-testid="offline-banner"]').isVisible(), 'no banner on musician B with the server gone');
    check((await text(b.page, 'song-title')) === 'Amazing Grace', 'musician B lost the current song when the server went away');
    await a.page.goto(`${base}/j/SOME-OTHER-CODE`); // served by the service worker
    await a.page.fill('[data-testid="join-name"]', 'Bo');
    await a.page.click('[data-testid="join-submit"]');
    await expectText(a.page, 'join-error', /Can't reach the Downbeat server.*Wi-Fi/s, 'musician A joining with the server down');
  });

  await step('no uncaught errors in the pages', async () => {
    check(pageErrors.length === 0, `page errors:\n  ${pageErrors.join('\n  ')}`);
  });
}

let exitCode = 0;
try {
  await main();
} catch (e) {
  exitCode = 1;
  if (!(e instanceof Fail) && failures === 0) log(`FAIL setup: ${e?.stack ?? e}`);
  log('--- last lines of the server log ---\n' + serverLogTail(dataDir));
  if (pageErrors.length) log('--- page errors ---\n' + pageErrors.join('\n'));
} finally {
  await browser?.close().catch(() => {});
  if (server) { const s = server; server = null; s.kill('SIGTERM'); }
  if (process.env.E2E_KEEP !== '1' && exitCode === 0) rmSync(dataDir, { recursive: true, force: true });
  else log(`# data dir kept: ${dataDir}`);
}
log(exitCode === 0 ? '# web e2e: all passed' : '# web e2e: FAILED');
process.exit(exitCode);
