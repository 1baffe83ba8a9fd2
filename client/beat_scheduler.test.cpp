#include "downbeat/beat_scheduler.hpp"

#include <gtest/gtest.h>

using namespace downbeat;

namespace {

core::TempoState running(double bpm, int beats, int64_t anchor_t, int64_t anchor_bar = 0, int64_t rev = 1) {
  core::TempoState s;
  s.running = true;
  s.bpm = bpm;
  s.meter = {beats, 4};
  s.anchor_t = anchor_t;
  s.anchor_bar = anchor_bar;
  s.rev = rev;
  return s;
}

const ToLocal identity = [](int64_t t) { return t; };

}  // namespace

TEST(BeatScheduler, BeatsFollowTheAnchorMathMappedToLocalTime) {
  const auto tempo = running(120, 4, 10'000'000);
  const int64_t offset = -3'500'000;  // this device's clock is 3.5 s behind the room's
  auto beats = schedule_beats(tempo, 10'000'000, 12'000'001, [&](int64_t t) { return t + offset; });
  ASSERT_EQ(beats.size(), 5u);
  // 120 bpm: a beat every 500 ms from the anchor, by hand.
  const int64_t want_server[] = {10'000'000, 10'500'000, 11'000'000, 11'500'000, 12'000'000};
  for (std::size_t k = 0; k < beats.size(); ++k) {
    EXPECT_EQ(beats[k].server_us, want_server[k]);
    EXPECT_EQ(beats[k].local_us, want_server[k] - 3'500'000);
    EXPECT_EQ(beats[k].bar, static_cast<int64_t>(k / 4));
    EXPECT_EQ(beats[k].beat, static_cast<int>(k % 4));
    EXPECT_EQ(beats[k].rev, 1);
  }
  EXPECT_EQ(beats[0].accent, 2);  // downbeat
  EXPECT_EQ(beats[1].accent, 1);
  EXPECT_EQ(beats[4].accent, 2);
}

TEST(BeatScheduler, ThreeHoursInBeatTwentyThousandAt140LandsExactly) {
  const auto tempo = running(140, 4, 0);
  // 20000 beats of 60/140 s: exactly floor(20000 · 60e9 / 140000) = 8 571 428 571 µs after the anchor.
  auto b = first_beat_at_or_after(tempo, 8'571'428'561, identity);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->server_us, 8'571'428'571);
  EXPECT_EQ(b->bar, 5000);
  EXPECT_EQ(b->beat, 0);
}

TEST(BeatScheduler, OldTempoSoundsUntilTheChangeLands) {
  auto tempo = running(100, 4, 4'800'000, 2, 7);  // the change lands on bar 2
  core::TempoSegment prev = running(120, 4, 0);
  tempo.prev = prev;
  auto beats = schedule_beats(tempo, 4'000'000, 5'500'000, identity);
  ASSERT_GE(beats.size(), 3u);
  EXPECT_EQ(beats[0].server_us, 4'000'000);  // beat 8 of the old 120 bpm grid: bar 2 … of prev
  EXPECT_EQ(beats[0].rev, 6);
  EXPECT_EQ(beats[0].bpm, 120);
  // The first beat of the new tempo is its anchor: bar 2, beat 0.
  auto first_new = std::find_if(beats.begin(), beats.end(), [](const ScheduledBeat& b) { return b.rev == 7; });
  ASSERT_NE(first_new, beats.end());
  EXPECT_EQ(first_new->server_us, 4'800'000);
  EXPECT_EQ(first_new->bar, 2);
  EXPECT_EQ(first_new->beat, 0);
  EXPECT_EQ(first_new->bpm, 100);
}

TEST(BeatScheduler, CountInBarsAreNegativeAndFlagged) {
  auto tempo = running(120, 4, 1'000'000, -1);
  tempo.count_in_bars = 1;
  auto beats = schedule_beats(tempo, 0, 1'000'000 + 4 * 500'000 + 1, identity);
  ASSERT_EQ(beats.size(), 5u);
  EXPECT_EQ(beats[0].bar, -1);
  EXPECT_TRUE(beats[0].count_in);
  EXPECT_EQ(beats[4].bar, 0);
  EXPECT_FALSE(beats[4].count_in);
}

TEST(BeatScheduler, StoppedTempoHasNoBeats) {
  auto tempo = running(120, 4, 0);
  tempo.running = false;
  EXPECT_TRUE(schedule_beats(tempo, 0, 10'000'000, identity).empty());
  EXPECT_FALSE(first_beat_at_or_after(tempo, 0, identity));
}

TEST(BeatScheduler, SubdivisionsAddClicksBetweenBeats) {
  auto tempo = running(120, 4, 0);
  tempo.subdivision = 2;
  tempo.accents = {2, 0, 1, 1};  // the MD muted beat 2
  auto clicks = schedule_beats(tempo, 0, 1'000'000, identity, true);
  ASSERT_EQ(clicks.size(), 4u);
  EXPECT_EQ(clicks[0].server_us, 0);
  EXPECT_EQ(clicks[0].accent, 2);
  // Between beats 1 and 2, at 250 ms: an audible, unaccented click.
  EXPECT_EQ(clicks[1].server_us, 250'000);
  EXPECT_EQ(clicks[1].sub, 1);
  EXPECT_EQ(clicks[1].beat, 0);
  EXPECT_EQ(clicks[1].accent, 1);
  // The muted beat and its subdivision stay silent.
  EXPECT_EQ(clicks[2].server_us, 500'000);
  EXPECT_EQ(clicks[2].accent, 0);
  EXPECT_EQ(clicks[3].server_us, 750'000);
  EXPECT_EQ(clicks[3].accent, 0);
}

TEST(BeatScheduler, SubdivisionsFollowTheIntegerFormulaAtAnOddTempo) {
  // 97.3 bpm in triplets: tick i at floor(i · 60e9 / (97 300 · 3)) µs, by hand.
  auto tempo = running(97.3, 4, 0);
  tempo.subdivision = 3;
  auto clicks = schedule_beats(tempo, 0, 1'300'000, identity, true);
  ASSERT_EQ(clicks.size(), 7u);
  const int64_t want[] = {0, 205'549, 411'099, 616'649, 822'199, 1'027'749, 1'233'299};
  for (std::size_t i = 0; i < clicks.size(); ++i) EXPECT_EQ(clicks[i].server_us, want[i]) << "tick " << i;
  EXPECT_EQ(clicks[3].sub, 0);
  EXPECT_EQ(clicks[3].beat, 1);
}

TEST(BeatScheduler, CountInFollowsAccentsAndSubdivision) {
  // The count-in bars play the pattern the band will hear (the web app used to differ here).
  auto tempo = running(120, 2, 0, -1);
  tempo.count_in_bars = 1;
  tempo.accents = {2, 0};
  tempo.subdivision = 2;
  auto clicks = schedule_beats(tempo, 0, 1'000'000, identity, true);
  ASSERT_EQ(clicks.size(), 4u);
  EXPECT_TRUE(clicks[0].count_in);
  EXPECT_EQ(clicks[0].accent, 2);
  EXPECT_EQ(clicks[1].accent, 1);
  EXPECT_EQ(clicks[2].accent, 0);
  EXPECT_EQ(clicks[3].accent, 0);
}
