#include "core/import.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

using namespace downbeat::importer;

namespace {

std::string data(const std::string& name) {
  std::ifstream in(std::string(DOWNBEAT_SOURCE_DIR) + "/tests/data/songs/" + name, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  EXPECT_FALSE(ss.str().empty()) << name;
  return ss.str();
}

bool has_warning(const Result& r, const std::string& part, int line = -1) {
  for (const auto& w : r.warnings)
    if (w.message.find(part) != std::string::npos && (line < 0 || w.line == line)) return true;
  return false;
}

std::string warnings_of(const Result& r) {
  std::string out;
  for (const auto& w : r.warnings) out += describe("f", w) + "\n";
  return out;
}

// Import, export the songs as a bundle, import the bundle: the same songs come back.
void expect_round_trip(const Result& first) {
  ASSERT_TRUE(first.ok()) << first.error.value_or("");
  std::vector<ExportItem> items;
  for (const auto& s : first.songs) items.push_back({s, {}, {}, {}});
  std::string bundle = export_bundle(items);
  Result again = import_file("setlist.chordpro", bundle);
  ASSERT_TRUE(again.ok()) << again.error.value_or("");
  ASSERT_EQ(again.songs.size(), first.songs.size()) << bundle;
  for (std::size_t i = 0; i < first.songs.size(); ++i) {
    const Song &a = first.songs[i], &b = again.songs[i];
    EXPECT_EQ(a.title, b.title);
    EXPECT_EQ(a.artist, b.artist);
    EXPECT_EQ(a.key, b.key);
    EXPECT_EQ(a.bpm, b.bpm);
    EXPECT_EQ(a.meter, b.meter);
    EXPECT_EQ(chart_body(a.chordpro), chart_body(b.chordpro)) << bundle;
  }
  // A second trip changes nothing at all, chart text included.
  std::vector<ExportItem> items2;
  for (const auto& s : again.songs) items2.push_back({s, {}, {}, {}});
  EXPECT_EQ(export_bundle(items2), bundle);
}

}  // namespace

TEST(ImportChordPro, PassesThroughWithMetadata) {
  std::string src = data("amazing_grace.cho");
  Result r = import_file("amazing_grace.cho", src);
  ASSERT_TRUE(r.ok()) << r.error.value_or("");
  EXPECT_EQ(r.format, Format::chordpro);
  ASSERT_EQ(r.songs.size(), 1u);
  const Song& s = r.songs[0];
  EXPECT_EQ(s.title, "Amazing Grace");
  EXPECT_EQ(s.artist, "John Newton");
  EXPECT_EQ(s.key, "G");
  EXPECT_EQ(s.bpm, 72.0);
  EXPECT_EQ(s.meter, (Meter{3, 4}));
  EXPECT_EQ(s.chordpro, src);
  EXPECT_TRUE(r.warnings.empty()) << warnings_of(r);
  expect_round_trip(r);
}

TEST(ImportChordPro, MalformedIsKeptWithWarnings) {
  std::string src = data("broken.chordpro");
  Result r = import_file("broken.chordpro", src);
  ASSERT_TRUE(r.ok()) << r.error.value_or("");
  EXPECT_EQ(r.songs[0].title, "Broken Chart");
  EXPECT_EQ(r.songs[0].key, "D");
  EXPECT_EQ(r.songs[0].chordpro, src);  // nothing dropped
  EXPECT_TRUE(has_warning(r, "unknown directive {flavour}", 3)) << warnings_of(r);
  EXPECT_TRUE(has_warning(r, "not closed", 5)) << warnings_of(r);
  EXPECT_EQ(describe("dir/broken.chordpro", r.warnings[0]), "broken.chordpro line 3: unknown directive {flavour}: kept as it is");
}

TEST(ImportChordPro, BadMetadataIsLeftOutWithAWarning) {
  Result r = import_file("x.cho", "{title: X}\n{key: H-moll}\n{tempo: fast}\n{time: 4/5}\n[C]la\n");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.songs[0].key, "");
  EXPECT_FALSE(r.songs[0].bpm);
  EXPECT_FALSE(r.songs[0].meter);
  EXPECT_TRUE(has_warning(r, "key \"H-moll\"")) << warnings_of(r);
  EXPECT_TRUE(has_warning(r, "tempo \"fast\"")) << warnings_of(r);
  EXPECT_TRUE(has_warning(r, "time \"4/5\"")) << warnings_of(r);
}

TEST(ImportChordPro, NoTitleIsNamedAfterTheFile) {
  Result r = import_file("uploads/Be_Thou_My_Vision.pro", "[D]Be thou my [G]vision\n");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.songs[0].title, "Be Thou My Vision");
}

