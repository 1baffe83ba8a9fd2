#include "downbeat/beat_scheduler.hpp"

namespace downbeat {
namespace {

// The click itself comes from core (core::ticks_between: times, bars, accents); this only maps
// it onto the local clock and names the tempo revision it belongs to.
ScheduledBeat make(const core::TempoState& tempo, const core::Tick& tick, const ToLocal& to_local) {
  ScheduledBeat s;
  s.server_us = tick.t;
  s.local_us = to_local ? to_local(tick.t) : tick.t;
  s.bar = tick.beat.bar;
  s.beat = tick.beat.beat;
  s.sub = tick.sub;
  s.accent = tick.accent;
  s.count_in = tick.beat.count_in;
  s.rev = tick.from_prev ? tempo.rev - 1 : tempo.rev;
  s.bpm = tick.from_prev ? tempo.prev->bpm : tempo.bpm;
  return s;
}

}  // namespace

std::optional<ScheduledBeat> first_beat_at_or_after(const core::TempoState& tempo, int64_t server_us, const ToLocal& to_local,
                                                    bool subdivisions) {
  const auto ticks = core::ticks_between(tempo, server_us, INT64_MAX, subdivisions, 1);
  if (ticks.empty()) return std::nullopt;
  return make(tempo, ticks.front(), to_local);
}

std::vector<ScheduledBeat> schedule_beats(const core::TempoState& tempo, int64_t from_server_us, int64_t to_server_us,
                                          const ToLocal& to_local, bool subdivisions, std::size_t max_beats) {
  std::vector<ScheduledBeat> out;
  for (const core::Tick& t : core::ticks_between(tempo, from_server_us, to_server_us, subdivisions, max_beats))
    out.push_back(make(tempo, t, to_local));
  return out;
}

}  // namespace downbeat
