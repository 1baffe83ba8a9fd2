#include "core/schema.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "protocol/schema_json.hpp"

namespace downbeat::core {
namespace json = boost::json;

namespace {
std::string type_name(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null: return "null";
    case json::kind::bool_: return "a boolean";
    case json::kind::int64:
    case json::kind::uint64: return "an integer";
    case json::kind::double_: return "a number";
    case json::kind::string: return "a string";
    case json::kind::array: return "an array";
    case json::kind::object: return "an object";
  }
  return "?";
}

bool is_integer(const json::value& v) {
  if (v.is_int64() || v.is_uint64()) return true;
  if (v.is_double()) {
    double d = v.get_double();
    return std::isfinite(d) && std::floor(d) == d && std::fabs(d) < 9.0e15;
  }
  return false;
}

double as_number(const json::value& v) {
  if (v.is_int64()) return static_cast<double>(v.get_int64());
  if (v.is_uint64()) return static_cast<double>(v.get_uint64());
  return v.get_double();
}

// Code points, not bytes: a 40-character emoji name is 40 characters to a musician.
std::size_t utf8_length(std::string_view s) {
  std::size_t n = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) ++n;
  return n;
}

std::string fmt_num(double d) {
  if (std::floor(d) == d && std::fabs(d) < 1e15) return std::to_string(static_cast<long long>(d));
  std::string s = std::to_string(d);
  while (!s.empty() && s.back() == '0') s.pop_back();
  return s;
}
}  // namespace

Schema::Schema(std::string_view schema_json) {
  json::value root = json::parse(schema_json);
  const auto& obj = root.as_object();
  if (auto* defs = obj.if_contains("definitions")) definitions_ = defs->as_object();
  if (auto* lim = obj.if_contains("limits")) {
    max_frame_bytes_ = static_cast<std::size_t>(lim->at("max_frame_bytes").to_number<std::int64_t>());
    max_id_length_ = static_cast<std::size_t>(lim->at("max_id_length").to_number<std::int64_t>());
  }
  for (const auto& r : obj.at("roles").as_array()) roles_.emplace_back(r.as_string());
  for (const auto& [name, def] : definitions_) check_keywords(def, "definitions." + std::string(name));
  for (const auto& [name, spec] : obj.at("commands").as_object()) {
    CommandSpec c;
    c.type = std::string(name);
    for (const auto& r : spec.at("roles").as_array()) {
      if (std::find(roles_.begin(), roles_.end(), r.as_string()) == roles_.end())
        throw std::logic_error("schema: command " + c.type + " names unknown role " + std::string(r.as_string()));
      c.roles.insert(std::string(r.as_string()));
    }
    c.durable = spec.at("durable").as_bool();
    c.data_schema = spec.at("data");
    check_keywords(c.data_schema, "commands." + c.type);
    commands_.emplace(c.type, std::move(c));
  }
  for (const auto& [name, spec] : obj.at("events").as_object()) {
    EventSpec e;
    e.type = std::string(name);
    e.durable = spec.at("durable").as_bool();
    e.data_schema = spec.at("data");
    check_keywords(e.data_schema, "events." + e.type);
    events_.emplace(e.type, std::move(e));
  }
}

void Schema::check_keywords(const json::value& schema, const std::string& where) const {
  static constexpr std::string_view kKnown[] = {"type",     "properties", "required", "additionalProperties", "minimum", "maximum",
                                                "minLength", "maxLength", "minItems", "maxItems", "maxProperties", "enum",
                                                "items",    "anyOf",      "$ref",     "description",          "$comment"};
  for (const auto& [key, val] : schema.as_object()) {
    if (std::find(std::begin(kKnown), std::end(kKnown), std::string_view(key)) == std::end(kKnown))
      throw std::logic_error("schema: " + where + " uses \"" + std::string(key) + "\", which the validator does not know");
    if (key == "$ref") resolve(schema);  // throws for a name that is not defined
    if (key == "properties")
      for (const auto& [name, sub] : val.as_object()) check_keywords(sub, where + "." + std::string(name));
    if (key == "items") check_keywords(val, where + "[]");
    if (key == "anyOf")
      for (const auto& sub : val.as_array()) check_keywords(sub, where);
  }
}

