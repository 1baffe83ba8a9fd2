#!/usr/bin/env node
// End-to-end test of the MD console "for one hand on a tablet", in real Chromium against a real
// downbeatd: 768×1024 portrait and landscape and a 1280×800 laptop. A musician page is the second
// client that must see what the console did.
//   node e2e/console.mjs [path/to/downbeatd]
// Env: CHROMIUM (default /usr/bin/chromium), E2E_HEADFUL=1, E2E_KEEP=1, UPDATE_SCREENSHOTS=1
// (write the README screenshots into docs/screenshots; otherwise into web/e2e/out).
import { chromium } from 'playwright-core';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Fail, check, sleep, waitFor as waitUntil } from '../../tests/integration/lib/wait.mjs';
import { webDir, serverBin, chromiumPath, shotsDir, checkSetup, createRoom, serve, serverLogTail } from './harness.mjs';


const T = 10_000;
const waitFor = (fn, what, timeout = T) => waitUntil(fn, what, timeout);
let failures = 0, passed = 0;
let server = null;
let browser = null;
const dataDir = mkdtempSync(join(tmpdir(), 'downbeat-e2e-console-'));
const pageErrors = [];
const log = (msg) => process.stdout.write(msg + '\n');

async function step(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    passed++;
    log(`ok   ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    failures++;
    log(`FAIL ${name}: ${e instanceof Fail ? e.message : (e?.stack ?? e)}`);
  }
}

function onServerExit(code, sig) {
  if (server) log(`downbeatd exited (code ${code}, signal ${sig})`);
  server = null;
}

async function startServer() {
  checkSetup({ serverBin, chromiumPath, webRoot: join(webDir, 'dist') });
  const { codes, room } = createRoom(serverBin, dataDir, 'Console E2E');
  const { proc, url } = await serve({ serverBin, dataDir, webRoot: join(webDir, 'dist'), onExit: onServerExit });
  server = proc;
  return { url, codes, room };
}

async function newPage(name, viewport, touch) {
  const context = await browser.newContext({ viewport, deviceScaleFactor: 1, hasTouch: touch });
  const page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(`${name}: ${e.message}${process.env.E2E_STACKS ? '\n' + e.stack : ''}`));
  page.on('console', (m) => { if (m.type() === 'error' && !/Failed to load resource|WebSocket connection/.test(m.text())) pageErrors.push(`${name} console: ${m.text()}`); });
  return { name, context, page };
}

const tid = (id) => `[data-testid="${id}"]`;
const hook = (p, fn, arg) => p.page.evaluate(fn, arg);
const send = (p, type, data) => hook(p, ([t, d]) => window.__downbeat.send(t, d), [type, data]);
const state = (p) => hook(p, () => window.__downbeat.state());

async function joinRoom(p, base, code, name) {
  await p.page.goto(`${base}/j/${code}`);
  await p.page.fill(tid('join-name'), name);
  await p.page.click(tid('join-submit'));
  await waitFor(async () => (await p.page.locator(tid('conn-status')).first().innerText().catch(() => '')).trim() === 'Live', `${p.name} to be Live`);
}

async function toastText(p) {
  return (await p.page.locator(tid('toast')).allInnerTexts()).join(' | ');
}

/** Fully inside the viewport at the current scroll (a user sees it without scrolling). */
async function aboveFold(p, selector) {
  const box = await p.page.locator(selector).first().boundingBox();
  const vp = p.page.viewportSize();
  return box && box.y >= 0 && box.y + box.height <= vp.height && box.x >= 0 && box.x + box.width <= vp.width ? box : null;
}

async function pressKey(p, key) {
  await p.page.evaluate(() => document.activeElement?.blur?.());
  await p.page.keyboard.press(key);
}

const CHART_ALPHA = '{title: Alpha}\n{start_of_verse: Verse 1}\n[C]Morning [F]light on the [G]water\n{end_of_verse}\n' +
  '{start_of_chorus}\n[Am]Carry me [F]home\n{end_of_chorus}\n{start_of_bridge}\n[Dm]Over the [G]hill\n{end_of_bridge}';

async function main() {
  const { url: base, codes, room } = await startServer();
  log(`# downbeatd at ${base}, data dir ${dataDir}`);
  browser = await chromium.launch({
    executablePath: chromiumPath, headless: process.env.E2E_HEADFUL !== '1',
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream'],
  });
  mkdirSync(shotsDir, { recursive: true });
  const md = await newPage('MD tablet', { width: 768, height: 1024 }, true);
  const ben = await newPage('musician Ben', { width: 390, height: 844 }, true);
  await joinRoom(md, base, codes.md, 'Mia');
  await joinRoom(ben, base, codes.musician, 'Ben');

  let songs = {}, setlistId = null, slots = {};
  await step('setup: three songs, a setlist with a key override, slots Keys and Drums (Ben on Drums)', async () => {
    for (const [title, key, bpm, beats, unit, chordpro] of [
      ['Alpha', 'C', 100, 4, 4, CHART_ALPHA], ['Bravo', 'G', 128, 6, 8, '{soc}\n[G]Bravo [D]chorus\n{eoc}'], ['Charlie', 'E', 90, 3, 4, '[E]Charlie'],
    ]) {
      const r = await send(md, 'song.create', { title, key, bpm, meter: { beats, unit }, chordpro });
      check(!r?.error, `song.create ${title}: ${JSON.stringify(r)}`);
    }
    await waitFor(async () => (await state(md)).songs.length === 3, 'three songs on the MD page');
    for (const s of (await state(md)).songs) songs[s.title] = s.id;
    const r = await send(md, 'setlist.update', { title: 'Sunday', items: [
      { song: songs.Alpha, key: 'D', notes: 'Start soft' }, { song: songs.Bravo, bpm: 132 }, { song: songs.Charlie }] });
    check(!r?.error, `setlist.update: ${JSON.stringify(r)}`);
    await waitFor(async () => (setlistId = (await state(md)).setlists[0]?.id), 'the setlist on the MD page');
    for (const name of ['Keys', 'Drums']) check(!(await send(md, 'slot.create', { name, instrument: name.toLowerCase(), group: 'band' }))?.error, `slot.create ${name}`);
    await waitFor(async () => (await state(md)).slots.length === 2, 'two slots');
    for (const s of (await state(md)).slots) slots[s.name] = s.id;
    const benId = (await state(ben)).me;
    check(!(await send(md, 'slot.assign', { slot: slots.Drums, participant: benId }))?.error, 'assign Ben to Drums');
    await waitFor(async () => (await state(md)).slots.find((s) => s.name === 'Drums')?.participant === benId, 'Ben on Drums');
    await md.page.waitForSelector(`${tid('builder-item')}[data-song="Charlie"]`);
  });

  await step('tablet portrait 768×1024: tempo panel above the fold, the bpm box shows "118.3" whole', async () => {
    check(!(await send(md, 'tempo.set', { bpm: 118.3 }))?.error, 'tempo.set 118.3');
    await waitFor(async () => (await md.page.inputValue(tid('tempo-bpm'))) === '118.3', 'the bpm box to show 118.3');
    await md.page.evaluate(() => window.scrollTo(0, 0));
    for (const id of ['tempo-start', 'tempo-stop', 'tempo-bpm', 'tempo-plus', 'tempo-minus', 'song-next', 'next-song']) {
      check(await aboveFold(md, tid(id)), `[${id}] is not fully visible without scrolling at 768×1024`);
    }
    const fit = await md.page.$eval(tid('tempo-bpm'), (el) => ({ sw: el.scrollWidth, cw: el.clientWidth }));
    check(fit.sw <= fit.cw, `the bpm box cuts "118.3" (text ${fit.sw} px in a ${fit.cw} px box)`);
  });

  await step('Go live loads the song tempo (100 bpm 4/4); the console shows it and the next song', async () => {
    await md.page.click(tid('setlist-golive'));
    await waitFor(async () => (await state(ben)).songCurrent?.index === 0, 'Ben to see song 1');
    await waitFor(async () => { const t = (await state(ben)).tempo; return t && t.bpm === 100 && t.meter.beats === 4 && t.meter.unit === 4; },
      'the click to run the song tempo 100 bpm 4/4');
    await waitFor(async () => /100 bpm · 4\/4/.test(await md.page.innerText(tid('tempo-loaded'))), 'the console to show 100 bpm 4/4');
    check((await md.page.inputValue(tid('tempo-bpm'))) === '100', 'the bpm box does not show the loaded 100');
    check((await md.page.innerText(tid('next-title'))).trim() === 'Bravo', 'the next-song preview does not name Bravo');
    check(/G/.test(await md.page.innerText(tid('next-key'))), 'the next-song preview does not show the key G');
    check((await md.page.locator(tid('tempo-off')).count()) === 0, 'the console says the click is off the song tempo right after loading it');
  });

  await step('shortcuts: → ← move the song (item bpm 132 6/8 loaded), ↓ ↑ the section, 2 cues Chorus, S starts/stops, ? helps', async () => {
    await pressKey(md, 'ArrowRight');
    await waitFor(async () => (await state(ben)).songCurrent?.index === 1, '→ to move Ben to song 2');
    await waitFor(async () => { const t = (await state(ben)).tempo; return t?.bpm === 132 && t.meter.beats === 6 && t.meter.unit === 8; }, 'the item bpm 132 and meter 6/8');
    await pressKey(md, 'ArrowLeft');
    await waitFor(async () => (await state(ben)).songCurrent?.index === 0, '← to move Ben back to song 1');
    await pressKey(md, 'ArrowDown');
    await waitFor(async () => (await state(ben)).songCurrent?.section === 'Verse 1', '↓ to jump to Verse 1');
    await pressKey(md, 'ArrowDown');
    await waitFor(async () => (await state(ben)).songCurrent?.section === 'Chorus', '↓ to jump to Chorus');
    await pressKey(md, 'ArrowUp');
    await waitFor(async () => (await state(ben)).songCurrent?.section === 'Verse 1', '↑ to jump back to Verse 1');
    await waitFor(async () => (await md.page.locator(`${tid('section-btn')}[aria-pressed="true"]`, { hasText: 'Verse 1' }).count()) === 1, 'the section map to mark Verse 1');
    // Two quick presses are two steps (the second starts where the first went).
    await pressKey(md, 'ArrowDown');
    await md.page.keyboard.press('ArrowDown');
    await waitFor(async () => (await state(ben)).songCurrent?.section === 'Bridge', '↓ ↓ pressed quickly to reach Bridge');
    await pressKey(md, 'ArrowUp');
    await pressKey(md, 'ArrowUp');
    await waitFor(async () => (await state(ben)).songCurrent?.section === 'Verse 1', '↑ ↑ back to Verse 1');
    await pressKey(md, '2');
    await waitFor(async () => (await state(ben)).cues.some((c) => c.text === 'Chorus'), 'key 2 to cue Chorus on Ben');
    await pressKey(md, 's');
    await waitFor(async () => (await state(ben)).tempo?.running === true, 'S to start the click');
    // Typing in a field is not a shortcut.
    await md.page.fill(tid('cue-input'), '');
    await md.page.focus(tid('cue-input'));
    await md.page.keyboard.type('s');
    await sleep(400);
    check((await state(ben)).tempo?.running === true, 'typing "s" in the cue field stopped the click');
    await pressKey(md, 's');
    await waitFor(async () => (await state(ben)).tempo?.running === false, 'S to stop the click');
    await pressKey(md, '?');
    await md.page.waitForSelector(tid('help-overlay'), { timeout: 3000 });
    check(/Hold to talk|hold to talk/.test(await md.page.innerText(tid('help-overlay'))), 'the help does not say Space is push-to-talk');
    await md.page.screenshot({ path: join(shotsDir, 'md-console-shortcuts.png') });
    await md.page.keyboard.press('Escape');
    await waitFor(async () => (await md.page.locator(tid('help-overlay')).count()) === 0, 'Esc to close the help');
  });

  await step('cues: a group cue, the "Next song" cue, the current cue shown and cleared', async () => {
    await md.page.click(tid('cue-to-band'));
    await md.page.click(tid('cue-btn-Build'));
    await waitFor(async () => { const c = (await state(ben)).cues.find((x) => x.group === 'band'); return c?.text === 'Build'; }, 'Ben to get the band cue Build');
    await md.page.click(tid('cue-to-all'));
    check(/Next song: Bravo/.test(await md.page.innerText(tid('cue-next-song'))), 'the next-song cue does not name Bravo');
    await md.page.click(tid('cue-next-song'));
    await waitFor(async () => (await state(ben)).cues.some((c) => c.group === null && c.text.startsWith('Next song: Bravo')), 'Ben to get "Next song: Bravo"');
    await waitFor(async () => /Next song: Bravo/.test(await md.page.innerText(tid('cue-now'))), 'the console to show the current cue');
    await md.page.click(tid('cue-clear'));
    await waitFor(async () => (await md.page.locator(tid('cue-current')).count()) === 0, 'the cue to be cleared on the console');
    await waitFor(async () => (await state(ben)).cues.length === 0, 'Ben\'s cues to be cleared');
  });

  await step('drag and drop reorders the setlist; a second client gets the new order; the live song follows', async () => {
    const handle = md.page.locator(`${tid('builder-item')}[data-song="Alpha"] ${tid('drag-handle')}`);
    const target = md.page.locator(`${tid('builder-item')}[data-song="Charlie"]`);
    // Both rows on screen: a pointer cannot leave the viewport.
    await md.page.locator('.builder').evaluate((el) => el.scrollIntoView({ block: 'center' }));
    const h = await handle.boundingBox(), t = await target.boundingBox();
    check(t.y + t.height < md.page.viewportSize().height, 'the drop target is off screen');
    await md.page.mouse.move(h.x + h.width / 2, h.y + h.height / 2);
    await md.page.mouse.down();
    for (let i = 1; i <= 12; i++) await md.page.mouse.move(h.x + h.width / 2, h.y + h.height / 2 + ((t.y + t.height * 0.8) - (h.y + h.height / 2)) * i / 12);
    await sleep(200);
    await md.page.mouse.up();
    const order = async () => (await md.page.locator(tid('builder-title')).allInnerTexts()).map((x) => x.trim());
    await waitFor(async () => (await order()).join() === 'Bravo,Charlie,Alpha', `the editor order Bravo, Charlie, Alpha (it shows ${await order()})`);
    await md.page.click(tid('setlist-save'));
    const names = async (p) => { const s = await state(p); return s.setlists[0].items.map((it) => s.songs.find((x) => x.id === it.song)?.title).join(); };
    await waitFor(async () => (await names(ben)) === 'Bravo,Charlie,Alpha', 'Ben to get the new order');
    await waitFor(async () => (await state(ben)).songCurrent?.index === 2, 'the live song (Alpha) to stay live at its new place');
    // The keyboard fallback: ↑ moves Alpha above Charlie.
    await md.page.click(`${tid('builder-item')}[data-song="Alpha"] ${tid('builder-up')}`);
    await md.page.click(tid('setlist-save'));
    await waitFor(async () => (await names(ben)) === 'Bravo,Alpha,Charlie', 'Ben to get the order from the ↑ button');
    await waitFor(async () => (await state(ben)).songCurrent?.index === 1, 'Alpha still live after the ↑ move');
  });

  await step('touch targets: setlist buttons and handles ≥ 44×44 px, checkboxes ≥ 24 px', async () => {
    const small = await md.page.evaluate(() => {
      const out = [];
      for (const el of document.querySelectorAll('.builder button, .builder .drag-handle, .slots-panel button, .cue-panel button, .tempo-panel button, .now-panel button, .sections-panel button')) {
        const r = el.getBoundingClientRect();
        if (r.width && (r.width < 44 || r.height < 44)) out.push(`${el.textContent.trim() || el.getAttribute('aria-label')} ${r.width.toFixed(0)}×${r.height.toFixed(0)}`);
      }
      for (const el of document.querySelectorAll('.console input[type=checkbox]')) {
        const r = el.getBoundingClientRect();
        if (r.width && (r.width < 24 || r.height < 24)) out.push(`checkbox ${r.width.toFixed(0)}×${r.height.toFixed(0)}`);
      }
      return out;
    });
    check(small.length === 0, `too small to tap: ${small.join(', ')}`);
  });

  await step('per-item key / bpm / notes override in the editor reach the band', async () => {
    const item = md.page.locator(`${tid('builder-item')}[data-song="Charlie"]`);
    await item.locator(tid('builder-key')).fill('F');
    await item.locator(tid('builder-bpm')).fill('94');
    await item.locator(tid('builder-notes')).fill('Drums only first verse');
    await md.page.click(tid('setlist-save'));
    await waitFor(async () => { const it = (await state(ben)).setlists[0].items[2]; return it.key === 'F' && it.bpm === 94 && it.notes === 'Drums only first verse'; }, 'Ben to get key F, 94 bpm and the note');
    await waitFor(async () => /Drums only first verse/.test(await md.page.innerText(tid('next-song'))), 'the next-song preview to show the note');
  });

  await step('accents: tapping beat 2 cycles it to accent (tempo.set accents)', async () => {
    const before = (await state(ben)).tempo.accents;
    await md.page.locator(tid('accent-btn')).nth(1).click();
    await waitFor(async () => (await state(ben)).tempo.accents?.[1] === 2, `beat 2 to become an accent (was ${JSON.stringify(before)})`);
    await md.page.locator(tid('accent-btn')).nth(1).click();
    await waitFor(async () => (await state(ben)).tempo.accents?.[1] === 0, 'beat 2 to become silent');
  });

  await step('move confirmation: "Ben holds Drums — move to Keys?"; Cancel keeps him, Move moves him', async () => {
    const row = md.page.locator(`${tid('slot-row')}[data-slot="Keys"]`);
    const benId = (await state(ben)).me;
    await row.locator(tid('slot-assign')).selectOption({ label: 'Ben' });
    await md.page.waitForSelector(tid('move-confirm'), { timeout: 3000 });
    const q = (await md.page.innerText(tid('move-confirm'))).replace(/\s+/g, ' ');
    check(/Ben holds Drums — move to Keys\?/.test(q), `the question reads "${q}"`);
    await md.page.click(tid('move-no'));
    await sleep(300);
    check((await state(md)).slots.find((s) => s.name === 'Drums').participant === benId, 'Cancel still moved Ben');
    check((await row.locator(tid('slot-assign')).inputValue()) === '', 'the Keys select shows Ben after Cancel');
    await row.locator(tid('slot-assign')).selectOption({ label: 'Ben' });
    await md.page.click(tid('move-yes'));
    await waitFor(async () => { const s = await state(ben); return s.slots.find((x) => x.name === 'Keys').participant === benId && !s.slots.find((x) => x.name === 'Drums').participant; },
      'Ben on Keys and Drums free');
  });

  await step('slot edit: name, capo 2, pitch B♭ (slot.update)', async () => {
    await md.page.click(`${tid('slot-row')}[data-slot="Keys"] ${tid('slot-edit')}`);
    await md.page.fill(tid('slot-edit-name'), 'Keys 1');
    await md.page.selectOption(tid('slot-edit-capo'), '2');
    await md.page.selectOption(tid('slot-edit-pitch'), 'Bb');
    await md.page.click(tid('slot-edit-save'));
    await waitFor(async () => (await md.page.locator(tid('slot-editor')).count()) === 0, 'the slot editor to close');
    await waitFor(async () => { const s = (await state(ben)).slots.find((x) => x.id === slots.Keys); return s?.name === 'Keys 1' && s.capo === 2 && s.pitch === 'Bb'; }, 'Ben to see Keys 1, capo 2, B♭');
    check(/B♭ instrument · capo 2/.test(await md.page.innerText(`${tid('slot-row')}[data-slot="Keys 1"] ${tid('slot-reads')}`)), 'the slot table does not say "B♭ instrument · capo 2"');
  });

  await step('slots reorder by drag and drop and by ↓ (slot.order); Ben and a reload see the new order', async () => {
    const rows = async () => (await md.page.locator(tid('slot-row')).evaluateAll((els) => els.map((e) => e.dataset.slot)));
    const bens = async () => (await state(ben)).slots.map((x) => x.name).join();
    check((await rows()).join() === 'Keys 1,Drums', `the slots start as Keys 1, Drums (they are ${await rows()})`);
    await md.page.locator('.slots-table').evaluate((el) => el.scrollIntoView({ block: 'center' }));
    const h = await md.page.locator(`${tid('slot-row')}[data-slot="Keys 1"] ${tid('slot-drag')}`).boundingBox();
    const t = await md.page.locator(`${tid('slot-row')}[data-slot="Drums"]`).boundingBox();
    await md.page.mouse.move(h.x + h.width / 2, h.y + h.height / 2);
    await md.page.mouse.down();
    for (let i = 1; i <= 12; i++) await md.page.mouse.move(h.x + h.width / 2, h.y + h.height / 2 + ((t.y + t.height * 0.8) - (h.y + h.height / 2)) * i / 12);
    await sleep(200);
    await md.page.mouse.up();
    await waitFor(async () => (await bens()) === 'Drums,Keys 1', `Ben to get Drums, Keys 1 (he has ${await bens()})`);
    await waitFor(async () => (await rows()).join() === 'Drums,Keys 1', 'the console to show Drums, Keys 1');
    await md.page.click(`${tid('slot-row')}[data-slot="Drums"] ${tid('slot-down')}`);
    await waitFor(async () => (await bens()) === 'Keys 1,Drums', 'Ben to get Keys 1, Drums from the ↓ button');
    await md.page.reload();
    await waitFor(async () => (await rows()).join() === 'Keys 1,Drums', 'the order to survive a reload of the console');
  });

  await step('QR panel follows a rotation made with `downbeatd room codes --rotate` while serving', async () => {
    await md.page.click(tid('qr-role-musician'));
    await waitFor(async () => (await md.page.innerText(tid('qr-url'))).endsWith(`/j/${codes.musician}`), 'the musician QR');
    const out = execFileSync(serverBin, ['room', 'codes', room, '--rotate', '--json', '--data-dir', dataDir], { encoding: 'utf8' });
    const fresh = JSON.parse(out.trim().split('\n').filter((l) => l.trim().startsWith('{')).pop()).codes.musician;
    check(fresh && fresh !== codes.musician, `the rotation printed no new musician code: ${out}`);
    await waitFor(async () => (await md.page.innerText(tid('qr-url'))).endsWith(`/j/${fresh}`), 'the QR to show the new musician code without a reload', 15_000);
  });

  await step('song editor: Edit brings the chart (fetched on demand); a new chart reaches the band with a new revision', async () => {
    const row = md.page.locator(tid('library-song'), { hasText: 'Charlie' });
    await row.locator(tid('library-song-edit')).click();
    await waitFor(async () => (await md.page.inputValue(tid('song-form-chordpro'))) === '[E]Charlie', 'the editor to show Charlie\'s chart');
    const before = (await state(md)).songs.find((x) => x.id === songs.Charlie);
    check(!('chordpro' in before), 'the song list in the state carries a chart');
    await md.page.fill(tid('song-form-chordpro'), '[E]Charlie [A]two');
    await md.page.click(tid('song-save'));
    await waitFor(async () => (await state(md)).songs.find((x) => x.id === songs.Charlie).body_rev > before.body_rev, 'a new body revision after saving a new chart');
    // Charlie is in the live setlist: Ben's page fetches the new chart by itself.
    await waitFor(async () => (await state(ben)).bodies?.[songs.Charlie]?.chordpro === '[E]Charlie [A]two', 'Ben to hold the new chart');
  });

  await step('import: several files at once, one result per file', async () => {
    await md.page.setInputFiles(tid('import-files'), [
      { name: 'delta.cho', mimeType: 'text/plain', buffer: Buffer.from('{title: Delta}\n{key: A}\n{tempo: 76}\n[A]Delta [E]dawn\n') },
      { name: 'echo.txt', mimeType: 'text/plain', buffer: Buffer.from('Echo\n\nG       C\nHello there\n') },
      { name: 'scan.pdf', mimeType: 'application/pdf', buffer: Buffer.from('%PDF-1.4') },
    ]);
    await waitFor(async () => (await md.page.locator(`${tid('import-result')}[data-state="ok"], ${tid('import-result')}[data-state="error"]`).count()) === 3, 'three import results');
    const pdf = await md.page.innerText(`${tid('import-result')}[data-file="scan.pdf"]`);
    check(/not a song file/.test(pdf), `the PDF result reads "${pdf}"`);
    const cho = await md.page.innerText(`${tid('import-result')}[data-file="delta.cho"]`);
    check(/Delta/.test(cho), `delta.cho: "${cho}"`);
    await waitFor(async () => (await state(ben)).songs.some((s) => s.title === 'Delta'), 'Ben to get the imported song Delta');
  });

  await step('export: the setlist as one ChordPro file, in the item keys', async () => {
    const [dl] = await Promise.all([
      md.page.waitForEvent('download', { timeout: 5000 }).catch(() => null),
      md.page.click(tid('setlist-export')),
    ]);
    check(dl, `no download; the console said: ${await toastText(md)}`);
    check(/\.(chordpro|cho)$/.test(dl.suggestedFilename()), `download name ${dl.suggestedFilename()}`);
    const text = readFileSync(await dl.path(), 'utf8');
    check(/\{title: ?Alpha\}/.test(text) && /\{title: ?Bravo\}/.test(text) && /\{title: ?Charlie\}/.test(text), `the bundle lacks a song: ${text.slice(0, 300)}`);
    check(/\{key: ?D\}/.test(text), 'the bundle does not carry the item key D');
  });

  await step('print: the setlist page shows every chart in its item key (Alpha: C → D)', async () => {
    await md.page.click(tid('setlist-print'));
    await md.page.waitForSelector(tid('print-page'));
    await waitFor(async () => (await md.page.locator(tid('print-song')).count()) === 3, 'three songs on the print page');
    // The charts come on demand (GET /api/room/songs/<id>): "loading chart…" until each is here.
    await waitFor(async () => (await md.page.locator(tid('print-loading')).count()) === 0, 'every chart on the print page loaded');
    const alpha = md.page.locator(tid('print-song'), { hasText: 'Alpha' });
    check((await alpha.locator(tid('print-key')).innerText()).trim() === 'D', 'Alpha is not printed in D');
    const chords = (await alpha.locator(tid('print-chord')).allInnerTexts()).map((x) => x.trim()).filter((x) => x && x !== '\u00a0');
    check(chords.slice(0, 3).join(' ') === 'D G A', `Alpha's first chords print as "${chords.slice(0, 3).join(' ')}" (want D G A)`);
    await md.page.emulateMedia({ media: 'print' });
    check(!(await md.page.locator(tid('print-back')).isVisible()), 'the Back button shows on paper');
    await md.page.screenshot({ path: join(shotsDir, 'print-setlist.png'), fullPage: true });
    await md.page.emulateMedia({ media: 'screen' });
    await md.page.click(tid('print-back'));
    await md.page.waitForSelector(tid('tempo-start'));
  });

  await step('screenshot set-up: the click running, a band cue showing, no toasts', async () => {
    await md.page.click(tid('cue-to-band'));
    await md.page.click(tid('cue-btn-Build'));
    await md.page.click(tid('cue-to-all'));
    await md.page.click(tid('tempo-start'));
    await waitFor(async () => (await state(md)).tempo?.running === true, 'the click to run');
    await waitFor(async () => (await md.page.locator(tid('toast')).count()) === 0, 'the toasts to fade', 9000);
  });

  for (const [label, vp, file] of [['tablet portrait 768×1024', { width: 768, height: 1024 }, 'md-console-tablet-portrait.png'],
    ['tablet landscape 1024×768', { width: 1024, height: 768 }, 'md-console-tablet-landscape.png'],
    ['laptop 1280×800', { width: 1280, height: 800 }, 'md-console-laptop.png']]) {
    await step(`${label}: now, next, tempo start/stop and the bpm box above the fold; no sideways scroll`, async () => {
      await md.page.setViewportSize(vp);
      await md.page.evaluate(() => window.scrollTo(0, 0));
      await sleep(250);
      for (const id of ['song-next', 'next-song', 'tempo-start', 'tempo-stop', 'tempo-bpm']) check(await aboveFold(md, tid(id)), `[${id}] not fully visible without scrolling at ${label}`);
      const sideways = await md.page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      check(sideways <= 0, `the page scrolls sideways by ${sideways} px at ${label}`);
      await md.page.screenshot({ path: join(shotsDir, file) });
      if (process.env.E2E_FULL === '1') await md.page.screenshot({ path: join(webDir, 'e2e/out', file.replace('.png', '-full.png')), fullPage: true });
    });
  }

  await step('no uncaught errors in the pages', async () => {
    check(pageErrors.length === 0, `page errors:\n  ${pageErrors.join('\n  ')}`);
  });
}

let exitCode = 0;
try {
  await main();
  if (failures) exitCode = 1;
} catch (e) {
  exitCode = 1;
  log(`FAIL setup: ${e?.stack ?? e}`);
} finally {
  if (exitCode) log('--- last lines of the server log ---\n' + serverLogTail(dataDir));
  await browser?.close().catch(() => {});
  if (server) { const s = server; server = null; s.kill('SIGTERM'); }
  if (process.env.E2E_KEEP !== '1' && exitCode === 0) rmSync(dataDir, { recursive: true, force: true });
  else log(`# data dir kept: ${dataDir}`);
}
log(`# console e2e: ${passed} passed, ${failures} failed`);
log(`${passed} passed, ${failures} failed`);
process.exit(exitCode);
