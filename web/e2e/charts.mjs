#!/usr/bin/env node
// Charts and screens end to end, in real Chromium against a real downbeatd:
//   node e2e/charts.mjs [path/to/downbeatd]
// The MD sets a setlist key (D) other than the song's (C) and moves to the bridge; a piano page,
// a capo-2 guitar page and an alto-sax (E♭) page each show the bridge highlighted in their chords;
// cues stay pinned (and survive a reload); charts come on demand and a reload with the server
// stopped still shows the current one; the stage display shows
// the current and next song; the tech view shows link health. Every screen is checked at phone
// (390 × 844), tablet (768 × 1024, both ways) and TV (1920 × 1080) sizes: no character without an
// installed font, nothing under the sticky header, no sideways scrolling.
// Env: CHROMIUM (default /usr/bin/chromium), UPDATE_SCREENSHOTS=1 (write docs/screenshots/), E2E_KEEP=1.
import { chromium } from 'playwright-core';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Fail, check, sleep, waitFor as waitUntil } from '../../tests/integration/lib/wait.mjs';
import { webDir, serverBin, chromiumPath, shotsDir, checkSetup, createRoom, serve, serverLogTail, text, expectText, joinRoom, hook, send } from './harness.mjs';


const T = 10_000;
const waitFor = (fn, what, timeout = T) => waitUntil(fn, what, timeout);
const SIZES = {
  phone: { width: 390, height: 844 },
  'tablet-portrait': { width: 768, height: 1024 },
  'tablet-landscape': { width: 1024, height: 768 },
  tv: { width: 1920, height: 1080 },
};
let failures = 0;
let passed = 0;
let server = null;
const browsers = [];
const dataDir = mkdtempSync(join(tmpdir(), 'downbeat-e2e-charts-'));
const pageErrors = [];

function log(msg) { process.stdout.write(msg + '\n'); }

async function step(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    passed++;
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
  const { codes } = createRoom(serverBin, dataDir, 'Sunday Band');
  const { proc, url } = await serve({ serverBin, dataDir, webRoot: join(webDir, 'dist'), onExit: onServerExit });
  server = proc;
  return { url, codes };
}

async function launch(extra = []) {
  const b = await chromium.launch({
    executablePath: chromiumPath,
    headless: process.env.E2E_HEADFUL !== '1',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', ...extra],
  });
  browsers.push(b);
  return b;
}

