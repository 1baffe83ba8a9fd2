// Starts the real downbeatd on an ephemeral loopback port with a temporary data dir.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const DOWNBEATD = process.env.DOWNBEATD || new URL('../../../build/bin/downbeatd', import.meta.url).pathname;

export class Server {
  constructor({ args = [], dataDir } = {}) {
    this.dataDir = dataDir || mkdtempSync(join(tmpdir(), 'downbeat-it-'));
    this.args = args;
    this.log = '';
  }

  createRoom(name = 'Test') {
    const out = execFileSync(DOWNBEATD, ['room', 'create', name, '--data-dir', this.dataDir, '--json'], { encoding: 'utf8' });
    return JSON.parse(out);
  }

  async start({ tls = false, port = 0 } = {}) {
    const ready = join(this.dataDir, 'ready.json');
    rmSync(ready, { force: true });
    // Tests join dozens of clients from one address within seconds: lift the join limits unless a test sets them.
    const lifted = ['--joins-per-min-per-address', '--joins-per-min-per-code'].flatMap((f) => (this.args.includes(f) ? [] : [f, '100000']));
    const args = ['serve', '--data-dir', this.dataDir, '--listen', `127.0.0.1:${port}`, '--ready-file', ready, '--no-qr',
      '--tls', tls ? 'auto' : 'off', ...lifted, ...this.args];
    this.proc = spawn(DOWNBEATD, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc.stdout.on('data', (d) => { this.log += d; });
    this.proc.stderr.on('data', (d) => { this.log += d; });
    this.stopping = false;
    const exited = new Promise((resolve) => this.proc.once('exit', (code, signal) => {
      // A server that dies on its own is the bug a test is looking for: show why.
      if (!this.stopping) process.stderr.write(`downbeatd exited unexpectedly (code ${code}, signal ${signal}):\n${this.log.slice(-20000)}\n`);
      resolve({ code, signal });
    }));
    this.exited = exited;
    for (let i = 0; i < 200; i++) {
      if (existsSync(ready)) {
        const info = JSON.parse(readFileSync(ready, 'utf8'));
        this.port = info.port;
        this.url = info.url.replace('127.0.0.1:0', `127.0.0.1:${info.port}`);
        this.base = `${tls ? 'https' : 'http'}://127.0.0.1:${info.port}`;
        this.wsBase = `${tls ? 'wss' : 'ws'}://127.0.0.1:${info.port}`;
        return this;
      }
      if (this.proc.exitCode !== null) throw new Error(`downbeatd exited early:\n${this.log}`);
      await sleep(25);
    }
    throw new Error(`downbeatd did not become ready:\n${this.log}`);
  }

  alive() { return this.proc && this.proc.exitCode === null && this.proc.signalCode === null; }

  async kill(signal = 'SIGKILL') {
    if (!this.alive()) return;
    this.stopping = true;
    this.proc.kill(signal);
    await this.exited;
  }

  async stop() {
    await this.kill('SIGTERM');
  }

  cleanup() { rmSync(this.dataDir, { recursive: true, force: true }); }
}

export async function httpJson(base, path, { method = 'GET', body, headers = {} } = {}) {
  const res = await fetch(base + path, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : (typeof body === 'string' ? body : JSON.stringify(body)),
  });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, headers: res.headers, json, text };
}
