#pragma once
// What the hub knows of a client connection: an address, an identity and a bounded send queue.
// The WebSocket session in server/net implements it; the hub never sees a socket.
#include <cstdint>
#include <memory>
#include <string>

#include "core/permissions.hpp"
#include "core/token_bucket.hpp"

namespace downbeat::server {

class Connection {
 public:
  virtual ~Connection() = default;
  // Queue a text frame. An implementation drops the connection when its queue overflows.
  virtual void send(std::shared_ptr<const std::string> frame) = 0;
  // Close after the frames already queued, with a WebSocket close code and reason.
  virtual void close(std::uint16_t code, std::string reason) = 0;
  virtual std::size_t queue_depth() const = 0;
  virtual std::size_t queue_capacity() const = 0;

  std::string address;
  std::string participant;
  std::string room;
  std::string family;  // the refresh-token family its access token came from
  core::Role role = core::Role::viewer;
  core::TokenBucket frames{50, 100};
  // Refused frames drain this one; when it is empty the client is flooding, not bursting.
  core::TokenBucket refusals{10, 200};
  // Signalling comes in bursts (an offer and its candidates); talk presses do not.
  core::TokenBucket rtc{50, 200};
  core::TokenBucket ptt{4, 10};
  bool talking = false;  // this connection holds Talk: released for everyone when it closes
  bool closing = false;
};

}  // namespace downbeat::server
