// Names and titles a person can see.
#include <gtest/gtest.h>

#include "core/text.hpp"

using namespace downbeat::core;

TEST(Text, InvisibleNamesAreNotText) {
  EXPECT_FALSE(has_visible_text(""));
  EXPECT_FALSE(has_visible_text("   \t"));
  EXPECT_FALSE(has_visible_text("\u200B\u200C\u200D"));
  EXPECT_FALSE(has_visible_text("\uFEFF"));
  EXPECT_FALSE(has_visible_text("\u00A0\u3000\u2800"));
  EXPECT_FALSE(has_visible_text("\u202E\u2066"));
  EXPECT_FALSE(has_visible_text("\xC0\x80")) << "overlong NUL is invalid UTF-8";
  EXPECT_FALSE(has_visible_text("\xED\xA0\x80")) << "a surrogate is invalid UTF-8";
}

TEST(Text, Utf8IsCheckedStrictly) {
  EXPECT_TRUE(valid_utf8("Zoë 👩🏽‍🎤"));
  EXPECT_FALSE(valid_utf8("\xC0\x80"));
  EXPECT_FALSE(valid_utf8("\xED\xA0\x80"));
  EXPECT_FALSE(valid_utf8("\xF4\x90\x80\x80")) << "past U+10FFFF";
  EXPECT_FALSE(valid_utf8("ab\xE2\x82"));
}

TEST(Text, RealNamesInEveryScriptAreText) {
  for (const char* name : {"Bo", "Cy \U0001F3B8", "Zoë", "Дмитрий", "李雷", "محمد", "👩🏽‍🎤", "x"}) EXPECT_TRUE(has_visible_text(name)) << name;
}

TEST(Text, TrimDropsInvisibleEdgesOnly) {
  EXPECT_EQ(trim_invisible("\u200B Mia \uFEFF"), "Mia");
  EXPECT_EQ(trim_invisible("Mia\u200DAnn"), "Mia\u200DAnn") << "inside a name a joiner is kept (emoji sequences need it)";
  EXPECT_EQ(trim_invisible("\u200B\u200C"), "");
  EXPECT_EQ(trim_invisible("👩🏽‍🎤"), "👩🏽‍🎤");
}
