#pragma once
// Parsing one client WebSocket text frame into a command: a pure function over untrusted bytes (fuzzed).
#include <boost/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "core/errors.hpp"
#include "core/schema.hpp"

namespace downbeat::core {

struct Command {
  std::string type;
  std::string id;
  boost::json::object data;
  const CommandSpec* spec = nullptr;
};

struct FrameError {
  std::optional<std::string> re;  // the command id, when the frame had a usable one
  ErrorCode code;
  std::string message;
};

struct ParsedFrame {
  std::optional<Command> command;
  std::optional<FrameError> error;
};

ParsedFrame parse_frame(std::string_view text, const Schema& schema);

}  // namespace downbeat::core
