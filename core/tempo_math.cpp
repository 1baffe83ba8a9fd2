#include "core/tempo_math.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace downbeat::core {

namespace {


// µs per minute, times 1000 because bpm is used in thousandths (llround(bpm * 1000)).
constexpr std::int64_t kMicrosPerMilliBeat = 60'000'000'000;

std::int64_t floor_div(std::int64_t a, std::int64_t b) {  // b > 0
  std::int64_t q = a / b;
  if ((a % b) < 0) --q;
  return q;
}

std::int64_t floor_mod(std::int64_t a, std::int64_t b) { return a - floor_div(a, b) * b; }

// Tempo in thousandths of a bpm. Clamped so that state read from disk or the wire can never
// divide by zero or overflow; validated states are unaffected.
std::int64_t milli_bpm(const TempoSegment& s) {
  const double bpm = std::isfinite(s.bpm) ? std::clamp(s.bpm, kMinBpm, kMaxBpm) : 120.0;
  return std::llround(bpm * 1000.0);
}

int beats_per_bar(const TempoSegment& s) { return std::max(1, s.meter.beats); }
int ticks_per_beat(const TempoSegment& s) { return std::clamp(s.subdivision, 1, kMaxSubdivision); }

// floor(i * 60e9 / den) without overflow: split i = q*den + r so that r*60e9 stays below 2^63.
std::int64_t offset_of(std::int64_t i, std::int64_t den) {
  const std::int64_t q = floor_div(i, den);
  const std::int64_t r = i - q * den;
  return q * kMicrosPerMilliBeat + (r * kMicrosPerMilliBeat) / den;
}

// Smallest i with offset_of(i, den) >= d, i.e. ceil(d * den / 60e9), split the same way.
std::int64_t first_index_at_or_after(std::int64_t d, std::int64_t den) {
  const std::int64_t q = floor_div(d, kMicrosPerMilliBeat);
  const std::int64_t r = d - q * kMicrosPerMilliBeat;
  return q * den + (r * den + kMicrosPerMilliBeat - 1) / kMicrosPerMilliBeat;
}

Beat make_beat(const TempoSegment& s, std::int64_t k) {
  const int per_bar = beats_per_bar(s);
  const std::int64_t bar = s.anchor_bar + floor_div(k, per_bar);
  const int beat = static_cast<int>(floor_mod(k, per_bar));
  return Beat{beat_time(s, k), bar, beat, accent_level(s, beat), bar < 0};
}

std::optional<Beat> first_beat_of(const TempoSegment& s, std::int64_t t) {
  if (!s.running) return std::nullopt;
  const std::int64_t k = std::max<std::int64_t>(0, first_index_at_or_after(t - s.anchor_t, milli_bpm(s)));
  return make_beat(s, k);
}

std::optional<Tick> first_tick_of(const TempoSegment& s, std::int64_t t) {
  if (!s.running) return std::nullopt;
  const int sub = ticks_per_beat(s);
  const std::int64_t i =
      std::max<std::int64_t>(0, first_index_at_or_after(t - s.anchor_t, milli_bpm(s) * sub));
  const std::int64_t k = i / sub;
  const int j = static_cast<int>(i % sub);
  const Beat b = make_beat(s, k);
  return Tick{tick_time(s, k, j), b, j, j == 0 ? b.accent : (b.accent == 0 ? 0 : 1), false};
}

// The segment the state has in force at t; nullptr before the first anchor when there is no prev.
const TempoSegment* in_force(const TempoState& s, std::int64_t t) {
  if (t >= s.anchor_t) return &s;
  if (s.prev) return &*s.prev;
  return nullptr;
}

struct Boundary {
  std::int64_t t;
  std::int64_t bar;
};

// First bar boundary of a running segment at or after t (never before its anchor).
Boundary bar_boundary_at_or_after(const TempoSegment& s, std::int64_t t) {
  const int per_bar = beats_per_bar(s);
  const std::int64_t k = std::max<std::int64_t>(0, first_index_at_or_after(t - s.anchor_t, milli_bpm(s)));
  const std::int64_t bars = (k + per_bar - 1) / per_bar;
  return Boundary{beat_time(s, bars * per_bar), s.anchor_bar + bars};
}

TempoSegment segment_of(const TempoState& s) { return static_cast<const TempoSegment&>(s); }

// What sounded before a change anchored at `grid`'s boundary b: the grid segment itself, unless
// b is the current segment's own anchor (it never sounded), in which case its prev still does.
std::optional<TempoSegment> prev_for_requantised(const TempoState& s, const TempoSegment* grid, std::int64_t b) {
  if (grid == &s && b == s.anchor_t) return s.prev;
  return *grid;
}

// An amendment that keeps the anchor: while the anchor is still ahead the old prev still sounds.
std::optional<TempoSegment> prev_for_amended(const TempoState& s, std::int64_t now_us) {
  if (s.anchor_t > now_us) return s.prev;
  return segment_of(s);
}

TempoState next_rev(const TempoState& s) {
  TempoState n = s;
  n.rev = s.rev + 1;
  return n;
}

// As an ostream prints a double (%g, 6 significant digits), without pulling iostreams into the
// WebAssembly build.
std::string number_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

}  // namespace

