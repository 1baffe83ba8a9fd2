// The role x command table is built from protocol/schema.json (what the web app and the docs read);
// these tests pin what the band relies on, whatever the schema file says.
#include <gtest/gtest.h>

#include <set>

#include "core/permissions.hpp"
#include "core/schema.hpp"

using namespace downbeat::core;

TEST(Permissions, TheTableIsTheSchemasRolesForEveryCommand) {
  const auto& schema = Schema::builtin();
  std::set<std::string> table_cmds;
  for (auto c : permission_table_commands()) table_cmds.insert(std::string(c));
  std::set<std::string> schema_cmds;
  for (const auto& [type, spec] : schema.commands()) schema_cmds.insert(type);
  EXPECT_EQ(table_cmds, schema_cmds) << "every command in the schema needs a row in the permission table";
  for (const auto& [type, spec] : schema.commands())
    for (Role r : all_roles())
      EXPECT_EQ(role_may(r, type), spec.roles.count(std::string(to_string(r))) == 1) << to_string(r) << " x " << type;
}

TEST(Permissions, MusiciansCannotChangeTheMusic) {
  for (const char* t : {"song.create", "song.update", "song.delete", "setlist.update", "song.current", "tempo.set", "tempo.start",
                        "tempo.stop", "cue", "cue.clear", "participant.kick", "slot.create", "slot.update", "slot.delete"})
    EXPECT_FALSE(role_may(Role::musician, t)) << t;
}

TEST(Permissions, TechsMayCueButNotChangeTheMusic) {
  // Which group a tech may cue is the room's rule ("tech" only); the table lets the command through.
  EXPECT_TRUE(role_may(Role::tech, "cue"));
  EXPECT_TRUE(role_may(Role::tech, "cue.clear"));
  for (const char* t : {"song.current", "tempo.set", "slot.update", "slot.assign", "setlist.update"}) EXPECT_FALSE(role_may(Role::tech, t)) << t;
}

TEST(Permissions, ViewersOnlyWatch) {
  for (const auto& [type, spec] : Schema::builtin().commands()) {
    bool allowed = role_may(Role::viewer, type);
    bool passive = type == "time.ping" || type == "metrics.report" || type == "resync.request";
    EXPECT_EQ(allowed, passive) << type;
  }
}

TEST(Permissions, UnknownCommandIsDenied) { EXPECT_FALSE(role_may(Role::md, "song.explode")); }

TEST(Permissions, RoleNamesRoundTrip) {
  for (Role r : all_roles()) EXPECT_EQ(role_from_string(to_string(r)), r);
  EXPECT_FALSE(role_from_string("admin"));
}
