#!/usr/bin/env node
// Six pages in one voice mesh, all talking to everyone at once (the worst case a mesh carries:
// 30 streams), for a fixed time. Reports every link's loss, concealment, jitter, RTT and
// jitter-buffer delay as each page's own metrics.report `links` saw them.
//   node bench/voice/mesh.mjs [--pages 6] [--seconds 20] [--path dc|rtp] [--smoke] [--out results.jsonl]
// Loopback only; headless Chromium with its fake microphone; every child is stopped at the end.
import { createRequire } from 'node:module';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, openSync, rmSync, appendFileSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sleep, waitFor } from '../../tests/integration/lib/wait.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '../..');
const { chromium } = createRequire(join(repo, 'web/package.json'))('playwright-core'); // the web app's locked copy
const argv = process.argv.slice(2);
const opt = (name, def) => { const i = argv.indexOf(name); return i >= 0 ? argv[i + 1] : def; };
const SMOKE = argv.includes('--smoke');
const PAGES = Number(opt('--pages', SMOKE ? 4 : 6));
const SECONDS = Number(opt('--seconds', SMOKE ? 6 : 20));
const OUT = opt('--out', null);
const PATH = opt('--path', null); // the voice path of every page (default: the app's)
const DOWNBEATD = resolve(opt('--downbeatd', process.env.DOWNBEATD ?? join(repo, 'build/bin/downbeatd')));
const WEB_ROOT = resolve(opt('--web-root', join(repo, 'web/dist')));
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const LOSS_LIMIT = 0.01;


const dataDir = mkdtempSync(join(tmpdir(), 'downbeat-mesh-'));
let server = null, browser = null;
async function cleanup() {
  await browser?.close().catch(() => {});
  if (server && server.exitCode === null) { server.kill('SIGTERM'); await sleep(200); }
  rmSync(dataDir, { recursive: true, force: true });
}
const watchdog = setTimeout(() => { console.error('mesh bench: watchdog fired'); void cleanup().then(() => process.exit(2)); }, (SECONDS + 150) * 1000);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => void cleanup().then(() => process.exit(130)));

