#include "downbeat/client.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "net.hpp"

namespace downbeat {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;
namespace json = boost::json;
using asio::awaitable;
using asio::use_awaitable;
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

using plain_ws = websocket::stream<beast::tcp_stream>;
using tls_ws = websocket::stream<beast::ssl_stream<beast::tcp_stream>>;


std::optional<int64_t> int_at(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  if (!v) return std::nullopt;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->as_uint64());
  return std::nullopt;
}

std::string string_at(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string{};
}

int64_t wall_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

struct Outgoing {
  std::string text;
  bool ping = false;   // stamped with t0 at the moment it is written, so queueing never counts as network delay
  bool close = false;  // graceful close handshake
};

// What a live connection offers the rest of the client, whatever its stream type.
struct Link {
  virtual ~Link() = default;
  virtual void push(Outgoing item) = 0;
  virtual void hard_close() = 0;
  bool alive = true;
};

template <class Ws>
struct Conn : Link {
  template <class... Args>
  explicit Conn(asio::io_context& ioc, Args&&... args) : ws(std::forward<Args>(args)...), wake(ioc), tick(ioc) {}
  void push(Outgoing item) override {
    queue.push_back(std::move(item));
    wake.cancel();
  }
  void hard_close() override {
    boost::system::error_code ignored;
    beast::get_lowest_layer(ws).socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    beast::get_lowest_layer(ws).close();
  }
  Ws ws;
  std::deque<Outgoing> queue;
  asio::steady_timer wake;
  asio::steady_timer tick;
};

struct Outcome {
  bool got_hello = false;
  bool unauthorized = false;
  std::string reason;
};

}  // namespace

struct Client::Impl {
  explicit Impl(ClientConfig config) : cfg_(std::move(config)), sync_(cfg_.sync) {
    if (!cfg_.clock) cfg_.clock = steady_clock_source();
    // The estimator's "valid until the next ping" bound must know the schedule we actually ping on.
    cfg_.sync.steady_interval_us = std::chrono::duration_cast<std::chrono::microseconds>(cfg_.ping_interval).count();
    cfg_.sync.burst_count = cfg_.ping_burst;
    sync_ = core::ClockSync(cfg_.sync);
    tokens_ = cfg_.tokens;
    if (cfg_.since) state_.seq = *cfg_.since;
    resume_ = cfg_.since.has_value();
    std::random_device rd;
    rng_.seed(rd());
  }

  // Declaration order matters: ssl_ctx_ outlives the streams, ioc_ outlives every socket and timer.
  ClientConfig cfg_;
  asio::ssl::context ssl_ctx_{detail::make_tls_context(cfg_.tls)};
  asio::io_context ioc_;
  std::unique_ptr<asio::thread_pool> blocking_pool_;  // token refresh may block, never on the io thread; made on first use
  asio::steady_timer backoff_timer_{ioc_};
  std::thread thread_;

  // Guarded by mu_: read from any thread.
  mutable std::mutex mu_;
  std::condition_variable cv_;
  RoomState state_;
  core::ClockSync sync_;
  Tokens tokens_;
  json::object me_;
  ConnectionState conn_state_ = ConnectionState::idle;
  bool connected_ = false;  // hello received on the live socket
  bool ready_ = false;      // and the state is complete
  bool thread_done_ = false;
  int64_t delivered_seq_ = 0;     // state_.seq once subscribers have seen it
  bool delivered_ready_ = false;  // ready_ likewise
  SyncStatus stats_;
  std::map<int, std::function<void(const Event&)>> subscribers_;
  int next_subscriber_ = 1;

  // io thread only.
  std::shared_ptr<Link> link_;
  bool stopping_ = false;
  bool resume_ = false;  // send since= on the next connect
  struct Pending {
    std::function<void(const CommandResult&)> done;
    std::shared_ptr<asio::steady_timer> timer;
  };
  std::map<std::string, Pending> pending_;
  std::set<int64_t> pings_out_;  // t0 of pings awaiting their pong; lost after 2 s
  uint64_t next_id_ = 1;
  int64_t last_rx_local_ = 0;
  int64_t last_anchor_local_ = 0;
  int64_t last_resync_local_ = 0;
  int64_t next_metrics_local_ = 0;
  int64_t pings_sent_ = 0;
  bool refresh_in_flight_ = false;
  int64_t next_refresh_try_wall_ = 0;
  std::mt19937_64 rng_;

