#include "core/clock_sync.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace downbeat::core {

namespace {

// t1, t2 and the halvings are whole µs: θ and δ/2 can each be off by a little over 1 µs.
constexpr double kRoundingMarginUs = 3.0;
// Slack for floating-point error when testing a vertex against a strip edge, µs.
constexpr double kClipToleranceUs = 1e-6;

struct Point {
  double o;
  double s;
};

// Sutherland–Hodgman: `out` = the convex polygon `poly` cut to the half-plane a*o + b*s <= c.
void clip(const std::vector<Point>& poly, double a, double b, double c, std::vector<Point>& out) {
  out.clear();
  const std::size_t n = poly.size();
  for (std::size_t i = 0; i < n; ++i) {
    const Point& p = poly[i];
    const Point& q = poly[(i + 1) % n];
    const double vp = a * p.o + b * p.s - c;
    const double vq = a * q.o + b * q.s - c;
    const bool p_in = vp <= kClipToleranceUs;
    const bool q_in = vq <= kClipToleranceUs;
    if (p_in) out.push_back(p);
    if (p_in != q_in) {
      const double f = vp / (vp - vq);
      out.push_back(Point{p.o + (q.o - p.o) * f, p.s + (q.s - p.s) * f});
    }
  }
}

std::int64_t floor_half(std::int64_t v) { return v >= 0 ? v / 2 : -((-v + 1) / 2); }

}  // namespace

ClockSync::ClockSync(ClockSyncConfig cfg) : cfg_(cfg) {
  cfg_.window = std::max(1, cfg_.window);
  cfg_.burst_count = std::max(0, cfg_.burst_count);
  cfg_.max_skew_ppm = std::max(0.0, cfg_.max_skew_ppm);
}

void ClockSync::add_sample(std::int64_t t0, std::int64_t t1, std::int64_t t2, std::int64_t t3) {
  if (t3 < t0 || t2 < t1) return;
  const std::int64_t server_hold = t2 - t1;
  // δ can dip a little below zero from rounding and skew on a near-zero path.
  const std::int64_t rtt = std::max<std::int64_t>(0, (t3 - t0) - server_hold);
  const double max_skew = cfg_.max_skew_ppm * 1e-6;
  Sample s;
  s.x = t0 + (t3 - t0) / 2;
  s.theta = floor_half((t1 - t0) + (t2 - t3));
  s.rtt = rtt;
  // The split of δ between the two directions is unknown: the truth is within δ/2 of θ, plus
  // what the skew adds over the round trip and the server's hold time.
  s.half_width = static_cast<double>(rtt) / 2.0 + max_skew * static_cast<double>(rtt + server_hold) + kRoundingMarginUs;

  window_.push_back(s);
  lost_since_sample_ = 0;
  while (window_.size() > static_cast<std::size_t>(cfg_.window)) window_.pop_front();
  const std::size_t before = window_.size();
  while (!rebuild()) window_.pop_front();  // the newest sample alone always fits
  if (window_.size() == 1 && before > 1) {
    consistent_ = 1;  // nothing older agrees: the server clock jumped; lock again from scratch
  } else {
    ++consistent_;
  }
}

void ClockSync::note_lost_ping() {
  ++lost_since_sample_;
  ++lost_total_;
}

bool ClockSync::rebuild() {
  polygon_.clear();
  if (window_.empty()) return true;
  const Sample& newest = window_.back();
  ref_x_ = newest.x;
  ref_theta_ = newest.theta;
  const double max_skew = cfg_.max_skew_ppm;
  const double h = newest.half_width;
  std::vector<Point> poly{{-h, -max_skew}, {h, -max_skew}, {h, max_skew}, {-h, max_skew}};
  std::vector<Point> cut;
  for (std::size_t i = 0; i + 1 < window_.size(); ++i) {
    const Sample& smp = window_[i];
    const double a = seconds_from_ref(smp.x);
    const double c = static_cast<double>(smp.theta - ref_theta_);
    // c - hw <= o + a*s <= c + hw
    clip(poly, 1.0, a, c + smp.half_width, cut);
    clip(cut, -1.0, -a, -(c - smp.half_width), poly);
    if (poly.empty()) return false;
  }
  polygon_.reserve(poly.size());
  for (const Point& p : poly) polygon_.push_back(Vertex{p.o, p.s});
  return true;
}

