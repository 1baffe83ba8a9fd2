// protocol/schema.json as core reads it: events are described as fully as commands, the validator
// knows every rule the schema uses, and what it refuses is said in words a developer can act on.
#include <gtest/gtest.h>

#include "core/schema.hpp"

using namespace downbeat::core;
namespace json = boost::json;

namespace {
std::string with(std::string_view events, std::string_view definitions = "{}", std::string_view roles = R"(["md"])") {
  return std::string(R"({"roles":)") + std::string(roles) + R"(,"definitions":)" + std::string(definitions) +
         R"(,"commands":{"x":{"roles":["md"],"durable":false,"data":{"type":"object"}}},"events":)" + std::string(events) + "}";
}
}  // namespace

TEST(Schema, EveryEventHasADataSchemaAndEveryCommandsDurabilityMatchesAnEvent) {
  const auto& schema = Schema::builtin();
  ASSERT_FALSE(schema.events().empty());
  for (const auto& [type, spec] : schema.events()) {
    ASSERT_TRUE(spec.data_schema.is_object()) << type;
    EXPECT_TRUE(spec.data_schema.as_object().contains("$ref") || spec.data_schema.as_object().contains("properties")) << type << " data names its fields";
  }
  // A command named like an event announces that event: they agree on durability.
  for (const auto& [type, cmd] : schema.commands())
    if (const auto* ev = schema.find_event(type)) {
      EXPECT_EQ(cmd.durable, ev->durable) << type;
    }
  EXPECT_TRUE(schema.event_is_durable("tempo.anchor"));
  EXPECT_FALSE(schema.event_is_durable("tempo.update"));
  EXPECT_FALSE(schema.event_is_durable("song.explode"));
}

TEST(Schema, EventDataIsCheckedFieldByField) {
  const auto& schema = Schema::builtin();
  json::value slot = json::parse(R"({"slot":{"id":"sl1","name":"Keys","instrument":null,"group":"band","transpose":0,"capo":0,
    "pitch":"C","participant":null,"order":0}})");
  EXPECT_EQ(schema.validate_event("slot.update", slot), "");
  slot.as_object()["slot"].as_object()["participant"] = 5;
  EXPECT_EQ(schema.validate_event("slot.update", slot), "slot.update data.slot.participant must be a string or null, not an integer");
  slot.as_object()["slot"].as_object()["participant"] = "p1";
  slot.as_object()["slot"].as_object().erase("order");
  EXPECT_EQ(schema.validate_event("slot.update", slot), "slot.update data.slot.order is required");
  slot.as_object()["slot"].as_object()["order"] = 0;
  slot.as_object()["slot"].as_object()["colour"] = "red";
  EXPECT_EQ(schema.validate_event("slot.update", slot), "slot.update data.slot.colour is not a known field");
  EXPECT_EQ(schema.validate_event("cue.clear", json::parse(R"({"group":7})")), "cue.clear data.group must be a string or null, not an integer");
  EXPECT_EQ(schema.validate_event("song.explode", json::object{}), "event type \"song.explode\" is not in protocol/schema.json");
}

TEST(Schema, ARuleTheValidatorDoesNotKnowIsRefusedNotIgnored) {
  EXPECT_NO_THROW(Schema(with(R"({"e":{"durable":false,"data":{"type":"object","properties":{"a":{"type":["string","null"]}}}}})")));
  try {
    Schema s(with(R"({"e":{"durable":false,"data":{"type":"object","properties":{"a":{"type":"string","pattern":"^x"}}}}})"));
    ADD_FAILURE() << "pattern is not in the subset";
  } catch (const std::logic_error& e) {
    EXPECT_STREQ(e.what(), "schema: events.e.a uses \"pattern\", which the validator does not know");
  }
  EXPECT_THROW(Schema(with(R"({"e":{"durable":false,"data":{"$ref":"#/definitions/nope"}}})")), std::logic_error);
  EXPECT_THROW(Schema(with(R"({"e":{"durable":false,"data":{"$ref":"meter"}}})", R"({"meter":{"type":"object"}})")), std::logic_error)
      << "a $ref is #/definitions/<name>, as every JSON Schema tool reads it";
}

TEST(Schema, ACommandForARoleTheSchemaDoesNotListIsRefused) {
  EXPECT_THROW(Schema(with("{}", "{}", R"(["musician"])")), std::logic_error);
}
