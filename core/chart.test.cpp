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

TEST(ChartParse, SectionLabelsInBothForms) {
  auto c = parse("{start_of_verse label=\"Verse 2\"}\n[C]a\n{end_of_verse}\n{start_of_chorus: Refrain}\n[F]b\n{eoc}\n"
                 "{chorus: label=\"Chorus 2\"}\n{start_of_intro}\n[G]c\n{end_of_intro}\n{start_of_}\n");
  EXPECT_EQ(section_names(c), (std::vector<std::string>{"Verse 2", "Refrain", "Chorus 2", "Intro", "Section"}));
  ASSERT_EQ(c.sections.size(), 5u);
  // {chorus} repeats the last chorus' lines.
  ASSERT_EQ(c.sections[2].lines.size(), 1u);
  EXPECT_EQ(c.sections[2].lines[0].segments[0].chord, "F");
  EXPECT_EQ(c.sections[3].kind, "intro");
}

TEST(ChartParse, RecalledChorusesStayBoundedByTheInput) {
  std::string src = "{soc}\n";
  for (int i = 0; i < 2000; ++i) src += "[C]la\n";
  src += "{eoc}\n";
  for (int i = 0; i < 2000; ++i) src += "{chorus}\n";
  auto c = parse(src);
  std::size_t lines = 0;
  for (const auto& s : c.sections) lines += s.lines.size();
  EXPECT_EQ(c.sections.size(), 2001u);  // every recall is still a section
  EXPECT_LE(lines, 2u * 4003u);
}

