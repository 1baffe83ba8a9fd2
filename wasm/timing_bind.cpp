// The web app's timing core: core/tempo_math (beat arithmetic) and core/clock_sync (the clock-sync
// estimator) compiled to WebAssembly, exposed through embind. The same sources the server and the
// SDK run; web/src/tempo.ts and web/src/clock.ts only pass values in and out.
//
// Times cross the boundary as JS numbers holding whole µs (exact up to 2^53, ~285 years of µs);
// fractional inputs (performance.now() · 1000) are rounded to the nearest µs.
#include <emscripten/bind.h>
#include <emscripten/val.h>

#include <cmath>
#include <cstdint>

#include "core/clock_sync.hpp"
#include "core/tempo_math.hpp"

using emscripten::val;
namespace core = downbeat::core;

namespace {

std::int64_t to_us(double v) {
  if (!std::isfinite(v)) return 0;
  if (v > 9.0e15) return static_cast<std::int64_t>(9.0e15);
  if (v < -9.0e15) return static_cast<std::int64_t>(-9.0e15);
  return std::llround(v);
}

double from_us(std::int64_t v) { return static_cast<double>(v); }

double number_or(const val& v, double fallback) {
  if (!v.isNumber()) return fallback;
  const double d = v.as<double>();
  return std::isfinite(d) ? d : fallback;
}

// Small integer fields (meter, subdivision, count-in, accents): out-of-range values take the
// default, as core::tempo_from_json does for the server and the SDK.
int small_int_or(const val& v, int fallback) {
  const double d = number_or(v, fallback);
  if (d < -1'000'000.0 || d > 1'000'000.0) return fallback;
  return static_cast<int>(d);
}

bool has(const val& o, const char* key) {
  const val v = o[key];
  return !v.isUndefined() && !v.isNull();
}

// The wire shape of tempo.anchor (web/src/model.ts TempoCore). A segment without an anchor
// never sounds.
core::TempoSegment segment_of(const val& o) {
  core::TempoSegment s;
  s.running = o["running"].isTrue();
  s.bpm = number_or(o["bpm"], s.bpm);
  if (has(o, "meter")) {
    const val m = o["meter"];
    s.meter.beats = small_int_or(m["beats"], s.meter.beats);
    s.meter.unit = small_int_or(m["unit"], s.meter.unit);
  }
  if (has(o, "accents") && val::global("Array").call<bool>("isArray", o["accents"])) {
    const val a = o["accents"];
    const int n = a["length"].as<int>();
    for (int i = 0; i < n; ++i) {
      const int level = small_int_or(a[i], 1);
      s.accents.push_back(level < 0 ? 0 : level > 2 ? 2 : level);
    }
  }
  s.subdivision = small_int_or(o["subdivision"], s.subdivision);
  s.count_in_bars = small_int_or(o["count_in_bars"], s.count_in_bars);
  if (has(o, "anchor")) {
    const val a = o["anchor"];
    s.anchor_t = to_us(number_or(a["t"], 0));
    s.anchor_bar = to_us(number_or(a["bar"], 0));
  } else {
    s.running = false;
  }
  return s;
}

std::optional<core::TempoState> state_of(const val& o) {
  if (o.isNull() || o.isUndefined() || !has(o, "anchor")) return std::nullopt;
  core::TempoState s;
  static_cast<core::TempoSegment&>(s) = segment_of(o);
  s.rev = to_us(number_or(o["rev"], 0));
  if (has(o, "prev")) s.prev = segment_of(o["prev"]);
  return s;
}

// tempo: Tempo | null → Tick[] (web/src/tempo.ts).
val ticks_between(const val& tempo, double from, double to, bool subdivide, int max_ticks) {
  val out = val::array();
  const auto s = state_of(tempo);
  if (!s || max_ticks <= 0) return out;
  int i = 0;
  for (const core::Tick& t : core::ticks_between(*s, to_us(from), to_us(to), subdivide, static_cast<std::size_t>(max_ticks))) {
    val o = val::object();
    o.set("bar", from_us(t.beat.bar));
    o.set("beat", t.beat.beat);
    o.set("sub", t.sub);
    o.set("serverTime", from_us(t.t));
    o.set("accent", t.accent);
    o.set("countIn", t.beat.count_in);
    o.set("rev", from_us(t.from_prev ? s->rev - 1 : s->rev));
    out.set(i++, o);
  }
  return out;
}

// The latest beat at or before t, or null when silent.
val position_at(const val& tempo, double t) {
  const auto s = state_of(tempo);
  if (!s) return val::null();
  const auto b = core::beat_at_or_before(*s, to_us(t));
  if (!b) return val::null();
  const core::TempoSegment& seg = to_us(t) < s->anchor_t && s->prev ? *s->prev : *s;
  val o = val::object();
  o.set("bar", from_us(b->bar));
  o.set("beat", b->beat);
  o.set("countIn", b->count_in);
  o.set("running", true);
  o.set("bpm", seg.bpm);
  o.set("beats", seg.meter.beats < 1 ? 1 : seg.meter.beats);
  return o;
}

double bar_duration_us(const val& segment) { return from_us(core::bar_duration_us(segment_of(segment))); }

double beat_time(const val& segment, double k) { return from_us(core::beat_time(segment_of(segment), to_us(k))); }

// core::ClockSync with JS numbers. Config: {window, burstCount, burstIntervalUs, steadyIntervalUs, maxSkewPpm}.
class Clock {
 public:
  explicit Clock(const val& opt) : sync_(config_of(opt)) {}

