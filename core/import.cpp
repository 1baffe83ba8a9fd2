#include "core/import.hpp"

#include <expat.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <map>
#include <memory>
#include <regex>

#include "core/chart.hpp"
#include "core/text.hpp"

namespace downbeat::importer {
namespace json = boost::json;

std::string_view to_string(Format f) {
  switch (f) {
    case Format::chordpro: return "ChordPro";
    case Format::openlyrics: return "OpenLyrics";
    case Format::opensong: return "OpenSong";
    case Format::text: return "chords-over-lyrics text";
  }
  return "?";
}

namespace {

constexpr const char* kFormats =
    "Downbeat imports ChordPro (.cho, .chordpro, .pro, .crd), OpenLyrics (.xml), OpenSong and plain chords-over-lyrics text (.txt)";

// ---------------------------------------------------------------- small text helpers

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string_view rtrim(std::string_view s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Lines without their terminators: \n, \r\n and a lone \r all end a line.
std::vector<std::string_view> split_lines(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\n' || s[i] == '\r') {
      out.push_back(s.substr(start, i - start));
      if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') ++i;
      start = i + 1;
    }
  }
  if (start < s.size()) out.push_back(s.substr(start));
  return out;
}

// UTF-8 code points of `s` (valid UTF-8 only), each as its byte string.
std::vector<std::string_view> code_points(std::string_view s) {
  std::vector<std::string_view> out;
  for (std::size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    n = std::min(n, s.size() - i);
    out.push_back(s.substr(i, n));
    i += n;
  }
  return out;
}

std::size_t cp_length(std::string_view s) { return code_points(s).size(); }

std::string cp_prefix(std::string_view s, std::size_t n) {
  std::string out;
  auto cps = code_points(s);
  for (std::size_t i = 0; i < std::min(n, cps.size()); ++i) out += cps[i];
  return out;
}

std::string file_base(std::string_view filename) {
  auto slash = filename.find_last_of("/\\");
  std::string base(slash == std::string_view::npos ? filename : filename.substr(slash + 1));
  return base.empty() ? std::string("(unnamed file)") : base;
}

std::string extension(const std::string& base) {
  auto dot = base.rfind('.');
  return dot == std::string::npos || dot == 0 ? std::string() : lower(base.substr(dot + 1));
}

std::string stem(const std::string& base) {
  auto dot = base.rfind('.');
  std::string s = dot == std::string::npos || dot == 0 ? base : base.substr(0, dot);
  for (char& c : s)
    if (c == '_') c = ' ';
  return std::string(trim(s));
}

std::string kib(std::size_t bytes) { return std::to_string((bytes + 1023) / 1024); }

std::string fmt_bpm(double bpm) {
  if (std::floor(bpm) == bpm) return std::to_string(static_cast<long long>(bpm));
  std::string s = std::to_string(std::round(bpm * 100) / 100);
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

// ---------------------------------------------------------------- metadata values

// A chord symbol as the chart parser reads one: it moves when transposed (N.C. does not, and is one too).
bool is_chord(std::string_view tok) {
  if (tok.empty() || tok.size() > 20) return false;
  if (tok == "N.C." || tok == "NC" || tok == "N.C") return true;
  return chart::transpose_chord(tok, 1, std::nullopt) != tok;
}

bool valid_key(std::string_view k) {
  return k.size() <= 8 && chart::parse_key(k).has_value();
}

// ---------------------------------------------------------------- ChordPro metadata

struct ChartMeta {
  std::map<std::string, std::string> meta;  // title, subtitle, artist, key, tempo, time as the chart parser read them
  std::vector<Warning> issues;
};

struct Directive {
  std::string name;  // lower case, canonical (t -> title)
  std::string value;
};

std::string canonical_directive(std::string name) {
  name = lower(name);
  if (name == "t") return "title";
  if (name == "st") return "subtitle";
  return name;
}

// "{name: value}" / "{name value}" on a line of its own.
std::optional<Directive> directive_of(std::string_view line) {
  line = trim(line);
  if (line.size() < 2 || line.front() != '{' || line.back() != '}') return std::nullopt;
  std::string_view in = trim(line.substr(1, line.size() - 2));
  std::size_t n = 0;
  while (n < in.size() && (std::isalnum(static_cast<unsigned char>(in[n])) || in[n] == '_' || in[n] == '-')) ++n;
  if (n == 0) return std::nullopt;
  std::string_view rest = trim(in.substr(n));
  if (!rest.empty() && rest.front() == ':') rest = trim(rest.substr(1));
  return Directive{canonical_directive(std::string(in.substr(0, n))), std::string(rest)};
}

bool known_directive(const std::string& n) {
  static const char* known[] = {
      "title", "subtitle", "artist", "composer", "lyricist", "copyright", "album", "year", "key", "time", "tempo", "duration",
      "capo", "meta", "comment", "c", "comment_italic", "ci", "comment_box", "cb", "highlight", "image", "chorus", "soc", "eoc",
      "sov", "eov", "sob", "eob", "sot", "eot", "sog", "eog", "new_song", "ns", "new_page", "np", "new_physical_page", "npp",
      "column_break", "colb", "columns", "col", "pagetype", "titles", "define", "chord", "transpose", "textfont", "textsize",
      "textcolour", "textcolor", "chordfont", "chordsize", "chordcolour", "chordcolor", "tabfont", "tabsize", "tabcolour",
      "grid", "g", "no_grid", "ng", "sorttitle", "arranger", "label"};
  if (std::find(std::begin(known), std::end(known), n) != std::end(known)) return true;
  return n.starts_with("start_of_") || n.starts_with("end_of_") || n.starts_with("x_");
}

// The chart helper's parser reads the chart (metadata, unclosed brackets and braces); it keeps
// unknown directives without a word, so those are named here, line by line.
ChartMeta read_chart_meta(std::string_view src, int first_line) {
  ChartMeta out;
  chart::Chart c = chart::parse(src);
  auto put = [&](const char* name, const std::optional<std::string>& v) {
    if (v) out.meta[name] = *v;
  };
  put("title", c.title);
  put("subtitle", c.subtitle);
  put("artist", c.artist);
  put("key", c.key);
  put("tempo", c.tempo);
  put("time", c.time);
  for (const auto& issue : c.issues) {
    std::string m = issue.message;
    // "Line 5: '[' is not closed, …": the line number is said by whoever shows the warning.
    std::string prefix = "Line " + std::to_string(issue.line);
    if (m.starts_with(prefix + ": ")) m.erase(0, prefix.size() + 2);
    out.issues.push_back({issue.line + first_line - 1, m});
  }
  int n = first_line;
  bool first_key = true;
  for (auto line : split_lines(src)) {
    auto d = directive_of(line);
    if (d && !known_directive(d->name)) out.issues.push_back({n, "unknown directive {" + d->name + "}: kept as it is"});
    // The song's key is where it starts: a later {key} is a modulation (the parser keeps the last).
    if (d && d->name == "key" && first_key) {
      out.meta["key"] = d->value;
      first_key = false;
    }
    ++n;
  }
  std::stable_sort(out.issues.begin(), out.issues.end(), [](const Warning& a, const Warning& b) { return a.line < b.line; });
  return out;
}

bool is_meta_directive(const std::string& name) {
  return name == "title" || name == "artist" || name == "key" || name == "tempo" || name == "time";
}

// ---------------------------------------------------------------- finishing a song

struct Draft {
  std::string title, artist, key, tempo, time;
  std::string chordpro;
  int line = 0;  // where the song starts in the file (bundles)
};

std::string header_of(const Song& s, std::string_view key, std::optional<double> bpm) {
  std::string h = "{title: " + s.title + "}\n";
  if (!s.artist.empty()) h += "{artist: " + s.artist + "}\n";
  if (!key.empty()) h += "{key: " + std::string(key) + "}\n";
  if (bpm) h += "{tempo: " + fmt_bpm(*bpm) + "}\n";
  if (s.meter) h += "{time: " + std::to_string(s.meter->beats) + "/" + std::to_string(s.meter->unit) + "}\n";
  return h;
}

std::string one_line(std::string_view s) {
  std::string out;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\n' || c == '\r' || c == '\t') out += ' ';
    else if (u >= 0x20 && u != 0x7F) out += c;  // other control characters are not text
  }
  return std::string(trim(out));
}

// Validates and fills the fields from the metadata; a bad value is left out with a warning.
Song finish(const Draft& d, const std::string& base, std::vector<Warning>& warnings) {
  Song s;
  s.title = one_line(d.title);
  if (!core::has_visible_text(s.title)) s.title = stem(base);
  if (!core::has_visible_text(s.title)) s.title = "Untitled";
  if (cp_length(s.title) > 120) {
    warnings.push_back({d.line, "the title is longer than 120 characters: shortened"});
    s.title = cp_prefix(s.title, 120);
    if (!core::has_visible_text(s.title)) s.title = "Untitled";
  }
  s.artist = one_line(d.artist);
  if (!core::has_visible_text(s.artist)) s.artist.clear();
  if (cp_length(s.artist) > 120) {
    warnings.push_back({d.line, "the artist is longer than 120 characters: shortened"});
    s.artist = cp_prefix(s.artist, 120);
  }
  std::string key(trim(d.key));
  if (!key.empty()) {
    if (valid_key(key))
      s.key = key;
    else
      warnings.push_back({d.line, "key \"" + key + "\" is not a key like G, Bb or F#m: left out (set it in the song editor)"});
  }
  if (!trim(d.tempo).empty()) {
    s.bpm = chart::song_bpm(d.tempo);
    if (!s.bpm) warnings.push_back({d.line, "tempo \"" + std::string(trim(d.tempo)) + "\" is not a bpm between 20 and 400: left out"});
  }
  if (!trim(d.time).empty()) {
    s.meter = chart::song_meter(d.time);
    if (!s.meter) warnings.push_back({d.line, "time \"" + std::string(trim(d.time)) + "\" is not a meter like 4/4 or 6/8: left out"});
  }
  s.chordpro = d.chordpro;
  return s;
}

// Converted formats: the canonical header, a blank line, the body (the same shape the export writes).
Song finish_converted(Draft d, const std::string& base, std::vector<Warning>& warnings, const std::string& body) {
  d.chordpro.clear();
  Song s = finish(d, base, warnings);
  s.chordpro = header_of(s, s.key, s.bpm) + "\n" + body;
  return s;
}

// ---------------------------------------------------------------- ChordPro

Result import_chordpro(const std::string& base, std::string_view text, Result r) {
  r.format = Format::chordpro;
  // A bundle: songs separated by {new_song} / {ns}.
  auto lines = split_lines(text);
  std::vector<std::pair<int, std::string>> chunks{{1, {}}};
  for (std::size_t i = 0; i < lines.size(); ++i) {
    auto d = directive_of(lines[i]);
    if (d && (d->name == "new_song" || d->name == "ns")) {
      chunks.push_back({static_cast<int>(i) + 2, {}});
      continue;
    }
    chunks.back().second += std::string(lines[i]) + "\n";
  }
  for (auto& [line, src] : chunks) {
    // Leading and trailing blank lines belong to the separator, not the song.
    auto first = src.find_first_not_of(" \t\n");
    if (first == std::string::npos) continue;
    auto sol = src.rfind('\n', first);
    sol = sol == std::string::npos ? 0 : sol + 1;
    line += static_cast<int>(std::count(src.begin(), src.begin() + static_cast<std::ptrdiff_t>(sol), '\n'));
    src.erase(0, sol);
    while (src.ends_with("\n\n")) src.pop_back();
    ChartMeta cm = read_chart_meta(src, line);
    for (auto& w : cm.issues) r.warnings.push_back(std::move(w));
    Draft d;
    d.line = line;
    d.title = cm.meta["title"];
    d.artist = cm.meta.count("artist") ? cm.meta["artist"] : cm.meta["subtitle"];
    d.key = cm.meta["key"];
    d.tempo = cm.meta["tempo"];
    d.time = cm.meta["time"];
    d.chordpro = src;
    if (trim(d.title).empty() && chunks.size() > 1)
      r.warnings.push_back({line, "this song has no {title}: it was named after the file"});
    r.songs.push_back(finish(d, base, r.warnings));
  }
  if (r.songs.empty()) r.error = base + " has no song in it (the file is empty): nothing was imported";
  return r;
}

// ---------------------------------------------------------------- chords over lyrics

struct ChordAt {
  std::size_t col;
  std::string chord;
};

const std::regex& repeat_mark() {
  static const std::regex re(R"(^\(?[xX]\d\)?$)");  // x2, (x3)
  return re;
}

// The chord tokens of a line of only chords (bar lines and repeat marks allowed), else nullopt.
std::optional<std::vector<ChordAt>> chord_line(std::string_view line) {
  auto cps = code_points(line);
  std::vector<ChordAt> out;
  std::size_t i = 0;
  while (i < cps.size()) {
    if (cps[i] == " " || cps[i] == "\t") {
      ++i;
      continue;
    }
    std::size_t col = i;
    std::string tok;
    while (i < cps.size() && cps[i] != " " && cps[i] != "\t") tok += cps[i++];
    if (is_chord(tok))
      out.push_back({col, tok});
    else if (tok == "|" || tok == "||" || tok == "/" || tok == "-" || tok == "%" || tok == "|:" || tok == ":|" ||
             (tok.size() <= 4 && std::regex_match(tok, repeat_mark())))
      continue;
    else
      return std::nullopt;
  }
  if (out.empty()) return std::nullopt;
  return out;
}

// "[G]Amazing [C]grace": each chord goes in front of the lyric character under which it stood.
// Without a lyric the chords keep the gaps between them: "[E]   [B]   [C#m]".
std::string merge(const std::vector<ChordAt>& chords, std::string_view lyric) {
  if (trim(lyric).empty()) {
    std::string out;
    std::size_t end = 0;
    for (const auto& c : chords) {
      if (!out.empty()) out += std::string(std::max<std::size_t>(1, c.col - std::min(c.col, end)), ' ');
      out += "[" + c.chord + "]";
      end = c.col + cp_length(c.chord);
    }
    return out;
  }
  auto cps = code_points(lyric);
  std::size_t width = cps.size();
  for (const auto& c : chords) width = std::max(width, c.col + 1);
  std::string out;
  std::size_t k = 0;
  for (std::size_t i = 0; i < width; ++i) {
    while (k < chords.size() && chords[k].col == i) out += "[" + chords[k++].chord + "]";
    if (i < cps.size())
      out += cps[i];
    else if (k < chords.size())
      out += " ";
  }
  return std::string(rtrim(out));
}

struct SectionName {
  std::string kind;  // verse | chorus | bridge
  std::string label;
};

SectionName section_for(std::string label) {
  std::string l = lower(label);
  if (l.starts_with("chorus") || l.starts_with("refrain")) return {"chorus", label};
  if (l.starts_with("bridge")) return {"bridge", label};
  return {"verse", label};
}

class Body {
 public:
  void open(const SectionName& s) {
    close();
    if (!out_.empty() && !out_.ends_with("\n\n")) out_ += "\n";
    out_ += "{start_of_" + s.kind + ": " + s.label + "}\n";
    open_ = s.kind;
    just_opened_ = true;
  }
  void close() {
    if (open_.empty()) return;
    while (out_.ends_with("\n\n")) out_.pop_back();
    out_ += "{end_of_" + open_ + "}\n";
    open_.clear();
  }
  void line(std::string_view l) {
    // No blank lines at the top, doubled, or right after a section start.
    if (l.empty() && (out_.empty() || out_.ends_with("\n\n") || just_opened_)) return;
    just_opened_ = false;
    out_ += std::string(l) + "\n";
  }
  std::string finish() {
    close();
    while (out_.ends_with("\n\n")) out_.pop_back();
    return out_;
  }

