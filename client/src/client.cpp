#include "downbeat/client.hpp"

#include <algorithm>
#include <boost/asio.hpp>
#include <boost/json.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <cmath>
#include <map>
#include <random>
#include <thread>

#include "commands.hpp"
#include "connection.hpp"
#include "guarded.hpp"
#include "net.hpp"
#include "room_clock.hpp"
#include "session.hpp"
#include "wire.hpp"

namespace downbeat {

namespace asio = boost::asio;
namespace json = boost::json;
using asio::awaitable;
using asio::use_awaitable;
using detail::int_at;
using detail::micros;
using detail::Outgoing;
using namespace std::chrono_literals;

const char* to_string(ConnectionState state) {
  switch (state) {
    case ConnectionState::idle: return "idle";
    case ConnectionState::connecting: return "connecting";
    case ConnectionState::connected: return "connected";
    case ConnectionState::backoff: return "backoff";
    case ConnectionState::stopped: return "stopped";
  }
  return "?";
}

namespace {

std::string string_at(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string{};
}


// The config with the estimator told the ping schedule we actually use.
ClientConfig prepared(ClientConfig cfg) {
  if (!cfg.clock) cfg.clock = steady_clock_source();
  // The estimator's "valid until the next ping" bound must know the schedule we actually ping on.
  cfg.sync.steady_interval_us = micros(cfg.ping_interval);
  cfg.sync.burst_count = cfg.ping_burst;
  return cfg;
}

// What user threads read: written on the io thread, always under the lock.
struct RoomView {
  RoomState state;
  json::object me;
  ConnectionState conn_state = ConnectionState::idle;
  bool connected = false;         // hello received on the live socket
  bool ready = false;             // and the state is complete
  int64_t delivered_seq = 0;      // state.seq once subscribers have seen it
  bool delivered_ready = false;   // ready likewise
  bool thread_done = false;       // the io thread has run out of work
};

struct Subscribers {
  std::map<int, std::function<void(const Event&)>> by_id;
  int next_id = 1;
};

// What only the io thread touches: the live link, the commands in flight, the timers of the session.
struct IoState {
  IoState(asio::io_context& ioc, bool resume_first) : resume(resume_first), commands(ioc), backoff_timer(ioc) {
    std::random_device rd;
    rng.seed(rd());
  }
  std::shared_ptr<detail::Link> link;
  bool stopping = false;
  bool resume = false;  // send since= on the next connect
  detail::PendingCommands commands;
  asio::steady_timer backoff_timer;
  int64_t last_rx_local = 0;
  int64_t last_anchor_local = 0;
  int64_t last_resync_local = 0;
  int64_t next_metrics_local = 0;
  std::mt19937_64 rng;
};

}  // namespace

// The glue between the parts: applies frames to the room view, and runs the connect / backoff loop.
struct Client::Impl final : detail::LinkHandler {
  explicit Impl(ClientConfig config)
      : cfg_(prepared(std::move(config))),
        ssl_ctx_(detail::make_tls_context(cfg_.tls)),
        clock_(ioc_, cfg_),
        session_(ioc_, cfg_, [this](const std::string& why) {
          if (cfg_.on_status) cfg_.on_status(view_.with([](const RoomView& v) { return v.conn_state; }), why);
        }),
        connector_(ioc_, cfg_, ssl_ctx_),
        io_(ioc_, ioc_, cfg_.since.has_value()) {
    if (cfg_.since) view_.with_mut([&](RoomView& v) { v.state.seq = *cfg_.since; });
  }

  // Declaration order matters: ssl_ctx_ outlives the streams, ioc_ outlives every socket and timer below it.
  const ClientConfig cfg_;
  asio::ssl::context ssl_ctx_;
  asio::io_context ioc_;
  std::thread thread_;  // start() and stop() only, on the user's thread

  // Any thread (each behind its own lock; none is taken while holding another).
  detail::Guarded<RoomView> view_;
  detail::Guarded<Subscribers> subscribers_;
  detail::RoomClock clock_;        // the estimate behind a lock, the pings io-only
  detail::TokenSession session_;   // the tokens behind a lock, the refresh io-only