  int64_t now() const { return cfg_.clock(); }

  void set_status(ConnectionState s, const std::string& reason) {
    {
      std::lock_guard lock(mu_);
      conn_state_ = s;
    }
    cv_.notify_all();
    if (cfg_.on_status) cfg_.on_status(s, reason);
  }

  void emit(const Event& ev) {
    std::vector<std::function<void(const Event&)>> subs;
    {
      std::lock_guard lock(mu_);
      for (auto& [id, fn] : subscribers_) subs.push_back(fn);
    }
    for (auto& fn : subs) fn(ev);
  }

  // ---- commands -------------------------------------------------------------------------------

  void send_command(std::string type, json::object data, std::function<void(const CommandResult&)> done) {
    if (!link_ || !connected_) {
      if (done) done(CommandResult{false, std::nullopt, "disconnected", "not connected to the server (reconnecting): try again"});
      return;
    }
    std::string id = "c" + std::to_string(next_id_++);
    json::object frame{{"type", type}, {"id", id}, {"data", std::move(data)}};
    if (done) {
      auto timer = std::make_shared<asio::steady_timer>(ioc_, cfg_.command_timeout);
      timer->async_wait([this, id](boost::system::error_code ec) {
        if (!ec) complete(id, CommandResult{false, std::nullopt, "timeout", "no reply from the server in time"});
      });
      pending_[id] = Pending{std::move(done), std::move(timer)};
    }
    link_->push(Outgoing{json::serialize(frame)});
  }

  void complete(const std::string& id, const CommandResult& result) {
    auto it = pending_.find(id);
    if (it == pending_.end()) return;
    auto pending = std::move(it->second);
    pending_.erase(it);
    if (pending.timer) pending.timer->cancel();
    pending.done(result);
  }

  void fail_all_pending(const std::string& why) {
    auto pending = std::move(pending_);
    pending_.clear();
    for (auto& [id, p] : pending) {
      if (p.timer) p.timer->cancel();
      p.done(CommandResult{false, std::nullopt, "disconnected", why});
    }
  }

  void send_internal(const char* type, json::object data = {}) {
    if (!link_) return;
    json::object frame{{"type", type}, {"id", "i" + std::to_string(next_id_++)}, {"data", std::move(data)}};
    link_->push(Outgoing{json::serialize(frame)});
  }

  std::string stamp_ping() {
    const int64_t t0 = now();
    pings_out_.insert(t0);
    ++pings_sent_;
    json::object frame{{"type", "time.ping"}, {"id", "p" + std::to_string(next_id_++)}, {"data", json::object{{"t0", t0}}}};
    return json::serialize(frame);
  }

  // ---- incoming frames ------------------------------------------------------------------------

  void on_frame(std::string_view text, int64_t t3) {
    last_rx_local_ = t3;
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
        complete(std::string(re->as_string()), r);
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
    {
      // Waiters (wait_seq, wait_ready) wake only after subscribers have seen the event too.
      std::lock_guard lock(mu_);
      delivered_seq_ = state_.seq;
      delivered_ready_ = ready_;
    }
    cv_.notify_all();
  }

