// ChordPro parsing and transposition (core/chart), and the shared vectors in protocol/vectors/chart.json
// (the web app replays the same file through the WebAssembly build in web/src/chart.test.ts).
#include "core/chart.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>
#include <sstream>

using namespace downbeat::core::chart;
namespace json = boost::json;

namespace {

// Every chord of the rendered chart, in order.
std::vector<std::string> chords(const Chart& c) {
  std::vector<std::string> out;
  for (const auto& s : c.sections)
    for (const auto& l : s.lines)
      for (const auto& seg : l.segments)
        if (seg.chord) out.push_back(*seg.chord);
  return out;
}

std::vector<std::string> rendered_chords(std::string_view src, const View& v) { return chords(render(parse(src), v).chart); }

View view(std::optional<std::string> song, std::optional<std::string> play = std::nullopt, int capo = 0,
          Pitch pitch = Pitch::C, int transpose = 0, bool nashville = false) {
  return View{std::move(song), std::move(play), capo, pitch, transpose, nashville};
}

using Chords = std::vector<std::string>;

}  // namespace

TEST(ChartParse, MetadataDirectivesAndSections) {
  auto c = parse(
      "{title: Amazing Grace}\n{st: Traditional}\n{artist: John Newton}\n{key: G}\n{tempo: 72}\n{time: 3/4}\n"
      "{start_of_verse: Verse 1}\nA[G]mazing [G7]grace\n{end_of_verse}\n\n{soc}\n[C]How [G]sweet\n{eoc}\n"
      "{c: Verse 2}\n[G]T'was grace\n{sob}\n[Em]Through\n{eob}\n{start_of_tab}\ne|--3--[x]\n{end_of_tab}\n");
  EXPECT_EQ(c.title, "Amazing Grace");
  EXPECT_EQ(c.subtitle, "Traditional");
  EXPECT_EQ(c.artist, "John Newton");
  EXPECT_EQ(c.key, "G");
  EXPECT_EQ(c.tempo, "72");
  EXPECT_EQ(c.time, "3/4");
  ASSERT_NE(c.meta_value("subtitle"), nullptr);
  EXPECT_EQ(*c.meta_value("title"), "Amazing Grace");
  EXPECT_EQ(section_names(c), (std::vector<std::string>{"Verse 1", "Chorus", "Verse 2", "Bridge", "Tab"}));
  ASSERT_EQ(c.sections.size(), 5u);
  EXPECT_EQ(c.sections[0].kind, "verse");
  EXPECT_EQ(c.sections[1].kind, "chorus");
  EXPECT_EQ(c.sections[2].kind, "verse");
  EXPECT_EQ(c.sections[3].kind, "bridge");
  EXPECT_EQ(c.sections[4].kind, "tab");
  const auto& line = c.sections[0].lines[0];
  ASSERT_EQ(line.kind, Line::Kind::lyrics);
  ASSERT_EQ(line.segments.size(), 3u);
  EXPECT_EQ(line.segments[0].chord, std::nullopt);
  EXPECT_EQ(line.segments[0].text, "A");
  EXPECT_EQ(line.segments[1].chord, "G");
  EXPECT_EQ(line.segments[1].text, "mazing ");
  EXPECT_EQ(line.segments[2].chord, "G7");
  EXPECT_EQ(line.segments[2].text, "grace");
  // Tab lines are kept verbatim: no chords taken out of them.
  ASSERT_EQ(c.sections[4].lines.size(), 1u);
  EXPECT_EQ(c.sections[4].lines[0].segments[0].text, "e|--3--[x]");
  EXPECT_TRUE(c.issues.empty());
}

TEST(ChartParse, UnknownDirectivesAreKeptAsLines) {
  auto c = parse("{title: X}\n{textfont: Courier}\n{x_custom: 1 2 3}\n[C]la\n");
  ASSERT_EQ(c.sections.size(), 1u);
  const auto& lines = c.sections[0].lines;
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0].kind, Line::Kind::directive);
  EXPECT_EQ(lines[0].name, "textfont");
  EXPECT_EQ(lines[0].value, "Courier");
  EXPECT_EQ(lines[1].name, "x_custom");
  EXPECT_EQ(lines[1].value, "1 2 3");
  ASSERT_NE(c.meta_value("x_custom"), nullptr);
  EXPECT_EQ(*c.meta_value("x_custom"), "1 2 3");
}