  // false when the sample is impossible (t3 < t0 or t2 < t1) and was ignored.
  bool add_sample(double t0, double t1, double t2, double t3) {
    const std::int64_t a = to_us(t0), b = to_us(t1), c = to_us(t2), d = to_us(t3);
    if (d < a || c < b) return false;
    sync_.add_sample(a, b, c, d);
    return true;
  }
  void note_lost_ping() { sync_.note_lost_ping(); }
  bool locked() const { return sync_.locked(); }
  int sample_count() const { return sync_.sample_count(); }
  double to_server(double local) const { return from_us(sync_.to_server(to_us(local))); }
  double to_local(double server) const { return from_us(sync_.to_local(to_us(server))); }
  double offset_us(double at_local) const { return sync_.offset_us(to_us(at_local)); }
  double uncertainty_at_us(double at_local) const { return sync_.uncertainty_us(to_us(at_local)); }
  double uncertainty_us() const { return sync_.uncertainty_us(); }
  double min_rtt_us() const { return from_us(sync_.min_rtt_us()); }
  double last_rtt_us() const { return from_us(sync_.last_rtt_us()); }
  double jitter_us() const { return sync_.jitter_us(); }
  double skew_ppm() const { return sync_.skew_ppm(); }
  double skew_uncertainty_ppm() const { return sync_.skew_uncertainty_ppm(); }
  double lost_pings() const { return from_us(sync_.lost_pings()); }
  double next_ping_delay_us() const { return from_us(sync_.next_ping_delay_us()); }

 private:
  static core::ClockSyncConfig config_of(const val& o) {
    core::ClockSyncConfig c;
    if (o.isNull() || o.isUndefined()) return c;
    c.window = small_int_or(o["window"], c.window);
    c.burst_count = small_int_or(o["burstCount"], c.burst_count);
    c.burst_interval_us = to_us(number_or(o["burstIntervalUs"], from_us(c.burst_interval_us)));
    c.steady_interval_us = to_us(number_or(o["steadyIntervalUs"], from_us(c.steady_interval_us)));
    c.max_skew_ppm = number_or(o["maxSkewPpm"], c.max_skew_ppm);
    return c;
  }

  core::ClockSync sync_;
};

}  // namespace

EMSCRIPTEN_BINDINGS(downbeat_timing) {
  emscripten::function("ticksBetween", &ticks_between);
  emscripten::function("positionAt", &position_at);
  emscripten::function("barDurationUs", &bar_duration_us);
  emscripten::function("beatTime", &beat_time);
  emscripten::class_<Clock>("ClockSync")
      .constructor<const val&>()
      .function("addSample", &Clock::add_sample)
      .function("noteLostPing", &Clock::note_lost_ping)
      .function("locked", &Clock::locked)
      .function("sampleCount", &Clock::sample_count)
      .function("toServer", &Clock::to_server)
      .function("toLocal", &Clock::to_local)
      .function("offsetUs", &Clock::offset_us)
      .function("uncertaintyAtUs", &Clock::uncertainty_at_us)
      .function("uncertaintyUs", &Clock::uncertainty_us)
      .function("minRttUs", &Clock::min_rtt_us)
      .function("lastRttUs", &Clock::last_rtt_us)
      .function("jitterUs", &Clock::jitter_us)
      .function("skewPpm", &Clock::skew_ppm)
      .function("skewUncertaintyPpm", &Clock::skew_uncertainty_ppm)
      .function("lostPings", &Clock::lost_pings)
      .function("nextPingDelayUs", &Clock::next_ping_delay_us);
}
