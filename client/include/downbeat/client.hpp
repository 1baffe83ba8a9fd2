#pragma once
// libdownbeat's connection to one room: resume, reconnect, token refresh, commands, events, clock sync and beats.
//
// Threading: the client runs its own io thread. Every public method is thread-safe. Callbacks
// (subscribers, on_status, command callbacks) run on that io thread: keep them short, never block
// in them, and never wait on a command future from inside one.
#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/clock_sync.hpp"
#include "core/tempo.hpp"
#include "downbeat/auth.hpp"
#include "downbeat/beat_scheduler.hpp"
#include "downbeat/clock.hpp"
#include "downbeat/error.hpp"
#include "downbeat/event.hpp"
#include "downbeat/room_state.hpp"
#include "downbeat/tls.hpp"
#include "downbeat/url.hpp"

namespace downbeat {

enum class ConnectionState { idle, connecting, connected, backoff, stopped };
const char* to_string(ConnectionState state);

struct ClientConfig {
  ServerUrl server;  // http(s) or ws(s): wss when secure
  Tokens tokens;
  std::optional<int64_t> since;  // resume from this seq on the first connect
  TlsOptions tls;
  LocalClock clock = steady_clock_source();
  // One ping every 250 ms over a 128-sample window (32 s): see docs/decisions/0005-clock-sync-rate.md.
  core::ClockSyncConfig sync{.window = 128, .burst_count = 8, .burst_interval_us = 25'000, .steady_interval_us = 250'000};

  // Called (on a helper thread, may block) when the JWT is near expiry or the server answered 401.
  // Default (empty): refresh_session() with tokens.refresh_token, then on_tokens.
  std::function<Tokens(const Tokens& stale)> refresher;
  std::function<void(const Session& fresh)> on_tokens;  // persist the rotated refresh token here
  std::function<void(ConnectionState, const std::string& reason)> on_status;

  std::chrono::milliseconds backoff_min{500};
  std::chrono::milliseconds backoff_max{5000};
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds command_timeout{10000};
  std::chrono::milliseconds dead_after{8000};  // no frame for this long: drop and reconnect
  int ping_burst = 8;                          // pings at connect, spaced by ping_burst_spacing
  std::chrono::milliseconds ping_burst_spacing{25};
  std::chrono::milliseconds ping_interval{250};  // steady rate; bench/drift/REPORT.md compares 2 s, 500 ms and 250 ms
  int resync_after_missed_anchors = 2;          // while running: more missed → resync.request
  double lock_uncertainty_us = 1000;  // SyncStatus::locked_at_us: first time locked() with uncertainty (now) ≤ this
  std::chrono::milliseconds metrics_interval{10000};  // metrics.report cadence; 0 disables
};

struct SyncStatus {
  bool locked = false;        // ClockSync::locked()
  int64_t offset_us = 0;      // server − local, now
  int64_t min_rtt_us = 0;
  double uncertainty_us = 0;          // bound on |offset error| now
  double uncertainty_horizon_us = 0;  // bound until the next ping is due (grows with the skew range)
  double jitter_us = 0;
  double skew_ppm = 0;
  int64_t samples = 0;        // pongs received
  int64_t lost_pings = 0;
  int64_t resync_requests = 0;  // missed anchors or a newer rev seen in tempo.update
  std::optional<int64_t> connect_started_us;  // local time the first connection attempt began
  std::optional<int64_t> sync_locked_at_us;   // local time ClockSync::locked() first held (burst done)
  std::optional<int64_t> locked_at_us;        // local time uncertainty first reached lock_uncertainty_us
};

class Client {
 public:
  explicit Client(ClientConfig config);
  ~Client();  // stop()
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  void start();  // connects in the background and keeps reconnecting until stop()
  void stop();   // closes the socket, fails pending commands with "disconnected", joins the io thread

  // Waits for hello + snapshot (or the resumed events): the local state is complete.
  bool wait_ready(std::chrono::milliseconds timeout);
  bool wait_locked(std::chrono::milliseconds timeout);  // clock uncertainty ≤ lock_uncertainty_us
  bool wait_seq(int64_t seq, std::chrono::milliseconds timeout);  // state includes the event with this seq
  ConnectionState connection_state() const;

  // Commands. Fails at once with "disconnected" when no connection is up; fails with "disconnected"
  // if the connection drops before the reply (the command may or may not have been applied).
  std::future<CommandResult> send(std::string type, boost::json::object data = {});
  void send(std::string type, boost::json::object data, std::function<void(const CommandResult&)> done);

  // Events after they are applied to state(). Returns an id for unsubscribe(). Whatever the callback
  // refers to must outlive the client (or unsubscribe first).
  int subscribe(std::function<void(const Event&)> on_event);
  void unsubscribe(int id);

  RoomState state() const;
  std::optional<core::TempoState> tempo() const;
  boost::json::object me() const;  // our participant from hello
  Tokens tokens() const;           // current (possibly refreshed) pair

  // Clock.
  int64_t now_local() const;
  int64_t to_server(int64_t local_us) const;
  int64_t to_local(int64_t server_us) const;
  SyncStatus sync_status() const;

  // Beats: when each one sounds on the local clock (uses the latest tempo and clock estimate).
  std::optional<ScheduledBeat> next_beat(int64_t at_or_after_local_us) const;
  std::optional<ScheduledBeat> next_beat_from_server(int64_t at_or_after_server_us) const;
  std::vector<ScheduledBeat> beats_between(int64_t from_local_us, int64_t to_local_us) const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace downbeat
