// bench/drift browser mode: N musician pages of the real web app in one headless Debian Chromium,
// each joining through its own impaired path (the URLs drift gives it). Started by `drift … --browsers N`;
// not meant to be run by hand.
//
//   node pages.mjs CONFIG.json
//   CONFIG: { chromium, urls: [base URL per page], code, ready, stop, out }
//
// Each page joins with the musician code, taps the click on (Web Audio; headless Chromium renders to
// a fake output device, which is fine for scheduling instants) and is left alone. Once every page
// is locked the script writes `ready`; until `stop` exists it harvests, every second, each page's
// scheduled beats (window.__downbeat.scheduledBeats(): for every beat, the AudioContext time the
// page asked Web Audio to play it at, mapped to performance time through getOutputTimestamp()
// and so to the machine's CLOCK_MONOTONIC, the room clock). It then writes `out`: per page the lock
// times, how well its clock was mapped, and every beat as [room µs, bar, beat (0-based), CLOCK_MONOTONIC µs].
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const webDir = resolve(dirname(fileURLToPath(import.meta.url)), '../../web');
const { chromium } = createRequire(join(webDir, 'package.json'))('playwright-core');
const cfg = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const monoMs = () => Number(process.hrtime.bigint()) / 1e6; // CLOCK_MONOTONIC, as downbeatd's room clock

/** `promise`, or `fallback` after `ms` (a starved renderer must not hang the run). */
const within = (promise, ms, fallback = null) =>
  Promise.race([promise, new Promise((r) => setTimeout(() => r(fallback), ms))]);

async function until(fn, what, timeoutMs) {
  const end = monoMs() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => null);
    if (v) return v;
    if (monoMs() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** The page's performance.now() on CLOCK_MONOTONIC: offsetMs (mono = perf + offset), ± widthMs / 2. */
async function perfToMono(page, tries = 40) {
  let best = null;
  for (let k = 0; k < tries; k++) {
    const a = monoMs();
    const perf = await within(page.evaluate(() => performance.now()), 2000);
    const b = monoMs();
    if (perf === null) continue;
    if (!best || b - a < best.widthMs) best = { widthMs: b - a, offsetMs: (a + b) / 2 - perf };
  }
  return best ?? { widthMs: Infinity, offsetMs: NaN };
}

const browser = await chromium.launch({
  executablePath: cfg.chromium,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required',
    // Many pages in one browser: keep their timers and audio running although they are in the background.
    '--disable-background-timer-throttling', '--disable-renderer-backgrounding', '--disable-backgrounding-occluded-windows'],
});

let exitCode = 0;
try {
  const pages = [];
  await Promise.all(cfg.urls.map(async (url, i) => {
    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    const page = await context.newPage();
    page.on('pageerror', (e) => console.error(`pages: page ${i}: ${e.message}`));
    page.on('console', (m) => { if (m.type() === 'error') console.error(`pages: page ${i} console: ${m.text()}`); });
    const p = { i, page, records: new Map(), lockS: null, lock1msS: null, minRttUs: null };
    pages.push(p);
    await page.goto(`${url}/j/${cfg.code}`, { timeout: 60_000 });
    await page.fill('[data-testid="join-name"]', `Page ${i}`);
    const tJoin = monoMs();
    await page.click('[data-testid="join-submit"]');
    // Lock: connected (the server's hello: "Live") → the core estimator's locked(); then → its
    // bound ≤ 1 ms (as the SDK rows). From the Join tap it also takes the join request and the room's load.
    await until(async () => (await page.locator('[data-testid="conn-status"]').first().innerText()).trim() === 'Live',
      `page ${i} to connect`, 60_000);
    const t0 = monoMs();
    p.joinS = (t0 - tJoin) / 1000;
    await until(() => page.evaluate(() => window.__downbeat?.clock().synced), `page ${i} to lock its clock`, 60_000)
      .catch(async (e) => {
        const seen = await page.evaluate(() => ({ status: document.querySelector('[data-testid="conn-status"]')?.textContent, clock: window.__downbeat?.clock() })).catch(() => null);
        throw new Error(`${e.message}; the page shows ${JSON.stringify(seen)}`);
      });
    p.lockS = (monoMs() - t0) / 1000;
    await until(() => page.evaluate(() => window.__downbeat.clock().uncertainty <= 1000), `page ${i}: bound ≤ 1 ms`, 5_000)
      .then(() => { p.lock1msS = (monoMs() - t0) / 1000; }, () => {});
    await page.click('[data-testid="click-toggle"]');
    await until(async () => (await page.locator('[data-testid="click-toggle"]').getAttribute('aria-pressed')) === 'true',
      `page ${i}: audio on`, 10_000);
  }));
  pages.sort((a, b) => a.i - b.i);

  // Each page's performance time on the machine's CLOCK_MONOTONIC (the room clock): bracket the
  // page's performance.now() between two reads of ours and keep the tightest of many tries. Not
  // through performance.timeOrigin: Chromium derives it from a wall-clock calibration of its own
  // that can sit milliseconds away from the system's.
  // One page at a time (all at once, the brackets of a busy 2-core machine were 20–700 ms wide),
  // and again at the end: the tighter of the two is the mapping, the other checks it.
  for (const p of pages) {
    p.timeOrigin = await p.page.evaluate(() => performance.timeOrigin);
    p.map = await perfToMono(p.page, 40);
  }
  writeFileSync(cfg.ready, 'ready\n');
  const harvest = async () => {
    await Promise.all(pages.map(async (p) => {
      const got = await within(p.page.evaluate(() => ({
        beats: window.__downbeat.scheduledBeats(), now: window.__downbeat.nowServer(), clock: window.__downbeat.clock(),
      })), 5000);
      if (!got) { console.error(`pages: page ${p.i} did not answer within 5 s; its beats are taken at the next harvest`); return; }
      const { beats, now, clock } = got;
      p.minRttUs = clock.rttMin;
      // Only beats already played: one still ahead may yet be re-planned by a tempo change.
      for (const b of beats) {
        if (b.sub !== 0 || !b.audio || b.ctxTime === null || b.anchorTime >= now) continue;
        const perfMs = b.epochMs - p.timeOrigin; // the performance time the page asked Web Audio for
        p.records.set(b.anchorTime, [b.anchorTime, b.bar, b.beat - 1, perfMs]);
      }
    }));
  };
  while (!existsSync(cfg.stop)) {
    await harvest();
    await sleep(1000);
  }
  await harvest();
  // The mapping again: both clocks are CLOCK_MONOTONIC, so it must not have moved.
  for (const p of pages) p.mapEnd = await perfToMono(p.page, 40);
  const best = (p) => (p.mapEnd.widthMs < p.map.widthMs ? p.mapEnd : p.map);
  writeFileSync(cfg.out, JSON.stringify({
    pages: pages.map((p) => ({
      lock_s: p.lockS, lock_1ms_s: p.lock1msS, min_rtt_us: p.minRttUs, join_s: p.joinS,
      map_width_ms: best(p).widthMs, map_moved_ms: Math.abs(p.mapEnd.offsetMs - p.map.offsetMs),
      beats: [...p.records.values()].sort((a, b) => a[0] - b[0])
        .map(([anchor, bar, beat, perfMs]) => [anchor, bar, beat, Math.round((perfMs + best(p).offsetMs) * 1000)]),
    })),
  }));
} catch (e) {
  console.error(`pages: ${e?.stack ?? e}`);
  exitCode = 1;
} finally {
  await within(browser.close(), 10_000);
}
process.exit(exitCode);
