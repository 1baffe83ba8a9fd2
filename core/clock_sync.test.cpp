#include "core/clock_sync.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace downbeat::core {
namespace {

constexpr std::int64_t kMs = 1'000;
constexpr std::int64_t kSec = 1'000'000;
constexpr std::int64_t kPongTimeout = 250 * kMs;

// The network and the two clocks. The server clock is linear in the local one:
// server(l) = (l - start) * (1 + skew) + start + offset, read as whole µs like a real clock.
struct Scenario {
  std::string name;
  double offset_us = 0;
  double skew_ppm = 0;
  std::int64_t base_out_us = 1'000;   // fixed one-way delays; unequal = asymmetric path
  std::int64_t base_back_us = 1'000;
  double jitter_mean_us = 0;          // exponential, always adds delay (Wi-Fi queues never speed up)
  double spike_prob = 0;              // chance a direction gets a spike of up to spike_max_us
  std::int64_t spike_max_us = 0;
  double loss = 0;
  std::int64_t duration_us = 10 * 60 * kSec;
  std::int64_t check_every_us = 137 * kMs;  // out of step with the pings
  std::uint64_t seed = 1;
  std::int64_t server_jump_at_us = -1;  // server restart: its clock jumps by server_jump_us
  double server_jump_us = 0;
};

struct Report {
  std::int64_t checks = 0;
  std::int64_t violations = 0;
  std::string first_violation;
  double max_abs_error_us = 0;        // after the first lock
  double max_uncertainty_us = 0;      // no-arg bound, after settling (60 s after lock)
  std::int64_t samples = 0;
  std::int64_t lost = 0;
  std::int64_t lock_time_us = -1;     // from the first ping
  double final_skew_error_ppm = 0;
  double final_skew_uncertainty_ppm = 0;
  double final_uncertainty_us = 0;
  bool unlocked_after_jump = false;
  std::vector<double> settled_errors;  // |error| from 60 s after the lock on
};

class Simulation {
 public:
  explicit Simulation(const Scenario& sc) : sc_(sc), rng_(sc.seed) {
    start_ = std::uniform_int_distribution<std::int64_t>(1'000'000'000, 1'000'000'000'000)(rng_);
  }

  double true_offset(double local) const {
    double off = (local - static_cast<double>(start_)) * sc_.skew_ppm * 1e-6 + sc_.offset_us;
    if (sc_.server_jump_at_us >= 0 && local >= static_cast<double>(start_ + sc_.server_jump_at_us))
      off += sc_.server_jump_us;
    return off;
  }
  std::int64_t server_clock(std::int64_t local) const {
    return local + static_cast<std::int64_t>(std::floor(true_offset(static_cast<double>(local))));
  }

  Report run(ClockSync& cs) {
    Report r;
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    std::exponential_distribution<double> jitter(sc_.jitter_mean_us > 0 ? 1.0 / sc_.jitter_mean_us : 1.0);
    auto one_way = [&](std::int64_t base) {
      double d = static_cast<double>(base);
      if (sc_.jitter_mean_us > 0) d += jitter(rng_);
      if (unit(rng_) < sc_.spike_prob) d += unit(rng_) * static_cast<double>(sc_.spike_max_us);
      return std::min<std::int64_t>(static_cast<std::int64_t>(d), kPongTimeout / 2 - 1);
    };

    const std::int64_t end = start_ + sc_.duration_us;
    std::int64_t next_check = start_;
    std::int64_t t = start_;
    const std::int64_t jump_t = sc_.server_jump_at_us >= 0 ? start_ + sc_.server_jump_at_us : end + 1;
    std::int64_t first_lock = -1;
    // After a server jump nothing can know the new offset until a ping sent after it returns.
    bool seen_after_jump = false;

    auto check_until = [&](std::int64_t until) {
      for (; next_check < until; next_check += sc_.check_every_us) {
        const std::int64_t c = next_check;
        if ((c >= jump_t && !seen_after_jump) || cs.sample_count() == 0) continue;
        const double err = cs.offset_us(c) - true_offset(static_cast<double>(c));
        const double at = cs.uncertainty_us(c);
        const double any = cs.locked() ? cs.uncertainty_us() : at;
        const double clock_err = static_cast<double>(cs.to_server(c) - server_clock(c));
        ++r.checks;
        if (std::abs(err) > at || std::abs(err) > any || std::abs(clock_err) > at + 1.0) {
          if (r.violations++ == 0) {
            std::ostringstream m;
            m << "at +" << (c - start_) / kMs << " ms: error " << err << " µs, to_server error " << clock_err
              << " µs, uncertainty(at) " << at << ", uncertainty() " << any << ", samples " << cs.sample_count();
            r.first_violation = m.str();
          }
        }
        if (first_lock >= 0) r.max_abs_error_us = std::max(r.max_abs_error_us, std::abs(err));
        if (first_lock >= 0 && c > first_lock + 60 * kSec && cs.locked()) {
          r.max_uncertainty_us = std::max(r.max_uncertainty_us, any);
          r.settled_errors.push_back(std::abs(err));
        }
      }
    };

    while (t < end) {
      const std::int64_t d1 = one_way(sc_.base_out_us);
      const std::int64_t d2 = one_way(sc_.base_back_us);
      const std::int64_t hold = std::uniform_int_distribution<std::int64_t>(5, 400)(rng_);
      std::int64_t answered_at;
      if (unit(rng_) < sc_.loss) {
        answered_at = t + kPongTimeout;
        check_until(answered_at);
        cs.note_lost_ping();
        ++r.lost;
      } else {
        const std::int64_t l1 = t + d1;
        const std::int64_t l2 = l1 + hold;
        const std::int64_t t3 = l2 + d2;
        check_until(t3);
        cs.add_sample(t, server_clock(l1), server_clock(l2), t3);
        ++r.samples;
        answered_at = t3;
        if (t >= jump_t && !seen_after_jump) {
          seen_after_jump = true;
          r.unlocked_after_jump = !cs.locked() && cs.sample_count() == 1 &&
                                  cs.next_ping_delay_us() == ClockSyncConfig{}.burst_interval_us;
        }
      }
      if (cs.locked() && first_lock < 0) {
        first_lock = answered_at;
        r.lock_time_us = answered_at - start_;
      }
      t = answered_at + cs.next_ping_delay_us();
    }
    check_until(end);
    r.final_skew_error_ppm = cs.skew_ppm() - sc_.skew_ppm;
    r.final_skew_uncertainty_ppm = cs.skew_uncertainty_ppm();
    r.final_uncertainty_us = cs.uncertainty_us();
    return r;
  }

 private:
  Scenario sc_;
  std::mt19937_64 rng_;
  std::int64_t start_ = 0;
};

Report simulate(const Scenario& sc, ClockSyncConfig cfg = {}) {
  ClockSync cs(cfg);
  return Simulation(sc).run(cs);
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2), v.end());
  return v[v.size() / 2];
}

