// The peer a team would write instead of downbeatd: a minimal Node `ws` broadcast server. A client
// joins room R with ws[s]://host/?room=R; each text frame it sends is parsed once, re-serialised
// once and sent to every other client of the room. No persistence, no validation, no auth.
// Usage: node ws_server.mjs --ready-file F [--cert cert.pem --key key.pem]
import { createRequire } from 'node:module';
import { readFileSync, writeFileSync, renameSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';

// `ws` comes from the integration tests' committed lock file (tests/integration/node_modules).
const require = createRequire(new URL('../../tests/integration/package.json', import.meta.url));
const { WebSocketServer } = require('ws');

const arg = (name) => { const i = process.argv.indexOf(name); return i > 0 ? process.argv[i + 1] : undefined; };
const readyFile = arg('--ready-file');
const cert = arg('--cert'), key = arg('--key');
if (!readyFile) { console.error('usage: node ws_server.mjs --ready-file F [--cert C --key K]'); process.exit(2); }

const server = cert ? https.createServer({ cert: readFileSync(cert), key: readFileSync(key) }) : http.createServer();
const wss = new WebSocketServer({ server, perMessageDeflate: false });
const rooms = new Map();

wss.on('connection', (ws, req) => {
  const room = new URL(req.url, 'http://x').searchParams.get('room') || '0';
  if (!rooms.has(room)) rooms.set(room, new Set());
  const members = rooms.get(room);
  members.add(ws);
  ws.on('message', (data, isBinary) => {
    if (isBinary) return;
    let msg;
    try { msg = JSON.parse(data.toString()); } catch { return; }
    const out = JSON.stringify(msg);
    for (const c of members) if (c !== ws && c.readyState === 1) c.send(out);
  });
  ws.on('close', () => members.delete(ws));
  ws.on('error', () => {});
});

server.listen(0, '127.0.0.1', () => {
  writeFileSync(`${readyFile}.tmp`, JSON.stringify({ port: server.address().port }));
  renameSync(`${readyFile}.tmp`, readyFile);
});
process.on('SIGTERM', () => process.exit(0));