 private:
  std::string out_;
  std::string open_;
  bool just_opened_ = false;
};

// "[Verse 1]", "Chorus:", "Verse 2", "Pre-Chorus:" (a heading word alone, or any text ending in ':').
std::optional<std::string> heading_of(std::string_view line) {
  std::string_view t = trim(line);
  if (t.size() > 2 && t.front() == '[' && t.back() == ']') {
    std::string inner(trim(t.substr(1, t.size() - 2)));
    if (!inner.empty() && !is_chord(inner) && inner.find('[') == std::string::npos) return inner;
    return std::nullopt;
  }
  if (t.size() > 40) return std::nullopt;  // a heading is short (and std::regex recurses per character)
  static const std::regex re(
      R"(^((verse|chorus|refrain|bridge|pre-?chorus|intro|outro|tag|ending|interlude|instrumental|solo|coda|vamp|turnaround)(\s+\d+[a-z]?)?(\s*\(x?\d+\))?)\s*:?$)",
      std::regex::icase);
  std::match_results<std::string_view::const_iterator> m;
  if (std::regex_match(t.begin(), t.end(), m, re)) return m[1].str();
  return std::nullopt;
}

// "Key: G" -> {"key", "G"} for the metadata words of a text chart's head.
std::optional<std::pair<std::string, std::string>> meta_line(std::string_view t) {
  auto colon = t.find(':');
  if (colon == std::string_view::npos || colon > 8) return std::nullopt;
  std::string k = lower(trim(t.substr(0, colon)));
  static const char* words[] = {"title", "artist", "author", "by", "key", "tempo", "bpm", "time", "meter"};
  if (std::find(std::begin(words), std::end(words), k) == std::end(words)) return std::nullopt;
  return std::pair{k, std::string(trim(t.substr(colon + 1)))};
}

Result import_text(const std::string& base, std::string_view text, Result r) {
  r.format = Format::text;
  auto lines = split_lines(text);
  Draft d;
  d.line = 1;
  std::size_t i = 0;
  // The head: a title line and metadata lines ("Title: …", "Artist: …", "Key: G", "Tempo: 120",
  // "Time: 3/4"), up to the first blank line after them.
  auto is_meta = [](std::string_view t) { return meta_line(t).has_value(); };
  bool seen = false;
  for (; i < lines.size(); ++i) {
    std::string_view t = trim(lines[i]);
    if (t.empty()) {
      if (seen) break;
      continue;
    }
    if (auto m = meta_line(t)) {
      seen = true;
      const std::string& k = m->first;
      const std::string& v = m->second;
      if (k == "title") d.title = v;
      else if (k == "artist" || k == "author" || k == "by") d.artist = v;
      else if (k == "key") d.key = v;
      else if (k == "tempo" || k == "bpm") d.tempo = v;
      else d.time = v;
      continue;
    }
    // A first line followed by a blank or a metadata line is the title.
    bool next_ends_head = i + 1 >= lines.size() || trim(lines[i + 1]).empty() || is_meta(trim(lines[i + 1]));
    if (!seen && d.title.empty() && next_ends_head && !chord_line(t) && !heading_of(t) && i + 1 < lines.size()) {
      d.title = std::string(t);
      seen = true;
      continue;
    }
    break;
  }
  Body body;
  for (; i < lines.size(); ++i) {
    std::string_view line = rtrim(lines[i]);
    if (auto h = heading_of(line)) {
      body.open(section_for(*h));
      continue;
    }
    if (auto chords = chord_line(line)) {
      bool lyric_next = i + 1 < lines.size() && !trim(lines[i + 1]).empty() && !chord_line(lines[i + 1]) && !heading_of(lines[i + 1]);
      body.line(merge(*chords, lyric_next ? rtrim(lines[++i]) : std::string_view()));
      continue;
    }
    body.line(line);
  }
  std::string out = body.finish();
  if (trim(out).empty() && d.title.empty()) {
    r.error = base + " has no song in it (the file is empty): nothing was imported";
    return r;
  }
  r.songs.push_back(finish_converted(d, base, r.warnings, out));
  return r;
}

// ---------------------------------------------------------------- XML (expat) into a small tree

struct Node {
  std::string ns;    // namespace URI ("" when none)
  std::string name;  // local name
  std::map<std::string, std::string> attrs;
  int line = 0;
  struct Child {
    std::unique_ptr<Node> el;
    std::string text;
  };
  std::vector<Child> kids;
  const Node* child(std::string_view n) const {
    for (const auto& k : kids)
      if (k.el && k.el->name == n) return k.el.get();
    return nullptr;
  }
  std::string text() const {
    std::string out;
    for (const auto& k : kids) out += k.el ? k.el->text() : k.text;
    return out;
  }
  std::string attr(const std::string& n) const {
    auto it = attrs.find(n);
    return it == attrs.end() ? std::string() : it->second;
  }
};

constexpr char kNsSep = '\x01';
constexpr int kMaxDepth = 200;

struct XmlBuild {
  XML_Parser parser = nullptr;
  std::unique_ptr<Node> root;
  std::vector<Node*> stack;
  std::string error;
  int error_line = 0;
};

void split_name(const char* full, std::string& ns, std::string& local) {
  std::string_view s(full);
  auto sep = s.find(kNsSep);
  if (sep == std::string_view::npos) {
    ns.clear();
    local = s;
  } else {
    ns = s.substr(0, sep);
    local = s.substr(sep + 1);
  }
}

void XMLCALL on_start(void* ud, const XML_Char* name, const XML_Char** atts) {
  auto* b = static_cast<XmlBuild*>(ud);
  if (static_cast<int>(b->stack.size()) >= kMaxDepth) {
    b->error = "elements are nested more than " + std::to_string(kMaxDepth) + " deep";
    b->error_line = static_cast<int>(XML_GetCurrentLineNumber(b->parser));
    XML_StopParser(b->parser, XML_FALSE);
    return;
  }
  auto node = std::make_unique<Node>();
  split_name(name, node->ns, node->name);
  node->line = static_cast<int>(XML_GetCurrentLineNumber(b->parser));
  for (int i = 0; atts[i] && atts[i + 1]; i += 2) {
    std::string ans, local;
    split_name(atts[i], ans, local);
    node->attrs[local] = atts[i + 1];
  }
  Node* raw = node.get();
  if (b->stack.empty())
    b->root = std::move(node);
  else
    b->stack.back()->kids.push_back({std::move(node), {}});
  b->stack.push_back(raw);
}

void XMLCALL on_end(void* ud, const XML_Char*) {
  auto* b = static_cast<XmlBuild*>(ud);
  if (!b->stack.empty()) b->stack.pop_back();
}

void XMLCALL on_text(void* ud, const XML_Char* s, int len) {
  auto* b = static_cast<XmlBuild*>(ud);
  if (b->stack.empty()) return;
  auto& kids = b->stack.back()->kids;
  if (kids.empty() || kids.back().el) kids.push_back({nullptr, {}});
  kids.back().text.append(s, static_cast<std::size_t>(len));
}

void XMLCALL on_doctype(void* ud, const XML_Char*, const XML_Char*, const XML_Char*, int) {
  auto* b = static_cast<XmlBuild*>(ud);
  b->error = "has a DOCTYPE declaration, which song files do not need (it is refused: it could pull in other files)";
  b->error_line = static_cast<int>(XML_GetCurrentLineNumber(b->parser));
  XML_StopParser(b->parser, XML_FALSE);
}

// The tree, or an error sentence with its line.
std::unique_ptr<Node> parse_xml(std::string_view text, std::string& error, int& error_line) {
  XmlBuild b;
  // Forced UTF-8: the bytes were checked to be UTF-8 whatever the declaration says.
  std::unique_ptr<std::remove_pointer_t<XML_Parser>, void (*)(XML_Parser)> p(XML_ParserCreateNS("UTF-8", kNsSep), XML_ParserFree);
  if (!p) {
    error = "could not be read (out of memory)";
    return nullptr;
  }
  b.parser = p.get();
  XML_SetUserData(p.get(), &b);
  XML_SetElementHandler(p.get(), on_start, on_end);
  XML_SetCharacterDataHandler(p.get(), on_text);
  XML_SetStartDoctypeDeclHandler(p.get(), on_doctype);
  XML_SetParamEntityParsing(p.get(), XML_PARAM_ENTITY_PARSING_NEVER);
  if (XML_Parse(p.get(), text.data(), static_cast<int>(text.size()), XML_TRUE) == XML_STATUS_ERROR) {
    if (b.error.empty()) {
      b.error = std::string("is not well-formed XML (") + XML_ErrorString(XML_GetErrorCode(p.get())) + ")";
      b.error_line = static_cast<int>(XML_GetCurrentLineNumber(p.get()));
    }
    error = b.error;
    error_line = b.error_line;
    return nullptr;
  }
  return std::move(b.root);
}

// ---------------------------------------------------------------- OpenLyrics

constexpr std::string_view kOpenLyricsNs = "http://openlyrics.info/namespace/2009/song";

// "v1" -> Verse 1, "c" -> Chorus, "b2" -> Bridge 2, "p" -> Pre-Chorus; anything else stays as written.
SectionName openlyrics_section(const std::string& name, bool instrument) {
  static const std::map<char, std::string> names{{'v', "Verse"}, {'c', "Chorus"}, {'b', "Bridge"}, {'p', "Pre-Chorus"},
                                                 {'i', "Intro"}, {'e', "Ending"}, {'o', "Other"},  {'s', "Solo"},
                                                 {'m', "Middle"}};
  std::string n = lower(name);
  std::string label = name.empty() ? std::string(instrument ? "Instrumental" : "Verse") : name;
  if (!n.empty()) {
    auto it = names.find(n[0]);
    bool rest_ok = std::all_of(n.begin() + 1, n.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)); });
    if (it != names.end() && rest_ok && (n.size() == 1 || std::isdigit(static_cast<unsigned char>(n[1])) || n.size() == 2)) {
      label = it->second;
      if (n.size() > 1) label += " " + name.substr(1);
    }
  }
  return section_for(label);
}