  // Applies one event to the local copy; false to swallow it (a duplicate on resume).
  bool on_event(const Event& ev, int64_t t3) {
    if (ev.type == "time.pong") {
      const auto t0 = int_at(ev.data, "t0");
      const auto t1 = int_at(ev.data, "t1");
      const auto t2 = int_at(ev.data, "t2");
      if (!t0 || !t1 || !t2 || !pings_out_.erase(*t0)) return false;  // not ours, or already counted lost
      std::lock_guard lock(mu_);
      sync_.add_sample(*t0, *t1, *t2, t3);
      ++stats_.samples;
      if (!stats_.sync_locked_at_us && sync_.locked()) stats_.sync_locked_at_us = t3;
      if (!stats_.locked_at_us && sync_.locked() && sync_.uncertainty_us(t3) <= cfg_.lock_uncertainty_us) {
        stats_.locked_at_us = t3;
        cv_.notify_all();
      }
      return true;
    }
    if (ev.type == "hello") {
      std::lock_guard lock(mu_);
      connected_ = true;
      if (auto* p = ev.data.if_contains("participant"); p && p->is_object()) me_ = p->as_object();
      state_.ptt.clear();  // live state: the server re-sends who is talking after the hello
      // A restarted server may have a new monotonic epoch: a clock estimate far off is stale.
      if (auto st = int_at(ev.data, "server_time"); st && stats_.samples > 0 &&
                                                    std::llabs(*st - sync_.to_server(t3)) > 1'000'000) {
        sync_ = core::ClockSync(cfg_.sync);
      }
      auto* resumed = ev.data.if_contains("resumed");
      if (resumed && resumed->is_bool() && resumed->as_bool()) ready_ = true;
      cv_.notify_all();
      return true;
    }
    if (ev.type == "snapshot") {
      {
        std::lock_guard lock(mu_);
        state_.apply_snapshot(ev.data);
        ready_ = true;
        resume_ = true;
      }
      last_anchor_local_ = t3;
      cv_.notify_all();
      return true;
    }
    if (ev.type == "tempo.update") {
      auto rev = int_at(ev.data, "rev");
      std::lock_guard lock(mu_);
      if (rev && state_.tempo && *rev > state_.tempo->rev) request_resync_locked(t3);
      return true;
    }
    if (ev.type == "tempo.anchor") last_anchor_local_ = t3;
    std::lock_guard lock(mu_);
    if (ev.seq) {
      if (*ev.seq <= state_.seq && state_.has_snapshot) return false;  // already have it (resume overlap)
      state_.seq = *ev.seq;
      resume_ = true;
    }
    state_.apply_event(ev.type, ev.data);
    cv_.notify_all();
    return true;
  }

  void request_resync_locked(int64_t now_local) {
    if (now_local - last_resync_local_ < 1'000'000) return;  // one in flight is enough
    last_resync_local_ = now_local;
    last_anchor_local_ = now_local;
    ++stats_.resync_requests;
    json::object frame{{"type", "resync.request"}, {"id", "r" + std::to_string(next_id_++)}, {"data", json::object{}}};
    if (link_) link_->push(Outgoing{json::serialize(frame)});
  }

  // ---- periodic work while connected ----------------------------------------------------------

  void housekeeping(Link& link) {
    const int64_t t = now();
    // Pings unanswered for 2 s are lost: the estimator widens its uncertainty instead of trusting old samples.
    for (auto it = pings_out_.begin(); it != pings_out_.end();) {
      if (t - *it > 2'000'000) {
        std::lock_guard lock(mu_);
        sync_.note_lost_ping();
        ++stats_.lost_pings;
        it = pings_out_.erase(it);
      } else {
        ++it;
      }
    }
    if (t - last_rx_local_ > std::chrono::duration_cast<std::chrono::microseconds>(cfg_.dead_after).count()) {
      link.hard_close();  // silent peer: the reader fails and we reconnect
      return;
    }
    {
      std::lock_guard lock(mu_);
      if (ready_ && state_.tempo) {
        const auto& tempo = *state_.tempo;
        const bool prev_sounding = tempo.prev && tempo.prev->running && sync_.to_server(t) < tempo.anchor_t;
        const bool running = tempo.running || prev_sounding;
        const auto& seg = prev_sounding ? *tempo.prev : static_cast<const core::TempoSegment&>(tempo);
        if (running && seg.bpm > 0) {
          // Anchors come every bar, or every 2 s for long bars.
          const double bar_us = seg.meter.beats * 60e6 / seg.bpm;
          const double interval = std::min(bar_us, 2e6);
          if (static_cast<double>(t - last_anchor_local_) > (cfg_.resync_after_missed_anchors + 1) * interval + 250e3) {
            request_resync_locked(t);
          }
        }
      }
    }
    if (cfg_.metrics_interval.count() > 0 && t >= next_metrics_local_ && connected_) {
      next_metrics_local_ = t + std::chrono::duration_cast<std::chrono::microseconds>(cfg_.metrics_interval).count();
      json::object m;
      {
        std::lock_guard lock(mu_);
        if (stats_.samples > 0) {
          m["rtt_ms"] = std::min(60000.0, static_cast<double>(sync_.min_rtt_us()) / 1000.0);
          m["jitter_ms"] = std::min(60000.0, sync_.jitter_us() / 1000.0);
          m["clock_uncertainty_ms"] = std::min(60000.0, sync_.uncertainty_us(t) / 1000.0);
          m["clock_offset_ms"] = static_cast<double>(sync_.to_server(t) - t) / 1000.0;
        }
        if (pings_sent_ > 0) m["loss"] = std::min(1.0, static_cast<double>(stats_.lost_pings) / static_cast<double>(pings_sent_));
      }
      if (!m.empty()) send_internal("metrics.report", std::move(m));
    }
    if (can_refresh() && !refresh_in_flight_ && token_expires_within(60) && wall_seconds() >= next_refresh_try_wall_) {
      asio::co_spawn(ioc_, refresh_tokens(), [](std::exception_ptr, bool) {});
    }
  }

