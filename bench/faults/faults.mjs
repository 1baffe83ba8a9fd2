// Fault benchmark: kill -9 under load, a client's link cut and restored, slow consumers, fd
// exhaustion, disk full. Real downbeatd on loopback; everything it starts it stops, every mount it
// makes it undoes (also on failure). Figures and method: bench/faults/REPORT.md.
//
//   node bench/faults/faults.mjs [--smoke] [--only kill,link,slow,fd,disk] [--out FILE.jsonl]
//
// DOWNBEATD=path/to/downbeatd (default build/bin/downbeatd). --smoke is the short run ctest does
// (label bench); it fails when something acknowledged was lost or duplicated, or a recovery target
// is missed by far. Exit 0 = held, 1 = a fault broke something it must not.
import { appendFileSync, writeFileSync } from 'node:fs';
import { machine } from './lib.mjs';
import { killCycles } from './kill.mjs';
import { linkCuts } from './link.mjs';
import { slowConsumers, fdExhaustion } from './resources.mjs';
import { diskFull } from './disk.mjs';

const argv = process.argv.slice(2);
const smoke = argv.includes('--smoke');
const arg = (name, dflt) => { const i = argv.indexOf(name); return i >= 0 ? argv[i + 1] : dflt; };
const only = new Set(arg('--only', 'kill,link,slow,fd,disk').split(','));
const out = arg('--out', null);
const started = new Date().toISOString();
const info = { scenario: 'run', started, smoke, machine: machine() };

if (out) writeFileSync(out, '');
const emit = (row) => {
  if (out) appendFileSync(out, JSON.stringify({ ...row, t: new Date().toISOString() }) + '\n');
};
const log = (s) => console.log(s);
emit(info);
log(`faults bench${smoke ? ' (smoke)' : ''}: ${info.machine.nproc} × ${info.machine.cpu}, load ${info.machine.load1}`);

const failures = [];
const check = (ok, what) => { if (!ok) { failures.push(what); log(`FAIL: ${what}`); } };

// Whatever happens, children die with us.
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { process.exitCode = 130; throw new Error(`interrupted by ${sig}`); });

try {
  if (only.has('kill')) {
    const s = await killCycles({ cycles: smoke ? 3 : 100, mds: smoke ? 2 : 4, passive: smoke ? 2 : 3, emit, log });
    log(`kill -9: ${s.cycles} cycles, ${s.acked} acked, lost ${s.lost}, duplicated ${s.duplicated}; restart → all ${s.clients} clients back p50 ${s.restart_to_all_back_ms.p50?.toFixed(0)} / max ${s.restart_to_all_back_ms.max?.toFixed(0)} ms; tempo changed in ${s.tempo_changed_cycles} cycles, beat phase error max ${s.beat_phase_err_ms.max?.toFixed(2)} ms`);
    check(s.lost === 0, 'kill -9: acknowledged changes lost');
    check(s.duplicated === 0, 'kill -9: changes duplicated');
    check(s.tempo_changed_cycles === 0, 'kill -9: the click lost its anchor');
    check(s.restart_to_all_back_ms.max < (smoke ? 5000 : 1e9), 'kill -9: clients not back within 5 s');
  }
  if (only.has('link')) {
    const s = await linkCuts({ smoke, emit, log });
    check(s.duplicated === 0, 'link cut: participant duplicated');
    check(s.back_after_restore_ms_online.max < (smoke ? 3000 : 1e9), 'link cut: not back within 3 s of the link returning');
  }
  if (only.has('slow')) {
    const s = await slowConsumers({ smoke, emit, log });
    check(s.server_alive, 'slow consumers: the server died');
  }
  if (only.has('fd')) {
    for (const sources of smoke ? [8] : [1, 8]) {
      const s = await fdExhaustion({ smoke, emit, log, sources });
      check(s.server_alive, `fd exhaustion (${sources} source addresses): the server died`);
    }
  }
  if (only.has('disk')) {
    const s = await diskFull({ smoke, emit, log });
    if (s.skipped) log(`disk full: skipped (${s.skipped})`);
    else {
      check(s.lost === 0, 'disk full: acknowledged changes lost');
      check(s.recovered, 'disk full: commands did not work again after space was freed');
    }
  }
} catch (e) {
  failures.push(`error: ${e.stack || e}`);
  log(`ERROR: ${e.stack || e}`);
}
emit({ scenario: 'run', finished: new Date().toISOString(), failures });
log(failures.length ? `faults: ${failures.length} failure(s)` : 'faults: everything held');
process.exit(failures.length ? 1 : 0);