std::string openlyrics_chord(const Node& c, std::vector<Warning>& w) {
  if (auto name = c.attr("name"); !name.empty()) return name;  // 0.8
  std::string root = c.attr("root");
  if (root.empty()) {
    w.push_back({c.line, "a <chord> without name or root: left out"});
    return {};
  }
  static const std::map<std::string, std::string> shorthand{
      {"major", ""},        {"power", "5"},       {"min", "m"},        {"aug", "aug"},       {"dim", "dim"},
      {"dom7", "7"},        {"maj7", "maj7"},     {"min7", "m7"},      {"dim7", "dim7"},     {"halfdim7", "m7b5"},
      {"minmaj7", "m(maj7)"}, {"augmaj7", "+maj7"}, {"aug7", "7#5"},    {"maj6", "6"},        {"maj6b", "6b"},
      {"min6", "m6"},       {"min6b", "mb6"},     {"dom9", "9"},       {"dom9b", "7b9"},     {"maj9", "maj9"},
      {"min9", "m9"},       {"minmaj9", "m(maj9)"}, {"aug9", "9#5"},    {"halfdim9", "m9b5"}, {"sus4", "sus4"},
      {"sus2", "sus2"},     {"add9", "add9"},     {"3-5", ""},         {"m3-5", "m"},        {"3-5-7", "maj7"},
      {"3-5-m7", "7"},      {"m3-5-m7", "m7"}};
  std::string structure = c.attr("structure");
  std::string out = root;
  if (auto it = shorthand.find(structure); it != shorthand.end()) {
    out += it->second;
  } else if (!structure.empty()) {
    w.push_back({c.line, "chord structure \"" + structure + "\" (a chord formula) is not known: kept as " + root + "; check the chord"});
  }
  if (auto bass = c.attr("bass"); !bass.empty()) out += "/" + bass;
  return out;
}