TEST(ImportChordPro, BundleGivesEverySong) {
  Result r = import_file("set.cho", "{title: One}\n[C]a\n{new_song}\n{title: Two}\n{key: D}\n[D]b\n{ns}\n{t: Three}\n");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r.songs.size(), 3u);
  EXPECT_EQ(r.songs[1].title, "Two");
  EXPECT_EQ(r.songs[1].key, "D");
  EXPECT_EQ(r.songs[2].title, "Three");
}

TEST(ImportOpenLyrics, ChordsBreaksAndSections) {
  Result r = import_file("amazing_grace.xml", data("amazing_grace.xml"));
  ASSERT_TRUE(r.ok()) << r.error.value_or("");
  EXPECT_EQ(r.format, Format::openlyrics);
  const Song& s = r.songs[0];
  EXPECT_EQ(s.title, "Amazing Grace");
  EXPECT_EQ(s.artist, "John Newton");
  EXPECT_EQ(s.key, "G");
  EXPECT_EQ(s.bpm, 72.0);
  EXPECT_EQ(s.meter, (Meter{3, 4}));
  EXPECT_NE(s.chordpro.find("{start_of_verse: Verse 1}\nA[G]mazing [G7]grace how [C]sweet the [G]sound\n"
                            "That [G]saved a [Em]wretch like [D/F#]me\n{end_of_verse}"),
            std::string::npos)
      << s.chordpro;
  EXPECT_NE(s.chordpro.find("{start_of_chorus: Chorus}\nI [G]once was lost but now am found\n{end_of_chorus}"), std::string::npos) << s.chordpro;
  // The unknown element is reported, and its text ("now") kept.
  EXPECT_TRUE(has_warning(r, "unknown element <highlight>", 23)) << warnings_of(r);
  expect_round_trip(r);
}

TEST(ImportOpenLyrics, ChordNamesOfVersion08AndComments) {
  Result r = import_file("s.xml", R"(<song xmlns="http://openlyrics.info/namespace/2009/song" version="0.8">
<properties><titles><title>Old</title></titles></properties>
<lyrics><verse name="b"><lines><comment>slow</comment><chord name="Am7"/>Hal<chord name="F"/>le<br/>lu</lines></verse></lyrics></song>)");
  ASSERT_TRUE(r.ok()) << r.error.value_or("");
  EXPECT_NE(r.songs[0].chordpro.find("{start_of_bridge: Bridge}\n{comment: slow}\n[Am7]Hal[F]le\nlu\n{end_of_bridge}"), std::string::npos)
      << r.songs[0].chordpro;
}

TEST(ImportOpenLyrics, MalformedXmlNamesTheLine) {
  Result r = import_file("bad.xml", "<?xml version=\"1.0\"?>\n<song xmlns=\"http://openlyrics.info/namespace/2009/song\">\n<properties>\n</song>\n");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error->find("bad.xml line 4"), std::string::npos) << *r.error;
  EXPECT_NE(r.error->find("not well-formed XML"), std::string::npos) << *r.error;
}

TEST(ImportOpenLyrics, DoctypeAndOtherXmlAreRefused) {
  Result r = import_file("x.xml", "<?xml version=\"1.0\"?>\n<!DOCTYPE song [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>\n<song>&e;</song>");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error->find("DOCTYPE"), std::string::npos) << *r.error;
  Result svg = import_file("a.xml", "<svg xmlns=\"http://www.w3.org/2000/svg\"/>");
  ASSERT_FALSE(svg.ok());
  EXPECT_NE(svg.error->find("not an OpenLyrics or OpenSong song (its root element is <svg"), std::string::npos) << *svg.error;
}

TEST(ImportOpenSong, ChordLinesOverLyricLines) {
  Result r = import_file("blessed_be_opensong", data("blessed_be_opensong"));
  ASSERT_TRUE(r.ok()) << r.error.value_or("");
  EXPECT_EQ(r.format, Format::opensong);
  const Song& s = r.songs[0];
  EXPECT_EQ(s.title, "Blessed Be Your Name");
  EXPECT_EQ(s.artist, "Matt Redman");
  EXPECT_EQ(s.key, "A");
  EXPECT_EQ(s.bpm, 120.0);
  EXPECT_EQ(s.meter, (Meter{4, 4}));
  EXPECT_NE(s.chordpro.find("{start_of_verse: Verse 1}\n[A]Blessed be your [E]name\n[F#m]In the land that [D]is plentiful\n{comment: softly}\n{end_of_verse}"),
            std::string::npos)
      << s.chordpro;
  EXPECT_NE(s.chordpro.find("{start_of_chorus: Chorus}\n[A]Blessed [E]be [F#m]your [D]name\n{end_of_chorus}"), std::string::npos) << s.chordpro;
  expect_round_trip(r);
}