  // Io thread only.
  detail::Connector connector_;
  detail::IoOnly<IoState> io_;

  void set_status(ConnectionState s, const std::string& reason) {
    view_.update([&](RoomView& v) { v.conn_state = s; });
    if (cfg_.on_status) cfg_.on_status(s, reason);
  }

  bool connected() const {
    return view_.with([](const RoomView& v) { return v.connected; });
  }

  void emit(const Event& ev) {
    // Copied under the lock, called after releasing it: a subscriber may (un)subscribe.
    auto subs = subscribers_.with([](const Subscribers& s) {
      std::vector<std::function<void(const Event&)>> fns;
      for (auto& [id, fn] : s.by_id) fns.push_back(fn);
      return fns;
    });
    for (auto& fn : subs) fn(ev);
  }

  // ---- commands (io thread) -------------------------------------------------------------------

  void send_command(std::string type, json::object data, std::function<void(const CommandResult&)> done) {
    if (!io_->link || !connected()) {
      if (done) done(CommandResult{false, std::nullopt, "disconnected", "not connected to the server (reconnecting): try again"});
      return;
    }
    std::string id = io_->commands.next_id('c');
    json::object frame{{"type", type}, {"id", id}, {"data", std::move(data)}};
    if (done) io_->commands.add(id, cfg_.command_timeout, std::move(done));
    io_->link->push(Outgoing{json::serialize(frame)});
  }

  void send_internal(const char* type, char id_prefix, json::object data = {}) {
    if (!io_->link) return;
    json::object frame{{"type", type}, {"id", io_->commands.next_id(id_prefix)}, {"data", std::move(data)}};
    io_->link->push(Outgoing{json::serialize(frame)});
  }

  void request_resync(int64_t now_local) {
    if (now_local - io_->last_resync_local < 1'000'000) return;  // one in flight is enough
    io_->last_resync_local = now_local;
    io_->last_anchor_local = now_local;
    clock_.note_resync_request();
    send_internal("resync.request", 'r');
  }

  // ---- the link (io thread) -------------------------------------------------------------------

  std::string ws_target() override {
    const auto token = session_.tokens().token;
    std::string target = "/ws?token=" + boost::urls::encode(token, boost::urls::unreserved_chars);
    if (io_->resume) target += "&since=" + std::to_string(view_.with([](const RoomView& v) { return v.state.seq; }));
    return target;
  }

  void on_open(const std::shared_ptr<detail::Link>& link) override {
    io_->last_rx_local = clock_.now();
    io_->last_anchor_local = io_->last_rx_local;
    clock_.on_link_open();
    io_->link = link;
    if (io_->stopping) link->push(Outgoing{{}, false, true});
  }

  void on_close() override {
    io_->link.reset();
    view_.update([](RoomView& v) {
      v.connected = false;
      v.ready = false;
      v.delivered_ready = false;
    });
  }

  std::string ping_text() override { return clock_.ping_frame(io_->commands.next_id('p')); }

  int64_t on_tick(detail::Link& link) override {
    if (clock_.take_ping_due(clock_.now())) link.push(Outgoing{{}, true});
    housekeeping(link);
    return clock_.next_ping_at() - clock_.now();
  }

  bool on_frame(std::string_view text, int64_t t3) override {
    handle_frame(text, t3);
    const auto [hello, announce] = view_.with([](const RoomView& v) {
      return std::pair{v.connected, v.connected && v.conn_state != ConnectionState::connected};
    });
    if (announce) set_status(ConnectionState::connected, "");
    return hello;
  }

