// What every e2e script does the same way: where the server binary, Chromium and the web build
// are, a check that they are there, creating rooms, serving the web build from a real downbeatd
// on a free loopback port, the end of its log, and the text of a [data-testid] element.
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, readFileSync, openSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Fail, check, waitFor } from '../../tests/integration/lib/wait.mjs';

export const webDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const repo = resolve(webDir, '..');
/** The server under test: the script's first argument, else this checkout's build. */
export const serverBin = resolve(process.argv[2] ?? join(repo, 'build/bin/downbeatd'));
export const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';
/** Screenshots: docs/screenshots with UPDATE_SCREENSHOTS=1, else e2e/out. */
export const shotsDir = process.env.UPDATE_SCREENSHOTS ? join(repo, 'docs/screenshots') : join(webDir, 'e2e/out');

/** Stops at once, saying what to do, when something the run needs is missing. */
export function checkSetup({ serverBin, chromiumPath, webRoot }) {
  check(existsSync(serverBin), `server binary not found at ${serverBin}: build it first (make build)`);
  check(existsSync(chromiumPath), `Chromium not found at ${chromiumPath}: install Debian's chromium (make deps) or set CHROMIUM`);
  check(existsSync(join(webRoot, 'index.html')), `${webRoot}/index.html missing: run \`npm run build\` in web/`);
}

/** `downbeatd room create <name> --json`: the new room's id and its join code per role. */
export function createRoom(serverBin, dataDir, name) {
  const out = execFileSync(serverBin, ['room', 'create', name, '--data-dir', dataDir, '--json'], { encoding: 'utf8' });
  const created = JSON.parse(out.trim().split('\n').filter((l) => l.trim().startsWith('{')).pop());
  const c = created?.codes;
  check(created?.room && c?.md && c?.musician && c?.tech && c?.viewer, `room create ${name} printed no room or codes: ${out}`);
  return created;
}

/**
 * `downbeatd serve` on 127.0.0.1:0 without TLS, serving `webRoot`; the log goes to server.log in
 * the data dir. Resolves once the ready file is written: the process and the base URL.
 */
export async function serve({ serverBin, dataDir, webRoot, onExit }) {
  const readyFile = join(dataDir, 'ready.json');
  const logFd = openSync(join(dataDir, 'server.log'), 'w');
  const proc = spawn(serverBin, ['serve', '--data-dir', dataDir, '--listen', '127.0.0.1:0', '--tls', 'off',
    '--ready-file', readyFile, '--web-root', webRoot], { stdio: ['ignore', logFd, logFd] });
  proc.on('exit', onExit);
  const ready = await waitFor(() => existsSync(readyFile) && JSON.parse(readFileSync(readyFile, 'utf8')), 'the server ready file', 20_000);
  return { proc, url: ready.url ?? `http://127.0.0.1:${ready.port}` };
}

export function serverLogTail(dataDir, lines = 40) {
  try { return readFileSync(join(dataDir, 'server.log'), 'utf8').split('\n').slice(-lines).join('\n'); } catch { return '(no server log)'; }
}

/** The trimmed text of the first element with this test id, or null when there is none. */
export async function text(page, testid) {
  const el = page.locator(`[data-testid="${testid}"]`).first();
  return (await el.count()) ? (await el.innerText()).trim() : null;
}

/** Waits until that element shows `expected` (a string, exactly, or a RegExp); the failure says what it shows. */
export async function expectText(page, testid, expected, who, timeout = 10_000) {
  await waitFor(async () => {
    const t = await text(page, testid);
    return typeof expected === 'string' ? t === expected : expected.test(t ?? '');
  }, `${who}: [${testid}] to show ${expected}`, timeout)
    .catch(async (e) => { throw new Fail(`${e.message}; now shows ${JSON.stringify(await text(page, testid))}`); });
}

/** Joins `p` ({name, page}) by the QR link with `name`; waits for "Live" and sets `p.id`. */
export async function joinRoom(p, base, code, name) {
  await p.page.goto(`${base}/j/${code}`);
  await p.page.fill('[data-testid="join-name"]', name);
  await p.page.click('[data-testid="join-submit"]');
  await expectText(p.page, 'conn-status', 'Live', `${p.name} after joining`);
  p.id = await waitFor(() => p.page.evaluate(() => window.__downbeat?.state().me), `${p.name}: its participant id`, 10_000);
}

/** Runs `expr(arg)` in the page of `p`. */
export const hook = (p, expr, arg) => p.page.evaluate(expr, arg);
/** A command from the page's own socket (window.__downbeat.send); resolves to the ack or {error}. */
export const send = (p, type, data) => hook(p, ([t, d]) => window.__downbeat.send(t, d), [type, data]);