// Offsets of ±5 s, skew of ±200 ppm, one-sided jitter with spikes, asymmetric paths and 10 %
// loss, over three simulated hours: the error must never leave the reported bound, and the
// bound and the typical error must stay small enough to be worth having.
TEST(ClockSync, ErrorStaysWithinTheReportedUncertaintyOnHostileNetworks) {
  struct Case {
    Scenario sc;
    double max_uncertainty_us;
    double max_median_error_us;
  };
  const std::int64_t three_hours = 3 * 3600 * kSec;
  std::vector<Case> cases;
  std::uint64_t seed = 100;
  // Each network meets both signs of offset and skew.
  for (auto [offset, skew] : {std::pair{5'000'000.0, 200.0}, std::pair{-5'000'000.0, -200.0}}) {
    cases.push_back({Scenario{.name = "wifi", .offset_us = offset, .skew_ppm = skew, .base_out_us = 1'500,
                              .base_back_us = 1'500, .jitter_mean_us = 4'000, .spike_prob = 0.08,
                              .spike_max_us = 80'000, .loss = 0.10, .duration_us = three_hours, .seed = ++seed},
                     8'000, 500});
    // 9 ms out, 0.5 ms back: θ is 4.25 ms off and nothing can tell; the bound must cover it.
    cases.push_back({Scenario{.name = "asymmetric", .offset_us = -offset, .skew_ppm = skew, .base_out_us = 9'000,
                              .base_back_us = 500, .jitter_mean_us = 300, .spike_prob = 0.05,
                              .spike_max_us = 20'000, .loss = 0.10, .duration_us = three_hours, .seed = ++seed},
                     9'000, 4'500});
    cases.push_back({Scenario{.name = "busy uplink", .offset_us = offset, .skew_ppm = -skew, .base_out_us = 2'000,
                              .base_back_us = 800, .jitter_mean_us = 20'000, .spike_prob = 0.2,
                              .spike_max_us = 60'000, .loss = 0.10, .duration_us = three_hours, .seed = ++seed},
                     25'000, 2'000});
  }
  for (const Case& c : cases) {
    SCOPED_TRACE(c.sc.name + " offset " + std::to_string(c.sc.offset_us) + " skew " + std::to_string(c.sc.skew_ppm));
    const Report r = simulate(c.sc);
    EXPECT_GT(r.checks, 75'000);
    EXPECT_GT(r.lost, 300);
    EXPECT_EQ(r.violations, 0) << r.first_violation;
    EXPECT_GE(r.lock_time_us, 0);
    EXPECT_LT(r.max_uncertainty_us, c.max_uncertainty_us);
    EXPECT_LT(median(r.settled_errors), c.max_median_error_us);
  }
}

TEST(ClockSync, AsymmetricPathErrorIsRealAndCovered) {
  // 9 ms out, 0.5 ms back: every θ is biased by 4.25 ms and no estimator can see it.
  Scenario sc{.name = "asym", .offset_us = 1'234'567, .skew_ppm = 50, .base_out_us = 9'000, .base_back_us = 500,
              .duration_us = 5 * 60 * kSec, .seed = 7};
  const Report r = simulate(sc);
  EXPECT_EQ(r.violations, 0) << r.first_violation;
  EXPECT_GT(r.max_abs_error_us, 4'000.0);
  EXPECT_LT(r.max_abs_error_us, 4'800.0);
  EXPECT_GT(r.final_uncertainty_us, 4'250.0);
}

TEST(ClockSync, LowJitterPathIsWellUnderAMillisecond) {
  for (double skew : {200.0, -200.0, 0.0}) {
    Scenario sc{.name = "wired", .offset_us = -4'321'000, .skew_ppm = skew, .base_out_us = 250, .base_back_us = 250,
                .jitter_mean_us = 80, .spike_prob = 0.02, .spike_max_us = 5'000, .loss = 0.10,
                .duration_us = 30 * 60 * kSec, .seed = 42};
    SCOPED_TRACE(skew);
    const Report r = simulate(sc);
    EXPECT_EQ(r.violations, 0) << r.first_violation;
    EXPECT_LT(r.max_abs_error_us, 1'000.0);
    EXPECT_LT(r.max_uncertainty_us, 1'000.0);
    EXPECT_LT(r.final_uncertainty_us, 500.0);
  }
}

TEST(ClockSync, SkewEstimateConvergesToTheTruth) {
  for (double skew : {173.0, -61.0, 0.0}) {
    Scenario sc{.name = "skew", .offset_us = 2'500'000, .skew_ppm = skew, .base_out_us = 400, .base_back_us = 400,
                .jitter_mean_us = 500, .spike_prob = 0.05, .spike_max_us = 20'000, .loss = 0.10,
                .duration_us = 20 * 60 * kSec, .seed = 9};
    SCOPED_TRACE(skew);
    const Report r = simulate(sc);
    EXPECT_LE(std::abs(r.final_skew_error_ppm), r.final_skew_uncertainty_ppm);
    EXPECT_LT(std::abs(r.final_skew_error_ppm), 10.0);
    EXPECT_LT(r.final_skew_uncertainty_ppm, 25.0);
  }
}

TEST(ClockSync, ServerRestartIsDetectedAndRelocked) {
  Scenario sc{.name = "restart", .offset_us = 800'000, .skew_ppm = -120, .base_out_us = 1'000, .base_back_us = 1'000,
              .jitter_mean_us = 1'000, .spike_prob = 0.05, .spike_max_us = 30'000, .loss = 0.10,
              .duration_us = 10 * 60 * kSec, .seed = 3, .server_jump_at_us = 5 * 60 * kSec,
              .server_jump_us = 3'000'000};
  const Report r = simulate(sc);
  EXPECT_TRUE(r.unlocked_after_jump);  // back to a burst instead of trusting the old samples
  EXPECT_EQ(r.violations, 0) << r.first_violation;
  EXPECT_LT(r.final_uncertainty_us, 5'000.0);
}

// One ping over a path with fixed one-way delays; the server clock is local * (1 + skew) + offset.
struct FixedPath {
  double offset_us;
  double skew_ppm;
  std::int64_t out_us, back_us, hold_us = 100;
  double true_offset(std::int64_t local) const { return static_cast<double>(local) * skew_ppm * 1e-6 + offset_us; }
  std::int64_t server(std::int64_t local) const {
    return local + static_cast<std::int64_t>(std::floor(true_offset(local)));
  }
  void ping(ClockSync& cs, std::int64_t t0) const {
    const std::int64_t l1 = t0 + out_us;
    cs.add_sample(t0, server(l1), server(l1 + hold_us), l1 + hold_us + back_us);
  }
};

TEST(ClockSync, AllDelayOnOneSideSitsOnTheEdgeOfTheBound) {
  // δ = 10 ms, all of it outbound: θ is exactly 5 ms high, which is as wrong as a sample can be.
  const FixedPath path{.offset_us = 2'000'000, .skew_ppm = 0, .out_us = 10'000, .back_us = 0};
  ClockSync cs;
  std::int64_t t = 7 * kSec;
  for (int i = 0; i < 32; ++i, t += 2 * kSec) path.ping(cs, t);
  const std::int64_t x = t - 2 * kSec + 5'050;  // midpoint of the last ping
  const double err = cs.offset_us(x) - path.true_offset(x);
  EXPECT_NEAR(err, 5'000.0, 2.0);
  EXPECT_GE(cs.uncertainty_us(x), std::abs(err));
  EXPECT_LT(cs.uncertainty_us(x), 5'010.0);  // and no looser than it has to be
}

TEST(ClockSync, UncertaintyCoversExtrapolationUntilTheNextPingIsOverdue) {
  // Skew at the assumed limit and all delay on the way back: the error grows as fast as it can.
  const ClockSyncConfig cfg;
  const FixedPath path{.offset_us = -3'000'000, .skew_ppm = cfg.max_skew_ppm, .out_us = 0, .back_us = 2'000};
  ClockSync cs(cfg);
  std::int64_t t = 40 * kSec;
  for (int i = 0; i < cfg.burst_count; ++i, t += cfg.burst_interval_us) path.ping(cs, t);
  ASSERT_TRUE(cs.locked());
  const std::int64_t last = t - cfg.burst_interval_us + 1'050;
  auto worst_error = [&](std::int64_t until) {
    double worst = 0;
    for (std::int64_t c = last; c < until; c += 10 * kMs)
      worst = std::max(worst, std::abs(cs.offset_us(c) - path.true_offset(c)));
    return worst;
  };
  // No pong lost: the next one is due within one steady interval (plus a timeout).
  double worst = worst_error(last + 2 * cfg.steady_interval_us);
  EXPECT_GT(worst, 2'500.0);
  EXPECT_LE(worst, cs.uncertainty_us());
  EXPECT_LT(cs.uncertainty_us(), worst + 50.0);
  // Each lost ping pushes the next pong one interval further out, and the bound with it.
  cs.note_lost_ping();
  worst = worst_error(last + 3 * cfg.steady_interval_us);
  EXPECT_LE(worst, cs.uncertainty_us());
  EXPECT_LT(cs.uncertainty_us(), worst + 50.0);
}

TEST(ClockSync, LocksAfterTheBurstAndThenPingsAtTheSteadyRate) {
  const ClockSyncConfig cfg;
  ClockSync cs(cfg);
  EXPECT_FALSE(cs.locked());
  EXPECT_EQ(cs.next_ping_delay_us(), cfg.burst_interval_us);
  const std::int64_t offset = 3 * kSec;
  std::int64_t t = 50 * kSec;
  for (int i = 1; i <= cfg.burst_count; ++i) {
    cs.note_lost_ping();  // a lost ping does not count towards the burst
    EXPECT_EQ(cs.next_ping_delay_us(), cfg.burst_interval_us);
    cs.add_sample(t, t + 1'000 + offset, t + 1'100 + offset, t + 2'100);
    EXPECT_EQ(cs.sample_count(), i);
    EXPECT_EQ(cs.locked(), i == cfg.burst_count) << i;
    EXPECT_EQ(cs.next_ping_delay_us(), i < cfg.burst_count ? cfg.burst_interval_us : cfg.steady_interval_us);
    t += cfg.burst_interval_us;
  }
  EXPECT_EQ(cs.lost_pings(), cfg.burst_count);
  EXPECT_EQ(cs.min_rtt_us(), 2'000);
  EXPECT_NEAR(cs.offset_us(t), static_cast<double>(offset), 1.0 + 1e-9);
}

TEST(ClockSync, WindowKeepsTheNewestSamples) {
  ClockSync cs(ClockSyncConfig{.window = 5});
  std::int64_t t = 0;
  for (int i = 0; i < 20; ++i, t += 2 * kSec) cs.add_sample(t, t + 500 + 7 * kSec, t + 600 + 7 * kSec, t + 1'100 + i * 100);
  EXPECT_EQ(cs.sample_count(), 5);
  EXPECT_EQ(cs.min_rtt_us(), 1'000 + 15 * 100);  // the five newest: δ = 2500 .. 2900
  EXPECT_NEAR(cs.jitter_us(), std::sqrt(20'000.0), 1e-6);  // population sd of 2500, 2600, ..., 2900
}

TEST(ClockSync, BeforeAnySampleItIsTheIdentityAndKnowsNothing) {
  ClockSync cs;
  EXPECT_FALSE(cs.locked());
  EXPECT_EQ(cs.to_server(123'456), 123'456);
  EXPECT_EQ(cs.to_local(123'456), 123'456);
  EXPECT_TRUE(std::isinf(cs.uncertainty_us()));
  EXPECT_EQ(cs.sample_count(), 0);
}

TEST(ClockSync, ImpossibleSamplesAreIgnored) {
  ClockSync cs;
  cs.add_sample(1'000, 5'000, 6'000, 900);    // received before it was sent
  cs.add_sample(1'000, 6'000, 5'000, 9'000);  // server sent before it received
  EXPECT_EQ(cs.sample_count(), 0);
}

TEST(ClockSync, ToLocalInvertsToServer) {
  Scenario sc{.name = "inverse", .offset_us = -5'000'000, .skew_ppm = 190, .base_out_us = 700, .base_back_us = 300,
              .jitter_mean_us = 2'000, .spike_prob = 0.1, .spike_max_us = 40'000, .loss = 0.1,
              .duration_us = 2 * 60 * kSec, .seed = 5};
  ClockSync cs;
  Simulation sim(sc);
  sim.run(cs);
  ASSERT_TRUE(cs.locked());
  std::mt19937_64 rng(11);
  for (int i = 0; i < 1'000; ++i) {
    const std::int64_t local = std::uniform_int_distribution<std::int64_t>(0, 2'000'000'000'000)(rng);
    EXPECT_NEAR(static_cast<double>(cs.to_local(cs.to_server(local))), static_cast<double>(local), 1.0);
    EXPECT_LE(cs.to_server(local), cs.to_server(local + 1));
  }
}

}  // namespace
}  // namespace downbeat::core
