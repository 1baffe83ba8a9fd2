#pragma once
// When each beat sounds on this device: server-time beats from the tempo anchor (core::next_beat), mapped to local time.
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "core/tempo.hpp"

namespace downbeat {

struct ScheduledBeat {
  int64_t local_us = 0;   // when to sound it, on the client's local clock
  int64_t server_us = 0;  // when it sounds on the room clock
  int64_t bar = 0;        // negative during a count-in
  int beat = 0;           // 0-based within the bar (as core::Beat)
  int sub = 0;            // 0 on the beat; 1..subdivision-1 for subdivision clicks
  int accent = 0;         // 0 silent, 1 normal, 2 accent (core::accent_level)
  bool count_in = false;
  int64_t rev = 0;        // tempo revision in force for this beat (rev − 1 while `prev` still sounds)
  double bpm = 0;
};

using ToLocal = std::function<int64_t(int64_t)>;

// Beats with server time in [from_server_us, to_server_us), at most max_beats, in order. With
// `subdivisions`, the subdivision clicks between beats too (core::next_tick).
// `to_local` maps room time to local time (ClockSync::to_local); identity gives server times only.
std::vector<ScheduledBeat> schedule_beats(const core::TempoState& tempo, int64_t from_server_us, int64_t to_server_us,
                                          const ToLocal& to_local, bool subdivisions = false, std::size_t max_beats = 1024);

std::optional<ScheduledBeat> first_beat_at_or_after(const core::TempoState& tempo, int64_t server_us, const ToLocal& to_local,
                                                    bool subdivisions = false);

}  // namespace downbeat
