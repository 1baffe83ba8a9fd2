// The talk-target table and target parsing.
#include <gtest/gtest.h>

#include "core/talk.hpp"

using namespace downbeat::core;

TEST(Talk, TargetsParse) {
  EXPECT_EQ(parse_talk_target("all")->kind, TalkKind::all);
  EXPECT_EQ(parse_talk_target("md")->kind, TalkKind::md);
  auto p = parse_talk_target("@p0a1b2c3d4e5f");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->kind, TalkKind::participant);
  EXPECT_EQ(p->name, "p0a1b2c3d4e5f");
  auto g = parse_talk_target("vocals");
  EXPECT_EQ(g->kind, TalkKind::group);
  EXPECT_EQ(g->name, "vocals");
  EXPECT_FALSE(parse_talk_target(""));
  EXPECT_FALSE(parse_talk_target("@"));
}

TEST(Talk, TheMdReachesEveryoneAViewerNobody) {
  for (auto k : {TalkKind::all, TalkKind::md, TalkKind::group, TalkKind::participant}) {
    EXPECT_EQ(talk_rule(Role::md, k), TalkRule::always);
    EXPECT_EQ(talk_rule(Role::viewer, k), TalkRule::never);
  }
  EXPECT_FALSE(voice_role(Role::viewer));
}

TEST(Talk, MusiciansTalkBackAndToTheirGroup) {
  EXPECT_EQ(talk_rule(Role::musician, TalkKind::md), TalkRule::always);
  EXPECT_EQ(talk_rule(Role::musician, TalkKind::group), TalkRule::own_group);
  EXPECT_EQ(talk_rule(Role::musician, TalkKind::participant), TalkRule::never);
  EXPECT_EQ(talk_rule(Role::musician, TalkKind::all), TalkRule::if_room_allows);
  EXPECT_EQ(talk_rule(Role::tech, TalkKind::group), TalkRule::always);
  EXPECT_EQ(talk_rule(Role::tech, TalkKind::all), TalkRule::if_room_allows);
}