  // ---- tokens ---------------------------------------------------------------------------------

  bool can_refresh() const {
    std::lock_guard lock(mu_);
    return cfg_.refresher || !tokens_.refresh_token.empty();
  }

  bool token_expires_within(int64_t seconds) const {
    std::lock_guard lock(mu_);
    auto exp = jwt_expiry(tokens_.token);
    return exp && *exp - wall_seconds() < seconds;
  }

  Tokens refresh_blocking(const Tokens& stale) {
    if (cfg_.refresher) return cfg_.refresher(stale);
    if (stale.refresh_token.empty()) throw Error("unauthorized", "the token expired and there is no refresh token: join again");
    auto session = refresh_session(cfg_.server, stale.refresh_token, cfg_.tls);
    if (cfg_.on_tokens) cfg_.on_tokens(session);
    return session.tokens;
  }

  // Parameters by value: they live in the coroutine frame (a capturing lambda's captures would not).
  static awaitable<Tokens> refresh_on_pool(Impl* self, Tokens stale) { co_return self->refresh_blocking(stale); }

  // Returns false when the server refused the refresh token (join again); network trouble retries later.
  awaitable<bool> refresh_tokens() {
    while (refresh_in_flight_) {
      asio::steady_timer wait{ioc_, 50ms};
      co_await wait.async_wait(use_awaitable);
    }
    refresh_in_flight_ = true;
    Tokens stale;
    {
      std::lock_guard lock(mu_);
      stale = tokens_;
    }
    bool ok = true;
    try {
      if (!blocking_pool_) blocking_pool_ = std::make_unique<asio::thread_pool>(1);
      auto fresh = co_await asio::co_spawn(*blocking_pool_, refresh_on_pool(this, stale), use_awaitable);
      std::lock_guard lock(mu_);
      tokens_ = std::move(fresh);
    } catch (const Error& e) {
      ok = e.http_status() != 401 && e.code() != "unauthorized";
      next_refresh_try_wall_ = wall_seconds() + 10;
      if (cfg_.on_status) cfg_.on_status(conn_state_, std::string("token refresh failed: ") + e.what());
    } catch (const std::exception& e) {
      next_refresh_try_wall_ = wall_seconds() + 10;
      if (cfg_.on_status) cfg_.on_status(conn_state_, std::string("token refresh failed: ") + e.what());
    }
    refresh_in_flight_ = false;
    co_return ok;
  }

  // ---- connection -----------------------------------------------------------------------------

  std::string ws_target() const {
    std::lock_guard lock(mu_);
    std::string target = "/ws?token=" + boost::urls::encode(tokens_.token, boost::urls::unreserved_chars);
    if (resume_) target += "&since=" + std::to_string(state_.seq);
    return target;
  }

  template <class Ws>
  awaitable<void> writer(std::shared_ptr<Conn<Ws>> c) {
    boost::system::error_code ec;
    while (c->alive) {
      if (c->queue.empty()) {
        c->wake.expires_at(asio::steady_timer::time_point::max());
        co_await c->wake.async_wait(asio::redirect_error(use_awaitable, ec));
        continue;
      }
      Outgoing item = std::move(c->queue.front());
      c->queue.pop_front();
      if (item.close) {
        co_await c->ws.async_close(websocket::close_code::normal, asio::redirect_error(use_awaitable, ec));
        if (ec) c->hard_close();
        co_return;
      }
      if (item.ping) item.text = stamp_ping();
      co_await c->ws.async_write(asio::buffer(item.text), asio::redirect_error(use_awaitable, ec));
      if (ec) {
        c->hard_close();
        co_return;
      }
    }
  }

