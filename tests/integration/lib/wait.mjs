// Bounded waiting for the Node-driven tests and benchmarks (integration, browser e2e, voice
// bench): every wait ends by itself with a message that says what was awaited.
export class Fail extends Error {}
export function check(cond, msg) { if (!cond) throw new Fail(msg); }
export function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }

// Polls `fn` until it returns something truthy (which is returned); an error thrown with
// `fatal: true` ends the wait at once, others are retried and named in the timeout message.
export async function waitFor(fn, what, timeout = 10_000, every = 100) {
  const end = Date.now() + timeout;
  let last;
  while (Date.now() < end) {
    try { last = await fn(); if (last) return last; } catch (e) { last = e; if (e?.fatal) throw e; }
    await sleep(every);
  }
  throw new Fail(`timed out after ${timeout} ms waiting for ${what}${last instanceof Error ? ` (last error: ${last.message})` : ''}`);
}
