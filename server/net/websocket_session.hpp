#pragma once
// One WebSocket connection: reads frames into the hub, writes from a queue bounded in frames and
// in bytes. A client too slow to drain its queue is dropped (it resumes with `since`), so one bad
// phone never holds up the room or grows the server's memory.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <deque>
#include <spdlog/spdlog.h>
#include <stdexcept>

#include "server/clock.hpp"
#include "server/hub/hub.hpp"
#include "server/net/net_limits.hpp"
#include "server/net/ws_protocols.hpp"

namespace downbeat::server {

template <class Stream>
class WebSocketSession : public Connection, public std::enable_shared_from_this<WebSocketSession<Stream>> {
 public:
  WebSocketSession(Stream&& stream, Hub& hub, const SessionLimits& limits, std::shared_ptr<NetState> net, AddressSlot slot)
      : ws_(std::move(stream)), hub_(hub), limits_(limits), net_(std::move(net)), slot_(std::move(slot)), send_timer_(ws_.get_executor()) {
    ws_.read_message_max(limits.max_frame);
    ws_.auto_fragment(false);  // a big snapshot leaves in one write, straight from the shared frame
  }

  ~WebSocketSession() override { net_->queued_bytes -= queued_bytes_; }

  boost::asio::awaitable<void> run(boost::beast::http::request<boost::beast::http::string_body> req, Claims claims,
                                   std::optional<std::int64_t> since, bool echo_protocol) {
    namespace beast = boost::beast;
    namespace websocket = beast::websocket;
    using boost::asio::redirect_error;
    using boost::asio::use_awaitable;
    auto self = this->shared_from_this();
    websocket::stream_base::timeout t = websocket::stream_base::timeout::suggested(beast::role_type::server);
    t.idle_timeout = std::chrono::seconds(20);  // pings keep live phones; a vanished one is noticed within ~20 s
    t.keep_alive_pings = true;
    ws_.set_option(t);
    ws_.set_option(websocket::stream_base::decorator([echo_protocol](websocket::response_type& res) {
      res.set(beast::http::field::server, "downbeatd");
      if (echo_protocol) res.set(beast::http::field::sec_websocket_protocol, kWsProtocol);
    }));
    boost::system::error_code ec;
    co_await ws_.async_accept(req, redirect_error(use_awaitable, ec));
    if (ec) co_return;
    req = {};  // its header fields are not needed again; an idle connection should not hold them
    // Whatever ends this coroutine (a closed socket, an exception, its frame destroyed), the hub
    // hears of it: no participant stays online because of an unexpected error.
    struct DetachGuard {
      WebSocketSession* s;
      ~DetachGuard() { s->on_closed(); }
    } guard{this};
    attaching_ = true;
    hub_.attach(self, claims, since);
    attaching_ = false;
    beast::flat_buffer buf;
    for (;;) {
      co_await ws_.async_read(buf, redirect_error(use_awaitable, ec));
      std::int64_t received = now_us();
      if (ec) break;
      std::string_view text(static_cast<const char*>(buf.data().data()), buf.size());
      if (limits_.fault_inject && ws_.got_text() && text == R"({"type":"fault.throw"})") throw std::runtime_error("injected fault");
      if (ws_.got_text())
        hub_.on_frame(*this, text, received);
      else
        hub_.on_binary_frame(*this);
      buf.consume(buf.size());
    }
    if (ec == websocket::error::message_too_big) {
      hub_.metrics().inc("downbeat_errors_total", "code=\"too_large\"");
      spdlog::warn("connection.frame_too_large room={} participant={} address={}", room, participant, address);
    }
  }

  void send(std::shared_ptr<const std::string> frame) override {
    if (dead_ || closing) return;
    // The byte bound counts what waits behind the frame being written, so one frame larger than it
    // (a big snapshot) still goes out; while attaching, the hub bounds the replay in frames.
    bool too_many = queue_.size() >= limits_.max_queue;
    bool too_big = !attaching_ && !queue_.empty() && behind_bytes_ + frame->size() > limits_.max_queue_bytes;
    if (too_many || too_big) {
      drop(too_many ? "send_queue_frames" : "send_queue_bytes");
      return;
    }
    behind_bytes_ += frame->size();
    add_bytes(frame->size());
    queue_.push_back(Item{std::move(frame), std::nullopt});
    start_writer();
  }

  void close(std::uint16_t code, std::string reason) override {
    if (dead_ || closing) return;
    closing = true;
    queue_.push_back(Item{nullptr, boost::beast::websocket::close_reason(static_cast<boost::beast::websocket::close_code>(code), reason)});
    start_writer();
  }

