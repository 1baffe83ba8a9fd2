#include "core/tempo.hpp"

#include <algorithm>

#include <boost/json/array.hpp>

namespace downbeat::core {
namespace json = boost::json;

namespace {

TempoSegment segment_of(const TempoState& s) { return static_cast<const TempoSegment&>(s); }

bool read_bool(const json::object& o, std::string_view key, bool fallback) {
  const json::value* v = o.if_contains(key);
  return v && v->is_bool() ? v->get_bool() : fallback;
}

double read_double(const json::object& o, std::string_view key, double fallback) {
  const json::value* v = o.if_contains(key);
  if (!v) return fallback;
  boost::system::error_code ec;
  const double d = v->to_number<double>(ec);
  return ec ? fallback : d;
}

std::int64_t read_int(const json::object& o, std::string_view key, std::int64_t fallback) {
  const json::value* v = o.if_contains(key);
  if (!v) return fallback;
  boost::system::error_code ec;
  const std::int64_t i = v->to_number<std::int64_t>(ec);
  return ec ? fallback : i;
}

int read_small_int(const json::object& o, std::string_view key, int fallback) {
  const std::int64_t i = read_int(o, key, fallback);
  return i < -1'000'000 || i > 1'000'000 ? fallback : static_cast<int>(i);
}

const json::object* read_object(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_object() ? &v->get_object() : nullptr;
}

TempoSegment segment_from_json(const json::object& o) {
  TempoSegment s;
  s.running = read_bool(o, "running", s.running);
  s.bpm = read_double(o, "bpm", s.bpm);
  if (const json::object* m = read_object(o, "meter")) {
    s.meter.beats = read_small_int(*m, "beats", s.meter.beats);
    s.meter.unit = read_small_int(*m, "unit", s.meter.unit);
  }
  if (const json::value* a = o.if_contains("accents"); a && a->is_array()) {
    for (const json::value& level : a->get_array()) {
      boost::system::error_code ec;
      const std::int64_t l = level.to_number<std::int64_t>(ec);
      s.accents.push_back(ec ? 1 : static_cast<int>(std::clamp<std::int64_t>(l, 0, 2)));
    }
  }
  s.subdivision = read_small_int(o, "subdivision", s.subdivision);
  s.count_in_bars = read_small_int(o, "count_in_bars", s.count_in_bars);
  if (const json::object* a = read_object(o, "anchor")) {
    s.anchor_t = read_int(*a, "t", s.anchor_t);
    s.anchor_bar = read_int(*a, "bar", s.anchor_bar);
  }
  return s;
}

}  // namespace

json::object to_json(const TempoSegment& s) {
  json::array accents;
  for (int a : s.accents) accents.emplace_back(a);
  return json::object{
      {"running", s.running},
      {"bpm", s.bpm},
      {"meter", json::object{{"beats", s.meter.beats}, {"unit", s.meter.unit}}},
      {"accents", std::move(accents)},
      {"subdivision", s.subdivision},
      {"count_in_bars", s.count_in_bars},
      {"anchor", json::object{{"t", s.anchor_t}, {"bar", s.anchor_bar}}},
  };
}

json::object to_json(const TempoState& s) {
  json::object o = to_json(segment_of(s));
  o["rev"] = s.rev;
  o["prev"] = s.prev ? json::value(to_json(*s.prev)) : json::value(nullptr);
  return o;
}

TempoState tempo_from_json(const json::value& v) {
  TempoState s;
  if (!v.is_object()) return s;
  const json::object& o = v.get_object();
  static_cast<TempoSegment&>(s) = segment_from_json(o);
  s.rev = read_int(o, "rev", s.rev);
  if (const json::object* p = read_object(o, "prev")) s.prev = segment_from_json(*p);
  return s;
}


}  // namespace downbeat::core
