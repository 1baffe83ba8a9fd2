#pragma once
// One WebSocket connection: reads frames into the hub, writes from a bounded queue.
// A client too slow to drain its queue is dropped (it resumes with `since`), so one bad
// phone never holds up the room or grows the server's memory.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <deque>
#include <spdlog/spdlog.h>

#include "server/clock.hpp"
#include "server/hub/hub.hpp"

namespace downbeat::server {

template <class Stream>
class WebSocketSession : public Connection, public std::enable_shared_from_this<WebSocketSession<Stream>> {
 public:
  WebSocketSession(Stream&& stream, Hub& hub, std::size_t max_queue, std::size_t max_frame)
      : ws_(std::move(stream)), hub_(hub), max_queue_(max_queue) {
    ws_.read_message_max(max_frame);
  }

  boost::asio::awaitable<void> run(boost::beast::http::request<boost::beast::http::string_body> req, Claims claims,
                                   std::optional<std::int64_t> since) {
    namespace beast = boost::beast;
    namespace websocket = beast::websocket;
    using boost::asio::redirect_error;
    using boost::asio::use_awaitable;
    auto self = this->shared_from_this();
    websocket::stream_base::timeout t = websocket::stream_base::timeout::suggested(beast::role_type::server);
    t.idle_timeout = std::chrono::seconds(20);  // pings keep live phones; a vanished one is noticed within ~20 s
    t.keep_alive_pings = true;
    ws_.set_option(t);
    ws_.set_option(websocket::stream_base::decorator([](websocket::response_type& res) { res.set(beast::http::field::server, "downbeatd"); }));
    boost::system::error_code ec;
    co_await ws_.async_accept(req, redirect_error(use_awaitable, ec));
    if (ec) co_return;
    hub_.attach(self, claims, since);
    beast::flat_buffer buf;
    for (;;) {
      co_await ws_.async_read(buf, redirect_error(use_awaitable, ec));
      std::int64_t received = now_us();
      if (ec) break;
      if (ws_.got_text())
        hub_.on_frame(*this, std::string_view(static_cast<const char*>(buf.data().data()), buf.size()), received);
      else
        hub_.on_binary_frame(*this);
      buf.consume(buf.size());
    }
    if (ec == websocket::error::message_too_big) {
      hub_.metrics().inc("downbeat_errors_total", "code=\"too_large\"");
      spdlog::warn("connection.frame_too_large room={} participant={} address={}", room, participant, address);
    }
    dead_ = true;
    hub_.detach(*this);
  }

  void send(std::shared_ptr<const std::string> frame) override {
    if (dead_ || closing) return;
    if (queue_.size() >= max_queue_) {
      dead_ = true;
      hub_.metrics().inc("downbeat_slow_consumers_dropped_total");
      spdlog::warn("connection.slow_consumer room={} participant={} address={} queued={}: dropped, it will resume with since", room,
                   participant, address, queue_.size());
      boost::system::error_code ignored;
      boost::beast::get_lowest_layer(ws_).socket().close(ignored);
      return;
    }
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
  std::size_t queue_capacity() const override { return max_queue_; }

 private:
  struct Item {
    std::shared_ptr<const std::string> frame;
    std::optional<boost::beast::websocket::close_reason> close;
  };

  void start_writer() {
    if (writing_) return;
    writing_ = true;
    boost::asio::co_spawn(ws_.get_executor(), write_loop(this->shared_from_this()), boost::asio::detached);
  }

  // `self` keeps the session alive while the loop runs.
  boost::asio::awaitable<void> write_loop(std::shared_ptr<WebSocketSession> /*self*/) {
    using boost::asio::redirect_error;
    using boost::asio::use_awaitable;
    boost::system::error_code ec;
    while (!queue_.empty() && !dead_) {
      Item item = std::move(queue_.front());
      queue_.pop_front();
      if (item.frame) {
        ws_.text(true);
        co_await ws_.async_write(boost::asio::buffer(*item.frame), redirect_error(use_awaitable, ec));
      } else {
        co_await ws_.async_close(*item.close, redirect_error(use_awaitable, ec));
        dead_ = true;
      }
      if (ec) dead_ = true;
    }
    writing_ = false;
  }

  boost::beast::websocket::stream<Stream> ws_;
  Hub& hub_;
  std::size_t max_queue_;
  std::deque<Item> queue_;
  bool writing_ = false;
  bool dead_ = false;
};

}  // namespace downbeat::server