  std::size_t queue_depth() const override { return queue_.size(); }
  std::size_t queue_capacity() const override { return limits_.max_queue; }

 private:
  struct Item {
    std::shared_ptr<const std::string> frame;
    std::optional<boost::beast::websocket::close_reason> close;
  };

  void add_bytes(std::size_t n) {
    queued_bytes_ += n;
    net_->queued_bytes += n;
  }
  void sub_bytes(std::size_t n) {
    queued_bytes_ -= n;
    net_->queued_bytes -= n;
  }

  // A slow consumer: close the socket at once, which ends the read loop and detaches it.
  void drop(const char* limit) {
    if (dead_) return;
    dead_ = true;
    if (!net_->stopped) {
      hub_.metrics().inc("downbeat_slow_consumers_dropped_total");
      hub_.metrics().inc("downbeat_rate_limited_total", std::string("limit=\"") + limit + "\"");
    }
    spdlog::warn("connection.slow_consumer room={} participant={} address={} limit={} queued={} queued_bytes={}: dropped, it will resume with since",
                 room, participant, address, limit, queue_.size(), queued_bytes_);
    sub_bytes(behind_bytes_);
    behind_bytes_ = 0;
    queue_.clear();
    boost::system::error_code ignored;
    boost::beast::get_lowest_layer(ws_).socket().close(ignored);
    send_timer_.cancel();
  }

  void on_closed() {
    if (detached_) return;
    detached_ = true;
    dead_ = true;
    boost::system::error_code ignored;
    boost::beast::get_lowest_layer(ws_).socket().close(ignored);
    send_timer_.cancel();
    if (net_->stopped) return;  // shutting down: the hub may be gone already
    try {
      hub_.detach(*this);
    } catch (const std::exception& e) {
      spdlog::error("connection.detach_failed room={} participant={} error={}", room, participant, e.what());
    }
  }

  void start_writer() {
    if (writing_) return;
    writing_ = true;
    boost::asio::co_spawn(ws_.get_executor(), write_loop(this->shared_from_this()), boost::asio::detached);
  }

  // `self` keeps the session alive while the loop runs.
  boost::asio::awaitable<void> write_loop(std::shared_ptr<WebSocketSession> self) {
    using boost::asio::redirect_error;
    using boost::asio::use_awaitable;
    boost::system::error_code ec;
    while (!queue_.empty() && !dead_) {
      Item item = std::move(queue_.front());
      queue_.pop_front();
      frame_started_ = std::chrono::steady_clock::now();
      if (!timer_armed_) arm_send_timer(self, limits_.send_timeout);
      if (item.frame) {
        behind_bytes_ -= item.frame->size();
        ws_.text(true);
        co_await ws_.async_write(boost::asio::buffer(*item.frame), redirect_error(use_awaitable, ec));
        sub_bytes(item.frame->size());
      } else {
        co_await ws_.async_close(*item.close, redirect_error(use_awaitable, ec));
        dead_ = true;
      }
      if (ec) dead_ = true;
    }
    writing_ = false;
  }

  // A frame that has not left within the send timeout means the reader stopped reading. One timer
  // per session, re-armed only when it fires: the hot path just notes when each frame started.
  void arm_send_timer(const std::shared_ptr<WebSocketSession>& self, std::chrono::steady_clock::duration after) {
    timer_armed_ = true;
    send_timer_.expires_after(after);
    send_timer_.async_wait([weak = std::weak_ptr<WebSocketSession>(self)](boost::system::error_code ec) {
      auto s = weak.lock();
      if (!s) return;
      s->timer_armed_ = false;
      if (ec || s->dead_ || !s->writing_) return;
      auto waited = std::chrono::steady_clock::now() - s->frame_started_;
      if (waited >= s->limits_.send_timeout)
        s->drop("send_timeout");
      else
        s->arm_send_timer(s, s->limits_.send_timeout - waited);
    });
  }

  boost::beast::websocket::stream<Stream> ws_;
  Hub& hub_;
  SessionLimits limits_;
  std::shared_ptr<NetState> net_;
  AddressSlot slot_;  // this connection's place under --max-conns-per-ip, held from admission to the end
  boost::asio::steady_timer send_timer_;
  std::deque<Item> queue_;
  std::size_t queued_bytes_ = 0;  // not yet written, the frame being written included
  std::size_t behind_bytes_ = 0;  // waiting behind the frame being written
  bool attaching_ = false;
  bool writing_ = false;
  bool dead_ = false;
  bool detached_ = false;
  bool timer_armed_ = false;
  std::chrono::steady_clock::time_point frame_started_{};
};

}  // namespace downbeat::server