struct LyricWriter {
  Body& body;
  std::string line;
  bool space = false;  // white space seen since the last visible text
  void text(std::string_view s) {
    for (char ch : s) {
      if (ch == ' ' || ch == '\n' || ch == '\r' || ch == '\t') {
        space = true;
        continue;
      }
      if (space && !line.empty()) line += ' ';
      space = false;
      line += ch;
    }
  }
  void chord(const std::string& c) {
    if (c.empty()) return;
    if (space && !line.empty()) line += ' ';
    space = false;
    line += "[" + c + "]";
  }
  void br() {
    body.line(rtrim(line));
    line.clear();
    space = false;
  }
  void flush() {
    if (!trim(line).empty()) br();
    line.clear();
    space = false;
  }
};

void walk_lines(const Node& n, LyricWriter& out, const std::string& base, std::vector<Warning>& w, std::map<std::string, bool>& told) {
  for (const auto& k : n.kids) {
    if (!k.el) {
      out.text(k.text);
      continue;
    }
    const Node& e = *k.el;
    if (e.name == "br") {
      out.br();
    } else if (e.name == "chord") {
      out.chord(openlyrics_chord(e, w));
      walk_lines(e, out, base, w, told);
    } else if (e.name == "comment") {
      out.flush();
      out.body.line("{comment: " + one_line(e.text()) + "}");
    } else if (e.name == "tag" || e.name == "beat") {
      walk_lines(e, out, base, w, told);
    } else {
      if (!told[e.name]) w.push_back({e.line, "unknown element <" + e.name + "> in the lyrics: its text was kept"});
      told[e.name] = true;
      walk_lines(e, out, base, w, told);
    }
  }
}