TEST(ImportText, ChordsOverLyricsMergeAtTheirColumns) {
  Result r = import_file("way_maker.txt", data("way_maker.txt"));
  ASSERT_TRUE(r.ok()) << r.error.value_or("");
  EXPECT_EQ(r.format, Format::text);
  const Song& s = r.songs[0];
  EXPECT_EQ(s.title, "Way Maker");
  EXPECT_EQ(s.key, "E");
  EXPECT_EQ(s.bpm, 68.0);
  EXPECT_NE(s.chordpro.find("{start_of_verse: Verse 1}\n[E]You are here, [B]moving in our midst\n[C#m]I worship You, [A]I worship You\n{end_of_verse}"),
            std::string::npos)
      << s.chordpro;
  // A chord line with no lyric under it stays a line of chords.
  EXPECT_NE(s.chordpro.find("{start_of_chorus: Chorus}\n[E]Way [B]maker, [C#m]miracle [A]worker\n[E]   [B]   [C#m]   [A]\n{end_of_chorus}"),
            std::string::npos)
      << s.chordpro;
  expect_round_trip(r);
}

TEST(ImportText, WideCharactersCountAsOneColumn) {
  Result r = import_file("x.txt", "Café\n\n  D\nÉté là\n");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.songs[0].title, "Café");
  EXPECT_NE(r.songs[0].chordpro.find("Ét[D]é là"), std::string::npos) << r.songs[0].chordpro;
}

TEST(ImportBadInput, NonUtf8NamesTheLine) {
  Result r = import_file("latin1.txt", data("latin1.txt"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(*r.error, "latin1.txt line 4 is not UTF-8 text (the file is in another encoding, e.g. Windows-1252): save it as UTF-8 and import it again");
}

TEST(ImportBadInput, TooBigFileAndTooBigChart) {
  Result big = import_file("huge.txt", std::string(300 * 1024, 'a'));
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(*big.error, "file huge.txt is 300 KiB; the limit is 256 KiB per file: is it a song? split a big collection into several files");
  std::string chart = "{title: Long}\n";
  while (chart.size() <= kMaxChordproBytes) chart += "[C]la la la la la la la la la la la la la la la\n";
  Result r = import_file("long.cho", chart);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.songs.empty());
  EXPECT_EQ(r.error->find("file long.cho is 33 KiB; the limit is 32 KiB (32768 bytes) per song chart"), 0u) << *r.error;
}

TEST(ImportBadInput, EmptyBinaryAndUtf16) {
  EXPECT_NE(import_file("e.cho", "\n\n").error->find("e.cho has no song in it"), std::string::npos);
  EXPECT_NE(import_file("s.pdf", "%PDF-1.4").error->find(".pdf files cannot be imported"), std::string::npos);
  EXPECT_NE(import_file("n.txt", std::string("ab\0cd", 5)).error->find("n.txt line 1 has a NUL byte"), std::string::npos);
  EXPECT_NE(import_file("u.txt", "\xFF\xFEh\0i\0").error->find("UTF-16"), std::string::npos);
}

TEST(Export, BundleCarriesItemKeyTempoAndNotes) {
  Song a{"One", "Band", "C", 100.0, Meter{4, 4}, "{title: One}\n{key: C}\n\n[C]la [G]la\n{key: D}\n[D]up\n"};
  Song b{"Two", "", "", std::nullopt, std::nullopt, "[Am]lo"};
  std::string out = export_bundle({{a, "D", 104.5, "Capo 2 for guitars\nlast chorus x2"}, {b, "", std::nullopt, ""}});
  EXPECT_EQ(out,
            "{title: One}\n{artist: Band}\n{key: D}\n{tempo: 104.5}\n{time: 4/4}\n{comment: Capo 2 for guitars}\n{comment: last chorus x2}\n\n"
            "[C]la [G]la\n{key: D}\n[D]up\n"
            "\n{new_song}\n{title: Two}\n\n[Am]lo\n");
  Result r = import_file("set.chordpro", out);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r.songs.size(), 2u);
  EXPECT_EQ(r.songs[0].key, "D");
  EXPECT_EQ(r.songs[0].bpm, 104.5);
  EXPECT_EQ(r.songs[1].title, "Two");
}

TEST(Export, CreateDataHasOnlyTheFieldsThatAreSet) {
  Song s{"T", "", "Bb", std::nullopt, Meter{6, 8}, "x"};
  auto o = to_create_data(s);
  EXPECT_EQ(boost::json::serialize(o), R"({"title":"T","chordpro":"x","key":"Bb","meter":{"beats":6,"unit":8}})");
  EXPECT_EQ(song_from_json(o), s);
}

