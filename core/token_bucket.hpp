#pragma once
// Token bucket rate limiter on caller-supplied time (µs), for frames per connection and join attempts per address.
#include <algorithm>
#include <cstdint>

namespace downbeat::core {

class TokenBucket {
 public:
  TokenBucket(double rate_per_s, double burst) : rate_(rate_per_s), burst_(burst), tokens_(burst) {}

  bool try_take(std::int64_t now_us, double cost = 1.0) {
    refill(now_us);
    if (tokens_ < cost) return false;
    tokens_ -= cost;
    return true;
  }
  // Seconds until one token is available (for Retry-After), rounded up, at least 1.
  int retry_after_s(std::int64_t now_us) {
    refill(now_us);
    if (tokens_ >= 1.0) return 0;
    double s = (1.0 - tokens_) / rate_;
    return std::max(1, static_cast<int>(s + 0.999));
  }
  // Whole tokens available now.
  int tokens_left(std::int64_t now_us) {
    refill(now_us);
    return static_cast<int>(tokens_);
  }
  bool full(std::int64_t now_us) {
    refill(now_us);
    return tokens_ >= burst_;
  }

 private:
  void refill(std::int64_t now_us) {
    if (last_us_ != 0 && now_us > last_us_) tokens_ = std::min(burst_, tokens_ + static_cast<double>(now_us - last_us_) * rate_ / 1e6);
    last_us_ = now_us;
  }
  double rate_;
  double burst_;
  double tokens_;
  std::int64_t last_us_ = 0;
};

}  // namespace downbeat::core
