#pragma once
// protocol/schema.json loaded once: command and event specs and a validator for the JSON Schema
// subset it uses (the constructor refuses a keyword outside that subset, so no rule is silently ignored).
#include <boost/json.hpp>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace downbeat::core {

struct CommandSpec {
  std::string type;
  std::set<std::string> roles;
  bool durable = false;
  boost::json::value data_schema;
};

struct EventSpec {
  std::string type;
  bool durable = false;  // takes a seq and is stored in the room's event log
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
  const EventSpec* find_event(std::string_view type) const;
  const std::map<std::string, EventSpec, std::less<>>& events() const { return events_; }
  // False for an event type the schema does not list.
  bool event_is_durable(std::string_view type) const;
  // The schema's `roles`, in its order.
  const std::vector<std::string>& roles() const { return roles_; }

  // "" when `data` satisfies the command's schema, else a message naming the field and the rule.
  std::string validate(const CommandSpec& spec, const boost::json::value& data) const;
  // "" when `data` satisfies the event's schema, else the same kind of message; an unknown type is one too.
  std::string validate_event(std::string_view type, const boost::json::value& data) const;

 private:
  std::string check(const boost::json::value& schema, const boost::json::value& v, const std::string& path) const;
  std::string check_rest(const boost::json::object& schema, const boost::json::value& v, const std::string& path) const;
  std::string describe(const boost::json::value& schema) const;
  bool type_matches(const boost::json::object& schema, const boost::json::value& v) const;
  const boost::json::value& resolve(const boost::json::value& schema) const;

  std::map<std::string, CommandSpec, std::less<>> commands_;
  void check_keywords(const boost::json::value& schema, const std::string& where) const;

  std::map<std::string, EventSpec, std::less<>> events_;
  std::vector<std::string> roles_;
  boost::json::object definitions_;
  std::size_t max_frame_bytes_ = 65536;
  std::size_t max_id_length_ = 64;
};

}  // namespace downbeat::core
