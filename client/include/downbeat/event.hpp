#pragma once
// One frame from the server as subscribers see it.
#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>

namespace downbeat {

struct Event {
  std::string type;             // "slot.assign", "tempo.anchor", "hello", "snapshot", "time.pong", …
  std::optional<int64_t> seq;   // durable events only
  std::optional<int64_t> ts;    // server µs when produced
  boost::json::object data;
  int64_t received_local_us = 0;  // local clock when the frame was read
};

}  // namespace downbeat