Result import_openlyrics(const std::string& base, const Node& song, Result r) {
  r.format = Format::openlyrics;
  Draft d;
  d.line = song.line;
  std::map<std::string, bool> told;
  static const std::vector<std::string> known_props{"titles", "authors", "copyright", "ccliNo", "released", "transposition",
                                                    "tempo", "key", "variant", "publisher", "keywords", "verseOrder",
                                                    "songbooks", "themes", "comments", "timeSignature", "version"};
  for (const auto& k : song.kids) {
    if (!k.el) continue;
    const Node& e = *k.el;
    if (e.name == "properties") {
      for (const auto& pk : e.kids) {
        if (!pk.el) continue;
        const Node& p = *pk.el;
        if (p.name == "titles") {
          if (const Node* t = p.child("title")) d.title = t->text();
        } else if (p.name == "authors") {
          for (const auto& a : p.kids)
            if (a.el && a.el->name == "author" && a.el->attr("type") != "translation") {
              std::string name = one_line(a.el->text());
              if (name.empty() || d.artist.find(name) != std::string::npos) continue;
              d.artist += (d.artist.empty() ? "" : ", ") + name;
            }
        } else if (p.name == "key") {
          d.key = one_line(p.text());
        } else if (p.name == "tempo") {
          d.tempo = one_line(p.text());
          if (p.attr("type") == "text") {
            r.warnings.push_back({p.line, "tempo \"" + d.tempo + "\" is a word, not a bpm: left out"});
            d.tempo.clear();
          }
        } else if (p.name == "timeSignature") {
          d.time = one_line(p.text());
        } else if (std::find(known_props.begin(), known_props.end(), p.name) == known_props.end()) {
          r.warnings.push_back({p.line, "unknown element <" + p.name + "> in the properties: left out"});
        }
      }
    } else if (e.name == "format") {
      continue;  // display formatting for <tag>s
    } else if (e.name != "lyrics") {
      r.warnings.push_back({e.line, "unknown element <" + e.name + ">: left out"});
    }
  }
  const Node* lyrics = song.child("lyrics");
  Body body;
  std::string first_lang;
  bool told_lang = false;
  if (lyrics) {
    for (const auto& k : lyrics->kids) {
      if (!k.el) continue;
      const Node& v = *k.el;
      if (v.name != "verse" && v.name != "instrument") {
        r.warnings.push_back({v.line, "unknown element <" + v.name + "> in the lyrics: its text was kept"});
      }
      std::string lang = v.attr("lang");
      if (!lang.empty()) {
        if (first_lang.empty()) first_lang = lang;
        if (lang != first_lang) {
          if (!told_lang) r.warnings.push_back({v.line, "translations (lang=\"" + lang + "\") were left out: only " + first_lang + " is kept"});
          told_lang = true;
          continue;
        }
      }
      body.open(openlyrics_section(v.attr("name"), v.name == "instrument"));
      LyricWriter out{body, {}, false};
      for (const auto& lk : v.kids) {
        if (!lk.el) continue;
        if (lk.el->name != "lines") {
          if (!told[lk.el->name]) r.warnings.push_back({lk.el->line, "unknown element <" + lk.el->name + "> in a verse: its text was kept"});
          told[lk.el->name] = true;
        }
        walk_lines(*lk.el, out, base, r.warnings, told);
        out.flush();
      }
    }
  }
  std::string out = body.finish();
  if (trim(out).empty()) r.warnings.push_back({song.line, "the song has no lyrics (no <lyrics><verse>): only its title was imported"});
  r.songs.push_back(finish_converted(d, base, r.warnings, out));
  return r;
}