std::string validate_tempo_set(const TempoSetParams& p, const TempoState& current) {
  if (p.bpm && !(*p.bpm >= kMinBpm && *p.bpm <= kMaxBpm))
    return "bpm must be between 20 and 400 (got " + number_text(*p.bpm) + ")";
  if (p.meter) {
    if (p.meter->beats < 1 || p.meter->beats > kMaxMeterBeats)
      return "meter.beats must be between 1 and 32 (got " + std::to_string(p.meter->beats) + ")";
    const int u = p.meter->unit;
    if (u != 1 && u != 2 && u != 4 && u != 8 && u != 16)
      return "meter.unit must be 1, 2, 4, 8 or 16 (got " + std::to_string(u) + ")";
  }
  if (p.accents) {
    const int beats = p.meter ? p.meter->beats : current.meter.beats;
    if (p.accents->size() > static_cast<std::size_t>(beats))
      return "accents has " + std::to_string(p.accents->size()) + " entries but the meter has " +
             std::to_string(beats) + " beats: give at most one level per beat";
    for (std::size_t i = 0; i < p.accents->size(); ++i) {
      const int level = (*p.accents)[i];
      if (level < 0 || level > 2)
        return "accents[" + std::to_string(i) + "] must be between 0 and 2 (0 silent, 1 normal, 2 accent; got " +
               std::to_string(level) + ")";
    }
  }
  if (p.subdivision && (*p.subdivision < 1 || *p.subdivision > kMaxSubdivision))
    return "subdivision must be between 1 and 4 (got " + std::to_string(*p.subdivision) + ")";
  return {};
}

std::string validate_count_in(int count_in_bars) {
  if (count_in_bars < 0 || count_in_bars > kMaxCountInBars)
    return "count_in_bars must be between 0 and 4 (got " + std::to_string(count_in_bars) + ")";
  return {};
}

// The fields of `p` that are set, over `n` (which was `s`).
static void apply_params(TempoState& n, const TempoState& s, const TempoSetParams& p) {
  if (p.bpm) n.bpm = *p.bpm;
  if (p.meter) {
    // A pattern written for another bar length would land on the wrong beats.
    if (p.meter->beats != s.meter.beats && !p.accents) n.accents.clear();
    n.meter = *p.meter;
  }
  if (p.accents) n.accents = *p.accents;
  if (p.subdivision) n.subdivision = *p.subdivision;
}

TempoState apply_set(const TempoState& s, const TempoSetParams& p, std::int64_t now_us, std::int64_t lead_us) {
  TempoState n = next_rev(s);
  apply_params(n, s, p);

  const std::int64_t at = now_us + lead_us;
  if (s.running && s.anchor_t <= at) {
    const Boundary b = bar_boundary_at_or_after(s, at);
    n.anchor_t = b.t;
    n.anchor_bar = b.bar;
    n.prev = prev_for_requantised(s, &s, b.t);
  } else {
    n.prev = prev_for_amended(s, now_us);
  }
  return n;
}

TempoState apply_start(const TempoState& s, int count_in_bars, std::int64_t now_us, std::int64_t lead_us) {
  TempoState n = next_rev(s);
  n.running = true;
  n.count_in_bars = count_in_bars;
  n.anchor_bar = -count_in_bars;

  const std::int64_t at = now_us + lead_us;
  const TempoSegment* grid = in_force(s, at);
  if (!(grid && grid->running)) grid = nullptr;
  // Stop pressed and start pressed again before the stop sounded: the click never stops, so the
  // restart keeps to its bar grid.
  if (!grid && !s.running && s.prev && s.prev->running && s.anchor_t > now_us) grid = &*s.prev;

  if (grid) {
    const Boundary b = bar_boundary_at_or_after(*grid, at);
    n.anchor_t = b.t;
    n.prev = prev_for_requantised(s, grid, b.t);
  } else {
    n.anchor_t = at;
    const TempoSegment* before = in_force(s, at - 1);
    n.prev = before ? *before : segment_of(s);
  }
  return n;
}