TEST(ChartParse, ManyDistinctNamesStayLinear) {
  // A 1.5 MB upload of distinct directives and section comments: each is kept, and it parses.
  std::string src;
  for (int i = 0; i < 60000; ++i) src += "{x" + std::to_string(i) + ": v}\n{c: Verse " + std::to_string(i) + "}\n";
  auto c = parse(src);
  EXPECT_EQ(c.meta.size(), 60000u);
  EXPECT_EQ(section_names(c).size(), 60000u);
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

// ---- The shared vectors (protocol/vectors/chart.json) ------------------------------------------

namespace {

json::value load_vectors() {
  std::ifstream in(std::string(DOWNBEAT_SOURCE_DIR) + "/protocol/vectors/chart.json");
  std::stringstream ss;
  ss << in.rdbuf();
  return json::parse(ss.str());
}

std::optional<std::string> opt_string(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  if (!v || !v->is_string()) return std::nullopt;
  return std::string(v->as_string());
}

View view_of(const json::object& o) {
  View v;
  v.song_key = opt_string(o, "songKey");
  v.play_key = opt_string(o, "playKey");
  v.capo = static_cast<int>(o.at("capo").as_int64());
  v.transpose = static_cast<int>(o.at("transpose").as_int64());
  v.pitch = *parse_pitch(std::string(o.at("pitch").as_string()));
  v.nashville = o.at("nashville").as_bool();
  return v;
}

std::vector<std::string> strings(const json::value& v) {
  std::vector<std::string> out;
  for (const auto& s : v.as_array()) out.emplace_back(s.as_string());
  return out;
}

}  // namespace

TEST(ChartVectors, EveryCase) {
  auto doc = load_vectors();
  const auto& cases = doc.at("cases").as_array();
  ASSERT_GE(cases.size(), 20u);
  for (const auto& cv : cases) {
    const auto& c = cv.as_object();
    std::string name(c.at("name").as_string());
    SCOPED_TRACE(name);
    auto parsed = parse(std::string(c.at("input").as_string()));
    View v = view_of(c.at("view").as_object());
    auto r = render(parsed, v);
    const auto& e = c.at("expect").as_object();
    if (e.contains("key")) {
      EXPECT_EQ(r.keys.key, opt_string(e, "key"));
    }
    if (e.contains("shapesKey")) {
      EXPECT_EQ(r.keys.shapes_key, opt_string(e, "shapesKey"));
    }
    if (v.song_key && e.contains("key")) {  // the key card alone agrees with the rendered chart
      auto k = keys_for(v);
      EXPECT_EQ(k.key, r.keys.key);
      EXPECT_EQ(k.shapes_key, r.keys.shapes_key);
    }
    if (e.contains("chords")) {
      EXPECT_EQ(chords(r.chart), strings(e.at("chords")));
    }
    if (e.contains("title")) {
      EXPECT_EQ(r.chart.title, opt_string(e, "title"));
    }
    if (e.contains("sections")) {
      std::vector<std::string> names;
      for (const auto& s : r.chart.sections) names.push_back(s.name.value_or(""));
      EXPECT_EQ(names, strings(e.at("sections")));
    }
    if (e.contains("sectionNames")) {
      EXPECT_EQ(section_names(parsed), strings(e.at("sectionNames")));
    }
    if (e.contains("texts")) {
      std::vector<std::string> texts;
      for (const auto& s : r.chart.sections)
        for (const auto& l : s.lines) {
          if (l.kind != Line::Kind::lyrics) continue;
          std::string t;
          for (const auto& seg : l.segments) t += seg.text;
          texts.push_back(t);
        }
      EXPECT_EQ(texts, strings(e.at("texts")));
    }
    if (e.contains("issueLines")) {
      std::vector<int> lines;
      for (const auto& i : r.chart.issues) lines.push_back(i.line);
      std::vector<int> want;
      for (const auto& n : e.at("issueLines").as_array()) want.push_back(static_cast<int>(n.as_int64()));
      EXPECT_EQ(lines, want);
    }
    if (e.contains("directives")) {
      std::vector<std::vector<std::string>> got;
      for (const auto& s : r.chart.sections)
        for (const auto& l : s.lines)
          if (l.kind == Line::Kind::directive) got.push_back({l.name, l.value});
      std::vector<std::vector<std::string>> want;
      for (const auto& d : e.at("directives").as_array()) want.push_back(strings(d));
      EXPECT_EQ(got, want);
    }
  }
}

// ---- Exhaustive: every key, every capo, every instrument -----------------------------------------

namespace {
const std::array<const char*, 12> major_keys = {"C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"};
const std::array<const char*, 12> minor_keys = {"Cm", "C#m", "Dm", "D#m", "Em", "Fm", "F#m", "Gm", "G#m", "Am", "Bbm", "Bm"};
// Major keys written with flats (F Bb Eb Ab Db) and the minor keys that share their signatures.
bool flat_key(int pc, bool minor) {
  int major = minor ? (pc + 3) % 12 : pc;
  return major == 5 || major == 10 || major == 3 || major == 8 || major == 1;
}
// The pitch class of the root a chord or key starts with ("F#m7" → 6).
int pc_of(std::string_view chord) {
  std::size_t n = chord.size() > 1 && (chord[1] == '#' || chord[1] == 'b') ? 2 : 1;
  auto k = parse_key(chord.substr(0, n));
  return k ? k->root : -1;
}
}  // namespace

TEST(ChartTranspose, AllTwelveKeysWithEveryCapo) {
  // I–IV–V7–vi–ii/V in C, moved to each play key with each capo.
  const std::string src = "{key: C}\n[C]a [F]b [G7]c [Am]d [Dm/G]e";
  for (int to = 0; to < 12; ++to) {
    for (int capo = 0; capo <= 7; ++capo) {
      View v = view("C", major_keys[static_cast<std::size_t>(to)], capo);
      SCOPED_TRACE(std::string(major_keys[static_cast<std::size_t>(to)]) + " capo " + std::to_string(capo));
      auto r = render(parse(src), v);
      int shapes = ((to - capo) % 12 + 12) % 12;
      // The reader's key is the play key; the shapes key is `capo` semitones lower.
      EXPECT_EQ(r.keys.key, key_name(Key{to, false, std::nullopt}));
      ASSERT_TRUE(r.keys.shapes_key);
      EXPECT_EQ(pc_of(*r.keys.shapes_key), shapes);
      auto cs = chords(r.chart);
      ASSERT_EQ(cs.size(), 5u);
      // Each chord is its degree above the shapes key.
      EXPECT_EQ(pc_of(cs[0]), shapes);
      EXPECT_EQ(pc_of(cs[1]), (shapes + 5) % 12);
      EXPECT_EQ(pc_of(cs[2]), (shapes + 7) % 12);
      EXPECT_EQ(pc_of(cs[3]), (shapes + 9) % 12);
      EXPECT_TRUE(cs[2].ends_with("7"));
      EXPECT_TRUE(cs[3].ends_with("m"));
      auto slash = cs[4].find('/');
      ASSERT_NE(slash, std::string::npos);
      EXPECT_EQ(pc_of(cs[4].substr(0, slash)), (shapes + 2) % 12);
      EXPECT_EQ(pc_of(cs[4].substr(slash + 1)), (shapes + 7) % 12);
      // Spelled for the shapes key: no sharps in a flat key, no flats in a sharp key.
      for (const auto& c : cs) {
        if (shapes == 0) continue;  // C: natural key, mixed chromatic spelling
        if (flat_key(shapes, false)) {
          EXPECT_EQ(c.find('#'), std::string::npos) << c;
        } else {
          EXPECT_EQ(c.find('b'), std::string::npos) << c;
        }
      }
    }
  }
}

TEST(ChartTranspose, MinorKeysSpelledForTheirSignature) {
  const std::string src = "[Am]a [Dm]b [E7]c [F]d [G]e [C]f";
  for (int to = 0; to < 12; ++to) {
    const char* key = minor_keys[static_cast<std::size_t>(to)];
    SCOPED_TRACE(key);
    auto r = render(parse(src), view("Am", key));
    EXPECT_EQ(r.keys.key, key);
    auto cs = chords(r.chart);
    ASSERT_EQ(cs.size(), 6u);
    EXPECT_EQ(cs[0], key);
    EXPECT_EQ(pc_of(cs[2]), (to + 7) % 12);  // the dominant
    EXPECT_EQ(pc_of(cs[3]), (to + 8) % 12);  // bVI
    for (const auto& c : cs) {
      if (to == 9) continue;  // A minor: natural
      if (flat_key(to, true)) {
        EXPECT_EQ(c.find('#'), std::string::npos) << c;
      } else {
        EXPECT_EQ(c.find('b'), std::string::npos) << c;
      }
    }
  }
  // Six accidentals: D#m by convention; a key written E♭m is read with flats.
  EXPECT_EQ(render(parse(src), view("Am", std::nullopt, 0, Pitch::C, 6)).keys.key, "D#m");
  EXPECT_EQ(rendered_chords(src, view("Am", "Ebm")), (Chords{"Ebm", "Abm", "Bb7", "B", "Db", "Gb"}));
}

TEST(ChartTranspose, InstrumentsReadAboveConcert) {
  const std::string src = "[C]a [G]b";
  for (int song = 0; song < 12; ++song) {
    const char* key = major_keys[static_cast<std::size_t>(song)];
    for (auto [pitch, offset] : {std::pair{Pitch::Bb, 2}, std::pair{Pitch::Eb, 9}, std::pair{Pitch::F, 7}}) {
      auto r = render(parse(std::string("{key: C}\n") + src), view("C", key, 0, pitch));
      SCOPED_TRACE(std::string(key) + " offset " + std::to_string(offset));
      ASSERT_TRUE(r.keys.key);
      EXPECT_EQ(pc_of(*r.keys.key), (song + offset) % 12);
      EXPECT_EQ(pc_of(chords(r.chart)[0]), (song + offset) % 12);
      EXPECT_EQ(pc_of(chords(r.chart)[1]), (song + offset + 7) % 12);
    }
  }
  // Bb trumpet with a capo makes no sense but must not break: the capo still lowers the shapes.
  auto k = keys_for(view("C", "C", 2, Pitch::Bb));
  EXPECT_EQ(k.key, "D");
  EXPECT_EQ(k.shapes_key, "C");
}

TEST(ChartTranspose, ViewValuesAreClamped) {
  auto k = keys_for(view("C", "C", 12, Pitch::C, 40));
  EXPECT_EQ(k.key, "B");         // transpose 11
  EXPECT_EQ(k.shapes_key, "E");  // capo 7
  EXPECT_EQ(keys_for(view("nonsense")).key, std::nullopt);
  EXPECT_EQ(transpose_chord("Hm7", 2, std::nullopt), "Hm7");
  EXPECT_EQ(transpose_chord("Em", 1, parse_key("F")), "Fm");
  EXPECT_EQ(nashville_chord("Bb7", *parse_key("F")), "4\xE2\x81\xB7");
}

TEST(ChartTranspose, EverySpellingIsOneAccidentalAndTheRightPitch) {
  // Every root and bass pitch, in every key (major, minor, written with a flat or a sharp).
  std::vector<std::string> keys;
  for (const char* k : major_keys) keys.emplace_back(k);
  for (const char* k : minor_keys) keys.emplace_back(k);
  for (const char* k : {"Gb", "Ebm", "A#", "Cb", "C#", "G#", "Abm"}) keys.emplace_back(k);
  const std::array<const char*, 12> roots = {"C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"};
  for (const auto& key : keys) {
    for (int shift = 1; shift < 12; ++shift) {
      for (int r = 0; r < 12; ++r) {
        for (const char* q : {"", "m", "dim7", "7"}) {
          for (int b = 0; b < 12; ++b) {
            std::string chord = std::string(roots[static_cast<std::size_t>(r)]) + q + "/" + roots[static_cast<std::size_t>(b)];
            std::string out = transpose_chord(chord, shift, parse_key(key));
            SCOPED_TRACE(key + ": " + chord + " +" + std::to_string(shift) + " = " + out);
            for (const char* bad : {"bb", "##", "Cb", "Fb", "E#", "B#", "#b", "b#"}) EXPECT_EQ(out.find(bad), std::string::npos);
            auto slash = out.find('/');
            ASSERT_NE(slash, std::string::npos);
            EXPECT_EQ(pc_of(out), (r + shift) % 12);
            EXPECT_EQ(pc_of(out.substr(slash + 1)), (b + shift) % 12);
            EXPECT_NE(out.find(q), std::string::npos);
          }
        }
      }
    }
  }
}
