#include "downbeat/clock.hpp"

#include <chrono>

namespace downbeat {

int64_t steady_now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

LocalClock steady_clock_source() { return [] { return steady_now_us(); }; }

}  // namespace downbeat
