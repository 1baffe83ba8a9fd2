#pragma once
// Maps this device's monotonic clock to the room (server) clock from time.ping / time.pong
// samples. Pure logic: every time is a µs value the caller read from its own clock.
//
// Method. A sample (t0 local send, t1 server receive, t2 server send, t3 local receive) gives
// θ = ((t1−t0)+(t2−t3))/2 and δ = (t3−t0)−(t2−t1). Whatever the split of δ between the two
// directions, the true offset at the sample's local midpoint lies within θ ± δ/2. With
// offset(x) = o + s·x (s = skew), each sample is a strip in the (o, s) plane; the window's
// strips, intersected with |s| <= max_skew_ppm, leave a convex polygon that contains the truth.
// Spiky, one-sided Wi-Fi delay only widens a sample's strip, so the polygon is cut by the
// minimum-δ samples alone (a lower/upper-envelope fit of offset against time), and the skew
// falls out of strips that are far apart in time. The estimate at x is the middle of the
// polygon's range of o + s·x and the uncertainty is half that range: a hard bound as long as
// the clocks are linear over the window with |skew| <= max_skew_ppm. Samples that contradict
// the rest (the clock drifted off the line, or the server restarted) push out the oldest ones;
// if none can stay the estimator starts over with a new burst.
#include <cstdint>
#include <deque>
#include <vector>

namespace downbeat::core {

struct ClockSyncConfig {
  int window = 32;  // samples kept
  int burst_count = 8;
  std::int64_t burst_interval_us = 50'000;
  std::int64_t steady_interval_us = 2'000'000;
  // Largest |skew| between the two clocks that the bounds assume. Crystals are within ±100 ppm.
  double max_skew_ppm = 500.0;
};

class ClockSync {
 public:
  explicit ClockSync(ClockSyncConfig cfg = {});

  // Samples with t3 < t0 or t2 < t1 are impossible and ignored.
  void add_sample(std::int64_t t0_local, std::int64_t t1_server, std::int64_t t2_server, std::int64_t t3_local);
  void note_lost_ping();

  bool locked() const;  // burst_count consistent samples since the start (or the last restart)

  // Before the first sample these are the identity (offset 0) and the uncertainty is infinite.
  std::int64_t to_server(std::int64_t local_us) const;
  std::int64_t to_local(std::int64_t server_us) const;
  double offset_us(std::int64_t at_local_us) const;  // server - local at that instant

  // Bound on |offset error| at one local instant.
  double uncertainty_us(std::int64_t at_local_us) const;
  // Bound valid at every local instant from the oldest sample in the window until the next
  // sample is due: the latest sample + (lost pings since it + 2) * steady_interval_us.
  // Near a sample it is about min_rtt/2; away from the samples it grows with the skew range.
  double uncertainty_us() const;

  std::int64_t min_rtt_us() const;  // smallest δ in the window; 0 when empty
  std::int64_t last_rtt_us() const;  // δ of the newest sample; 0 when empty
  double jitter_us() const;         // standard deviation of δ over the window
  double skew_ppm() const;          // (server rate / local rate − 1) · 1e6
  double skew_uncertainty_ppm() const;
  int sample_count() const;  // samples in the window
  std::int64_t lost_pings() const { return lost_total_; }

  std::int64_t next_ping_delay_us() const;  // burst_interval until burst_count samples, then steady

 private:
  struct Sample {
    std::int64_t x;      // local midpoint (t0+t3)/2
    std::int64_t theta;  // θ, rounded down
    std::int64_t rtt;    // δ, >= 0
    double half_width;   // |true offset − θ| at x is at most this
  };
  struct Vertex {
    double o;  // offset at ref_x_ minus ref_theta_, µs
    double s;  // skew, ppm
  };

  bool rebuild();  // polygon from the window; false if the strips do not intersect
  struct Range {
    double lo, hi;
  };
  Range range(double dx_s) const;  // of o + s·dx over the polygon, dx in seconds from ref_x_
  double middle(double dx_s) const;
  double half_range(double dx_s) const;
  double seconds_from_ref(std::int64_t local_us) const;

  ClockSyncConfig cfg_;
  std::deque<Sample> window_;
  std::vector<Vertex> polygon_;
  std::int64_t ref_x_ = 0;      // newest sample's midpoint: keeps the numbers small
  std::int64_t ref_theta_ = 0;  // newest sample's θ
  int consistent_ = 0;          // samples since the start or the last restart
  std::int64_t lost_since_sample_ = 0;
  std::int64_t lost_total_ = 0;
};

}  // namespace downbeat::core