// ---------------------------------------------------------------- OpenSong

SectionName opensong_section(std::string_view marker) {
  std::string m(trim(marker));
  static const std::map<char, std::string> names{{'V', "Verse"}, {'C', "Chorus"}, {'B', "Bridge"}, {'P', "Pre-Chorus"},
                                                 {'T', "Tag"},   {'I', "Intro"},  {'E', "Ending"}, {'O', "Outro"}};
  if (!m.empty()) {
    auto it = names.find(static_cast<char>(std::toupper(static_cast<unsigned char>(m[0]))));
    bool digits = std::all_of(m.begin() + 1, m.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
    if (it != names.end() && digits) return section_for(m.size() > 1 ? it->second + " " + m.substr(1) : it->second);
  }
  return section_for(m.empty() ? std::string("Verse") : m);
}

Result import_opensong(const std::string& base, const Node& song, Result r) {
  r.format = Format::opensong;
  Draft d;
  d.line = song.line;
  if (const Node* n = song.child("title")) d.title = n->text();
  if (const Node* n = song.child("author")) d.artist = n->text();
  if (const Node* n = song.child("key")) d.key = one_line(n->text());
  if (const Node* n = song.child("tempo")) d.tempo = one_line(n->text());
  if (const Node* n = song.child("time_sig")) d.time = one_line(n->text());
  const Node* lyrics = song.child("lyrics");
  Body body;
  if (lyrics) {
    std::string text = lyrics->text();
    auto lines = split_lines(text);
    int line_no = lyrics->line;
    bool told_numbered = false;
    for (std::size_t i = 0; i < lines.size(); ++i) {
      std::string_view l = rtrim(lines[i]);
      int here = line_no + static_cast<int>(i);
      if (l.empty()) {
        body.line("");
      } else if (l.front() == '[') {
        auto close = l.find(']');
        body.open(opensong_section(l.substr(1, close == std::string_view::npos ? l.size() - 1 : close - 1)));
      } else if (l.front() == '.') {
        auto chords = chord_line(l.substr(1));
        std::string_view next = i + 1 < lines.size() ? rtrim(lines[i + 1]) : std::string_view();
        bool lyric_next = !next.empty() && (next.front() == ' ' || std::isdigit(static_cast<unsigned char>(next.front())));
        if (!chords) {
          r.warnings.push_back({here, "a chord line with something that is not a chord: kept as a comment"});
          body.line("{comment: " + std::string(trim(l.substr(1))) + "}");
          continue;
        }
        body.line(merge(*chords, lyric_next ? next.substr(1) : std::string_view()));
        if (lyric_next) ++i;
      } else if (l.front() == ';') {
        body.line("{comment: " + std::string(trim(l.substr(1))) + "}");
      } else if (l.front() == ' ') {
        body.line(l.substr(1));
      } else if (std::isdigit(static_cast<unsigned char>(l.front()))) {
        if (!told_numbered) r.warnings.push_back({here, "numbered verse lines (1, 2, …) were kept one after the other"});
        told_numbered = true;
        body.line(l.substr(1));
      } else if (l.front() == '-') {
        continue;  // page and column breaks
      } else {
        body.line(l);
      }
    }
  }
  std::string out = body.finish();
  if (trim(out).empty()) r.warnings.push_back({song.line, "the song has no <lyrics>: only its title was imported"});
  r.songs.push_back(finish_converted(d, base, r.warnings, out));
  return r;
}

// ---------------------------------------------------------------- detection

Result import_xml(const std::string& base, std::string_view text, Result r) {
  std::string err;
  int err_line = 0;
  auto root = parse_xml(text, err, err_line);
  if (!root) {
    r.error = base + (err_line > 0 ? " line " + std::to_string(err_line) : std::string()) + " " + err +
              ": fix the file or export it again from your song program";
    return r;
  }
  if (root->name == "song" && root->ns == kOpenLyricsNs) return import_openlyrics(base, *root, std::move(r));
  if (root->name == "song" && root->ns.empty()) return import_opensong(base, *root, std::move(r));
  r.error = base + " is XML but not an OpenLyrics or OpenSong song (its root element is <" + root->name +
            (root->ns.empty() ? std::string() : " xmlns=\"" + root->ns + "\"") + ">): " + kFormats;
  return r;
}

bool looks_like_chordpro(std::string_view text) {
  // A known {directive} on a line of its own, or an inline chord "[G]word".
  for (auto line : split_lines(text)) {
    if (auto d = directive_of(line); d && known_directive(d->name)) return true;
    for (auto open = line.find('['); open != std::string_view::npos; open = line.find('[', open + 1)) {
      auto inner = line.substr(open + 1, 14);
      auto close = inner.find(']');
      if (close == std::string_view::npos) continue;
      std::size_t after = open + 1 + close + 1;
      if (after < line.size() && line[after] != ' ' && line[after] != '\t' && is_chord(inner.substr(0, close))) return true;
    }
  }
  return false;
}

}  // namespace

