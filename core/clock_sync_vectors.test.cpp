// The shared clock-sync traces (protocol/vectors/clock_sync.json): ping samples in, and what
// core::ClockSync reports after each one. The web app replays the same samples through the
// WebAssembly build (web/src/clock.test.ts) and must report the same numbers. The traces come
// from a simulated link whose true offset and skew are in the file, so each replay also checks
// what can be derived without the estimator: the true offset lies within the reported bound.
//
// DOWNBEAT_UPDATE_VECTORS=1 regenerates the traces and the expected reports from core.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "core/clock_sync.hpp"
#include "core/vectors_layout.test.hpp"

namespace json = boost::json;
using downbeat::core::ClockSync;
using downbeat::core::ClockSyncConfig;

namespace {

const std::string kPath = std::string(DOWNBEAT_SOURCE_DIR) + "/protocol/vectors/clock_sync.json";

struct Link {
  std::string name;
  double offset_us;     // server − local at local 0
  double skew_ppm;      // server runs this much faster
  double up_us, down_us;  // base one-way delays
  double jitter_us;     // mean of the one-sided exponential extra delay, each way
  double loss;          // probability a ping or its pong is lost
  double seconds;       // steady pinging after the burst
  double step_at_s = -1;  // the server clock jumps by step_us at this time (a restart)
  double step_us = 0;
  unsigned seed = 1;
};

// A portable generator (the same numbers on every machine), uniform in [0, 1).
struct Lcg {
  std::uint32_t s;
  double next() {
    s = s * 1664525u + 1013904223u;
    return static_cast<double>(s) / 4294967296.0;
  }
};

constexpr std::int64_t kBurst = 8, kBurstSpacing = 25'000, kInterval = 250'000;  // as the SDK and the app ping
constexpr std::int64_t kStart = 1'000'000'000;

json::array simulate(const Link& l) {
  Lcg rng{l.seed};
  json::array events;
  auto server = [&](double local, double at_s) {
    double v = local + l.offset_us + l.skew_ppm * 1e-6 * local;
    if (l.step_at_s >= 0 && at_s >= l.step_at_s) v += l.step_us;
    return v;
  };
  auto exp_delay = [&] { return -std::log(1.0 - rng.next()) * l.jitter_us; };
  std::int64_t t0 = kStart;
  const std::int64_t n = kBurst + static_cast<std::int64_t>(l.seconds * 1e6 / kInterval);
  for (std::int64_t i = 0; i < n; ++i) {
    t0 += i < kBurst ? kBurstSpacing : kInterval;
    if (rng.next() < l.loss) {
      events.emplace_back("lost");
      continue;
    }
    const double at_s = static_cast<double>(t0 - kStart) * 1e-6;
    const double arrive = static_cast<double>(t0) + l.up_us + exp_delay();
    const auto t1 = std::llround(server(arrive, at_s));
    const std::int64_t t2 = t1 + 40;
    const double back = arrive + 40.0 + l.down_us + exp_delay();
    events.emplace_back(json::array{t0, t1, t2, std::llround(back)});
  }
  return events;
}

// What the estimator says after a sample, at the instant 100 ms later (when a click scheduler
// would ask): [offset_us, uncertainty_at_us, uncertainty_us, skew_ppm, skew_uncertainty_ppm,
// locked, to_server, to_local(to_server), min_rtt_us, last_rtt_us, jitter_us, sample_count].
json::array report(const ClockSync& c, std::int64_t at) {
  const std::int64_t server = c.to_server(at);
  return json::array{c.offset_us(at), c.uncertainty_us(at), c.uncertainty_us(), c.skew_ppm(),
                     c.skew_uncertainty_ppm(), c.locked(), server, c.to_local(server),
                     c.min_rtt_us(), c.last_rtt_us(), c.jitter_us(), c.sample_count()};
}

struct Replay {
  json::array reports;
  int outside_bound = 0;  // reports whose true offset lies outside the reported bound
  double worst_error_us = 0;
};

Replay replay(const json::object& c) {
  const json::object& truth = c.at("truth").as_object();
  const double offset = truth.at("offset_us").to_number<double>();
  const double skew = truth.at("skew_ppm").to_number<double>();
  const double step_at = truth.at("step_at_s").to_number<double>();
  const double step = truth.at("step_us").to_number<double>();
  ClockSyncConfig cfg;
  cfg.burst_count = static_cast<int>(kBurst);
  cfg.burst_interval_us = kBurstSpacing;
  cfg.steady_interval_us = kInterval;
  ClockSync sync(cfg);
  Replay r;
  for (const auto& e : c.at("samples").as_array()) {
    if (e.is_string()) {
      sync.note_lost_ping();
      continue;
    }
    const json::array& s = e.as_array();
    const std::int64_t t0 = s[0].to_number<std::int64_t>(), t3 = s[3].to_number<std::int64_t>();
    sync.add_sample(t0, s[1].to_number<std::int64_t>(), s[2].to_number<std::int64_t>(), t3);
    const std::int64_t at = t3 + 100'000;
    r.reports.emplace_back(report(sync, at));
    // Hand-derivable: server(at) from the link's own parameters.
    const double x = static_cast<double>(at);
    double true_offset = offset + skew * 1e-6 * x;
    if (step_at >= 0 && static_cast<double>(t0 - kStart) * 1e-6 >= step_at) true_offset += step;
    const double err = std::abs(sync.offset_us(at) - true_offset);
    if (err > sync.uncertainty_us(at) + 1.0) ++r.outside_bound;
    if (sync.locked()) r.worst_error_us = std::max(r.worst_error_us, err);
  }
  return r;
}

const std::vector<Link> kLinks = {
    {"LAN: 0.3 ms each way, 0.1 ms jitter, +40 ppm", 123'456'789, 40, 300, 300, 100, 0, 20},
    {"Wi-Fi: 5 ms each way, 5 ms jitter, 1 % loss, -25 ppm", -5'000'000, -25, 5'000, 5'000, 5'000, 0.01, 30, -1, 0, 2},
    {"asymmetric: 3 ms up, 0.5 ms down, no jitter", 7'000, 0, 3'000, 500, 0, 0, 10, -1, 0, 3},
    {"server restart: the server clock jumps 90 s ahead after 5 s", 1'000'000, 10, 400, 400, 200, 0, 10, 5.0, 90e6, 4},
};

// Boost.JSON 1.81 parses doubles to within an ulp or so, not always to the nearest double (its
// serializer is exact; the web replay compares exactly against what core wrote). So here a double
// may differ from the file's by a relative 1e-13; everything else must be equal.
bool same_report(const json::array& a, const json::array& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].is_double() || b[i].is_double()) {
      if (!a[i].is_number() || !b[i].is_number()) return false;
      const double x = a[i].to_number<double>(), y = b[i].to_number<double>();
      if (std::abs(x - y) > 1e-13 * std::max({1.0, std::abs(x), std::abs(y)})) return false;
    } else if (a[i] != b[i]) {
      return false;
    }
  }
  return true;
}

}  // namespace