TEST(ImportBadInput, HostileLinesStayLinear) {
  // One 200 KB line where a title, a heading or a chord would be (std::regex recursed per character here once).
  std::string huge(200000, 'a');
  Result title = import_file("t.txt", "Title: " + huge + "\n\nla\n");
  ASSERT_TRUE(title.ok()) << title.error.value_or("");
  EXPECT_EQ(title.songs[0].title, std::string(120, 'a'));
  EXPECT_TRUE(has_warning(title, "title is longer than 120 characters"));
  Result brackets = import_file("b.txt", std::string(200000, '[') + "]x");
  ASSERT_FALSE(brackets.ok());
  EXPECT_NE(brackets.error->find("per song chart"), std::string::npos) << *brackets.error;
  Result deep = import_file("d.xml", "<song>" + std::string(5000, '<') );
  ASSERT_FALSE(deep.ok());
  std::string nested;
  for (int i = 0; i < 300; ++i) nested += "<tag>";
  Result tags = import_file("n.xml", "<song xmlns=\"http://openlyrics.info/namespace/2009/song\"><lyrics><verse name=\"v1\"><lines>" + nested);
  ASSERT_FALSE(tags.ok());
  EXPECT_NE(tags.error->find("nested more than 200 deep"), std::string::npos) << *tags.error;
}

TEST(ImportOpenLyrics, StructuresTranslationsAndFormulas) {
  Result r = import_file("s.xml", R"(<?xml version="1.0" encoding="UTF-8"?>
<song xmlns="http://openlyrics.info/namespace/2009/song" version="0.9">
<properties><titles><title>Hosanna</title></titles><authors><author>A</author><author type="translation">T</author></authors>
<tempo type="text">moderate</tempo></properties>
<lyrics>
<verse name="p1" lang="en"><lines><chord root="C" structure="min7" bass="Bb"/>Ho<chord root="F" structure="sus4"/>san<chord root="E" structure="3-5-m7-13"/>na</lines></verse>
<verse name="p1" lang="de"><lines>Hosianna</lines></verse>
</lyrics></song>)");
  ASSERT_TRUE(r.ok()) << r.error.value_or("");
  const Song& s = r.songs[0];
  EXPECT_EQ(s.artist, "A");
  EXPECT_FALSE(s.bpm);
  EXPECT_NE(s.chordpro.find("{start_of_verse: Pre-Chorus 1}\n[Cm7/Bb]Ho[Fsus4]san[E]na\n{end_of_verse}"), std::string::npos) << s.chordpro;
  EXPECT_EQ(s.chordpro.find("Hosianna"), std::string::npos) << s.chordpro;
  EXPECT_TRUE(has_warning(r, "translations (lang=\"de\") were left out")) << warnings_of(r);
  EXPECT_TRUE(has_warning(r, "chord structure \"3-5-m7-13\"")) << warnings_of(r);
  EXPECT_TRUE(has_warning(r, "tempo \"moderate\" is a word")) << warnings_of(r);
}

TEST(ImportText, HeadingsWithColonsAndNoExtension) {
  Result r = import_file("Song", "Verse 1:\nG         D\nHere I am to worship\n\nPre-Chorus:\nla\n[Bridge]\nC\n");
  ASSERT_TRUE(r.ok()) << r.error.value_or("");
  EXPECT_EQ(r.format, Format::text);
  EXPECT_EQ(r.songs[0].title, "Song");
  EXPECT_NE(r.songs[0].chordpro.find("{start_of_verse: Verse 1}\n[G]Here I am [D]to worship\n{end_of_verse}\n\n{start_of_verse: Pre-Chorus}\nla\n{end_of_verse}\n\n"
                                     "{start_of_bridge: Bridge}\n[C]\n{end_of_bridge}"),
            std::string::npos)
      << r.songs[0].chordpro;
  // Text with inline chords is ChordPro, whatever its extension.
  EXPECT_EQ(import_file("notes.txt", "Our [G]song\n").format, Format::chordpro);
}

TEST(ImportChordPro, TheSongKeyIsTheFirstKeyNotAModulation) {
  Result r = import_file("m.cho", "{title: Up}\n{key: G}\n[G]la\n{key: A}\n[A]la\n");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.songs[0].key, "G");
}

// Found by fuzz_import_song: a first line of 120 control characters before the words shortened to
// an invisible title. Control characters are not text; the title is the words.
TEST(ImportBadInput, ControlCharactersAreNotPartOfATitle) {
  std::string file(120, '\x15');
  file += "Way Maker\nKey: E\n\n[Verse 1]\nE        B\nWay maker\n";
  Result r = import_file("song.txt", file);
  ASSERT_TRUE(r.ok()) << r.error.value_or("");
  EXPECT_EQ(r.songs.at(0).title, "Way Maker");
}