std::string describe(std::string_view filename, const Warning& w) {
  std::string base = file_base(filename);
  return w.line > 0 ? base + " line " + std::to_string(w.line) + ": " + w.message : base + ": " + w.message;
}

Result import_file(std::string_view filename, std::string_view bytes) {
  Result r;
  std::string base = file_base(filename);
  std::string ext = extension(base);
  if (bytes.size() > kMaxFileBytes) {
    r.error = "file " + base + " is " + kib(bytes.size()) + " KiB; the limit is " + kib(kMaxFileBytes) +
              " KiB per file: is it a song? split a big collection into several files";
    return r;
  }
  static const char* binary_ext[] = {"pdf", "doc", "docx", "odt", "rtf", "png", "jpg", "jpeg", "gif", "zip", "mp3", "wav", "sib", "mscz", "musx"};
  if (std::find(std::begin(binary_ext), std::end(binary_ext), ext) != std::end(binary_ext)) {
    r.error = base + ": ." + ext + " files cannot be imported. " + kFormats + ": export the song in one of these";
    return r;
  }
  if (bytes.size() >= 2 && ((bytes[0] == '\xFF' && bytes[1] == '\xFE') || (bytes[0] == '\xFE' && bytes[1] == '\xFF'))) {
    r.error = base + " is UTF-16 text: save it as UTF-8 and import it again";
    return r;
  }
  if (bytes.starts_with("\xEF\xBB\xBF")) bytes.remove_prefix(3);
  if (auto bad = chart::check_utf8(bytes)) {
    r.error = base + " line " + std::to_string(*bad) +
              " is not UTF-8 text (the file is in another encoding, e.g. Windows-1252): save it as UTF-8 and import it again";
    return r;
  }
  if (auto nul = bytes.find('\0'); nul != std::string_view::npos) {
    auto line = std::count(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(nul), '\n') + 1;
    r.error = base + " line " + std::to_string(line) + " has a NUL byte: this is not a text file. " + kFormats;
    return r;
  }
  std::string_view head = bytes.substr(0, std::min<std::size_t>(bytes.size(), 512));
  auto first = head.find_first_not_of(" \t\r\n");
  bool xml = first != std::string_view::npos && head[first] == '<';
  if (ext == "cho" || ext == "chordpro" || ext == "chopro" || ext == "pro" || ext == "crd")
    r = xml ? import_xml(base, bytes, std::move(r)) : import_chordpro(base, bytes, std::move(r));
  else if (xml)
    r = import_xml(base, bytes, std::move(r));
  else if (looks_like_chordpro(bytes))
    r = import_chordpro(base, bytes, std::move(r));
  else
    r = import_text(base, bytes, std::move(r));
  if (r.error) return r;
  for (const auto& s : r.songs) {
    if (s.chordpro.size() > kMaxChordproBytes) {
      std::string what = r.format == Format::chordpro && r.songs.size() == 1 ? "file " + base + " is " + kib(s.chordpro.size()) + " KiB"
                                                                              : "file " + base + " makes a chart of " + kib(s.chordpro.size()) +
                                                                                    " KiB (\"" + s.title + "\")";
      r.error = what + "; the limit is " + kib(kMaxChordproBytes) + " KiB (" + std::to_string(kMaxChordproBytes) +
                " bytes) per song chart: split it into several songs";
      r.songs.clear();
      return r;
    }
  }
  return r;
}

