#pragma once
// A network path's delay model, applied per chunk in userspace (this kernel has no netem):
// base one-way delay, jitter, rare spikes (Wi-Fi), and loss modelled as a TCP retransmission delay.
#include <algorithm>
#include <cstdint>
#include <random>

namespace downbeat::bench {

struct Impairment {
  double base_up_us = 0;    // client → server
  double base_down_us = 0;  // server → client
  enum class Jitter { none, uniform, exponential } jitter = Jitter::none;
  double jitter_us = 0;     // uniform: ± this around the base; exponential: mean of the one-sided extra
  double spike_prob = 0;    // per chunk
  double spike_min_us = 0, spike_max_us = 0;
  double loss = 0;          // per chunk: lost, then retransmitted after rto_us
  double rto_us = 200'000;  // Linux minimum RTO

  int64_t sample(bool upstream, std::mt19937_64& rng) const {
    std::uniform_real_distribution<double> u(0.0, 1.0);
    double d = upstream ? base_up_us : base_down_us;
    if (jitter == Jitter::uniform) d += (2 * u(rng) - 1) * jitter_us;
    if (jitter == Jitter::exponential && jitter_us > 0) d += std::exponential_distribution<double>(1.0 / jitter_us)(rng);
    if (spike_prob > 0 && u(rng) < spike_prob) d += spike_min_us + u(rng) * (spike_max_us - spike_min_us);
    if (loss > 0 && u(rng) < loss) d += rto_us;
    return static_cast<int64_t>(std::max(0.0, d));
  }
};

}  // namespace downbeat::bench
