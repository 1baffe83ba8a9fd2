#pragma once
// A TCP proxy that delays each chunk by an Impairment sample, keeping TCP's byte order (a late chunk
// holds back the ones behind it, as a retransmission does). One per simulated client path.
#include <boost/asio.hpp>
#include <cstdint>
#include <memory>
#include <random>

#include "impairment.hpp"

namespace downbeat::bench {

class ImpairedProxy {
 public:
  ImpairedProxy(boost::asio::io_context& ioc, const boost::asio::ip::tcp::endpoint& listen,
                boost::asio::ip::tcp::endpoint upstream, Impairment impairment, uint64_t seed);
  uint16_t port() const { return port_; }
  // For a proxy made before its server listens (browser pages: the server must know their origins);
  // call before the first connection arrives.
  void set_upstream(boost::asio::ip::tcp::endpoint upstream) { upstream_ = std::move(upstream); }

 private:
  boost::asio::awaitable<void> accept_loop();

  boost::asio::io_context& ioc_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::ip::tcp::endpoint upstream_;
  Impairment impairment_;
  std::shared_ptr<std::mt19937_64> rng_;
  uint16_t port_ = 0;
};

}  // namespace downbeat::bench