// ---------------------------------------------------------------- export

std::string chart_body(std::string_view chordpro) {
  auto lines = split_lines(chordpro);
  std::size_t i = 0;
  while (i < lines.size()) {
    auto d = directive_of(lines[i]);
    if (trim(lines[i]).empty() || (d && is_meta_directive(d->name))) {
      ++i;
      continue;
    }
    break;
  }
  std::string out;
  for (; i < lines.size(); ++i) out += std::string(lines[i]) + "\n";
  while (out.ends_with("\n\n")) out.pop_back();
  return out;
}

std::string export_bundle(const std::vector<ExportItem>& items) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    const auto& it = items[i];
    if (i > 0) out += "\n{new_song}\n";
    std::string key = it.key.empty() ? it.song.key : it.key;
    std::optional<double> bpm = it.bpm ? it.bpm : it.song.bpm;
    out += header_of(it.song, key, bpm);
    if (!trim(it.notes).empty())
      for (auto line : split_lines(it.notes))
        if (!trim(line).empty()) out += "{comment: " + std::string(trim(line)) + "}\n";
    out += "\n" + chart_body(it.song.chordpro);
  }
  return out;
}

json::object to_create_data(const Song& s) {
  json::object o{{"title", s.title}, {"chordpro", s.chordpro}};
  if (!s.artist.empty()) o["artist"] = s.artist;
  if (!s.key.empty()) o["key"] = s.key;
  if (s.bpm) o["bpm"] = *s.bpm;
  if (s.meter) o["meter"] = json::object{{"beats", s.meter->beats}, {"unit", s.meter->unit}};
  return o;
}

Song song_from_json(const json::object& o) {
  Song s;
  auto str = [&](const char* k) {
    const auto* v = o.if_contains(k);
    return v && v->is_string() ? std::string(v->get_string()) : std::string();
  };
  s.title = str("title");
  s.artist = str("artist");
  s.key = str("key");
  s.chordpro = str("chordpro");
  if (const auto* v = o.if_contains("bpm"); v && v->is_number()) s.bpm = v->to_number<double>();
  if (const auto* v = o.if_contains("meter"); v && v->is_object()) {
    const auto& m = v->get_object();
    const auto* b = m.if_contains("beats");
    const auto* u = m.if_contains("unit");
    if (b && u && b->is_number() && u->is_number()) s.meter = Meter{static_cast<int>(b->to_number<std::int64_t>()), static_cast<int>(u->to_number<std::int64_t>())};
  }
  return s;
}

}  // namespace downbeat::importer