  void handle_frame(std::string_view text, int64_t t3) {
    io_->last_rx_local = t3;
    boost::system::error_code ec;
    auto parsed = json::parse(text, ec);
    if (ec || !parsed.is_object()) return;
    auto& obj = parsed.as_object();
    const std::string type = string_at(obj, "type");
    if (type == "ack" || type == "error") {
      auto* re = obj.if_contains("re");
      if (re && re->is_string()) {
        CommandResult r;
        r.ok = type == "ack";
        r.seq = int_at(obj, "seq");
        r.code = string_at(obj, "code");
        r.message = string_at(obj, "message");
        io_->commands.complete(std::string(re->as_string()), r);
      } else if (type == "error") {
        emit(Event{"error", std::nullopt, std::nullopt,
                   json::object{{"code", string_at(obj, "code")}, {"message", string_at(obj, "message")}}, t3});
      }
      return;
    }
    Event ev;
    ev.type = type;
    ev.seq = int_at(obj, "seq");
    ev.ts = int_at(obj, "ts");
    if (auto* d = obj.if_contains("data"); d && d->is_object()) ev.data = std::move(d->as_object());
    ev.received_local_us = t3;
    if (!on_event(ev, t3)) return;
    emit(ev);
    // Waiters (wait_seq, wait_ready) wake only after subscribers have seen the event too.
    view_.update([](RoomView& v) {
      v.delivered_seq = v.state.seq;
      v.delivered_ready = v.ready;
    });
  }

  // Applies one event to the local copy; false to swallow it (a duplicate on resume).
  bool on_event(const Event& ev, int64_t t3) {
    if (ev.type == "time.pong") return clock_.on_pong(ev.data, t3);
    if (ev.type == "hello") {
      view_.update([&](RoomView& v) {
        v.connected = true;
        if (auto* p = ev.data.if_contains("participant"); p && p->is_object()) v.me = p->as_object();
        v.state.ptt.clear();  // live state: the server re-sends who is talking after the hello
        auto* resumed = ev.data.if_contains("resumed");
        if (resumed && resumed->is_bool() && resumed->as_bool()) v.ready = true;
      });
      clock_.on_hello(int_at(ev.data, "server_time"), t3);
      return true;
    }
    if (ev.type == "snapshot") {
      view_.update([&](RoomView& v) {
        v.state.apply_snapshot(ev.data);
        v.ready = true;
      });
      io_->resume = true;
      io_->last_anchor_local = t3;
      return true;
    }
    if (ev.type == "tempo.update") {
      const auto rev = int_at(ev.data, "rev");
      const auto known = view_.with([](const RoomView& v) { return v.state.tempo ? std::optional(v.state.tempo->rev) : std::nullopt; });
      if (rev && known && *rev > *known) request_resync(t3);
      return true;
    }
    if (ev.type == "tempo.anchor") io_->last_anchor_local = t3;
    const bool fresh = view_.update([&](RoomView& v) {
      if (ev.seq) {
        if (*ev.seq <= v.state.seq && v.state.has_snapshot) return false;  // already have it (resume overlap)
        v.state.seq = *ev.seq;
      }
      v.state.apply_event(ev.type, ev.data);
      return true;
    });
    if (fresh && ev.seq) io_->resume = true;
    return fresh;
  }

  // Periodic work while connected: lost pings, a silent peer, missed anchors, metrics, token expiry.
  void housekeeping(detail::Link& link) {
    const int64_t t = clock_.now();
    clock_.expire_lost_pings(t);
    if (t - io_->last_rx_local > micros(cfg_.dead_after)) {
      link.hard_close();  // silent peer: the reader fails and we reconnect
      return;
    }
    const auto tempo = view_.with([](const RoomView& v) { return v.ready ? v.state.tempo : std::nullopt; });
    if (tempo) {
      const bool prev_sounding = tempo->prev && tempo->prev->running && clock_.to_server(t) < tempo->anchor_t;
      const bool running = tempo->running || prev_sounding;
      const auto& seg = prev_sounding ? *tempo->prev : static_cast<const core::TempoSegment&>(*tempo);
      if (running && seg.bpm > 0) {
        // Anchors come every bar, or every 2 s for long bars.
        const double bar_us = seg.meter.beats * 60e6 / seg.bpm;
        const double interval = std::min(bar_us, 2e6);
        if (static_cast<double>(t - io_->last_anchor_local) > (cfg_.resync_after_missed_anchors + 1) * interval + 250e3) {
          request_resync(t);
        }
      }
    }
    if (cfg_.metrics_interval.count() > 0 && t >= io_->next_metrics_local && connected()) {
      io_->next_metrics_local = t + micros(cfg_.metrics_interval);
      auto m = clock_.metrics(t);
      if (!m.empty()) send_internal("metrics.report", 'i', std::move(m));
    }
    if (session_.can_refresh() && !session_.in_flight() && session_.expires_within(60) && session_.may_try_now()) {
      asio::co_spawn(ioc_, session_.refresh(), [](std::exception_ptr, bool) {});
    }
  }

