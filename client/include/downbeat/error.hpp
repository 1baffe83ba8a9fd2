#pragma once
// Errors the SDK reports: server error codes ("forbidden", …) plus client-side ones ("disconnected", "timeout", "network", "tls").
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

namespace downbeat {

class Error : public std::runtime_error {
 public:
  Error(std::string code, std::string message, int http_status = 0)
      : std::runtime_error(code + ": " + message), code_(std::move(code)), message_(std::move(message)), http_status_(http_status) {}
  const std::string& code() const { return code_; }
  const std::string& message() const { return message_; }
  int http_status() const { return http_status_; }  // 0 when the error did not come from an HTTP reply

 private:
  std::string code_;
  std::string message_;
  int http_status_;
};

// The outcome of one command: an `ack` (ok, with the seq of the event it produced for durable commands) or an `error`.
struct CommandResult {
  bool ok = false;
  std::optional<int64_t> seq;
  std::string code;     // set when !ok: a protocol error code or disconnected / timeout
  std::string message;  // the server's message: what went wrong and what to do
};

}  // namespace downbeat
