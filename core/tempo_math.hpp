#pragma once
// The room's tempo: an anchor (bar `anchor_bar` starts at server time `anchor_t`) from which
// every device computes every future beat, and the bar-quantised changes the MD makes to it.
// Pure logic: times are server-clock microseconds passed in by the caller. No JSON and no I/O, so
// the same file builds for the server, the SDK and the web app (wasm/build.sh, WebAssembly);
// the wire form is in core/tempo.hpp.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace downbeat::core {

struct Meter {
  int beats = 4;
  int unit = 4;
  bool operator==(const Meter&) const = default;
};

// One stretch of tempo in force from anchor_t on.
struct TempoSegment {
  bool running = false;
  double bpm = 120.0;  // counts the meter's unit: 6/8 at 120 is six 500 ms clicks per bar
  Meter meter;
  std::vector<int> accents;  // level per beat: 0 silent, 1 normal, 2 accent; empty or short = default_accent
  int subdivision = 1;       // clicks per beat
  int count_in_bars = 0;     // of the last start; count-in bars are numbered -count_in_bars .. -1
  std::int64_t anchor_t = 0;
  std::int64_t anchor_bar = 0;
  bool operator==(const TempoSegment&) const = default;
};

struct TempoState : TempoSegment {
  std::int64_t rev = 0;
  std::optional<TempoSegment> prev;  // in force before anchor_t, so a late client keeps the old click until then
  bool operator==(const TempoState&) const = default;
};

inline constexpr double kMinBpm = 20.0;
inline constexpr double kMaxBpm = 400.0;
inline constexpr int kMaxMeterBeats = 32;
inline constexpr int kMaxSubdivision = 4;
inline constexpr int kMaxCountInBars = 4;


// Absent fields are left unchanged. The initialisers let callers write {.bpm = 90.0}.
struct TempoSetParams {
  std::optional<double> bpm{};
  std::optional<Meter> meter{};
  std::optional<std::vector<int>> accents{};
  std::optional<int> subdivision{};
};

// "" when valid, else a message naming the field and the allowed range.
std::string validate_tempo_set(const TempoSetParams&, const TempoState& current);
std::string validate_count_in(int count_in_bars);

// Each returns the new state with rev+1. Inputs must have passed validate_*.
// A change lands on the first bar boundary >= now+lead of the segment in force at now+lead, and
// `prev` becomes that segment. A change still pending at now+lead (anchor_t > now+lead) has not
// sounded yet, so it is amended in place instead of being requantised: its anchor and `prev` stay.
// A set that changes the number of beats per bar without giving accents resets accents to default.
TempoState apply_set(const TempoState&, const TempoSetParams&, std::int64_t now_us, std::int64_t lead_us);
// From stopped: bar -count_in_bars starts at now+lead. While running (or a stop still pending at
// now): numbering restarts at -count_in_bars on the next bar boundary >= now+lead.
TempoState apply_start(const TempoState&, int count_in_bars, std::int64_t now_us, std::int64_t lead_us);
// The MD moved to another song: its tempo (`p`, absent fields unchanged) and fresh bar numbers.
// While running (or a start is pending) the new song starts where apply_start would restart the
// click: bar -count_in_bars (count-in bars at the new tempo), then bar 0, the song's first bar.
// Stopped: the tempo is stored for the next start (apply_set), which numbers from bar 0 anyway.
TempoState apply_song_change(const TempoState&, const TempoSetParams&, int count_in_bars, std::int64_t now_us, std::int64_t lead_us);
// Silent from the next bar boundary >= now+lead (running=false, anchor_t = that boundary).
TempoState apply_stop(const TempoState&, std::int64_t now_us, std::int64_t lead_us);

// Beat k (k >= 0, counted across bars from the anchor):
// anchor_t + floor(k * 60'000'000'000 / llround(bpm * 1000)), exact integer arithmetic.
std::int64_t beat_time(const TempoSegment&, std::int64_t k);
// Subdivision tick j (0 <= j < subdivision) of beat k; j = 0 is beat_time(k).
std::int64_t tick_time(const TempoSegment&, std::int64_t k, int j);
// Level of beat `beat_in_bar`: accents[beat] when given, else 2 on beat 0 and 1 elsewhere.
int accent_level(const TempoSegment&, int beat_in_bar);

struct Beat {
  std::int64_t t;    // server µs
  std::int64_t bar;  // negative during a count-in
  int beat;          // 0-based within the bar
  int accent;        // 0 silent, 1 normal, 2 accent
  bool count_in;     // bar < 0
};

// The first beat sounding at time >= t: prev's beats before anchor_t, then this segment's.
// Silent (level 0) beats are still returned. nullopt if silent from t on.
std::optional<Beat> next_beat(const TempoState&, std::int64_t t);
// The last beat at or before t of the segment in force at t (for tempo.update heartbeats);
// nullopt if no running segment is in force at t.
std::optional<Beat> beat_at_or_before(const TempoState&, std::int64_t t);

struct Tick {
  std::int64_t t;
  Beat beat;       // the beat this tick belongs to
  int sub;         // 0 = on the beat, 1..subdivision-1 between beats
  int accent;      // this click's level: the beat's on sub 0; between beats 1, or 0 when the beat is silent
  bool from_prev;  // sounds from `prev` (before the state's anchor_t): its rev is the state's rev − 1
};
// The first click (beat or subdivision) at time >= t; what a click renderer schedules.
std::optional<Tick> next_tick(const TempoState&, std::int64_t t);

// Every click with from <= t < to, in order, at most max_ticks: subdivision clicks too when
// `subdivide`, else the beats alone (sub always 0). Silent (level 0) clicks are included.
std::vector<Tick> ticks_between(const TempoState&, std::int64_t from, std::int64_t to, bool subdivide,
                                std::size_t max_ticks = 4096);

// Length of one bar of the segment, µs (beat_time of the next bar's first beat − anchor_t).
std::int64_t bar_duration_us(const TempoSegment&);

}  // namespace downbeat::core
