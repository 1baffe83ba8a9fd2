#pragma once
// This device's estimate of the room clock: owns core::ClockSync and the figures around it (shared
// with user threads, behind a lock), and the ping schedule and pings in flight (io thread only).
#include <boost/asio/io_context.hpp>
#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string>

#include "core/clock_sync.hpp"
#include "downbeat/client.hpp"
#include "guarded.hpp"

namespace downbeat::detail {

class RoomClock {
 public:
  // cfg must outlive this; its sync config already names the ping schedule (Client::Impl sees to that).
  RoomClock(boost::asio::io_context& ioc, const ClientConfig& cfg);

  // Any thread.
  int64_t now() const;
  int64_t to_server(int64_t local_us) const;
  int64_t to_local(int64_t server_us) const;
  SyncStatus status() const;  // at now()
  bool wait_locked(std::chrono::milliseconds timeout) const;
  // f(const core::ClockSync&) under the lock: for mapping many beats with one estimate.
  template <class F>
  auto with_sync(F&& f) const {
    return shared_.with([&](const Shared& s) { return f(s.sync); });
  }
  void note_connect_started();
  void note_resync_request();

  // Io thread.
  void on_link_open();  // forgets the last socket's pings and starts a new burst
  bool take_ping_due(int64_t now);  // true when a ping should go out now (and schedules the next)
  int64_t next_ping_at() const;
  std::string ping_frame(const std::string& id);  // t0 stamped at this call: at the write, not the queueing
  bool on_pong(const boost::json::object& data, int64_t t3);  // false when not ours or already counted lost
  void on_hello(std::optional<int64_t> server_time, int64_t t3);  // a restarted server may have a new epoch
  void expire_lost_pings(int64_t now);                            // unanswered for 2 s
  boost::json::object metrics(int64_t now) const;                 // metrics.report fields; empty before any figure

 private:
  struct Shared {
    core::ClockSync sync;
    SyncStatus stats;  // the counters; status() adds the estimator's figures
  };
  struct Pings {
    std::set<int64_t> out;  // t0 of pings awaiting their pong
    int64_t sent = 0;
    int burst_left = 0;
    int64_t next_at = 0;
  };
  const ClientConfig& cfg_;
  Guarded<Shared> shared_;
  IoOnly<Pings> pings_;
};

}  // namespace downbeat::detail
