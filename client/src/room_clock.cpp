#include "room_clock.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <cstdlib>

#include "wire.hpp"

namespace downbeat::detail {

namespace json = boost::json;

RoomClock::RoomClock(boost::asio::io_context& ioc, const ClientConfig& cfg)
    : cfg_(cfg), shared_(Shared{core::ClockSync(cfg.sync), {}}), pings_(ioc) {}

int64_t RoomClock::now() const { return cfg_.clock(); }

int64_t RoomClock::to_server(int64_t local_us) const {
  return shared_.with([&](const Shared& s) { return s.sync.to_server(local_us); });
}

int64_t RoomClock::to_local(int64_t server_us) const {
  return shared_.with([&](const Shared& s) { return s.sync.to_local(server_us); });
}

SyncStatus RoomClock::status() const {
  const int64_t t = now();
  return shared_.with([&](const Shared& sh) {
    SyncStatus s = sh.stats;
    s.locked = sh.sync.locked();
    s.offset_us = sh.sync.to_server(t) - t;
    s.min_rtt_us = sh.sync.min_rtt_us();
    s.uncertainty_us = sh.sync.uncertainty_us(t);
    s.uncertainty_horizon_us = sh.sync.uncertainty_us();
    s.jitter_us = sh.sync.jitter_us();
    s.skew_ppm = sh.sync.skew_ppm();
    return s;
  });
}

bool RoomClock::wait_locked(std::chrono::milliseconds timeout) const {
  return shared_.wait_for(timeout, [](const Shared& s) { return s.stats.locked_at_us.has_value(); });
}

void RoomClock::note_connect_started() {
  const int64_t t = now();
  shared_.update([&](Shared& s) { s.stats.connect_started_us = t; });
}

void RoomClock::note_resync_request() {
  shared_.update([](Shared& s) { ++s.stats.resync_requests; });
}

void RoomClock::on_link_open() {
  pings_->out.clear();
  pings_->burst_left = cfg_.ping_burst;
  pings_->next_at = now();
}

bool RoomClock::take_ping_due(int64_t t) {
  auto& p = *pings_;
  if (t < p.next_at) return false;
  const int64_t spacing_us = micros(cfg_.ping_burst_spacing);
  const int64_t interval_us = micros(cfg_.ping_interval);
  if (p.burst_left > 0) --p.burst_left;
  int64_t delay = interval_us;
  if (p.burst_left > 0) {
    delay = spacing_us;
  } else {
    // The estimator may ask for faster pings while it is not locked; never slower than the configured rate.
    const int64_t wanted = shared_.with([](const Shared& s) { return s.sync.next_ping_delay_us(); });
    if (wanted > 0) delay = std::clamp(wanted, spacing_us, interval_us);
  }
  p.next_at = t + delay;
  return true;
}

int64_t RoomClock::next_ping_at() const { return pings_->next_at; }

std::string RoomClock::ping_frame(const std::string& id) {
  const int64_t t0 = now();
  pings_->out.insert(t0);
  ++pings_->sent;
  json::object frame{{"type", "time.ping"}, {"id", id}, {"data", json::object{{"t0", t0}}}};
  return json::serialize(frame);
}

bool RoomClock::on_pong(const json::object& data, int64_t t3) {
  const auto t0 = int_at(data, "t0");
  const auto t1 = int_at(data, "t1");
  const auto t2 = int_at(data, "t2");
  if (!t0 || !t1 || !t2 || !pings_->out.erase(*t0)) return false;
  shared_.update([&](Shared& s) {
    s.sync.add_sample(*t0, *t1, *t2, t3);
    ++s.stats.samples;
    if (!s.stats.sync_locked_at_us && s.sync.locked()) s.stats.sync_locked_at_us = t3;
    if (!s.stats.locked_at_us && s.sync.locked() && s.sync.uncertainty_us(t3) <= cfg_.lock_uncertainty_us) {
      s.stats.locked_at_us = t3;
    }
  });
  return true;
}

void RoomClock::on_hello(std::optional<int64_t> server_time, int64_t t3) {
  if (!server_time) return;
  shared_.update([&](Shared& s) {
    if (s.stats.samples > 0 && std::llabs(*server_time - s.sync.to_server(t3)) > 1'000'000) s.sync = core::ClockSync(cfg_.sync);
  });
}

void RoomClock::expire_lost_pings(int64_t t) {
  auto& out = pings_->out;
  for (auto it = out.begin(); it != out.end();) {
    if (t - *it > 2'000'000) {
      // Lost: the estimator widens its uncertainty instead of trusting old samples.
      shared_.update([](Shared& s) {
        s.sync.note_lost_ping();
        ++s.stats.lost_pings;
      });
      it = out.erase(it);
    } else {
      ++it;
    }
  }
}

json::object RoomClock::metrics(int64_t t) const {
  const int64_t sent = pings_->sent;
  return shared_.with([&](const Shared& s) {
    json::object m;
    if (s.stats.samples > 0) {
      m["rtt_ms"] = std::min(60000.0, static_cast<double>(s.sync.last_rtt_us()) / 1000.0);  // as the schema says (and the web app)
      m["jitter_ms"] = std::min(60000.0, s.sync.jitter_us() / 1000.0);
      m["clock_uncertainty_ms"] = std::min(60000.0, s.sync.uncertainty_us(t) / 1000.0);
      m["clock_offset_ms"] = static_cast<double>(s.sync.to_server(t) - t) / 1000.0;
    }
    if (sent > 0) m["loss"] = std::min(1.0, static_cast<double>(s.stats.lost_pings) / static_cast<double>(sent));
    return m;
  });
}

}  // namespace downbeat::detail