const Schema& Schema::builtin() {
  static const Schema schema(protocol::schema_json);
  return schema;
}

const CommandSpec* Schema::find(std::string_view type) const {
  auto it = commands_.find(type);
  return it == commands_.end() ? nullptr : &it->second;
}

const EventSpec* Schema::find_event(std::string_view type) const {
  auto it = events_.find(type);
  return it == events_.end() ? nullptr : &it->second;
}

bool Schema::event_is_durable(std::string_view type) const {
  const EventSpec* e = find_event(type);
  return e && e->durable;
}

std::string Schema::validate(const CommandSpec& spec, const json::value& data) const {
  return check(spec.data_schema, data, "data");
}

std::string Schema::validate_event(std::string_view type, const json::value& data) const {
  const EventSpec* e = find_event(type);
  if (!e) return "event type \"" + std::string(type) + "\" is not in protocol/schema.json";
  return check(e->data_schema, data, std::string(type) + " data");
}

const json::value& Schema::resolve(const json::value& schema) const {
  if (const auto* ref = schema.as_object().if_contains("$ref")) {
    static constexpr std::string_view kPrefix = "#/definitions/";
    std::string_view name = ref->as_string();
    auto it = name.starts_with(kPrefix) ? definitions_.find(name.substr(kPrefix.size())) : definitions_.end();
    if (it == definitions_.end()) throw std::logic_error("schema: $ref " + std::string(name) + " is not #/definitions/<a defined name>");
    return it->value();
  }
  return schema;
}

std::string Schema::check(const json::value& raw_schema, const json::value& v, const std::string& path) const {
  const auto& s = resolve(raw_schema).as_object();
  if (const auto* any = s.if_contains("anyOf")) {
    // The alternative whose type the value has says what is wrong inside it; when none has that
    // type, the message names them all: "… must be a string or null, not an integer".
    std::string wanted;
    for (const auto& alt : any->as_array()) {
      if (type_matches(resolve(alt).as_object(), v)) {
        if (auto err = check(alt, v, path); !err.empty()) return err;
        return check_rest(s, v, path);
      }
      wanted += (wanted.empty() ? "" : " or ") + describe(alt);
    }
    return path + " must be " + wanted + ", not " + type_name(v);
  }
  return check_rest(s, v, path);
}

std::string Schema::describe(const json::value& raw_schema) const {
  const auto& s = resolve(raw_schema).as_object();
  const auto* t = s.if_contains("type");
  if (!t || !t->is_string()) return "another shape";
  std::string_view want = t->as_string();
  if (want == "null") return "null";
  return std::string(want == "object" || want == "array" || want == "integer" ? "an " : "a ") + std::string(want);
}

namespace {
bool kind_is(std::string_view want, const json::value& v) {
  return (want == "object" && v.is_object()) || (want == "array" && v.is_array()) || (want == "string" && v.is_string()) ||
         (want == "boolean" && v.is_bool()) || (want == "integer" && is_integer(v)) || (want == "number" && v.is_number()) ||
         (want == "null" && v.is_null());
}
}  // namespace

bool Schema::type_matches(const json::object& s, const json::value& v) const {
  const auto* t = s.if_contains("type");
  if (!t) return true;
  if (t->is_string()) return kind_is(t->get_string(), v);
  for (const auto& one : t->as_array())
    if (kind_is(one.as_string(), v)) return true;
  return false;
}

