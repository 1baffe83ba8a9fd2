#pragma once
// Calls back at each beat's local time (a native click, the CLI's beat line). Sleeps on steady_clock, so the
// client's clock must run at (close to) real rate — true for the default clock.
#include <chrono>
#include <functional>
#include <memory>

#include "downbeat/beat_scheduler.hpp"

namespace downbeat {

class Client;

class Metronome {
 public:
  // on_beat runs on the metronome's own thread, `lookahead` before the beat's local time (0 = on time).
  Metronome(Client& client, std::function<void(const ScheduledBeat&)> on_beat,
            std::chrono::microseconds lookahead = std::chrono::microseconds(0));
  ~Metronome();
  Metronome(const Metronome&) = delete;
  Metronome& operator=(const Metronome&) = delete;
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace downbeat
