// The shared protocol vectors (protocol/vectors/frames.json) against parsing, permissions and room rules.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "core/frame.hpp"
#include "core/room.hpp"

using namespace downbeat::core;
namespace json = boost::json;

namespace {
json::value load_vectors() {
  std::ifstream in(std::string(DOWNBEAT_SOURCE_DIR) + "/protocol/vectors/frames.json");
  std::stringstream ss;
  ss << in.rdbuf();
  return json::parse(ss.str());
}

struct Reply {
  std::string type;  // ack | error
  std::string code;
  std::optional<std::string> re;
  std::string message;
  bool durable = false;
};

// What the server's dispatcher does, minus the socket: parse, check the role, plan on a fresh room.
Reply reply_to(const std::string& frame, Role role) {
  auto parsed = parse_frame(frame, Schema::builtin());
  if (parsed.error) return {"error", std::string(to_string(parsed.error->code)), parsed.error->re, parsed.error->message};
  Room room("r1", "Test");
  room.apply_mutation(Mutation{"participant", "p1", Room::participant_record(Participant{"p1", "Ann", "dev12345", role, true, 0, false, false}), false});
  try {
    auto out = room.plan(Actor{"p1", role}, *parsed.command, 1'000'000);
    return {"ack", "", parsed.command->id, "", out.durable};
  } catch (const CommandError& e) {
    return {"error", std::string(to_string(e.code())), parsed.command->id, e.what()};
  }
}
}  // namespace

TEST(ProtocolVectors, ValidFramesAreAccepted) {
  auto v = load_vectors();
  for (const auto& c : v.at("valid").as_array()) {
    const auto& o = c.as_object();
    std::string name(o.at("name").as_string());
    auto r = reply_to(std::string(o.at("frame").as_string()), *role_from_string(o.at("role").as_string()));
    EXPECT_EQ(r.type, "ack") << name << ": " << r.code << " " << r.message;
    EXPECT_EQ(r.durable, o.at("expect").at("durable").as_bool()) << name;
  }
}

TEST(ProtocolVectors, InvalidFramesGetTheDocumentedError) {
  auto v = load_vectors();
  int checked = 0;
  for (const auto& c : v.at("invalid").as_array()) {
    const auto& o = c.as_object();
    std::string name(o.at("name").as_string());
    const auto& expect = o.at("expect").as_object();
    auto r = reply_to(std::string(o.at("frame").as_string()), *role_from_string(o.at("role").as_string()));
    EXPECT_EQ(r.type, "error") << name;
    EXPECT_EQ(r.code, expect.at("code").as_string()) << name << ": " << r.message;
    if (const auto* re = expect.if_contains("re"); re != nullptr) {
      std::string want = re->is_null() ? "<none>" : std::string(re->as_string());
      EXPECT_EQ(r.re.value_or("<none>"), want) << name;
    }
    if (const auto* m = expect.if_contains("message_contains"); m != nullptr) {
      EXPECT_NE(r.message.find(std::string(m->as_string())), std::string::npos) << name << ": message was: " << r.message;
    }
    ++checked;
  }
  EXPECT_GE(checked, 20);
}

TEST(Frame, OversizedFrameIsTooLarge) {
  std::string big = R"({"type":"cue","id":"x","data":{"text":")" + std::string(70000, 'a') + "\"}}";
  auto parsed = parse_frame(big, Schema::builtin());
  ASSERT_TRUE(parsed.error);
  EXPECT_EQ(parsed.error->code, ErrorCode::too_large);
}

TEST(Frame, NameLengthCountsCharactersNotBytes) {
  // 40 emoji are 160 bytes but 40 characters: allowed as a slot name.
  std::string name;
  for (int i = 0; i < 40; ++i) name += "\xF0\x9F\x8E\xB8";
  auto ok = parse_frame(R"({"type":"slot.create","id":"x","data":{"name":")" + name + "\"}}", Schema::builtin());
  EXPECT_FALSE(ok.error) << ok.error->message;
  auto too_long = parse_frame(R"({"type":"slot.create","id":"x","data":{"name":")" + name + "a\"}}", Schema::builtin());
  ASSERT_TRUE(too_long.error);
  EXPECT_NE(too_long.error->message.find("at most 40"), std::string::npos);
}