std::string Schema::check_rest(const json::object& s, const json::value& v, const std::string& path) const {
  if (const auto* t = s.if_contains("type"); t && !type_matches(s, v)) {
    std::string wanted;
    if (t->is_string()) {
      wanted = describe(json::object{{"type", *t}});
    } else {
      for (const auto& one : t->as_array()) wanted += (wanted.empty() ? "" : " or ") + describe(json::object{{"type", one}});
    }
    return path + " must be " + wanted + ", not " + type_name(v);
  }
  if (const auto* e = s.if_contains("enum")) {
    bool found = false;
    std::string allowed;
    for (const auto& option : e->as_array()) {
      if (option.is_number() && v.is_number() ? as_number(option) == as_number(v) : option == v) found = true;
      if (!allowed.empty()) allowed += ", ";
      allowed += option.is_string() ? std::string(option.as_string()) : json::serialize(option);
    }
    if (!found) return path + " must be one of: " + allowed;
  }
  if (v.is_number()) {
    double d = as_number(v);
    if (!std::isfinite(d)) return path + " must be a finite number";
    const auto* mn = s.if_contains("minimum");
    const auto* mx = s.if_contains("maximum");
    if ((mn && d < as_number(*mn)) || (mx && d > as_number(*mx))) {
      if (mn && mx) return path + " must be between " + fmt_num(as_number(*mn)) + " and " + fmt_num(as_number(*mx));
      if (mn) return path + " must be at least " + fmt_num(as_number(*mn));
      return path + " must be at most " + fmt_num(as_number(*mx));
    }
  }
  if (v.is_string()) {
    std::size_t len = utf8_length(v.get_string());
    if (const auto* mn = s.if_contains("minLength"); mn && len < static_cast<std::size_t>(mn->to_number<std::int64_t>()))
      return mn->to_number<std::int64_t>() == 1 ? path + " must not be empty"
                                                 : path + " must be at least " + fmt_num(as_number(*mn)) + " characters";
    if (const auto* mx = s.if_contains("maxLength"); mx && len > static_cast<std::size_t>(mx->to_number<std::int64_t>()))
      return path + " must be at most " + fmt_num(as_number(*mx)) + " characters";
  }
  if (v.is_array()) {
    const auto& arr = v.get_array();
    if (const auto* mx = s.if_contains("maxItems"); mx && arr.size() > static_cast<std::size_t>(mx->to_number<std::int64_t>()))
      return path + " must have at most " + fmt_num(as_number(*mx)) + " items";
    if (const auto* mn = s.if_contains("minItems"); mn && arr.size() < static_cast<std::size_t>(mn->to_number<std::int64_t>()))
      return path + " must have at least " + fmt_num(as_number(*mn)) + " items";
    if (const auto* items = s.if_contains("items"))
      for (std::size_t i = 0; i < arr.size(); ++i)
        if (auto err = check(*items, arr[i], path + "[" + std::to_string(i) + "]"); !err.empty()) return err;
  }
  if (v.is_object()) {
    const auto& obj = v.get_object();
    const json::object* props = nullptr;
    if (const auto* p = s.if_contains("properties")) props = &p->as_object();
    if (const auto* req = s.if_contains("required"))
      for (const auto& name : req->as_array())
        if (!obj.contains(name.as_string())) return path + "." + std::string(name.as_string()) + " is required";
    if (const auto* mx = s.if_contains("maxProperties"); mx && obj.size() > static_cast<std::size_t>(mx->to_number<std::int64_t>()))
      return path + " must have at most " + fmt_num(as_number(*mx)) + " fields";
    bool closed = false;
    if (const auto* ap = s.if_contains("additionalProperties")) closed = ap->is_bool() && !ap->as_bool();
    for (const auto& [key, val] : obj) {
      const json::value* sub = props ? props->if_contains(key) : nullptr;
      if (!sub) {
        if (closed) return path + "." + std::string(key) + " is not a known field";
        continue;
      }
      if (auto err = check(*sub, val, path + "." + std::string(key)); !err.empty()) return err;
    }
  }
  return {};
}

}  // namespace downbeat::core