TempoState apply_song_change(const TempoState& s, const TempoSetParams& p, int count_in_bars, std::int64_t now_us, std::int64_t lead_us) {
  if (!s.running) return apply_set(s, p, now_us, lead_us);
  // The restart lands on the old grid's next bar boundary; from there the new tempo counts.
  TempoState n = apply_start(s, count_in_bars, now_us, lead_us);
  apply_params(n, s, p);
  return n;
}

TempoState apply_stop(const TempoState& s, std::int64_t now_us, std::int64_t lead_us) {
  TempoState n = next_rev(s);
  n.running = false;

  const std::int64_t at = now_us + lead_us;
  const TempoSegment* grid = in_force(s, at);
  if (grid && grid->running) {
    const Boundary b = bar_boundary_at_or_after(*grid, at);
    n.anchor_t = b.t;
    n.anchor_bar = b.bar;
    n.prev = prev_for_requantised(s, grid, b.t);
  } else {
    // Already silent at now+lead (or a stop is pending): nothing sounds differently; a start
    // still pending is cancelled by running=false.
    n.prev = prev_for_amended(s, now_us);
  }
  return n;
}

std::int64_t beat_time(const TempoSegment& s, std::int64_t k) { return s.anchor_t + offset_of(k, milli_bpm(s)); }

std::int64_t tick_time(const TempoSegment& s, std::int64_t k, int j) {
  const int sub = ticks_per_beat(s);
  return s.anchor_t + offset_of(k * sub + j, milli_bpm(s) * sub);
}

int accent_level(const TempoSegment& s, int beat_in_bar) {
  if (beat_in_bar >= 0 && static_cast<std::size_t>(beat_in_bar) < s.accents.size())
    return s.accents[static_cast<std::size_t>(beat_in_bar)];
  return beat_in_bar == 0 ? 2 : 1;
}

std::optional<Beat> next_beat(const TempoState& s, std::int64_t t) {
  if (s.prev && t < s.anchor_t) {
    if (auto b = first_beat_of(*s.prev, t); b && b->t < s.anchor_t) return b;
  }
  return first_beat_of(s, t);
}

std::optional<Tick> next_tick(const TempoState& s, std::int64_t t) {
  if (s.prev && t < s.anchor_t) {
    if (auto tick = first_tick_of(*s.prev, t); tick && tick->t < s.anchor_t) {
      tick->from_prev = true;
      return tick;
    }
  }
  return first_tick_of(s, t);
}

std::vector<Tick> ticks_between(const TempoState& s, std::int64_t from, std::int64_t to, bool subdivide,
                                std::size_t max_ticks) {
  std::vector<Tick> out;
  std::int64_t t = from;
  while (out.size() < max_ticks && t < to) {
    std::optional<Tick> next;
    if (subdivide) {
      next = next_tick(s, t);
    } else if (auto b = next_beat(s, t)) {
      next = Tick{b->t, *b, 0, b->accent, s.prev.has_value() && b->t < s.anchor_t};
    }
    if (!next || next->t >= to) break;
    out.push_back(*next);
    t = next->t + 1;  // clicks are >= 37.5 ms apart (400 bpm, 4 subdivisions): +1 µs never skips one
  }
  return out;
}

std::int64_t bar_duration_us(const TempoSegment& s) { return offset_of(beats_per_bar(s), milli_bpm(s)); }

std::optional<Beat> beat_at_or_before(const TempoState& s, std::int64_t t) {
  const TempoSegment* seg = in_force(s, t);
  if (!seg || !seg->running || t < seg->anchor_t) return std::nullopt;
  // The last k with beat_time(k) <= t is one before the first with beat_time(k) >= t + 1.
  const std::int64_t k = first_index_at_or_after(t + 1 - seg->anchor_t, milli_bpm(*seg)) - 1;
  return make_beat(*seg, k);
}

}  // namespace downbeat::core
