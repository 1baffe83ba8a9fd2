// The shared beat vectors (protocol/vectors/beats.json): ops -> tempo states -> every click for
// 60 s, through core. The web app replays the same states through the WebAssembly build
// (web/src/tempo.test.ts) and must get the same ticks. The counts, spot checks and silent spans in
// the file are derived by hand from the bpm arithmetic, so the generated `ticks` are checked by
// something other than the code that wrote them.
//
// DOWNBEAT_UPDATE_VECTORS=1 rewrites `states` and `ticks` from core (after a deliberate change).
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "core/tempo.hpp"
#include "core/vectors_layout.test.hpp"

namespace json = boost::json;
using namespace downbeat::core;

namespace {

const std::string kPath = std::string(DOWNBEAT_SOURCE_DIR) + "/protocol/vectors/beats.json";

json::object load() {
  std::ifstream in(kPath);
  std::stringstream ss;
  ss << in.rdbuf();
  return json::parse(ss.str()).as_object();
}

TempoSetParams params_of(const json::object& op) {
  TempoSetParams p;
  if (auto* v = op.if_contains("bpm")) p.bpm = v->to_number<double>();
  if (auto* v = op.if_contains("meter"))
    p.meter = Meter{static_cast<int>(v->at("beats").to_number<int>()), static_cast<int>(v->at("unit").to_number<int>())};
  if (auto* v = op.if_contains("accents")) {
    std::vector<int> a;
    for (const auto& l : v->as_array()) a.push_back(l.to_number<int>());
    p.accents = a;
  }
  if (auto* v = op.if_contains("subdivision")) p.subdivision = v->to_number<int>();
  return p;
}

TempoState apply(const TempoState& s, const json::object& op, std::int64_t lead) {
  const std::int64_t at = op.at("at").to_number<std::int64_t>();
  const std::string_view kind = op.at("op").as_string();
  const int count_in = op.contains("count_in") ? op.at("count_in").to_number<int>() : 0;
  const TempoSetParams p = params_of(op);
  if (kind != "stop" && kind != "start") {
    EXPECT_EQ(validate_tempo_set(p, s), "");
  }
  if (kind == "start") return apply_start(s, count_in, at, lead);
  if (kind == "stop") return apply_stop(s, at, lead);
  if (kind == "song") return apply_song_change(s, p, count_in, at, lead);
  return apply_set(s, p, at, lead);
}

json::array row(const Tick& t, const TempoState& s) {
  return json::array{t.t, t.beat.bar, t.beat.beat, t.sub, t.accent, t.beat.count_in ? 1 : 0, t.from_prev ? s.rev - 1 : s.rev};
}

struct Replay {
  json::array states;
  json::array ticks;
};

// What a device holding each state from its op's `at` on plays until `until`.
Replay replay(const json::object& c, std::int64_t lead, std::int64_t until) {
  Replay r;
  const json::array& ops = c.at("ops").as_array();
  const bool subdivide = c.at("subdivide").as_bool();
  TempoState s;
  std::vector<TempoState> states;
  for (const auto& op : ops) {
    s = apply(s, op.as_object(), lead);
    states.push_back(s);
    r.states.emplace_back(to_json(s));
  }
  for (std::size_t i = 0; i < states.size(); ++i) {
    const std::int64_t from = ops[i].at("at").to_number<std::int64_t>();
    const std::int64_t to = i + 1 < states.size() ? ops[i + 1].at("at").to_number<std::int64_t>() : until;
    for (const Tick& t : ticks_between(states[i], from, to, subdivide)) r.ticks.emplace_back(row(t, states[i]));
  }
  return r;
}

// The hand-derived expectations: count, spot checks, silent spans.
void check_by_hand(const json::object& c, const json::array& ticks) {
  EXPECT_EQ(ticks.size(), c.at("count").to_number<std::size_t>());
  for (const auto& cv : c.at("checks").as_array()) {
    const json::object& e = cv.as_object();
    const std::int64_t t = e.at("t").to_number<std::int64_t>();
    const json::array* found = nullptr;
    for (const auto& tv : ticks)
      if (tv.as_array()[0].to_number<std::int64_t>() == t) found = &tv.as_array();
    ASSERT_NE(found, nullptr) << "no click at " << t;
    const json::array& f = *found;
    EXPECT_EQ(f[1].to_number<std::int64_t>(), e.at("bar").to_number<std::int64_t>()) << "at " << t;
    EXPECT_EQ(f[2].to_number<int>(), e.at("beat").to_number<int>()) << "at " << t;
    EXPECT_EQ(f[3].to_number<int>(), e.at("sub").to_number<int>()) << "at " << t;
    EXPECT_EQ(f[4].to_number<int>(), e.at("accent").to_number<int>()) << "at " << t;
    EXPECT_EQ(f[5].to_number<int>() == 1, e.at("count_in").as_bool()) << "at " << t;
  }
  if (auto* silent = c.if_contains("silent")) {
    for (const auto& span : silent->as_array()) {
      const std::int64_t a = span.as_array()[0].to_number<std::int64_t>();
      const std::int64_t b = span.as_array()[1].to_number<std::int64_t>();
      for (const auto& tv : ticks) {
        const std::int64_t t = tv.as_array()[0].to_number<std::int64_t>();
        EXPECT_FALSE(t >= a && t < b) << "a click at " << t << " in the silent span [" << a << ", " << b << ")";
      }
    }
  }
}

}  // namespace

TEST(TempoVectors, CoreReproducesTheSharedBeatLists) {
  json::object file = load();
  const std::int64_t lead = file.at("lead_us").to_number<std::int64_t>();
  const std::int64_t until = file.at("until_us").to_number<std::int64_t>();
  const bool update = std::getenv("DOWNBEAT_UPDATE_VECTORS") != nullptr;
  json::array& cases = file.at("cases").as_array();
  ASSERT_GE(cases.size(), 6u);
  for (auto& cv : cases) {
    json::object& c = cv.as_object();
    SCOPED_TRACE(std::string(c.at("name").as_string()));
    Replay r = replay(c, lead, until);
    check_by_hand(c, r.ticks);
    if (update) {
      c["states"] = std::move(r.states);
      c["ticks"] = std::move(r.ticks);
      continue;
    }
    ASSERT_TRUE(c.contains("ticks")) << "run with DOWNBEAT_UPDATE_VECTORS=1 to write the ticks";
    EXPECT_EQ(r.states, c.at("states").as_array()) << "the ops no longer give the recorded states";
    EXPECT_EQ(r.ticks, c.at("ticks").as_array()) << "core no longer gives the recorded ticks";
  }
  if (update) {
    std::ofstream(kPath) << downbeat::testing::vectors_layout(file);
  }
}

TEST(TempoVectors, RecordedStatesReadBackFromTheWire) {
  // The web app gets `states` as JSON: core reads each back to the same ticks it was made with.
  json::object file = load();
  for (const auto& cv : file.at("cases").as_array()) {
    const json::object& c = cv.as_object();
    if (!c.contains("states")) continue;
    for (const auto& sv : c.at("states").as_array()) EXPECT_EQ(json::value(to_json(tempo_from_json(sv))), sv);
  }
}
