#pragma once
// The client's local monotonic clock, injectable so tests and the drift bench can give each client its own offset and skew.
#include <cstdint>
#include <functional>

namespace downbeat {

// Microseconds on a monotonic local timeline. Only differences and the server mapping matter.
using LocalClock = std::function<int64_t()>;

// CLOCK_MONOTONIC (std::chrono::steady_clock) in microseconds: the default.
int64_t steady_now_us();
LocalClock steady_clock_source();

}  // namespace downbeat