async function main() {
  if (!existsSync(DOWNBEATD)) throw new Error(`downbeatd not found at ${DOWNBEATD}: make build`);
  if (!existsSync(join(WEB_ROOT, 'index.html'))) throw new Error(`${WEB_ROOT}/index.html missing: npm run build in web/`);
  const created = JSON.parse(execFileSync(DOWNBEATD, ['room', 'create', 'Mesh', '--data-dir', dataDir, '--json'], { encoding: 'utf8' }).trim().split('\n').pop());
  const ready = join(dataDir, 'ready.json');
  const logFd = openSync(join(dataDir, 'server.log'), 'w');
  server = spawn(DOWNBEATD, ['serve', '--data-dir', dataDir, '--listen', '127.0.0.1:0', '--tls', 'off', '--ready-file', ready,
    '--web-root', WEB_ROOT, '--no-qr'], { stdio: ['ignore', logFd, logFd] });
  const info = await waitFor(() => existsSync(ready) && JSON.parse(readFileSync(ready, 'utf8')), 'the server', 20_000);
  const base = `http://127.0.0.1:${info.port}`;

  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync', '--use-fake-ui-for-media-stream',
    '--use-fake-device-for-media-stream', '--autoplay-policy=no-user-gesture-required', '--allow-loopback-in-peer-connection',
    '--disable-renderer-backgrounding', '--disable-background-timer-throttling', '--disable-backgrounding-occluded-windows'] });
  const pages = [];
  for (let i = 0; i < PAGES; i++) {
    const context = await browser.newContext({ viewport: { width: 390, height: 800 } });
    if (PATH) await context.addInitScript((p) => { try { localStorage.setItem('downbeat.voicePath', p); } catch { /* not the app's origin */ } }, PATH);
    const page = await context.newPage();
    const role = i === 0 ? 'md' : 'musician';
    await page.goto(`${base}/j/${created.codes[role]}`);
    await page.fill('[data-testid="join-name"]', i === 0 ? 'MD' : `Player ${i}`);
    await page.click('[data-testid="join-submit"]');
    await waitFor(async () => (await page.locator('[data-testid="conn-status"]').innerText()).trim() === 'Live', `page ${i} live`, 20_000);
    pages.push({ i, page, id: await page.evaluate(() => window.__downbeat.state().me) });
  }
  // Everybody may talk to everyone: the worst case for a mesh.
  const r = await pages[0].page.evaluate(() => window.__downbeat.send('room.settings', { talk_all: ['musician', 'tech'] }));
  if (r?.error) throw new Error(`room.settings: ${r.error.message}`);
  for (const p of pages) {
    const mic = await p.page.evaluate(() => window.__downbeat.voice.enableMic());
    if (mic !== 'on') throw new Error(`page ${p.i}: microphone ${mic}`);
  }
  const links = PAGES * (PAGES - 1);
  const t0 = Date.now();
  await waitFor(async () => {
    let n = 0;
    for (const p of pages) n += (await p.page.evaluate(() => window.__downbeat.voice.peers())).filter((x) => x.connectionState === 'connected').length;
    return n === links;
  }, `all ${links / 2} links connected`, 30_000);
  const connectMs = Date.now() - t0;
  for (const p of pages) {
    const res = await p.page.evaluate(() => window.__downbeat.voice.press('all'));
    if (res?.error) throw new Error(`page ${p.i} press: ${res.error.message}`);
  }
  const load0 = readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
  // Sample each page's link report over the talk (reports cover the interval since the last one).
  const samples = new Map(); // "from→peer" → [entries]
  const end = Date.now() + SECONDS * 1000;
  while (Date.now() < end) {
    await sleep(2500);
    for (const p of pages) {
      for (const e of await p.page.evaluate(() => window.__downbeat.voice.linkStats() ?? [])) {
        const k = `${p.i}→${pages.find((x) => x.id === e.peer)?.i ?? e.peer}`;
        if (!samples.has(k)) samples.set(k, []);
        samples.get(k).push(e);
      }
    }
  }
  for (const p of pages) await p.page.evaluate(() => window.__downbeat.voice.release());
  const load1 = readFileSync('/proc/loadavg', 'utf8').split(' ')[0];

  const rows = [...samples.entries()].map(([k, es]) => {
    const vals = (f) => es.map((e) => e[f]).filter((x) => typeof x === 'number');
    const max = (f) => (vals(f).length ? Math.max(...vals(f)) : null);
    const mean = (f) => (vals(f).length ? vals(f).reduce((a, b) => a + b, 0) / vals(f).length : null);
    return { link: k, reports: es.length, loss_max: max('loss'), loss_mean: mean('loss'), concealed_max: max('concealed'),
      jitter_ms_mean: mean('jitter_ms'), rtt_ms_mean: mean('rtt_ms'), jitter_buffer_ms_mean: mean('jitter_buffer_ms'), stalled: es.some((e) => e.stalled) };
  }).sort((a, b) => a.link.localeCompare(b.link, 'en', { numeric: true }));
  const worst = Math.max(...rows.map((x) => x.loss_max ?? 0));
  const f = (x, d = 2) => (x == null ? '–' : x.toFixed(d));
  console.log(`# ${PAGES}-page mesh, everyone talking to all for ${SECONDS} s (${PAGES * (PAGES - 1)} streams), ${cpus().length} cores, load ${load0} → ${load1}`);
  console.log(`links connected ${connectMs} ms after the last mic; path ${await pages[0].page.evaluate(() => window.__downbeat.voice.path())}`);
  console.log('link (from→peer) | reports | loss max | loss mean | concealed max | jitter ms | RTT ms | jitter buffer ms | stalled');
  for (const x of rows) console.log(`${x.link} | ${x.reports} | ${f(x.loss_max * 100)} % | ${f((x.loss_mean ?? 0) * 100)} % | ${f((x.concealed_max ?? 0) * 100)} % | ${f(x.jitter_ms_mean, 1)} | ${f(x.rtt_ms_mean, 1)} | ${f(x.jitter_buffer_ms_mean, 1)} | ${x.stalled ? 'yes' : 'no'}`);
  console.log(`worst link loss ${f(worst * 100)} % (limit ${LOSS_LIMIT * 100} %)`);
  if (OUT) appendFileSync(OUT, JSON.stringify({ bench: 'mesh', at: new Date().toISOString(), pages: PAGES, seconds: SECONDS, load: [load0, load1], connectMs, rows, worst }) + '\n');
  const missing = rows.length < links;
  if (missing) console.log(`FAIL: only ${rows.length} of ${links} link reports`);
  if (worst > LOSS_LIMIT) console.log('FAIL: a link lost more than 1 %');
  return missing || worst > LOSS_LIMIT ? 1 : 0;
}

main().then(async (rc) => { clearTimeout(watchdog); await cleanup(); process.exit(rc); },
  async (e) => { clearTimeout(watchdog); console.error(`mesh bench failed: ${e?.stack ?? e}`); await cleanup(); process.exit(1); });
