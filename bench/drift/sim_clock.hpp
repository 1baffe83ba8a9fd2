#pragma once
// A simulated device clock: the real monotonic clock with an offset and a rate error (skew), and its
// exact inverse, so the bench can turn "when this client plays the beat" back into real time.
#include <cmath>
#include <cstdint>

#include "downbeat/clock.hpp"

namespace downbeat::bench {

struct SimClock {
  int64_t real0 = 0;      // real instant where local = real0 + offset
  int64_t offset_us = 0;  // local − real at real0
  double skew = 0;        // local rate / real rate − 1 (100 ppm = 1e-4)

  int64_t local_at(int64_t real_us) const {
    const auto dt = static_cast<double>(real_us - real0);
    return real0 + offset_us + (real_us - real0) + static_cast<int64_t>(std::llround(dt * skew));
  }
  // Real instant (µs, fractional) at which this clock shows local_us.
  double real_at(int64_t local_us) const {
    return static_cast<double>(real0) + static_cast<double>(local_us - real0 - offset_us) / (1.0 + skew);
  }
  int64_t now() const { return local_at(steady_now_us()); }
};

}  // namespace downbeat::bench