TEST(ChartParse, UnclosedBracketIsKeptAsTextWithAWarningNamingTheLine) {
  auto c = parse("{title: X}\n[C]one\n[G two three\n");
  ASSERT_EQ(c.issues.size(), 1u);
  EXPECT_EQ(c.issues[0].line, 3);
  EXPECT_NE(c.issues[0].message.find("Line 3"), std::string::npos);
  EXPECT_NE(c.issues[0].message.find("']'"), std::string::npos);
  const auto& l = c.sections[0].lines[1];
  ASSERT_EQ(l.segments.size(), 1u);
  EXPECT_EQ(l.segments[0].text, "[G two three");
}

TEST(ChartParse, UnclosedBraceIsKeptAsText) {
  auto c = parse("[C]one\n{title: oops\n");
  ASSERT_EQ(c.issues.size(), 1u);
  EXPECT_EQ(c.issues[0].line, 2);
  EXPECT_NE(c.issues[0].message.find("'}'"), std::string::npos);
  EXPECT_EQ(c.title, std::nullopt);
  EXPECT_EQ(c.sections[0].lines[1].segments[0].text, "{title: oops");
}

TEST(ChartParse, InvalidUtf8NamesTheFirstBadLine) {
  std::string src = "{title: Caf\xC3\xA9}\nfine\nbad \xFF byte\nalso \xC0\xAF bad\n";
  EXPECT_EQ(check_utf8(src), 3);
  EXPECT_EQ(check_utf8("all good\n\xE2\x99\xAD"), std::nullopt);
  auto c = parse(src);
  ASSERT_FALSE(c.issues.empty());
  EXPECT_EQ(c.issues[0].line, 3);
  EXPECT_NE(c.issues[0].message.find("UTF-8"), std::string::npos);
  EXPECT_EQ(c.sections[0].lines[1].segments[0].text, "bad \xEF\xBF\xBD byte");
}

TEST(ChartParse, CommentsAndBlankLines) {
  auto c = parse("# file comment\n{c: Slowly}\n\n[Am]la\n");
  ASSERT_EQ(c.sections.size(), 1u);
  const auto& lines = c.sections[0].lines;
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0].kind, Line::Kind::comment);
  EXPECT_EQ(lines[0].text, "Slowly");
  EXPECT_EQ(lines[1].kind, Line::Kind::blank);
}

TEST(ChartParse, NeverThrowsOnOddInput) {
  for (std::string_view s : std::initializer_list<std::string_view>{"", "{", "}", "[", "]", "{}", "[]", "{:}", "{start_of_}", "{end_of_verse}", "\r\n\r\n",
                             "{meta}", "{meta: }", "[[C]]", "{c:}", std::string_view("\0\0", 2)}) {
    EXPECT_NO_THROW({
      auto c = parse(s);
      render(c, view(std::nullopt, "D", 3, Pitch::Eb, 2, false));
      render(c, view(std::nullopt, "D", 3, Pitch::Eb, 2, true));
    }) << s;
  }
}

TEST(ChartTranspose, Keys) {
  EXPECT_EQ(key_name(*parse_key("C")), "C");
  EXPECT_EQ(key_name(*parse_key("E\xE2\x99\xAD m")), "Ebm");
  EXPECT_EQ(key_name(*parse_key("F# minor")), "F#m");
  EXPECT_EQ(parse_key("H"), std::nullopt);
  EXPECT_EQ(parse_key("Cmaj7"), std::nullopt);
  auto k = keys_for(view("C", "D"));
  EXPECT_EQ(k.key, "D");
  EXPECT_EQ(k.shapes_key, "D");
  EXPECT_EQ(k.semitones, 2);
}

TEST(ChartTranspose, SongToFMinorSpellsFlats) {
  EXPECT_EQ(rendered_chords("[Am]a [G]b [F]c [E7]d", view("Am", "Fm")), (Chords{"Fm", "Eb", "Db", "C7"}));
  EXPECT_EQ(rendered_chords("[C]a [F]b [G]c [Am]d", view("C", "Fm")), (Chords{"F", "Bb", "C", "Dm"}));
  EXPECT_EQ(rendered_chords("[Am]a [D]b [E]c", view("Am", "Fm")), (Chords{"Fm", "Bb", "C"}));
}
