#include "impaired_proxy.hpp"

#include <deque>
#include <vector>

namespace downbeat::bench {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;
using clock_type = std::chrono::steady_clock;

namespace {

struct Chunk {
  clock_type::time_point due;
  std::vector<char> bytes;
};

// One direction of one connection.
struct Pipe {
  explicit Pipe(asio::io_context& ioc) : wake(ioc), due_timer(ioc) {}
  std::deque<Chunk> queue;
  asio::steady_timer wake;
  asio::steady_timer due_timer;
  clock_type::time_point last_due{};
  bool reader_done = false;
};

struct Link {
  Link(asio::io_context& ioc) : client(ioc), server(ioc) {}
  tcp::socket client;
  tcp::socket server;
  void close() {
    boost::system::error_code ec;
    client.close(ec);
    server.close(ec);
  }
};

awaitable<void> read_side(std::shared_ptr<Link> link, tcp::socket& from, std::shared_ptr<Pipe> pipe, bool upstream,
                          const Impairment& imp, std::shared_ptr<std::mt19937_64> rng) {
  std::vector<char> buf(64 * 1024);
  boost::system::error_code ec;
  for (;;) {
    const auto n = co_await from.async_read_some(asio::buffer(buf), asio::redirect_error(use_awaitable, ec));
    if (ec) break;
    const auto now = clock_type::now();
    // TCP delivers in order: a chunk can never overtake the one before it.
    auto due = std::max(now + std::chrono::microseconds(imp.sample(upstream, *rng)), pipe->last_due);
    pipe->last_due = due;
    pipe->queue.push_back(Chunk{due, std::vector<char>(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n))});
    pipe->wake.cancel();
  }
  pipe->reader_done = true;
  pipe->wake.cancel();
  (void)link;
}

awaitable<void> write_side(std::shared_ptr<Link> link, tcp::socket& to, std::shared_ptr<Pipe> pipe) {
  boost::system::error_code ec;
  for (;;) {
    if (pipe->queue.empty()) {
      if (pipe->reader_done) break;
      pipe->wake.expires_at(clock_type::time_point::max());
      co_await pipe->wake.async_wait(asio::redirect_error(use_awaitable, ec));
      continue;
    }
    pipe->due_timer.expires_at(pipe->queue.front().due);
    co_await pipe->due_timer.async_wait(asio::redirect_error(use_awaitable, ec));
    auto chunk = std::move(pipe->queue.front());
    pipe->queue.pop_front();
    co_await asio::async_write(to, asio::buffer(chunk.bytes), asio::redirect_error(use_awaitable, ec));
    if (ec) break;
  }
  link->close();  // either side gone: tear down both, like a dropped path
}

}  // namespace

ImpairedProxy::ImpairedProxy(asio::io_context& ioc, const tcp::endpoint& listen, tcp::endpoint upstream, Impairment impairment,
                             uint64_t seed)
    : ioc_(ioc), acceptor_(ioc, listen), upstream_(upstream), impairment_(impairment),
      rng_(std::make_shared<std::mt19937_64>(seed)) {
  port_ = acceptor_.local_endpoint().port();
  asio::co_spawn(ioc_, accept_loop(), asio::detached);
}

awaitable<void> ImpairedProxy::accept_loop() {
  for (;;) {
    auto link = std::make_shared<Link>(ioc_);
    boost::system::error_code ec;
    co_await acceptor_.async_accept(link->client, asio::redirect_error(use_awaitable, ec));
    if (ec) co_return;
    co_await link->server.async_connect(upstream_, asio::redirect_error(use_awaitable, ec));
    if (ec) {
      link->close();
      continue;
    }
    link->client.set_option(tcp::no_delay(true));
    link->server.set_option(tcp::no_delay(true));
    auto up = std::make_shared<Pipe>(ioc_);
    auto down = std::make_shared<Pipe>(ioc_);
    asio::co_spawn(ioc_, read_side(link, link->client, up, true, impairment_, rng_), asio::detached);
    asio::co_spawn(ioc_, write_side(link, link->server, up), asio::detached);
    asio::co_spawn(ioc_, read_side(link, link->server, down, false, impairment_, rng_), asio::detached);
    asio::co_spawn(ioc_, write_side(link, link->client, down), asio::detached);
  }
}

}  // namespace downbeat::bench
