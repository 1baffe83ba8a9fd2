#include "core/schema.hpp"

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
  for (const auto& [name, spec] : obj.at("commands").as_object()) {
    CommandSpec c;
    c.type = std::string(name);
    for (const auto& r : spec.at("roles").as_array()) c.roles.insert(std::string(r.as_string()));
    c.durable = spec.at("durable").as_bool();
    c.data_schema = spec.at("data");
    commands_.emplace(c.type, std::move(c));
  }
  for (const auto& [name, spec] : obj.at("events").as_object())
    durable_events_.emplace(std::string(name), spec.at("durable").as_bool());
}

const Schema& Schema::builtin() {
  static const Schema schema(protocol::schema_json);
  return schema;
}

const CommandSpec* Schema::find(std::string_view type) const {
  auto it = commands_.find(type);
  return it == commands_.end() ? nullptr : &it->second;
}

bool Schema::event_is_durable(std::string_view type) const {
  auto it = durable_events_.find(type);
  return it != durable_events_.end() && it->second;
}

std::string Schema::validate(const CommandSpec& spec, const json::value& data) const {
  return check(spec.data_schema, data, "data");
}

const json::value& Schema::resolve(const json::value& schema) const {
  if (const auto* ref = schema.as_object().if_contains("$ref")) {
    auto it = definitions_.find(ref->as_string());
    if (it == definitions_.end()) throw std::logic_error("schema: unknown $ref " + std::string(ref->as_string()));
    return it->value();
  }
  return schema;
}

std::string Schema::check(const json::value& raw_schema, const json::value& v, const std::string& path) const {
  const auto& s = resolve(raw_schema).as_object();
  if (const auto* t = s.if_contains("type")) {
    std::string_view want = t->as_string();
    bool ok = (want == "object" && v.is_object()) || (want == "array" && v.is_array()) ||
              (want == "string" && v.is_string()) || (want == "boolean" && v.is_bool()) ||
              (want == "integer" && is_integer(v)) || (want == "number" && v.is_number());
    if (!ok) {
      std::string article = (want == "object" || want == "array" || want == "integer") ? "an " : "a ";
      return path + " must be " + article + std::string(want) + ", not " + type_name(v);
    }
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
