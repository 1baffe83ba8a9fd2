#!/usr/bin/env node
// Prints the tables of REPORT.md from one run in results.jsonl (default: the last line).
//   node bench/voice/report.mjs [results.jsonl] [line index, negative from the end]
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const file = process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), 'results.jsonl');
const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l.trim());
const at = Number(process.argv[3] ?? -1);
const run = JSON.parse(lines.at(at));
const f = (x) => (x == null ? '—' : String(x));
const out = (s) => process.stdout.write(s + '\n');

out(`Run ${run.date} (${run.label}${run.ok === false ? ', FAILED' : ''}): ${run.machine.cores} cores ${run.machine.cpu}, load (1, 5, 15 min) at start ${run.machine.load_at_start?.join(" ") ?? "?"}, at end ${run.machine.load_at_end?.join(" ")}; ${run.chromium}${run.chromium_nice ? `, Chromium at nice ${run.chromium_nice}` : ''}; ${run.pulses} pulses per path, ${run.trials} presses.`);
out('');
out('| path | net | paired | mouth-to-ear p50 / p95 / max (ms) | jitter buffer (ms) | playout delay (ms) | loss / concealed | RTT (ms) | packets/s | codec |');
out('|---|---|---|---|---|---|---|---|---|---|');
for (const r of run.results.filter((x) => x.kind === 'm2e')) {
  const s = r.m2e_ms, st = r.stats ?? {};
  const pct = (x) => (x == null ? '—' : `${(x * 100).toFixed(1)} %`);
  const codec = st.codec ? st.codec.replace(/^audio\//, '').replace(/minptime=\d+;?/, '').slice(0, 40) : '—';
  out(`| ${r.label.replace(/ \((lo|impaired)\)$/, '')} | ${r.net} | ${r.paired}/${r.pulses} | ${f(s.p50)} / ${f(s.p95)} / ${f(s.max)} | ${st.jitterBufferMs != null ? st.jitterBufferMs : st.appJitterBufferMs != null ? `${st.appJitterBufferMs} (app)` : '—'} | ${f(st.playoutDelayMs)} | ${r.path === 'app-dc' ? `${pct(r.links?.[0]?.loss)} / ${pct(r.links?.[0]?.concealed)} (app)` : `${pct(st.loss)} / ${pct(st.concealed)}`} | ${f(st.rttMs)} | ${r.path === 'app-dc' ? '—' : f(st.packetsPerSecond)} | ${r.path === 'app-dc' ? (r.dc_options?.codec ?? 'pcm') + ' (dc)' : codec} |`);
}
const press = run.results.filter((x) => x.kind === 'press');
if (press.length) {
  out('');
  out('| press → first audible sample | net | heard | p50 / p95 / max (ms) |');
  out('|---|---|---|---|');
  for (const r of press) { const s = r.press_to_audible_ms; out(`| ${r.label.replace(/ \((lo|impaired)\)$/, '')} | ${r.net} | ${r.audible}/${r.trials} | ${f(s.p50)} / ${f(s.p95)} / ${f(s.max)} |`); }
}
const stall = run.results.filter((x) => x.kind === 'stall');
if (stall.length) {
  out('');
  out('| stall (path cut 5 s) | flagged: listener / talker (ms after the cut) | silent after the cut (ms) | audio back after restore (ms) |');
  out('|---|---|---|---|');
  for (const r of stall) out(`| ${r.label} | ${f(r.detected_ms.listener)} / ${f(r.detected_ms.talker)} | ${f(r.silent_after_cut_ms)} | ${f(r.audio_back_after_restore_ms)} |`);
}
for (const n of run.notes ?? []) out(`\nNote: ${n}`);

// Stage breakdown: each network path against the floor with the same capture processing (APM on:
// the app and getUserMedia's defaults), its jitter buffer from getStats / linkStats, and the rest.
const m2e = Object.fromEntries(run.results.filter((x) => x.kind === 'm2e').map((x) => [x.label, x]));
const p50 = (label) => m2e[label]?.m2e_ms?.p50 ?? null;
// The app's own configuration (latencyHint 0, a fresh source node every second) has its own floor
// rows; older runs only the plain ones.
const floorApm = p50('floor webaudio-processing hint 0 fresh source') ?? p50('floor webaudio-processing');
const floorRawApp = p50('floor webaudio hint 0 fresh source') ?? p50('floor webaudio');
const floorRaw = p50('floor webaudio'), floorEl = p50('floor audio-element');
if (floorRaw != null) {
  out('');
  out('| stage (p50, ms) | value | from |');
  out('|---|---|---|');
  out(`| capture + output, no processing (rig + Chromium) | ${floorRaw} | floor webaudio |`);
  const d = (a, b) => (a == null || b == null ? null : Math.round((a - b) * 10) / 10);
  const row = (what, a, b, from) => { const v = d(p50(a), p50(b)); if (v != null) out(`| ${what} | ${v} | ${from ?? `${a} − ${b}`} |`); };
  row('audio processing (AEC, NS, AGC)', 'floor webaudio-processing', 'floor webaudio');
  row('audio processing, app configuration', 'floor webaudio-processing hint 0 fresh source', 'floor webaudio hint 0 fresh source');
  row('`<audio>` element instead of Web Audio (local track)', 'floor audio-element', 'floor webaudio');
  row('latencyHint 0 instead of interactive (fresh source both)', 'floor webaudio hint 0 fresh source', 'floor webaudio fresh source');
  row('a fresh source node every second (latencyHint 0 both)', 'floor webaudio hint 0 fresh source', 'floor webaudio hint 0');
  out('');
  out('| path | net | m2e p50 | its floor (p50) | above the floor | jitter buffer | rest: encoder frame, packetization, transport, decode, playout |');
  out('|---|---|---|---|---|---|---|');
  for (const r of Object.values(m2e)) {
    if (!/^(peer|app)/.test(r.label) || r.m2e_ms.p50 == null) continue;
    // The app's rows against the app's floor with the same processing; the plain peer against the plain floors.
    const app = /^app/.test(r.label);
    const inEar = /in-ear/.test(r.label);
    const floor = app ? (inEar ? floorRawApp : floorApm) : (p50('floor webaudio-processing') ?? floorApm);
    if (floor == null) continue;
    const above = Math.round((r.m2e_ms.p50 - floor) * 10) / 10;
    const jb = r.stats?.jitterBufferMs ?? r.stats?.appJitterBufferMs ?? null;
    out(`| ${r.label.replace(/ \((lo|impaired)\)$/, '')} | ${r.net} | ${r.m2e_ms.p50} | ${floor} | ${above} | ${f(jb)} | ${jb == null ? '—' : Math.round((above - jb) * 10) / 10} |`);
  }
}