async function newPage(browser, name, size, mobile) {
  const context = await browser.newContext({
    viewport: SIZES[size] ?? size, deviceScaleFactor: 1, isMobile: mobile, hasTouch: mobile,
    userAgent: mobile ? 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126 Mobile Safari/537.36' : undefined,
  });
  const page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(`${name}: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error' && !/Failed to load resource|ERR_INTERNET_DISCONNECTED|WebSocket connection/.test(m.text())) pageErrors.push(`${name} console: ${m.text()}`); });
  return { name, context, page };
}

async function mustSend(md, type, data) {
  const r = await send(md, type, data);
  check(!r?.error, `${type} ${JSON.stringify(data)} was refused: ${JSON.stringify(r?.error)}`);
  return r;
}

// ---- checks every screen gets -------------------------------------------------------------

const fontCache = new Map();
function hasFont(cp) {
  if (!fontCache.has(cp)) {
    const out = execFileSync('fc-list', [`:charset=${cp.toString(16)}`], { encoding: 'utf8' });
    fontCache.set(cp, out.trim().length > 0);
  }
  return fontCache.get(cp);
}

/** Fails when a character on the page has no installed font (it would draw as a box). */
async function checkGlyphs(p, where) {
  const all = await hook(p, () => document.body.innerText + ' ' +
    [...document.querySelectorAll('input, textarea')].map((e) => e.value + ' ' + (e.placeholder ?? '')).join(' ') + ' ' +
    [...document.querySelectorAll('option')].map((o) => o.textContent).join(' '));
  const skipCp = /[\s\p{Cc}\p{Default_Ignorable_Code_Point}]/u;
  const cps = [...new Set([...all].filter((c) => !skipCp.test(c)).map((c) => c.codePointAt(0)))];
  const missing = cps.filter((cp) => !hasFont(cp));
  check(missing.length === 0, `${where}: no installed font has ${missing.map((cp) => `U+${cp.toString(16).toUpperCase().padStart(4, '0')} "${String.fromCodePoint(cp)}"`).join(', ')} (add a Debian font package to scripts/install-deps.sh)`);
  return cps.length;
}

/** No sideways scrolling: the page fits the screen's width. */
async function checkWidth(p, where) {
  const r = await hook(p, () => ({ sw: document.scrollingElement.scrollWidth, w: window.innerWidth }));
  check(r.sw <= r.w + 1, `${where}: the page is ${r.sw} px wide on a ${r.w} px screen (sideways scrolling)`);
}

/** The current chart section sits fully below the sticky header, which is opaque and drawn above the chart. */
async function checkHeader(p, where, { scrolledByApp = true } = {}) {
  const r = await hook(p, () => {
    const st = document.querySelector('.m-sticky');
    const cur = document.querySelector('[data-testid="chart-section"][aria-current="true"]');
    if (!st || !cur) return { missing: !st ? 'the sticky header' : 'a highlighted section' };
    const sb = st.getBoundingClientRect();
    const cb = cur.getBoundingClientRect();
    const foreign = [];
    for (const x of [sb.left + 4, (sb.left + sb.right) / 2, sb.right - 4]) {
      for (const y of [sb.top + 2, (sb.top + sb.bottom) / 2, sb.bottom - 2]) {
        const e = document.elementFromPoint(x, y);
        if (e && !st.contains(e)) foreign.push(`${e.tagName.toLowerCase()}.${e.className}`);
      }
    }
    // Everything in the chart that shows on screen starts below the header or is behind it.
    const lines = [...document.querySelectorAll('[data-testid="chart-section"][aria-current="true"] .cp-line, [data-testid="chart-section"][aria-current="true"] h4')]
      .map((e) => e.getBoundingClientRect()).filter((b) => b.top < sb.bottom && b.bottom > sb.top).length;
    const se = document.scrollingElement;
    return {
      top: sb.top, bottom: sb.bottom, curTop: cb.top, bg: getComputedStyle(st).backgroundColor, foreign, lines,
      atEnd: se.scrollTop + innerHeight >= se.scrollHeight - 2, vh: innerHeight,
    };
  });
  check(!r.missing, `${where}: no ${r.missing}`);
  const alpha = /rgba\([^)]*,\s*([\d.]+)\)/.exec(r.bg);
  check(r.bg !== 'transparent' && (!alpha || Number(alpha[1]) === 1), `${where}: the sticky header is see-through (background ${r.bg})`);
  check(r.foreign.length === 0, `${where}: page content is drawn over the sticky header: ${r.foreign.join(', ')}`);
  check(r.lines === 0, `${where}: ${r.lines} line(s) of the highlighted section lie under the sticky header`);
  check(r.curTop >= r.bottom - 1, `${where}: the highlighted section starts ${Math.round(r.bottom - r.curTop)} px under the sticky header`);
  check(r.curTop < r.vh - 40, `${where}: the highlighted section is not on screen (top at ${Math.round(r.curTop)} of ${r.vh})`);
  if (scrolledByApp && !r.atEnd) check(r.curTop - r.bottom < 40, `${where}: the highlighted section was not scrolled up to the header (${Math.round(r.curTop - r.bottom)} px below it)`);
}

async function chordsNow(p) {
  return p.page.$$eval('[data-testid="chart-section"][aria-current="true"] [data-testid="chord"]', (els) => els.map((e) => e.textContent.trim()));
}

async function shot(p, file) {
  mkdirSync(shotsDir, { recursive: true });
  await p.page.screenshot({ path: join(shotsDir, file) });
}

// ---- the scenario -----------------------------------------------------------------------

const CHART = `{title: Grace Road}
{key: C}
{start_of_verse: Verse 1}
[C]Walking down the [F]grace road
[Am]Every step is [G]home
{end_of_verse}
{start_of_chorus}
[F]Lift it [C]up, [G]lift it [Am]up
[F]Sing it [C]out, [G]all the way [C]home
{end_of_chorus}
{start_of_verse: Verse 2}
[C]Lanterns in the [F]window
[Am]Nobody [G]walks alone
{end_of_verse}
{start_of_chorus}
[F]Lift it [C]up, [G]lift it [Am]up
[F]Sing it [C]out, [G]all the way [C]home
{end_of_chorus}
{start_of_bridge}
[F]Oh, and the [G]night is long
[Am]But the [C/E]morning comes
[F]Hold on, [G]hold on
{end_of_bridge}
{start_of_chorus}
[F]Lift it [C]up, [G]lift it [Am]up
{end_of_chorus}
{c: Outro}
[C]All the way [F]home [C]
`;
// The bridge in D (the setlist key): piano reads it in D, capo-2 guitar in C shapes, E♭ alto sax in B.
const BRIDGE = {
  piano: ['G', 'A', 'Bm', 'D/F#', 'G', 'A'],
  guitar: ['F', 'G', 'Am', 'C/E', 'F', 'G'],
  sax: ['E', 'F#', 'G#m', 'B/D#', 'E', 'F#'],
};

async function main() {
  const { url: base, codes } = await startServer();
  log(`# downbeatd at ${base}, data dir ${dataDir}`);
  const browser = await launch(['--autoplay-policy=no-user-gesture-required']);
  const md = await newPage(browser, 'MD', { width: 1366, height: 900 }, false);
  const piano = await newPage(browser, 'piano (phone)', 'phone', true);
  const guitar = await newPage(browser, 'guitar (tablet portrait)', 'tablet-portrait', true);
  const sax = await newPage(browser, 'alto sax (tablet landscape)', 'tablet-landscape', true);
  const stage = await newPage(browser, 'stage (TV)', 'tv', false);
  const tech = await newPage(browser, 'tech (tablet)', 'tablet-landscape', true);
  const musicians = [piano, guitar, sax];
  let setlistId = null;
  let songId = null;

  await step('join: MD, three musicians, a stage display and a tech', async () => {
    await joinRoom(md, base, codes.md, 'Mia');
    await joinRoom(piano, base, codes.musician, 'Pia');
    await joinRoom(guitar, base, codes.musician, 'Gus');
    await joinRoom(sax, base, codes.musician, 'Sam');
    await joinRoom(stage, base, codes.viewer, 'Stage TV');
    await joinRoom(tech, base, codes.tech, 'Tess');
  });

  await step('MD: a song in C, a setlist that plays it in D, slots for piano, capo-2 guitar and E♭ alto sax', async () => {
    await mustSend(md, 'song.create', { title: 'Grace Road', artist: 'The Band', key: 'C', bpm: 72, meter: { beats: 4, unit: 4 }, chordpro: CHART });
    await mustSend(md, 'song.create', { title: 'Morning Song', key: 'G', bpm: 96, meter: { beats: 3, unit: 4 }, chordpro: '{soc}\n[G]Morning [D]has [C]come\n{eoc}' });
    const songs = await waitFor(async () => { const s = await hook(md, () => window.__downbeat.state().songs); return s.length === 2 && s; }, 'the two songs in the MD state');
    songId = songs.find((s) => s.title === 'Grace Road').id;
    const second = songs.find((s) => s.title === 'Morning Song').id;
    await mustSend(md, 'setlist.update', { title: 'Sunday', items: [{ song: songId, key: 'D', notes: 'Soft start, build into the bridge' }, { song: second, notes: 'Straight in, no intro' }] });
    setlistId = await waitFor(() => hook(md, () => window.__downbeat.state().setlists[0]?.id), 'the setlist');
    // Slots with the instrument's pitch and a capo.
    await mustSend(md, 'slot.create', { name: 'Guitar', instrument: 'guitar', group: 'band', capo: 2 });
    await mustSend(md, 'slot.create', { name: 'Keys', instrument: 'piano', group: 'band', pitch: 'C' });
    await mustSend(md, 'slot.create', { name: 'Alto sax', instrument: 'alto sax', group: 'band', pitch: 'Eb' });
    const slots = await waitFor(async () => { const s = await hook(md, () => window.__downbeat.state().slots); return s.length === 3 && s; }, 'three slots');
    const id = (n) => slots.find((s) => s.name === n).id;
    await mustSend(md, 'slot.assign', { slot: id('Keys'), participant: piano.id });
    await mustSend(md, 'slot.assign', { slot: id('Guitar'), participant: guitar.id });
    await mustSend(md, 'slot.assign', { slot: id('Alto sax'), participant: sax.id });
    await expectText(guitar.page, 'my-slot', 'Guitar', 'guitar page');
    await expectText(sax.page, 'my-slot', 'Alto sax', 'sax page');
  });

  await step('MD goes live in D and moves to the bridge: each page highlights the bridge in its own chords', async () => {
    await mustSend(md, 'song.current', { setlist: setlistId, index: 0 });
    await expectText(piano.page, 'song-title', 'Grace Road', 'piano page');
    await mustSend(md, 'song.current', { setlist: setlistId, index: 0, section: 'Bridge' });
    for (const [p, want] of [[piano, BRIDGE.piano], [guitar, BRIDGE.guitar], [sax, BRIDGE.sax]]) {
      await waitFor(async () => (await p.page.locator('[data-testid="chart-section"][aria-current="true"]').getAttribute('data-section').catch(() => null)) === 'Bridge',
        `${p.name}: the bridge highlighted`);
      const got = await chordsNow(p);
      check(JSON.stringify(got) === JSON.stringify(want), `${p.name}: the bridge reads ${got.join(' ')}, expected ${want.join(' ')}`);
      await checkHeader(p, `${p.name} after the MD moved to the bridge`);
    }
    await expectText(piano.page, 'song-key', 'D', 'piano page (setlist key D over song key C)');
    await expectText(piano.page, 'song-section', 'Bridge', 'piano page sticky bar');
    // Capo 2 in D: the key is D, the shapes C.
    await expectText(guitar.page, 'song-key', 'D', 'guitar page');
    await expectText(sax.page, 'song-key', 'B', 'sax page (E♭ alto in D concert reads B)');
    await expectText(guitar.page, 'key-how', /Capo 2 · shapes C/, 'guitar page key line');
    await expectText(sax.page, 'key-how', /E♭ instrument.*concert D/, 'sax page key line');
    // Song, key, bar:beat and Talk stay in the sticky bar; the setlist shows each item's notes.
    for (const p of musicians) {
      const inBar = await hook(p, () => ['song-title', 'song-key', 'bar-beat', 'bar-talk'].filter((id) => {
        const e = document.querySelector(`[data-testid="${id}"]`);
        return !e || !document.querySelector('.m-sticky').contains(e) || e.getBoundingClientRect().height === 0;
      }));
      check(inBar.length === 0, `${p.name}: not in the sticky bar: ${inBar.join(', ')}`);
    }
    await expectText(piano.page, 'setlist-notes', 'Soft start, build into the bridge', 'piano setlist (item notes)');
    await expectText(stage.page, 'stage-notes', 'Soft start, build into the bridge', 'stage display (item notes)');
    // The stage display shows the concert key of the setlist.
    await expectText(stage.page, 'stage-key', 'D', 'stage display');
    await expectText(stage.page, 'stage-section', 'Bridge', 'stage display');
  });

  await step('font size, columns and Nashville numbers are kept per device across a reload', async () => {
    const size = () => hook(piano, () => parseFloat(getComputedStyle(document.querySelector('[data-testid="chart-body"]')).fontSize));
    const before = await size();
    await piano.page.click('[data-testid="chart-bigger"]');
    await piano.page.click('[data-testid="chart-bigger"]');
    const bigger = await size();
    check(bigger > before * 1.1, `A+ twice made the chart text ${before} → ${bigger} px`);
    await piano.page.click('[data-testid="chart-columns"]'); // auto → 1
    await piano.page.click('[data-testid="chart-columns"]'); // 1 → 2
    await piano.page.click('[data-testid="chart-nashville"]');
    const nash = await chordsNow(piano);
    check(JSON.stringify(nash) === JSON.stringify(['4', '5', '6m', '1/3', '4', '5']), `Nashville bridge in D reads ${nash.join(' ')}`);
    await piano.page.reload();
    await expectText(piano.page, 'conn-status', 'Live', 'piano page after reload');
    await waitFor(async () => (await piano.page.locator('[data-testid="chart-section"][aria-current="true"]').count()) === 1, 'piano: the highlighted section after reload');
    check(Math.abs((await size()) - bigger) < 0.5, `the font size was not kept: ${bigger} → ${await size()} px`);
    check((await piano.page.getAttribute('[data-testid="chart-columns"]', 'data-columns')) === '2', 'two columns were not kept');
    const cols = await hook(piano, () => getComputedStyle(document.querySelector('[data-testid="chart-body"]')).columnCount);
    check(cols === '2', `the chart body has column-count ${cols} with two columns chosen`);
    check(JSON.stringify(await chordsNow(piano)) === JSON.stringify(['4', '5', '6m', '1/3', '4', '5']), 'Nashville numbers were not kept');
    await checkHeader(piano, 'piano page after reload');
    // Back to letters, one size smaller than chosen, automatic columns: for the screenshots.
    await piano.page.click('[data-testid="chart-nashville"]');
    await piano.page.click('[data-testid="chart-columns"]');
    await piano.page.click('[data-testid="chart-smaller"]');
  });

  await step('a cue is pinned on top, large and coloured; a group cue reaches only its group; dismissing is remembered', async () => {
    const r = await mustSend(md, 'cue', { text: 'Big ending', color: 'red' });
    check(r?.seq !== undefined, `the cue ack carries no seq (cues are durable): ${JSON.stringify(r)}`);
    for (const p of [...musicians, stage, tech]) await expectText(p.page, 'cue-text', 'Big ending', p.name);
    const pin = await hook(piano, () => {
      const c = document.querySelector('[data-testid="cue-banner"]');
      const st = document.querySelector('.m-sticky');
      window.scrollTo(0, document.scrollingElement.scrollHeight);
      const b = c.getBoundingClientRect();
      return { inSticky: st.contains(c), top: b.top, size: parseFloat(getComputedStyle(c.querySelector('.cue-text')).fontSize), cls: c.className };
    });
    check(pin.inSticky && pin.top >= 0 && pin.top < 200, `the cue is not pinned on top when scrolled: ${JSON.stringify(pin)}`);
    check(pin.size >= 28, `the cue text is ${pin.size} px: not large`);
    check(/cue-red/.test(pin.cls), `the cue is not red: ${pin.cls}`);
    await sleep(13_000); // a cue stays until it is replaced, cleared or dismissed
    check(await piano.page.locator('[data-testid="cue-banner"]').isVisible(), 'the cue went away by itself');
    await mustSend(md, 'cue', { text: 'Check mic 3', color: 'orange', group: 'tech' });
    await expectText(tech.page, 'cue-banner', /Check mic 3/, 'tech page (group tech)');
    await sleep(500);
    for (const p of musicians) {
      const shown = await p.page.locator('[data-testid="cue-text"]').allInnerTexts();
      check(!shown.some((t) => /Check mic/.test(t)), `${p.name} shows the tech group's cue`);
    }
    await guitar.page.click('[data-testid="cue-dismiss"]');
    await waitFor(async () => (await guitar.page.locator('[data-testid="cue-banner"]').count()) === 0, 'the guitar page to drop the dismissed cue');
    check(await sax.page.locator('[data-testid="cue-banner"]').isVisible(), 'dismissing on one device removed the cue on another');
    await piano.page.reload();
    await expectText(piano.page, 'cue-text', 'Big ending', 'piano page after a reload (cue from the snapshot)');
    await guitar.page.reload();
    await expectText(guitar.page, 'conn-status', 'Live', 'guitar page after reload');
    await sleep(1000);
    check((await guitar.page.locator('[data-testid="cue-banner"]').count()) === 0, 'a dismissed cue came back after a reload');
  });

  await step('the tech view: link health for everyone, cues to the tech group only, no music controls', async () => {
    await waitFor(async () => (await tech.page.locator('[data-testid="health-row"]').count()) === 6, 'six people in the tech health table');
    for (const id of ['song-next', 'tempo-start', 'slot-create', 'setlist-save', 'cue-send']) {
      check((await tech.page.locator(`[data-testid="${id}"]`).count()) === 0, `the tech view shows the MD control ${id}`);
    }
    await tech.page.fill('[data-testid="tech-cue-text"]', 'Monitor 2 is back');
    await tech.page.click('[data-testid="tech-cue-send"]');
    const msg = await waitFor(() => text(tech.page, 'tech-cue-msg'), 'a reply to the tech cue');
    check(/Sent/.test(msg), `the tech cue was not sent: ${msg}`);
    await expectText(tech.page, 'cue-text', /Monitor 2 is back/, 'tech page');
    await sleep(500);
    for (const p of musicians) check(!(await p.page.locator('[data-testid="cue-text"]').allInnerTexts()).some((t) => /Monitor 2/.test(t)), `${p.name} shows a tech cue`);
  });

  await step('the stage display: current and next song, a clock, nothing to claim, no errors, only the audio control', async () => {
    await expectText(stage.page, 'stage-song', 'Grace Road', 'stage display');
    await expectText(stage.page, 'stage-next', 'Morning Song', 'stage display');
    await expectText(stage.page, 'stage-clock', /^\d\d:\d\d$/, 'stage display');
    const buttons = await stage.page.locator('button').evaluateAll((bs) => bs.filter((b) => b.offsetParent !== null).map((b) => b.dataset.testid ?? b.textContent));
    check(JSON.stringify(buttons) === '["click-toggle"]', `the stage display has controls besides audio: ${JSON.stringify(buttons)}`);
    check((await stage.page.locator('.error, [data-testid="claim-slot"]').count()) === 0, 'the stage display shows an error or slot claiming');
    const fit = await hook(stage, () => ({ h: document.scrollingElement.scrollHeight, vh: innerHeight }));
    check(fit.h <= fit.vh + 1, `the stage display scrolls on a 1920 × 1080 TV (${fit.h} px tall)`);
    const title = await hook(stage, () => parseFloat(getComputedStyle(document.querySelector('[data-testid="stage-song"]')).fontSize));
    check(title >= 80, `the song title on the TV is ${title} px: not readable across a room`);
  });

  await step('the click and the bar counter: bar:beat in the sticky bar; the next song starts at bar 1', async () => {
    await piano.page.click('[data-testid="click-toggle"]');
    await waitFor(async () => (await piano.page.getAttribute('[data-testid="click-toggle"]', 'aria-pressed')) === 'true', 'the piano click to start');
    await mustSend(md, 'tempo.set', { bpm: 150 });
    await mustSend(md, 'tempo.start', { count_in_bars: 0 });
    await expectText(piano.page, 'bar-beat', /^\d+:\d$/, 'piano sticky bar');
    await sleep(3500); // a couple of bars into song 1
    await mustSend(md, 'song.current', { setlist: setlistId, index: 1 });
    await expectText(stage.page, 'stage-song', 'Morning Song', 'stage display');
    await expectText(stage.page, 'stage-next', 'End of the set', 'stage display on the last song');
    // The server loads the song's tempo (96 bpm, 3/4) with the song change and starts at bar 1.
    await waitFor(async () => (await hook(piano, () => window.__downbeat.state().tempo?.bpm)) === 96, 'the click to take song 2\'s 96 bpm');
    await expectText(piano.page, 'bar-beat', /^(1|2):\d$/, 'piano sticky bar at the top of song 2', 4000);
    const meter = await hook(piano, () => window.__downbeat.state().tempo?.meter);
    check(meter?.beats === 3, `song 2 is in 3/4 but the click runs ${JSON.stringify(meter)}`);
  });

  await step('the click stays armed across a reload', async () => {
    await piano.page.reload();
    await expectText(piano.page, 'conn-status', 'Live', 'piano page after reload');
    await waitFor(async () => (await piano.page.getAttribute('[data-testid="click-toggle"]', 'aria-pressed')) === 'true', 'the click to come back on by itself after the reload');
    // A browser that insists on a gesture: one big, plain button.
    const strict = await launch(['--autoplay-policy=document-user-activation-required']);
    const drum = await newPage(strict, 'drums (strict autoplay)', 'phone', true);
    await joinRoom(drum, base, codes.musician, 'Dru');
    await drum.page.click('[data-testid="click-toggle"]');
    await waitFor(async () => (await drum.page.getAttribute('[data-testid="click-toggle"]', 'aria-pressed')) === 'true', 'the drum click to start');
    // A new tab of the same phone (no tap on it yet) opens the room where the click was on.
    const tab = await drum.context.newPage();
    tab.on('pageerror', (e) => pageErrors.push(`drum tab: ${e.message}`));
    await drum.page.close();
    drum.page = tab;
    await tab.goto(base);
    // Only locator reads from here on: page.evaluate runs as a user gesture and would unlock audio.
    await expectText(drum.page, 'conn-status', 'Live', 'drum page in a new tab');
    // Either this Chromium lets the click start again by itself, or the page asks for one tap, plainly.
    const how = await waitFor(async () => {
      if ((await drum.page.locator('[data-testid="click-rearm"]').count()) === 1) return 'asks';
      if ((await drum.page.getAttribute('[data-testid="click-toggle"]', 'aria-pressed')) === 'true') return 'by itself';
      return null;
    }, 'the drum click to come back on, or a "Tap to turn the click back on" button');
    if (how === 'asks') {
      await expectText(drum.page, 'click-rearm', 'Tap to turn the click back on', 'drum page in a new tab without a tap');
      await drum.page.click('[data-testid="click-rearm"]');
      await waitFor(async () => (await drum.page.getAttribute('[data-testid="click-toggle"]', 'aria-pressed')) === 'true', 'one tap to turn the click back on');
      check((await drum.page.locator('[data-testid="click-rearm"]').count()) === 0, 'the "tap to turn the click back on" button stays after the tap');
    } else {
      log('     this Chromium let the click start again without a tap');
    }
    await drum.context.close();
  });

  await step('every screen at phone, tablet (both ways) and TV sizes: fonts for every character, nothing under the header, no sideways scroll', async () => {
    await mustSend(md, 'song.current', { setlist: setlistId, index: 0 });
    await mustSend(md, 'song.current', { setlist: setlistId, index: 0, section: 'Bridge' });
    await mustSend(md, 'cue', { text: 'Key change to E♭ next', color: 'yellow' });
    let chars = 0;
    for (const p of [piano, guitar, sax, tech, stage]) {
      for (const [size, vp] of Object.entries(SIZES)) {
        await p.page.setViewportSize(vp);
        await sleep(250);
        const where = `${p.name} at ${size} ${vp.width}×${vp.height}`;
        chars = Math.max(chars, await checkGlyphs(p, where));
        await checkWidth(p, where);
        if (musicians.includes(p)) {
          // The MD moves again at this size: the page follows and the section lands below the header.
          await mustSend(md, 'song.current', { setlist: setlistId, index: 0, section: 'Chorus' });
          await waitFor(async () => (await p.page.getAttribute('[data-testid="chart-section"][aria-current="true"]', 'data-section').catch(() => null)) === 'Chorus', `${where}: the chorus highlighted`);
          await mustSend(md, 'song.current', { setlist: setlistId, index: 0, section: 'Bridge' });
          await waitFor(async () => (await p.page.getAttribute('[data-testid="chart-section"][aria-current="true"]', 'data-section').catch(() => null)) === 'Bridge', `${where}: the bridge highlighted`);
          await sleep(150);
          await checkHeader(p, where);
        }
      }
    }
    // Landscape uses the width: the chart is in columns there.
    await sax.page.setViewportSize(SIZES['tablet-landscape']);
    await sleep(200);
    const cols = await hook(sax, () => getComputedStyle(document.querySelector('[data-testid="chart-body"]')).columnCount);
    check(Number(cols) >= 2, `the chart has column-count ${cols} on a landscape tablet`);
    log(`     ${chars} distinct characters on the busiest screen, all with an installed font`);
  });

  await step('screenshots: the chart on phone and tablets, the stage display, the tech view', async () => {
    const sizes = [[piano, 'phone', 'chart-phone.png'], [guitar, 'tablet-portrait', 'chart-guitar-tablet.png'], [sax, 'tablet-landscape', 'chart-sax-landscape.png'],
      [stage, 'tv', 'stage-tv.png'], [tech, 'tablet-landscape', 'tech-tablet.png']];
    for (const [p, size] of sizes) await p.page.setViewportSize(SIZES[size]);
    await mustSend(md, 'song.current', { setlist: setlistId, index: 0, section: 'Chorus' });
    await mustSend(md, 'song.current', { setlist: setlistId, index: 0, section: 'Bridge' });
    await sleep(400);
    for (const p of [tech]) await hook(p, () => window.scrollTo(0, 0));
    for (const [p, , file] of sizes) await shot(p, file);
    log(`     wrote ${sizes.map((x) => x[2]).join(', ')} to ${shotsDir}`);
  });

  await step('Leave asks first, and says the QR code is needed to come back', async () => {
    await piano.page.setViewportSize(SIZES.phone);
    const btn = piano.page.locator('[data-testid="leave"]');
    await btn.scrollIntoViewIfNeeded();
    const box = await btn.boundingBox();
    check(box.height >= 44 && box.width >= 200, `the Leave button is ${Math.round(box.width)} × ${Math.round(box.height)} px`);
    const nearPills = await hook(piano, () => {
      const l = document.querySelector('[data-testid="leave"]').getBoundingClientRect();
      const s = document.querySelector('[data-testid="conn-status"]').getBoundingClientRect();
      return Math.abs(l.top - s.top) < 100 && Math.abs(l.left - s.left) < 300;
    });
    check(!nearPills, 'Leave sits next to the status pills');
    await btn.click();
    await expectText(piano.page, 'leave-dialog', /Leave the room\?\s*You will need the QR code to come back/, 'the leave dialog');
    await piano.page.click('[data-testid="leave-cancel"]');
    await sleep(300);
    check(!(await piano.page.locator('[data-testid="leave-dialog"]').isVisible()), 'the leave dialog stays after "Stay"');
    await expectText(piano.page, 'conn-status', 'Live', 'piano page after "Stay"');
    await btn.click();
    await piano.page.click('[data-testid="leave-confirm"]');
    await waitFor(async () => (await piano.page.locator('[data-testid="join-submit"]').count()) === 1, 'the join page after leaving');
  });

  await step('charts come on demand and stay: with the server stopped, a reload still shows the current chart', async () => {
    // The snapshot and the song events carry no chart: the page fetched the current song's and
    // prefetched the rest of the setlist (GET /api/room/songs/<id>).
    const state = await hook(guitar, () => window.__downbeat.state());
    check(state.songs.every((x) => !('chordpro' in x) && x.body_bytes > 0), `songs in the state carry charts: ${JSON.stringify(state.songs)}`);
    const setlistSongs = state.setlists.find((x) => x.id === setlistId).items.map((i) => i.song);
    await waitFor(async () => {
      const b = await hook(guitar, () => window.__downbeat.state().bodies);
      return setlistSongs.every((id) => typeof b[id]?.chordpro === 'string');
    }, 'guitar: every chart of the setlist fetched');
    await mustSend(md, 'song.current', { setlist: setlistId, index: 0, section: 'Bridge' });
    await waitFor(async () => (await guitar.page.getAttribute('[data-testid="chart-section"][aria-current="true"]', 'data-section').catch(() => null)) === 'Bridge', 'guitar: the bridge highlighted');
    const before = await chordsNow(guitar);
    await sleep(1200); // the room state (charts included) is saved half a second after a change
    const s = server;
    server = null;
    s.kill('SIGTERM');
    await new Promise((r) => s.once('exit', r));
    await guitar.page.reload();
    await expectText(guitar.page, 'song-title', 'Grace Road', 'guitar page reloaded without the server');
    await waitFor(async () => (await guitar.page.locator('[data-testid="chart-section"]').count()) > 0, 'guitar: the chart after a reload without the server');
    await waitFor(async () => (await guitar.page.getAttribute('[data-testid="chart-section"][aria-current="true"]', 'data-section').catch(() => null)) === 'Bridge', 'guitar: the bridge highlighted offline');
    const after = await chordsNow(guitar);
    check(JSON.stringify(after) === JSON.stringify(before), `guitar offline reads ${after.join(' ')}, online it read ${before.join(' ')}`);
    check((await guitar.page.locator('[data-testid="chart-loading"]').count()) === 0, 'guitar offline: still "loading chart…"');
    check(!/Live/.test(await text(guitar.page, 'conn-status') ?? ''), 'the reload was not really without the server');
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
  if (!(e instanceof Fail) && failures === 0) { failures++; log(`FAIL setup: ${e?.stack ?? e}`); }
  log('--- last lines of the server log ---\n' + serverLogTail(dataDir));
  if (pageErrors.length) log('--- page errors ---\n' + pageErrors.join('\n'));
} finally {
  for (const b of browsers) await b.close().catch(() => {});
  if (server) { const s = server; server = null; s.kill('SIGTERM'); }
  if (process.env.E2E_KEEP !== '1' && exitCode === 0) rmSync(dataDir, { recursive: true, force: true });
  else log(`# data dir kept: ${dataDir}`);
}
log(`${passed} passed, ${failures} failed`);
process.exit(exitCode);