  // ---- the connect / backoff loop (io thread) -------------------------------------------------

  std::chrono::microseconds backoff_delay(int attempt) {
    // As the web app (web/src/connection.ts): backoff_min twice (a restarted server that took ~1 s to
    // listen is found at ~1 s), then doubling, capped, with ±25% jitter so a room's clients do not
    // reconnect in lockstep.
    const double base = static_cast<double>(micros(cfg_.backoff_min));
    const double cap = static_cast<double>(micros(cfg_.backoff_max));
    const double raw = std::min(cap, base * std::pow(2.0, std::clamp(attempt - 1, 0, 16)));
    std::uniform_real_distribution<double> jitter(0.75, 1.25);
    return std::chrono::microseconds(static_cast<int64_t>(std::clamp(raw * jitter(io_->rng), base, cap)));
  }

  awaitable<void> run() {
    clock_.note_connect_started();
    int attempt = 0;
    bool retried_401 = false;
    while (!io_->stopping) {
      if (session_.can_refresh() && session_.expires_within(30)) co_await session_.refresh();
      set_status(ConnectionState::connecting, "");
      detail::Outcome out = co_await connector_.connect_once(*this);
      io_->commands.fail_all("connection lost before the server replied: the command may or may not have been applied");
      if (io_->stopping) break;
      if (out.got_hello) {
        attempt = 0;
        retried_401 = false;
      }
      if (out.unauthorized) {
        // One refresh per refusal; if the server refuses the refresh token too (kicked, or a reused token
        // revoked the device), retrying cannot help: stop and say so.
        if (!retried_401 && session_.can_refresh()) {
          retried_401 = true;
          if (co_await session_.refresh()) continue;
        }
        if (!session_.can_refresh() || retried_401) {
          set_status(ConnectionState::stopped, "the server refused this device's tokens: join again (" + out.reason + ")");
          co_return;
        }
      }
      const auto delay = backoff_delay(attempt++);
      set_status(ConnectionState::backoff, out.reason);
      io_->backoff_timer.expires_after(delay);
      boost::system::error_code ec;
      co_await io_->backoff_timer.async_wait(asio::redirect_error(use_awaitable, ec));
    }
    set_status(ConnectionState::stopped, "stopped");
  }
};

// ---- public API -------------------------------------------------------------------------------

Client::Client(ClientConfig config) : impl_(std::make_shared<Impl>(std::move(config))) {}

Client::~Client() { stop(); }

void Client::start() {
  if (impl_->thread_.joinable()) return;
  impl_->thread_ = std::thread([impl = impl_.get()] {
    asio::co_spawn(impl->ioc_, impl->run(), [](std::exception_ptr) {});
    impl->ioc_.run();
    impl->view_.update([](RoomView& v) { v.thread_done = true; });
  });
}

void Client::stop() {
  auto& impl = *impl_;
  if (!impl.thread_.joinable()) return;
  impl.io_.post([](IoState& io) {
    io.stopping = true;
    io.backoff_timer.cancel();
    if (io.link) io.link->push(Outgoing{{}, false, true});
  });
  // A clean close handshake is polite (the room shows us offline at once); do not wait long for it.
  impl.view_.wait_for(1s, [](const RoomView& v) { return v.thread_done; });
  impl.ioc_.stop();
  impl.thread_.join();
  // The io thread is gone: this thread is the only one left to touch the io state.
  impl.io_->commands.fail_all("client stopped");
  impl.io_->link.reset();
  impl.view_.update([](RoomView& v) { v.conn_state = ConnectionState::stopped; });
}

bool Client::wait_ready(std::chrono::milliseconds timeout) {
  return impl_->view_.wait_for(timeout, [](const RoomView& v) { return v.delivered_ready; });
}

bool Client::wait_locked(std::chrono::milliseconds timeout) { return impl_->clock_.wait_locked(timeout); }

bool Client::wait_seq(int64_t seq, std::chrono::milliseconds timeout) {
  return impl_->view_.wait_for(timeout, [seq](const RoomView& v) { return v.delivered_seq >= seq; });
}

ConnectionState Client::connection_state() const {
  return impl_->view_.with([](const RoomView& v) { return v.conn_state; });
}

void Client::send(std::string type, boost::json::object data, std::function<void(const CommandResult&)> done) {
  impl_->io_.post([impl = impl_.get(), type = std::move(type), data = std::move(data), done = std::move(done)](IoState&) mutable {
    impl->send_command(std::move(type), std::move(data), std::move(done));
  });
}

std::future<CommandResult> Client::send(std::string type, boost::json::object data) {
  auto promise = std::make_shared<std::promise<CommandResult>>();
  auto future = promise->get_future();
  if (!impl_->thread_.joinable() || impl_->ioc_.stopped()) {
    promise->set_value(CommandResult{false, std::nullopt, "disconnected", "the client is not running"});
    return future;
  }
  send(std::move(type), std::move(data), [promise](const CommandResult& r) { promise->set_value(r); });
  return future;
}

int Client::subscribe(std::function<void(const Event&)> on_event) {
  return impl_->subscribers_.with_mut([&](Subscribers& s) {
    const int id = s.next_id++;
    s.by_id[id] = std::move(on_event);
    return id;
  });
}

void Client::unsubscribe(int id) {
  impl_->subscribers_.with_mut([id](Subscribers& s) { s.by_id.erase(id); });
}

RoomState Client::state() const {
  return impl_->view_.with([](const RoomView& v) { return v.state; });
}

std::optional<core::TempoState> Client::tempo() const {
  return impl_->view_.with([](const RoomView& v) { return v.state.tempo; });
}

boost::json::object Client::me() const {
  return impl_->view_.with([](const RoomView& v) { return v.me; });
}

Tokens Client::tokens() const { return impl_->session_.tokens(); }

int64_t Client::now_local() const { return impl_->clock_.now(); }

int64_t Client::to_server(int64_t local_us) const { return impl_->clock_.to_server(local_us); }

int64_t Client::to_local(int64_t server_us) const { return impl_->clock_.to_local(server_us); }

SyncStatus Client::sync_status() const { return impl_->clock_.status(); }

std::optional<ScheduledBeat> Client::next_beat(int64_t at_or_after_local_us) const {
  const auto tempo = this->tempo();
  if (!tempo) return std::nullopt;
  return impl_->clock_.with_sync([&](const core::ClockSync& sync) {
    return first_beat_at_or_after(*tempo, sync.to_server(at_or_after_local_us), [&sync](int64_t t) { return sync.to_local(t); });
  });
}

std::optional<ScheduledBeat> Client::next_beat_from_server(int64_t at_or_after_server_us) const {
  const auto tempo = this->tempo();
  if (!tempo) return std::nullopt;
  return impl_->clock_.with_sync([&](const core::ClockSync& sync) {
    return first_beat_at_or_after(*tempo, at_or_after_server_us, [&sync](int64_t t) { return sync.to_local(t); });
  });
}

std::vector<ScheduledBeat> Client::beats_between(int64_t from_local_us, int64_t to_local_us) const {
  const auto tempo = this->tempo();
  if (!tempo) return {};
  return impl_->clock_.with_sync([&](const core::ClockSync& sync) {
    return schedule_beats(*tempo, sync.to_server(from_local_us), sync.to_server(to_local_us),
                          [&sync](int64_t t) { return sync.to_local(t); });
  });
}

}  // namespace downbeat
