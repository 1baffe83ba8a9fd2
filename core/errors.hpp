#pragma once
// Typed protocol errors: handlers throw them, the one dispatcher turns them into `error` replies.
#include <stdexcept>
#include <string>
#include <string_view>

namespace downbeat::core {

enum class ErrorCode { bad_request, unauthorized, forbidden, not_found, conflict, rate_limited, too_large, unsupported, internal };

std::string_view to_string(ErrorCode code);
int http_status(ErrorCode code);

class CommandError : public std::runtime_error {
 public:
  CommandError(ErrorCode code, std::string message) : std::runtime_error(std::move(message)), code_(code) {}
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

}  // namespace downbeat::core
