#include "core/tempo.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace downbeat::core {
namespace {

constexpr std::int64_t kSec = 1'000'000;
constexpr std::int64_t kMs = 1'000;
constexpr std::int64_t kLead = 300 * kMs;

TempoState running_at(double bpm, Meter meter, std::int64_t anchor_t, std::int64_t anchor_bar = 0) {
  TempoState s;
  s.running = true;
  s.bpm = bpm;
  s.meter = meter;
  s.anchor_t = anchor_t;
  s.anchor_bar = anchor_bar;
  s.rev = 7;
  return s;
}

// Every beat sounding in [from, to), in order, as the click renderer would walk them.
std::vector<Beat> beats_between(const TempoState& s, std::int64_t from, std::int64_t to) {
  std::vector<Beat> out;
  for (auto b = next_beat(s, from); b && b->t < to; b = next_beat(s, b->t + 1)) out.push_back(*b);
  return out;
}

TEST(Tempo, BeatTimeIsExactIntegerArithmeticFarFromTheAnchor) {
  const TempoSegment s = running_at(140.0, {4, 4}, 123'456'789);
  EXPECT_EQ(beat_time(s, 20'000), 123'456'789 + (20'000LL * 60'000'000'000LL) / 140'000LL);
  EXPECT_EQ(beat_time(s, 20'000), 123'456'789 + 8'571'428'571);
  EXPECT_EQ(beat_time(s, 0), 123'456'789);
  EXPECT_EQ(beat_time(s, 7), 123'456'789 + 3'000'000);  // 7 beats at 140 = exactly 3 s

  // A fractional tempo and a beat count whose k * 60e9 overflows 64 bits (about 12 days at 133.3).
  const TempoSegment f = running_at(133.3, {4, 4}, 0);
  __extension__ using i128 = __int128;
  for (std::int64_t k : {1LL, 3LL, 1'000'003LL, 2'000'000'000LL}) {
    const auto expected = static_cast<std::int64_t>(static_cast<i128>(k) * 60'000'000'000LL / 133'300);
    EXPECT_EQ(beat_time(f, k), expected) << "k=" << k;
  }
  // Here k * 60e9 / 140000 is a whole number that double arithmetic lands just below.
  const std::int64_t k = 307'486'851;
  EXPECT_EQ(beat_time(s, k) - s.anchor_t, static_cast<std::int64_t>(static_cast<i128>(k) * 60'000'000'000LL / 140'000));
}

TEST(Tempo, ASongChangeWhileRunningStartsTheNewSongAtBarZeroOnTheOldGrid) {
  // 120 bpm 4/4 from t=0: bars of 2 s; the old song is in bar 10 at 21 s.
  const TempoState s = running_at(120.0, {4, 4}, 0);
  const TempoState n = apply_song_change(s, {.bpm = 132.0, .meter = Meter{6, 8}}, 0, 21 * kSec, kLead);
  EXPECT_EQ(n.rev, s.rev + 1);
  EXPECT_TRUE(n.running);
  EXPECT_EQ(n.anchor_t, 22 * kSec) << "the next bar boundary of the old song at least the lead ahead";
  EXPECT_EQ(n.anchor_bar, 0);
  EXPECT_EQ(n.bpm, 132.0);
  EXPECT_EQ(n.meter, (Meter{6, 8}));
  ASSERT_TRUE(n.prev);
  EXPECT_EQ(n.prev->bpm, 120.0);
  const auto beats = beats_between(n, 21 * kSec, 22 * kSec + 1);
  ASSERT_EQ(beats.size(), 3u);
  EXPECT_EQ(beats[0].bar, 10) << "the old song plays its bar out";
  EXPECT_EQ(beats[1].bar, 10);
  EXPECT_EQ(beats[2].bar, 0);
  EXPECT_EQ(beats[2].beat, 0);
  EXPECT_EQ(beats[2].t, 22 * kSec);
}

TEST(Tempo, ASongChangeCountsInAtTheNewTempo) {
  const TempoState s = running_at(120.0, {4, 4}, 0);
  const TempoState n = apply_song_change(s, {.bpm = 60.0}, 2, 21 * kSec, kLead);
  EXPECT_EQ(n.anchor_bar, -2);
  EXPECT_EQ(n.count_in_bars, 2);
  const auto first = next_beat(n, n.anchor_t);
  ASSERT_TRUE(first);
  EXPECT_TRUE(first->count_in);
  EXPECT_EQ(first->bar, -2);
  // Two 4/4 bars at 60 bpm: bar 0 starts 8 s after the anchor.
  const auto bar0 = next_beat(n, n.anchor_t + 8 * kSec);
  ASSERT_TRUE(bar0);
  EXPECT_EQ(bar0->bar, 0);
  EXPECT_EQ(bar0->t, n.anchor_t + 8 * kSec);
}

TEST(Tempo, ASongChangeWhileStoppedOnlyStoresTheTempo) {
  TempoState s;
  s.rev = 3;
  const TempoState n = apply_song_change(s, {.bpm = 90.0, .meter = Meter{3, 4}}, 2, 5 * kSec, kLead);
  EXPECT_FALSE(n.running);
  EXPECT_EQ(n.bpm, 90.0);
  EXPECT_EQ(n.meter, (Meter{3, 4}));
  EXPECT_EQ(n.count_in_bars, 0) << "no count-in when nothing plays";
  EXPECT_FALSE(next_beat(n, 0)) << "silent";
  const TempoState started = apply_start(n, 0, 6 * kSec, kLead);
  EXPECT_EQ(started.anchor_bar, 0);
  EXPECT_EQ(started.bpm, 90.0);
}

TEST(Tempo, NextBeatWalksTheGridWithoutDrift) {
  const TempoState s = running_at(140.0, {4, 4}, 5 * kSec);
  auto b = next_beat(s, beat_time(s, 20'000) - 1);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->t, beat_time(s, 20'000));
  EXPECT_EQ(b->bar, 5'000);
  EXPECT_EQ(b->beat, 0);
  b = next_beat(s, beat_time(s, 20'000) + 1);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->t, beat_time(s, 20'001));
  EXPECT_EQ(b->beat, 1);
  // Before the anchor the first beat is the anchor's downbeat.
  b = next_beat(s, 0);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->t, 5 * kSec);
  EXPECT_EQ(b->bar, 0);
}

TEST(Tempo, SixEightCountsEighthsWithTheGivenAccents) {
  TempoState s = running_at(120.0, {6, 8}, 0);
  s.accents = {2, 0, 0, 1, 0, 0};
  const auto beats = beats_between(s, 0, 4 * kSec);
  ASSERT_EQ(beats.size(), 8u);  // six 500 ms clicks per bar
  const int expected_accent[] = {2, 0, 0, 1, 0, 0, 2, 0};
  for (std::size_t i = 0; i < beats.size(); ++i) {
    EXPECT_EQ(beats[i].t, static_cast<std::int64_t>(i) * 500 * kMs);
    EXPECT_EQ(beats[i].beat, static_cast<int>(i % 6));
    EXPECT_EQ(beats[i].bar, static_cast<std::int64_t>(i / 6));
    EXPECT_EQ(beats[i].accent, expected_accent[i]);
    EXPECT_FALSE(beats[i].count_in);
  }
}

TEST(Tempo, DefaultAndShortAccentPatterns) {
  TempoState s = running_at(120.0, {6, 8}, 0);
  const auto beats = beats_between(s, 0, 3 * kSec);
  ASSERT_EQ(beats.size(), 6u);
  EXPECT_EQ(beats[0].accent, 2);
  for (std::size_t i = 1; i < 6; ++i) EXPECT_EQ(beats[i].accent, 1);
  s.accents = {1, 0};  // beats past the pattern fall back to normal
  EXPECT_EQ(accent_level(s, 0), 1);
  EXPECT_EQ(accent_level(s, 1), 0);
  EXPECT_EQ(accent_level(s, 4), 1);
}

TEST(Tempo, StartFromStoppedAnchorsAtNowPlusLeadWithCountInBars) {
  const TempoState stopped;
  const TempoState s = apply_start(stopped, 2, 10 * kSec, kLead);
  EXPECT_TRUE(s.running);
  EXPECT_EQ(s.anchor_t, 10 * kSec + kLead);
  EXPECT_EQ(s.anchor_bar, -2);
  EXPECT_EQ(s.count_in_bars, 2);
  EXPECT_EQ(s.rev, 1);
  ASSERT_TRUE(s.prev);
  EXPECT_FALSE(s.prev->running);

  EXPECT_FALSE(next_beat(stopped, 0));
  const auto beats = beats_between(s, 0, s.anchor_t + 10 * 500 * kMs);
  ASSERT_EQ(beats.size(), 10u);
  for (std::size_t i = 0; i < 8; ++i) {
    EXPECT_TRUE(beats[i].count_in) << i;
    EXPECT_EQ(beats[i].bar, i < 4 ? -2 : -1) << i;
  }
  EXPECT_EQ(beats[8].bar, 0);
  EXPECT_EQ(beats[8].beat, 0);
  EXPECT_FALSE(beats[8].count_in);
  EXPECT_EQ(beats[8].t, 10 * kSec + kLead + 4 * kSec);
}

TEST(Tempo, SetWhileRunningLandsOnTheFirstBarBoundaryAtLeastTheLeadAhead) {
  const TempoState s = running_at(120.0, {4, 4}, 0);  // bars every 2 s
  struct Case {
    std::int64_t now, want_t, want_bar;
  };
  const Case cases[] = {
      {0, 2 * kSec, 1},                           // boundary at now itself is too soon
      {2 * kSec - kLead - 1, 2 * kSec, 1},        // one µs more than the lead
      {2 * kSec - kLead, 2 * kSec, 1},            // now+lead exactly on a boundary: that boundary
      {2 * kSec - kLead + 1, 4 * kSec, 2},        // one µs late: the next bar
      {5 * kSec, 6 * kSec, 3},
      {-3 * kSec, 0, 0},                          // before the anchor: the anchor is the boundary
  };
  for (const Case& c : cases) {
    const TempoState n = apply_set(s, {.bpm = 90.0}, c.now, kLead);
    EXPECT_EQ(n.anchor_t, c.want_t) << "now=" << c.now;
    EXPECT_EQ(n.anchor_bar, c.want_bar) << "now=" << c.now;
    EXPECT_EQ(n.bpm, 90.0);
    EXPECT_TRUE(n.running);
    EXPECT_EQ(n.rev, s.rev + 1);
  }
}

TEST(Tempo, SetRequantisesOnAnInexactGrid) {
  // 140 bpm: beats are 428 571.43 µs apart, so boundaries fall between whole microseconds.
  const TempoState s = running_at(140.0, {3, 4}, 777);
  for (std::int64_t bar : {1, 2, 50, 1'001}) {
    const std::int64_t boundary = beat_time(s, bar * 3);
    TempoState on = apply_set(s, {.bpm = 100.0}, boundary - kLead, kLead);
    EXPECT_EQ(on.anchor_t, boundary);
    EXPECT_EQ(on.anchor_bar, bar);
    TempoState after = apply_set(s, {.bpm = 100.0}, boundary - kLead + 1, kLead);
    EXPECT_EQ(after.anchor_t, beat_time(s, (bar + 1) * 3));
    EXPECT_EQ(after.anchor_bar, bar + 1);
  }
}

TEST(Tempo, PrevKeepsClickingUntilTheNewAnchorThenTheNewTempo) {
  const TempoState s = running_at(120.0, {4, 4}, 0);
  const TempoState n = apply_set(s, {.bpm = 60.0}, 1 * kSec, kLead);
  ASSERT_EQ(n.anchor_t, 2 * kSec);
  ASSERT_TRUE(n.prev);
  EXPECT_EQ(*n.prev, static_cast<const TempoSegment&>(s));

  const auto beats = beats_between(n, 0, 6 * kSec);
  const std::int64_t want_t[] = {0, 500 * kMs, 1000 * kMs, 1500 * kMs, 2 * kSec, 3 * kSec, 4 * kSec, 5 * kSec};
  const std::int64_t want_bar[] = {0, 0, 0, 0, 1, 1, 1, 1};
  const int want_beat[] = {0, 1, 2, 3, 0, 1, 2, 3};
  ASSERT_EQ(beats.size(), 8u);
  for (std::size_t i = 0; i < beats.size(); ++i) {
    EXPECT_EQ(beats[i].t, want_t[i]) << i;
    EXPECT_EQ(beats[i].bar, want_bar[i]) << i;
    EXPECT_EQ(beats[i].beat, want_beat[i]) << i;
  }

  // Heartbeat positions: the old tempo before the anchor, the new one after.
  auto at = beat_at_or_before(n, 2 * kSec - 1);
  ASSERT_TRUE(at);
  EXPECT_EQ(at->t, 1500 * kMs);
  EXPECT_EQ(at->beat, 3);
  at = beat_at_or_before(n, 3 * kSec);
  ASSERT_TRUE(at);
  EXPECT_EQ(at->t, 3 * kSec);
  EXPECT_EQ(at->bar, 1);
  EXPECT_EQ(at->beat, 1);
  at = beat_at_or_before(n, 3 * kSec - 1);
  ASSERT_TRUE(at);
  EXPECT_EQ(at->t, 2 * kSec);
  EXPECT_FALSE(beat_at_or_before(n, -1));
}

TEST(Tempo, MeterChangeKeepsBarNumbersAndResetsAnAccentPatternThatNoLongerFits) {
  TempoState s = running_at(120.0, {4, 4}, 0);
  s.accents = {2, 1, 0, 1};
  const TempoState n = apply_set(s, {.meter = Meter{3, 4}}, 0, kLead);
  EXPECT_EQ(n.meter, (Meter{3, 4}));
  EXPECT_TRUE(n.accents.empty());
  EXPECT_EQ(n.anchor_t, 2 * kSec);  // the old 4/4 bar finishes first
  const auto beats = beats_between(n, 2 * kSec, 5 * kSec);
  ASSERT_EQ(beats.size(), 6u);
  EXPECT_EQ(beats[3].bar, 2);  // three beats per bar from bar 1 on
  EXPECT_EQ(beats[3].beat, 0);
  EXPECT_EQ(beats[3].t, 3500 * kMs);

  const TempoState same_length = apply_set(s, {.meter = Meter{4, 8}}, 0, kLead);
  EXPECT_EQ(same_length.accents, s.accents);
}

TEST(Tempo, SecondSetBeforeTheFirstSoundsAmendsIt) {
  const TempoState s = running_at(120.0, {4, 4}, 0);
  const TempoState a = apply_set(s, {.bpm = 100.0}, 0, kLead);  // lands at 2 s
  const TempoState b = apply_set(a, {.subdivision = 2}, 500 * kMs, kLead);
  EXPECT_EQ(b.anchor_t, 2 * kSec);
  EXPECT_EQ(b.bpm, 100.0);
  EXPECT_EQ(b.subdivision, 2);
  ASSERT_TRUE(b.prev);
  EXPECT_EQ(b.prev->bpm, 120.0);  // the old tempo still clicks until 2 s
  EXPECT_EQ(b.rev, s.rev + 2);

  // A set whose lead reaches exactly the pending anchor: that bar, and the old prev.
  const TempoState c = apply_set(a, {.bpm = 80.0}, 2 * kSec - kLead, kLead);
  EXPECT_EQ(c.anchor_t, 2 * kSec);
  ASSERT_TRUE(c.prev);
  EXPECT_EQ(c.prev->bpm, 120.0);
  EXPECT_EQ(c.bpm, 80.0);
}

TEST(Tempo, SetWhileStoppedChangesOnlyParameters) {
  TempoState s;
  s.anchor_t = 9 * kSec;
  const TempoState n = apply_set(s, {.bpm = 72.0, .meter = Meter{6, 8}}, 20 * kSec, kLead);
  EXPECT_FALSE(n.running);
  EXPECT_EQ(n.anchor_t, 9 * kSec);
  EXPECT_EQ(n.bpm, 72.0);
  EXPECT_EQ(n.meter, (Meter{6, 8}));
  EXPECT_EQ(n.rev, 1);
  ASSERT_TRUE(n.prev);
  EXPECT_EQ(n.prev->bpm, 120.0);
  EXPECT_FALSE(next_beat(n, 0));
  EXPECT_FALSE(beat_at_or_before(n, 30 * kSec));

  const TempoState started = apply_start(n, 0, 30 * kSec, kLead);
  EXPECT_EQ(started.bpm, 72.0);
  EXPECT_EQ(started.anchor_t, 30 * kSec + kLead);
  EXPECT_EQ(started.anchor_bar, 0);
}

TEST(Tempo, StopSilencesFromTheNextBarBoundary) {
  const TempoState s = running_at(120.0, {4, 4}, 0);
  const TempoState n = apply_stop(s, 1 * kSec, kLead);
  EXPECT_FALSE(n.running);
  EXPECT_EQ(n.anchor_t, 2 * kSec);
  EXPECT_EQ(n.rev, s.rev + 1);
  const auto beats = beats_between(n, 0, 10 * kSec);
  ASSERT_EQ(beats.size(), 4u);  // the bar in progress finishes, nothing after
  EXPECT_EQ(beats.back().t, 1500 * kMs);
  EXPECT_FALSE(next_beat(n, 1500 * kMs + 1));
  EXPECT_TRUE(beat_at_or_before(n, 2 * kSec - 1));
  EXPECT_FALSE(beat_at_or_before(n, 2 * kSec));

  // Stopping again does not move the silence.
  const TempoState again = apply_stop(n, 1200 * kMs, kLead);
  EXPECT_EQ(again.anchor_t, 2 * kSec);
  EXPECT_EQ(beats_between(again, 0, 10 * kSec).size(), 4u);
  EXPECT_EQ(again.rev, s.rev + 2);
}

TEST(Tempo, StartWhileRunningRestartsNumberingOnABarBoundary) {
  const TempoState s = running_at(120.0, {4, 4}, 0, 40);
  const TempoState n = apply_start(s, 1, 3 * kSec, kLead);
  EXPECT_EQ(n.anchor_t, 4 * kSec);
  EXPECT_EQ(n.anchor_bar, -1);
  ASSERT_TRUE(n.prev);
  EXPECT_EQ(n.prev->anchor_bar, 40);
  auto b = next_beat(n, 3 * kSec + 1);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->t, 3500 * kMs);
  EXPECT_EQ(b->bar, 41);
  b = next_beat(n, 4 * kSec);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->bar, -1);
  EXPECT_TRUE(b->count_in);
  b = next_beat(n, 6 * kSec);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->bar, 0);
  EXPECT_FALSE(b->count_in);
}

TEST(Tempo, StartBeforeAPendingStopSoundsKeepsTheClickOnItsGrid) {
  const TempoState s = running_at(120.0, {4, 4}, 0);
  const TempoState stopping = apply_stop(s, 1 * kSec, kLead);  // silent from 2 s
  const TempoState n = apply_start(stopping, 0, 1900 * kMs, kLead);
  EXPECT_TRUE(n.running);
  EXPECT_EQ(n.anchor_t, 4 * kSec);
  const auto beats = beats_between(n, 0, 5 * kSec);
  ASSERT_EQ(beats.size(), 10u);  // no gap between 2 s and 4 s
  for (std::size_t i = 0; i < beats.size(); ++i) EXPECT_EQ(beats[i].t, static_cast<std::int64_t>(i) * 500 * kMs);
  EXPECT_EQ(beats[8].bar, 0);
}

TEST(Tempo, StopRightAfterStartIsSilentButALaterOneWaitsForTheBar) {
  const TempoState starting = apply_start(TempoState{}, 0, 10 * kSec, kLead);  // first click at 10.3 s
  const TempoState at_once = apply_stop(starting, 10 * kSec, kLead);
  EXPECT_FALSE(at_once.running);
  EXPECT_FALSE(next_beat(at_once, 0));

  // 50 ms later the start is less than the lead ahead, so clients may have scheduled it: it plays its bar.
  const TempoState later = apply_stop(starting, 10 * kSec + 50 * kMs, kLead);
  EXPECT_FALSE(later.running);
  EXPECT_EQ(later.anchor_t, 12 * kSec + kLead);
  EXPECT_EQ(beats_between(later, 0, 20 * kSec).size(), 4u);
}

TEST(Tempo, SubdivisionTicksSplitEachBeatEvenly) {
  TempoState s = running_at(140.0, {4, 4}, 1'000);
  s.subdivision = 3;
  std::vector<Tick> ticks;
  for (auto t = next_tick(s, 0); t && ticks.size() < 9; t = next_tick(s, t->t + 1)) ticks.push_back(*t);
  ASSERT_EQ(ticks.size(), 9u);
  for (std::size_t i = 0; i < ticks.size(); ++i) {
    EXPECT_EQ(ticks[i].sub, static_cast<int>(i % 3));
    EXPECT_EQ(ticks[i].beat.beat, static_cast<int>(i / 3));
    EXPECT_EQ(ticks[i].t, 1'000 + static_cast<std::int64_t>(i) * 60'000'000'000LL / (140'000 * 3));
  }
  EXPECT_EQ(ticks[3].t, beat_time(s, 1));
  EXPECT_EQ(ticks[6].t, beat_time(s, 2));
}

TEST(Tempo, ValidationNamesTheFieldAndTheRange) {
  const TempoState cur = running_at(120.0, {4, 4}, 0);
  auto msg = [&](TempoSetParams p) { return validate_tempo_set(p, cur); };
  EXPECT_EQ(msg({.bpm = 19.0}), "bpm must be between 20 and 400 (got 19)");
  EXPECT_EQ(msg({.bpm = 401.0}), "bpm must be between 20 and 400 (got 401)");
  EXPECT_NE(msg({.bpm = std::nan("")}), "");
  EXPECT_EQ(msg({.bpm = 20.0}), "");
  EXPECT_EQ(msg({.bpm = 400.0}), "");
  EXPECT_EQ(msg({.meter = Meter{0, 4}}), "meter.beats must be between 1 and 32 (got 0)");
  EXPECT_EQ(msg({.meter = Meter{33, 4}}), "meter.beats must be between 1 and 32 (got 33)");
  EXPECT_EQ(msg({.meter = Meter{32, 16}}), "");
  EXPECT_EQ(msg({.meter = Meter{4, 3}}), "meter.unit must be 1, 2, 4, 8 or 16 (got 3)");
  EXPECT_EQ(msg({.accents = std::vector<int>{2, 1, 1, 1, 1}}),
            "accents has 5 entries but the meter has 4 beats: give at most one level per beat");
  EXPECT_EQ(msg({.meter = Meter{6, 8}, .accents = std::vector<int>{2, 1, 1, 1, 1}}), "");  // the new meter counts
  EXPECT_EQ(msg({.meter = Meter{3, 4}, .accents = std::vector<int>{2, 1, 1, 1}}),
            "accents has 4 entries but the meter has 3 beats: give at most one level per beat");
  EXPECT_EQ(msg({.accents = std::vector<int>{2, 3}}),
            "accents[1] must be between 0 and 2 (0 silent, 1 normal, 2 accent; got 3)");
  EXPECT_NE(msg({.accents = std::vector<int>{-1}}), "");
  EXPECT_EQ(msg({.subdivision = 0}), "subdivision must be between 1 and 4 (got 0)");
  EXPECT_EQ(msg({.subdivision = 5}), "subdivision must be between 1 and 4 (got 5)");
  EXPECT_EQ(msg({.bpm = 60.0, .meter = Meter{7, 8}, .accents = std::vector<int>{2, 0, 1}, .subdivision = 4}), "");
  EXPECT_EQ(validate_count_in(-1), "count_in_bars must be between 0 and 4 (got -1)");
  EXPECT_EQ(validate_count_in(5), "count_in_bars must be between 0 and 4 (got 5)");
  EXPECT_EQ(validate_count_in(0), "");
  EXPECT_EQ(validate_count_in(4), "");
}

TEST(Tempo, JsonRoundTripThroughText) {
  TempoState s = running_at(137.5, {7, 8}, 1'732'537'200'123'456, -2);
  s.accents = {2, 0, 1, 2, 0, 1, 1};
  s.subdivision = 3;
  s.count_in_bars = 2;
  s.rev = 41;
  TempoSegment p;
  p.running = true;
  p.bpm = 90.0;
  p.anchor_t = 123;
  p.anchor_bar = 17;
  s.prev = p;

  const std::string text = boost::json::serialize(to_json(s));
  const boost::json::value v = boost::json::parse(text);
  EXPECT_EQ(v.at("anchor").at("t").as_int64(), 1'732'537'200'123'456);
  EXPECT_EQ(v.at("anchor").at("bar").as_int64(), -2);
  EXPECT_EQ(v.at("meter").at("unit").as_int64(), 8);
  EXPECT_EQ(v.at("prev").at("bpm").as_double(), 90.0);
  EXPECT_FALSE(v.at("prev").as_object().contains("rev"));
  EXPECT_FALSE(v.at("prev").as_object().contains("prev"));
  EXPECT_EQ(tempo_from_json(v), s);

  s.prev.reset();
  const boost::json::value no_prev = boost::json::parse(boost::json::serialize(to_json(s)));
  EXPECT_TRUE(no_prev.at("prev").is_null());
  EXPECT_EQ(tempo_from_json(no_prev), s);
}

TEST(Tempo, JsonReaderFillsDefaultsForMissingFields) {
  EXPECT_EQ(tempo_from_json(boost::json::parse("{}")), TempoState{});
  EXPECT_EQ(tempo_from_json(boost::json::parse("null")), TempoState{});
  const TempoState s = tempo_from_json(boost::json::parse(R"({"running":true,"bpm":96,"anchor":{"t":5},"rev":3})"));
  EXPECT_TRUE(s.running);
  EXPECT_EQ(s.bpm, 96.0);  // an integer bpm is accepted
  EXPECT_EQ(s.anchor_t, 5);
  EXPECT_EQ(s.anchor_bar, 0);
  EXPECT_EQ(s.meter, Meter{});
  EXPECT_EQ(s.rev, 3);
  EXPECT_FALSE(s.prev);
}

TEST(Tempo, EveryChangeBumpsRevAndPrevNeverNests) {
  TempoState s;
  s = apply_start(s, 1, 0, kLead);
  s = apply_set(s, {.bpm = 100.0}, 3 * kSec, kLead);
  s = apply_set(s, {.subdivision = 2}, 9 * kSec, kLead);
  s = apply_stop(s, 20 * kSec, kLead);
  s = apply_set(s, {.bpm = 80.0}, 30 * kSec, kLead);
  s = apply_start(s, 0, 40 * kSec, kLead);
  EXPECT_EQ(s.rev, 6);
  ASSERT_TRUE(s.prev);
  const boost::json::value v = to_json(s);
  EXPECT_TRUE(v.at("prev").is_object());
  EXPECT_FALSE(v.at("prev").as_object().contains("prev"));
}

}  // namespace
}  // namespace downbeat::core
