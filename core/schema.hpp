#pragma once
// protocol/schema.json loaded once: command specs and a validator for the JSON Schema subset it uses.
#include <boost/json.hpp>
#include <map>
#include <set>
#include <string>
#include <string_view>

namespace downbeat::core {

struct CommandSpec {
  std::string type;
  std::set<std::string> roles;
  bool durable = false;
  boost::json::value data_schema;
};

class Schema {
 public:
  explicit Schema(std::string_view schema_json);
  // The schema compiled into the binary from protocol/schema.json.
  static const Schema& builtin();

  const CommandSpec* find(std::string_view type) const;
  const std::map<std::string, CommandSpec, std::less<>>& commands() const { return commands_; }
  std::size_t max_frame_bytes() const { return max_frame_bytes_; }
  std::size_t max_id_length() const { return max_id_length_; }
  bool event_is_durable(std::string_view type) const;

  // "" when `data` satisfies the command's schema, else a message naming the field and the rule.
  std::string validate(const CommandSpec& spec, const boost::json::value& data) const;

 private:
  std::string check(const boost::json::value& schema, const boost::json::value& v, const std::string& path) const;
  const boost::json::value& resolve(const boost::json::value& schema) const;

  std::map<std::string, CommandSpec, std::less<>> commands_;
  std::map<std::string, bool, std::less<>> durable_events_;
  boost::json::object definitions_;
  std::size_t max_frame_bytes_ = 65536;
  std::size_t max_id_length_ = 64;
};

}  // namespace downbeat::core
