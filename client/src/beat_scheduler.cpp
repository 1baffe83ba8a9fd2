#include "downbeat/beat_scheduler.hpp"

namespace downbeat {
namespace {

ScheduledBeat make(const core::TempoState& tempo, const core::Beat& b, int64_t t, int sub, const ToLocal& to_local) {
  ScheduledBeat s;
  s.server_us = t;
  s.local_us = to_local ? to_local(t) : t;
  s.bar = b.bar;
  s.beat = b.beat;
  s.sub = sub;
  // Subdivision clicks are quieter than any beat they fall between.
  s.accent = sub == 0 ? b.accent : (b.accent == 0 ? 0 : 1);
  s.count_in = b.count_in;
  const bool from_prev = t < tempo.anchor_t && tempo.prev.has_value();
  s.rev = from_prev ? tempo.rev - 1 : tempo.rev;
  s.bpm = from_prev ? tempo.prev->bpm : tempo.bpm;
  return s;
}

}  // namespace

std::optional<ScheduledBeat> first_beat_at_or_after(const core::TempoState& tempo, int64_t server_us, const ToLocal& to_local,
                                                    bool subdivisions) {
  if (subdivisions) {
    auto tick = core::next_tick(tempo, server_us);
    if (!tick) return std::nullopt;
    return make(tempo, tick->beat, tick->t, tick->sub, to_local);
  }
  auto beat = core::next_beat(tempo, server_us);
  if (!beat) return std::nullopt;
  return make(tempo, *beat, beat->t, 0, to_local);
}

std::vector<ScheduledBeat> schedule_beats(const core::TempoState& tempo, int64_t from_server_us, int64_t to_server_us,
                                          const ToLocal& to_local, bool subdivisions, std::size_t max_beats) {
  std::vector<ScheduledBeat> out;
  int64_t t = from_server_us;
  while (out.size() < max_beats) {
    auto next = first_beat_at_or_after(tempo, t, to_local, subdivisions);
    if (!next || next->server_us >= to_server_us) break;
    t = next->server_us + 1;  // beats are ≥ 37.5 ms apart (400 bpm × 4 subdivisions), so +1 µs never skips one
    out.push_back(*next);
  }
  return out;
}

}  // namespace downbeat