TEST(ClockSyncVectors, CoreReproducesTheSharedTraces) {
  const bool update = std::getenv("DOWNBEAT_UPDATE_VECTORS") != nullptr;
  json::object file;
  if (update) {
    file["$comment"] =
        "Shared clock-sync traces: ping samples [t0, t1, t2, t3] (µs; \"lost\" for a ping without a pong) from a simulated link "
        "whose true offset (offset_us + skew_ppm·1e-6·local, + step_us from step_at_s on; -1: no step) is in `truth`, pinged as "
        "the SDK and the app do (8 pings 25 ms apart, then every 250 ms). After each sample, core::ClockSync's report at t3 + 100 ms: "
        "[offset_us, uncertainty_at_us, uncertainty_us, skew_ppm, skew_uncertainty_ppm, locked, to_server, to_local(to_server), "
        "min_rtt_us, last_rtt_us, jitter_us, sample_count]. Replayed by core (core/clock_sync_vectors.test.cpp) and by the web "
        "app's WebAssembly build (web/src/clock.test.ts): identical numbers, and the true offset within the reported bound. "
        "Written by DOWNBEAT_UPDATE_VECTORS=1 core_tests --gtest_filter='ClockSyncVectors.*'.";
    file["config"] = json::object{{"burstCount", kBurst}, {"burstIntervalUs", kBurstSpacing}, {"steadyIntervalUs", kInterval}};
    json::array cases;
    for (const Link& l : kLinks) {
      json::object c;
      c["name"] = l.name;
      c["truth"] = json::object{{"offset_us", l.offset_us}, {"skew_ppm", l.skew_ppm}, {"step_at_s", l.step_at_s}, {"step_us", l.step_us}};
      c["samples"] = simulate(l);
      cases.emplace_back(std::move(c));
    }
    file["cases"] = std::move(cases);
  } else {
    std::ifstream in(kPath);
    std::stringstream ss;
    ss << in.rdbuf();
    file = json::parse(ss.str()).as_object();
  }
  json::array& cases = file.at("cases").as_array();
  ASSERT_EQ(cases.size(), kLinks.size());
  for (auto& cv : cases) {
    json::object& c = cv.as_object();
    SCOPED_TRACE(std::string(c.at("name").as_string()));
    Replay r = replay(c);
    EXPECT_EQ(r.outside_bound, 0) << "the true offset left the reported uncertainty bound";
    if (update) {
      c["reports"] = std::move(r.reports);
      continue;
    }
    const json::array& want = c.at("reports").as_array();
    ASSERT_EQ(r.reports.size(), want.size());
    for (std::size_t i = 0; i < want.size(); ++i)
      EXPECT_TRUE(same_report(r.reports[i].as_array(), want[i].as_array()))
          << "core no longer gives the recorded report after sample " << i << ": " << json::serialize(r.reports[i])
          << " instead of " << json::serialize(want[i]);
  }
  if (update) std::ofstream(kPath) << downbeat::testing::vectors_layout(file);
}

TEST(ClockSyncVectors, TheTracesLockAndHoldTheirTargets) {
  // Read from the file, so a regenerated trace that no longer makes sense fails here.
  std::ifstream in(kPath);
  std::stringstream ss;
  ss << in.rdbuf();
  const json::object file = json::parse(ss.str()).as_object();
  const json::array& cases = file.at("cases").as_array();
  ASSERT_EQ(cases.size(), 4u);
  // LAN: locked after the 8-ping burst, within 0.5 ms of the truth from then on.
  Replay lan = replay(cases[0].as_object());
  EXPECT_TRUE(lan.reports[7].as_array()[5].as_bool());
  EXPECT_LT(lan.worst_error_us, 500);
  // Asymmetry is invisible to ping/pong: the error is (3 − 0.5)/2 ms ≈ 1.25 ms, and within the bound.
  Replay asym = replay(cases[2].as_object());
  EXPECT_NEAR(asym.worst_error_us, 1250, 50);
  EXPECT_EQ(asym.outside_bound, 0);
  // Restart: the last report is back within a millisecond of the new clock.
  Replay restart = replay(cases[3].as_object());
  const json::array& last = restart.reports.back().as_array();
  EXPECT_TRUE(last[5].as_bool());
  EXPECT_LT(last[1].to_number<double>(), 1000);
}