double ClockSync::seconds_from_ref(std::int64_t local_us) const {
  return static_cast<double>(local_us - ref_x_) * 1e-6;
}

ClockSync::Range ClockSync::range(double dx_s) const {
  Range r{std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity()};
  for (const Vertex& v : polygon_) {
    const double y = v.o + v.s * dx_s;
    r.lo = std::min(r.lo, y);
    r.hi = std::max(r.hi, y);
  }
  return r;
}

double ClockSync::middle(double dx_s) const {
  const Range r = range(dx_s);
  return (r.lo + r.hi) / 2.0;
}

double ClockSync::half_range(double dx_s) const {
  const Range r = range(dx_s);
  return (r.hi - r.lo) / 2.0;
}

bool ClockSync::locked() const {
  const int needed = std::max(1, std::min(cfg_.burst_count, cfg_.window));
  return !polygon_.empty() && consistent_ >= needed;
}

double ClockSync::offset_us(std::int64_t at_local_us) const {
  if (polygon_.empty()) return 0.0;
  return static_cast<double>(ref_theta_) + middle(seconds_from_ref(at_local_us));
}

std::int64_t ClockSync::to_server(std::int64_t local_us) const {
  return local_us + std::llround(offset_us(local_us));
}

std::int64_t ClockSync::to_local(std::int64_t server_us) const {
  if (polygon_.empty()) return server_us;
  // server = local + ref_theta + middle(local - ref_x). The skew term moves by at most
  // max_skew per µs, so the fixed-point iteration converges by ~1e-4 per step.
  const double d = static_cast<double>(server_us - ref_x_ - ref_theta_);
  double v = d;
  for (int i = 0; i < 4; ++i) v = d - middle(v * 1e-6);
  return ref_x_ + std::llround(v);
}

double ClockSync::uncertainty_us(std::int64_t at_local_us) const {
  if (polygon_.empty()) return std::numeric_limits<double>::infinity();
  return half_range(seconds_from_ref(at_local_us)) + 0.5;  // + rounding to whole µs in to_server
}

double ClockSync::uncertainty_us() const {
  if (polygon_.empty()) return std::numeric_limits<double>::infinity();
  // The half range is convex in time, so its maximum over the span is at one of the ends.
  const std::int64_t until = window_.back().x + (lost_since_sample_ + 2) * cfg_.steady_interval_us;
  return std::max(uncertainty_us(window_.front().x), uncertainty_us(until));
}

std::int64_t ClockSync::min_rtt_us() const {
  std::int64_t best = 0;
  for (std::size_t i = 0; i < window_.size(); ++i) best = i == 0 ? window_[i].rtt : std::min(best, window_[i].rtt);
  return best;
}

std::int64_t ClockSync::last_rtt_us() const { return window_.empty() ? 0 : window_.back().rtt; }

double ClockSync::jitter_us() const {
  if (window_.size() < 2) return 0.0;
  double mean = 0.0;
  for (const Sample& s : window_) mean += static_cast<double>(s.rtt);
  mean /= static_cast<double>(window_.size());
  double var = 0.0;
  for (const Sample& s : window_) var += (static_cast<double>(s.rtt) - mean) * (static_cast<double>(s.rtt) - mean);
  return std::sqrt(var / static_cast<double>(window_.size()));
}

double ClockSync::skew_ppm() const {
  if (polygon_.empty()) return 0.0;
  auto [lo, hi] = std::minmax_element(polygon_.begin(), polygon_.end(),
                                      [](const Vertex& a, const Vertex& b) { return a.s < b.s; });
  return (lo->s + hi->s) / 2.0;
}

double ClockSync::skew_uncertainty_ppm() const {
  if (polygon_.empty()) return cfg_.max_skew_ppm;
  auto [lo, hi] = std::minmax_element(polygon_.begin(), polygon_.end(),
                                      [](const Vertex& a, const Vertex& b) { return a.s < b.s; });
  return (hi->s - lo->s) / 2.0;
}

int ClockSync::sample_count() const { return static_cast<int>(window_.size()); }

std::int64_t ClockSync::next_ping_delay_us() const {
  return consistent_ < cfg_.burst_count ? cfg_.burst_interval_us : cfg_.steady_interval_us;
}

}  // namespace downbeat::core
