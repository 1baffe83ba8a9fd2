// Onsets of tone bursts in a recorded channel, and their pairing between "spoken" (left) and
// "heard" (right). Both channels come from one PulseAudio monitor stream: one sample clock.

const ms = (n, rate) => Math.round((n / 1000) * rate);

// Trailing max of |x| over ~1 ms: catches the peak of a 1 kHz cycle; its rise is the onset.
export function envelope(x, rate) {
  const w = Math.max(1, ms(1, rate));
  const m = new Float32Array(x.length);
  // Monotonic deque of indices for the sliding max.
  const dq = new Int32Array(x.length);
  let head = 0, tail = 0;
  for (let i = 0; i < x.length; i++) {
    const a = Math.abs(x[i]);
    while (tail > head && Math.abs(x[dq[tail - 1]]) <= a) tail--;
    dq[tail++] = i;
    if (dq[head] <= i - w) head++;
    m[i] = Math.abs(x[dq[head]]);
  }
  return m;
}

export function percentile(sorted, p) {
  if (!sorted.length) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.round((p / 100) * (sorted.length - 1))));
  return sorted[i];
}

function levels(m) {
  // A strided sample of the envelope is enough for robust levels of a long recording.
  const step = Math.max(1, Math.floor(m.length / 200_000));
  const s = [];
  for (let i = 0; i < m.length; i += step) s.push(m[i]);
  s.sort((a, b) => a - b);
  return { floor: percentile(s, 50), peak: percentile(s, 99) };
}

// Burst onsets (sample indices). A burst triggers at max(10 × noise floor, 15 % of the channel's
// loud level); its onset is the first sample, at most 20 ms earlier, that reaches 10 % of that
// burst's own peak — so a gain change (AGC, codec) does not move the onset.
export function findOnsets(x, rate, { holdoffMs = 150, minAbs = 0.004 } = {}) {
  const m = envelope(x, rate);
  const { floor, peak } = levels(m);
  const trig = Math.max(10 * floor, 0.15 * peak, minAbs);
  const onsets = [];
  const back = ms(20, rate), fwd = ms(40, rate), hold = ms(holdoffMs, rate);
  let last = -Infinity;
  for (let i = 0; i < m.length; i++) {
    if (m[i] < trig || i < last + hold) continue;
    let pk = 0;
    for (let k = i; k < Math.min(m.length, i + fwd); k++) pk = Math.max(pk, m[k]);
    const lo = 0.1 * pk;
    let j = Math.max(0, i - back, last + hold);
    while (j < i && Math.abs(x[j]) < lo) j++;
    onsets.push(j);
    last = j;
    i = j + hold - 1;
  }
  return { onsets, floor, peak, trig };
}

// Pairing. The delay is first found as the mode of all heard − spoken differences in
// [minLatencyMs, maxLatencyMs] (5 ms bins; the bursts are irregularly spaced, so only the true delay
// lines many of them up), then followed burst by burst: each spoken onset takes the heard onset
// nearest to spoken + current delay within ±windowMs (less than half the shortest spacing, 420 ms), and the
// delay moves to what it found. Heard onsets left over are "spurious".
export function pair(spoken, heard, rate, { minLatencyMs = 1, maxLatencyMs = 2000, windowMs = 200 } = {}) {
  // Candidate delays: every heard − spoken difference in range; score: how many spoken onsets have a
  // heard onset within ±20 ms of spoken + delay. Ties go to the shorter delay.
  const tol = 0.020 * rate;
  const hasNear = (t) => { let lo = 0, hi = heard.length; while (lo < hi) { const m = (lo + hi) >> 1; if (heard[m] < t - tol) lo = m + 1; else hi = m; } return lo < heard.length && heard[lo] <= t + tol; };
  let best = null, bestN = 0;
  for (const sp of spoken) for (const h of heard) {
    const d = h - sp;
    if (d < (minLatencyMs / 1000) * rate || d > (maxLatencyMs / 1000) * rate) continue;
    let n = 0;
    for (const s2 of spoken) if (hasNear(s2 + d)) n++;
    if (n > bestN || (n === bestN && d < best)) { best = d; bestN = n; }
  }
  const pairs = [];
  const used = new Set();
  let delay = best === null ? null : (best / rate) * 1000;
  const win = (windowMs / 1000) * rate;
  for (const s of spoken) {
    if (delay === null) { pairs.push({ spoken: s, heard: null, ms: null }); continue; }
    const want = s + (delay / 1000) * rate;
    let pick = -1, dist = Infinity;
    for (let j = 0; j < heard.length; j++) {
      if (used.has(j)) continue;
      const dd = Math.abs(heard[j] - want);
      if (dd <= win && dd < dist && heard[j] - s >= (minLatencyMs / 1000) * rate) { pick = j; dist = dd; }
    }
    if (pick < 0) { pairs.push({ spoken: s, heard: null, ms: null }); continue; }
    used.add(pick);
    const msv = ((heard[pick] - s) / rate) * 1000;
    pairs.push({ spoken: s, heard: heard[pick], ms: msv });
    delay = msv;
  }
  return { pairs, spurious: heard.length - used.size };
}

export function summary(values) {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return { n: 0 };
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  const r = (x) => Math.round(x * 10) / 10;
  return { n: v.length, min: r(v[0]), p50: r(percentile(v, 50)), p95: r(percentile(v, 95)), max: r(v[v.length - 1]), mean: r(mean) };
}

// First sample at or after `from` where the channel is audible for ≥ 20 ms in a row
// (envelope above thr, gaps shorter than 5 ms allowed): "first audible sample".
export function firstAudible(m, rate, from, to, thr) {
  const need = ms(20, rate), gap = ms(5, rate);
  let start = -1, quiet = 0;
  for (let i = Math.max(0, from); i < Math.min(m.length, to); i++) {
    if (m[i] >= thr) {
      if (start < 0) start = i;
      quiet = 0;
      if (i - start >= need) return start;
    } else if (start >= 0 && ++quiet > gap) { start = -1; quiet = 0; }
  }
  return -1;
}

// Fraction of [from, to) that is audible: used to check "nothing heard while nobody talks".
export function audibleFraction(m, from, to, thr) {
  let n = 0, a = 0;
  for (let i = Math.max(0, from); i < Math.min(m.length, to); i++) { n++; if (m[i] >= thr) a++; }
  return n ? a / n : 0;
}