  template <class Ws>
  awaitable<void> pinger(std::shared_ptr<Conn<Ws>> c) {
    boost::system::error_code ec;
    const int64_t spacing_us = std::chrono::duration_cast<std::chrono::microseconds>(cfg_.ping_burst_spacing).count();
    const int64_t interval_us = std::chrono::duration_cast<std::chrono::microseconds>(cfg_.ping_interval).count();
    int burst_left = cfg_.ping_burst;
    int64_t next_ping = now();
    while (c->alive) {
      const int64_t t = now();
      if (t >= next_ping) {
        c->push(Outgoing{{}, true});
        if (burst_left > 0) --burst_left;
        int64_t delay = interval_us;
        if (burst_left > 0) {
          delay = spacing_us;
        } else {
          std::lock_guard lock(mu_);
          // The estimator may ask for faster pings while it is not locked; never slower than the configured rate.
          const int64_t wanted = sync_.next_ping_delay_us();
          if (wanted > 0) delay = std::clamp(wanted, spacing_us, interval_us);
        }
        next_ping = t + delay;
      }
      housekeeping(*c);
      const int64_t sleep_us = std::clamp<int64_t>(next_ping - now(), 1000, 100'000);
      c->tick.expires_after(std::chrono::microseconds(sleep_us));
      co_await c->tick.async_wait(asio::redirect_error(use_awaitable, ec));
    }
  }

  template <class Ws>
  awaitable<void> run_connection(std::shared_ptr<Conn<Ws>> c, const asio::ip::tcp::resolver::results_type& endpoints,
                                 Outcome& out) {
    auto& tcp = beast::get_lowest_layer(c->ws);
    tcp.expires_after(cfg_.connect_timeout);
    co_await tcp.async_connect(endpoints, use_awaitable);
    tcp.socket().set_option(asio::ip::tcp::no_delay(true));  // pings must not wait for Nagle
    if constexpr (std::is_same_v<Ws, tls_ws>) {
      asio::ssl::verify_mode mode{};
      detail::prepare_tls_stream(c->ws.next_layer().native_handle(), ssl_ctx_, cfg_.server, cfg_.tls, &mode);
      if (mode == asio::ssl::verify_peer) c->ws.next_layer().set_verify_callback(asio::ssl::host_name_verification(cfg_.server.host));
      co_await c->ws.next_layer().async_handshake(asio::ssl::stream_base::client, use_awaitable);
      detail::check_pin(c->ws.next_layer().native_handle(), cfg_.tls);
    }
    tcp.expires_never();
    websocket::stream_base::timeout timeouts{};
    timeouts.handshake_timeout = cfg_.connect_timeout;
    timeouts.idle_timeout = websocket::stream_base::none();
    timeouts.keep_alive_pings = false;
    c->ws.set_option(timeouts);
    c->ws.set_option(websocket::stream_base::decorator(
        [](websocket::request_type& req) { req.set(beast::http::field::user_agent, "libdownbeat"); }));
    c->ws.read_message_max(16u << 20);  // snapshots carry the whole song library
    c->ws.text(true);

    websocket::response_type res;
    boost::system::error_code ec;
    co_await c->ws.async_handshake(res, cfg_.server.host_header(), ws_target(), asio::redirect_error(use_awaitable, ec));
    if (ec) {
      out.unauthorized = res.result() == beast::http::status::unauthorized;
      out.reason = "upgrade refused: HTTP " + std::to_string(res.result_int()) + " " + res.body();
      co_return;
    }

    last_rx_local_ = now();
    last_anchor_local_ = last_rx_local_;
    pings_out_.clear();
    link_ = c;
    auto on_done = [](std::exception_ptr) {};
    asio::co_spawn(ioc_, writer(c), on_done);
    asio::co_spawn(ioc_, pinger(c), on_done);
    if (stopping_) c->push(Outgoing{{}, false, true});

    beast::flat_buffer buffer;
    for (;;) {
      co_await c->ws.async_read(buffer, asio::redirect_error(use_awaitable, ec));
      if (ec) break;
      const int64_t t3 = now();
      const auto data = buffer.cdata();
      on_frame(std::string_view(static_cast<const char*>(data.data()), data.size()), t3);
      if (connected_) out.got_hello = true;
      if (connected_ && conn_state_ != ConnectionState::connected) set_status(ConnectionState::connected, "");
      buffer.consume(buffer.size());
    }
    c->alive = false;
    c->wake.cancel();
    c->tick.cancel();
    link_.reset();
    {
      std::lock_guard lock(mu_);
      connected_ = false;
      ready_ = false;
      delivered_ready_ = false;
    }
    const auto& why = c->ws.reason().reason;
    out.reason = ec == websocket::error::closed ? "closed by the server (" + std::string(why.data(), why.size()) + ")"
                                                 : ec.message();
  }

  awaitable<Outcome> connect_once() {
    Outcome out;
    try {
      asio::ip::tcp::resolver resolver{ioc_};
      auto endpoints = co_await resolver.async_resolve(cfg_.server.host, cfg_.server.port, use_awaitable);
      if (cfg_.server.secure) {
        co_await run_connection(std::make_shared<Conn<tls_ws>>(ioc_, ioc_, ssl_ctx_), endpoints, out);
      } else {
        co_await run_connection(std::make_shared<Conn<plain_ws>>(ioc_, ioc_), endpoints, out);
      }
    } catch (const Error& e) {
      out.reason = e.what();
    } catch (const boost::system::system_error& e) {
      out.reason = "cannot reach " + cfg_.server.http_base() + ": " + e.code().message();
    }
    co_return out;
  }

  std::chrono::microseconds backoff_delay(int attempt) {
    // Exponential from backoff_min, capped, with ±25% jitter so a room's clients do not reconnect in lockstep.
    const double base = static_cast<double>(std::chrono::duration_cast<std::chrono::microseconds>(cfg_.backoff_min).count());
    const double cap = static_cast<double>(std::chrono::duration_cast<std::chrono::microseconds>(cfg_.backoff_max).count());
    const double raw = std::min(cap, base * std::pow(2.0, std::min(attempt, 16)));
    std::uniform_real_distribution<double> jitter(0.75, 1.25);
    return std::chrono::microseconds(static_cast<int64_t>(std::clamp(raw * jitter(rng_), base, cap)));
  }

  awaitable<void> run() {
    {
      std::lock_guard lock(mu_);
      stats_.connect_started_us = now();
    }
    int attempt = 0;
    bool retried_401 = false;
    while (!stopping_) {
      if (can_refresh() && token_expires_within(30)) co_await refresh_tokens();
      set_status(ConnectionState::connecting, "");
      Outcome out = co_await connect_once();
      fail_all_pending("connection lost before the server replied: the command may or may not have been applied");
      if (stopping_) break;
      if (out.got_hello) {
        attempt = 0;
        retried_401 = false;
      }
      if (out.unauthorized) {
        // One refresh per refusal; if the server refuses the refresh token too (kicked, or a reused token
        // revoked the device), retrying cannot help: stop and say so.
        if (!retried_401 && can_refresh()) {
          retried_401 = true;
          if (co_await refresh_tokens()) continue;
        }
        if (!can_refresh() || retried_401) {
          set_status(ConnectionState::stopped, "the server refused this device's tokens: join again (" + out.reason + ")");
          co_return;
        }
      }
      const auto delay = backoff_delay(attempt++);
      set_status(ConnectionState::backoff, out.reason);
      backoff_timer_.expires_after(delay);
      boost::system::error_code ec;
      co_await backoff_timer_.async_wait(asio::redirect_error(use_awaitable, ec));
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
    std::lock_guard lock(impl->mu_);
    impl->thread_done_ = true;
    impl->cv_.notify_all();
  });
}

void Client::stop() {
  auto& impl = *impl_;
  if (!impl.thread_.joinable()) return;
  asio::post(impl.ioc_, [&impl] {
    impl.stopping_ = true;
    impl.backoff_timer_.cancel();
    if (impl.link_) impl.link_->push(Outgoing{{}, false, true});
  });
  {
    // A clean close handshake is polite (the room shows us offline at once); do not wait long for it.
    std::unique_lock lock(impl.mu_);
    impl.cv_.wait_for(lock, 1s, [&] { return impl.thread_done_; });
  }
  impl.ioc_.stop();
  impl.thread_.join();
  impl.fail_all_pending("client stopped");
  impl.link_.reset();
  {
    std::lock_guard lock(impl.mu_);
    impl.conn_state_ = ConnectionState::stopped;
  }
}

bool Client::wait_ready(std::chrono::milliseconds timeout) {
  std::unique_lock lock(impl_->mu_);
  return impl_->cv_.wait_for(lock, timeout, [&] { return impl_->delivered_ready_; });
}

bool Client::wait_locked(std::chrono::milliseconds timeout) {
  std::unique_lock lock(impl_->mu_);
  return impl_->cv_.wait_for(lock, timeout, [&] { return impl_->stats_.locked_at_us.has_value(); });
}

bool Client::wait_seq(int64_t seq, std::chrono::milliseconds timeout) {
  std::unique_lock lock(impl_->mu_);
  return impl_->cv_.wait_for(lock, timeout, [&] { return impl_->delivered_seq_ >= seq; });
}

ConnectionState Client::connection_state() const {
  std::lock_guard lock(impl_->mu_);
  return impl_->conn_state_;
}

void Client::send(std::string type, boost::json::object data, std::function<void(const CommandResult&)> done) {
  asio::post(impl_->ioc_, [impl = impl_.get(), type = std::move(type), data = std::move(data), done = std::move(done)]() mutable {
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
  std::lock_guard lock(impl_->mu_);
  const int id = impl_->next_subscriber_++;
  impl_->subscribers_[id] = std::move(on_event);
  return id;
}

void Client::unsubscribe(int id) {
  std::lock_guard lock(impl_->mu_);
  impl_->subscribers_.erase(id);
}

RoomState Client::state() const {
  std::lock_guard lock(impl_->mu_);
  return impl_->state_;
}

std::optional<core::TempoState> Client::tempo() const {
  std::lock_guard lock(impl_->mu_);
  return impl_->state_.tempo;
}

boost::json::object Client::me() const {
  std::lock_guard lock(impl_->mu_);
  return impl_->me_;
}

Tokens Client::tokens() const {
  std::lock_guard lock(impl_->mu_);
  return impl_->tokens_;
}

int64_t Client::now_local() const { return impl_->now(); }

int64_t Client::to_server(int64_t local_us) const {
  std::lock_guard lock(impl_->mu_);
  return impl_->sync_.to_server(local_us);
}

int64_t Client::to_local(int64_t server_us) const {
  std::lock_guard lock(impl_->mu_);
  return impl_->sync_.to_local(server_us);
}

SyncStatus Client::sync_status() const {
  const int64_t t = impl_->now();
  std::lock_guard lock(impl_->mu_);
  SyncStatus s = impl_->stats_;
  const auto& sync = impl_->sync_;
  s.locked = sync.locked();
  s.offset_us = sync.to_server(t) - t;
  s.min_rtt_us = sync.min_rtt_us();
  s.uncertainty_us = sync.uncertainty_us(t);
  s.uncertainty_horizon_us = sync.uncertainty_us();
  s.jitter_us = sync.jitter_us();
  s.skew_ppm = sync.skew_ppm();
  return s;
}

std::optional<ScheduledBeat> Client::next_beat(int64_t at_or_after_local_us) const {
  std::lock_guard lock(impl_->mu_);
  if (!impl_->state_.tempo) return std::nullopt;
  const auto& sync = impl_->sync_;
  return first_beat_at_or_after(*impl_->state_.tempo, sync.to_server(at_or_after_local_us),
                                [&sync](int64_t t) { return sync.to_local(t); });
}

std::optional<ScheduledBeat> Client::next_beat_from_server(int64_t at_or_after_server_us) const {
  std::lock_guard lock(impl_->mu_);
  if (!impl_->state_.tempo) return std::nullopt;
  const auto& sync = impl_->sync_;
  return first_beat_at_or_after(*impl_->state_.tempo, at_or_after_server_us, [&sync](int64_t t) { return sync.to_local(t); });
}

std::vector<ScheduledBeat> Client::beats_between(int64_t from_local_us, int64_t to_local_us) const {
  std::lock_guard lock(impl_->mu_);
  if (!impl_->state_.tempo) return {};
  const auto& sync = impl_->sync_;
  return schedule_beats(*impl_->state_.tempo, sync.to_server(from_local_us), sync.to_server(to_local_us),
                        [&sync](int64_t t) { return sync.to_local(t); });
}

}  // namespace downbeat
