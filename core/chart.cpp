#include "core/chart.hpp"

#include <algorithm>
#include <array>
#include <cstddef>

#include "core/text.hpp"

namespace downbeat::core::chart {

namespace {

constexpr std::size_t max_issues = 100;

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

std::string_view trim_end(std::string_view s) {
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

int mod12(int n) { return ((n % 12) + 12) % 12; }

// Splits `text` into lines on '\n' (a trailing '\r' is dropped by the callers' trim).
std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  std::size_t start = 0;
  while (true) {
    std::size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) {
      if (start < text.size() || lines.empty()) lines.push_back(text.substr(start));  // no line after a final '\n'
      break;
    }
    lines.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return lines;
}

// `line` with every byte that is not part of a well-formed UTF-8 sequence replaced by U+FFFD.
std::string repair_utf8(std::string_view line) {
  std::string out;
  std::size_t i = 0;
  while (i < line.size()) {
    bool ok = false;
    for (std::size_t n = 1; n <= 4 && i + n <= line.size(); ++n) {
      if (valid_utf8(line.substr(i, n))) {
        out.append(line.substr(i, n));
        i += n;
        ok = true;
        break;
      }
    }
    if (!ok) {
      out.append("\xEF\xBF\xBD");
      ++i;
    }
  }
  return out;
}

// ---- Notes and chords ------------------------------------------------------------------------

constexpr std::array<const char*, 12> sharp_names = {"C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"};
constexpr std::array<const char*, 12> flat_names = {"C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B"};
// C major / A minor have no accidentals of their own: the chromatic chords players expect there.
constexpr std::array<const char*, 12> natural_names = {"C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"};
constexpr std::array<const char*, 12> degree_names = {"1", "b2", "2", "b3", "3", "4", "#4", "5", "b6", "6", "b7", "7"};

struct Note {
  int pc = 0;
  int accidental = 0;  // −1 flat, 0 natural, +1 sharp (as written)
  std::size_t length = 0;
};

// A note name at the start of `s`: A–G and one optional accidental (# b ♯ ♭).
std::optional<Note> parse_note(std::string_view s) {
  if (s.empty()) return std::nullopt;
  static constexpr std::array<int, 7> base = {9, 11, 0, 2, 4, 5, 7};  // A B C D E F G
  if (s[0] < 'A' || s[0] > 'G') return std::nullopt;
  Note n{base[static_cast<std::size_t>(s[0] - 'A')], 0, 1};
  std::string_view rest = s.substr(1);
  if (rest.starts_with("#")) {
    n.accidental = 1, n.length = 2;
  } else if (rest.starts_with("b")) {
    n.accidental = -1, n.length = 2;
  } else if (rest.starts_with("\xE2\x99\xAF")) {  // ♯
    n.accidental = 1, n.length = 4;
  } else if (rest.starts_with("\xE2\x99\xAD")) {  // ♭
    n.accidental = -1, n.length = 4;
  }
  n.pc = mod12(n.pc + n.accidental);
  return n;
}

// The words a chord quality is made of ("m7b5", "maj7", "sus4", "add9", "6/9", "7(#11)", "°", "ø" …).
constexpr std::array<std::string_view, 32> quality_tokens = {
    "major", "minor", "maj", "Maj", "MAJ", "min", "mi", "ma", "sus", "add", "aug", "dim", "alt", "omit", "no", "M",
    "m", "-", "+", "\xC2\xB0" /* ° */, "\xC3\xB8" /* ø */, "\xC3\x98" /* Ø */, "\xCE\x94" /* Δ */, "^", "o", "(", ")",
    ",", "#", "b", "\xE2\x99\xAF" /* ♯ */, "\xE2\x99\xAD" /* ♭ */};

bool is_digit(char c) { return c >= '0' && c <= '9'; }

struct ChordParts {
  Note root;
  std::string_view quality;
  std::optional<Note> bass;
};

std::optional<ChordParts> parse_chord(std::string_view s) {
  auto root = parse_note(s);
  if (!root) return std::nullopt;
  std::size_t i = root->length;
  std::size_t q0 = i;
  while (i < s.size()) {
    char c = s[i];
    if (is_digit(c)) {
      ++i;
      continue;
    }
    if (c == '/') {
      if (i + 1 < s.size() && is_digit(s[i + 1])) {  // 6/9
        i += 2;
        continue;
      }
      break;
    }
    std::size_t best = 0;
    for (std::string_view t : quality_tokens)
      if (t.size() > best && s.substr(i).starts_with(t)) best = t.size();
    if (best == 0) return std::nullopt;
    i += best;
  }
  ChordParts out{*root, s.substr(q0, i - q0), std::nullopt};
  if (i < s.size()) {  // '/' and a bass note, and nothing after it
    auto bass = parse_note(s.substr(i + 1));
    if (!bass || i + 1 + bass->length != s.size()) return std::nullopt;
    out.bass = bass;
  }
  return out;
}

bool quality_is_minor(std::string_view q) {
  if (q.starts_with("maj") || q.starts_with("ma") || q.starts_with("Maj") || q.starts_with("MAJ") || q.starts_with("M"))
    return false;
  return q.starts_with("m") || q.starts_with("-");
}

const std::array<const char*, 12>& names_for(std::optional<Key> key) {
  if (!key) return natural_names;
  bool natural = key->root == (key->minor ? 9 : 0);
  if (natural && !key->flats) return natural_names;
  return key_uses_flats(*key) ? flat_names : sharp_names;
}

// The root of a key or chord as written, in ASCII ("E♭" → "Eb").
std::string written_note(const Note& n, char letter) {
  std::string out(1, letter);
  if (n.accidental > 0) out += '#';
  if (n.accidental < 0) out += 'b';
  return out;
}

// Applies `f` to the chord inside optional parentheses ("(G)" → "(" + f("G") + ")").
template <class F>
std::string with_parens(std::string_view chord, F f) {
  if (chord.size() > 2 && chord.front() == '(' && chord.back() == ')')
    return "(" + f(chord.substr(1, chord.size() - 2)) + ")";
  return f(chord);
}

// Moves every whitespace-separated token of `text` that is a chord (grid lines: "| G . . | D/F# |").
template <class F>
std::string map_tokens(std::string_view text, F f) {
  std::string out;
  std::size_t i = 0;
  while (i < text.size()) {
    if (is_space(text[i])) {
      out += text[i++];
      continue;
    }
    std::size_t j = i;
    while (j < text.size() && !is_space(text[j])) ++j;
    out += f(text.substr(i, j - i));
    i = j;
  }
  return out;
}

// ---- Directives ------------------------------------------------------------------------------

std::string long_name(const std::string& n) {
  static const std::array<std::pair<std::string_view, std::string_view>, 23> aliases = {{
      {"t", "title"},
      {"st", "subtitle"},
      {"c", "comment"},
      {"ci", "comment_italic"},
      {"cb", "comment_box"},
      {"soc", "start_of_chorus"},
      {"eoc", "end_of_chorus"},
      {"sov", "start_of_verse"},
      {"eov", "end_of_verse"},
      {"sob", "start_of_bridge"},
      {"eob", "end_of_bridge"},
      {"sot", "start_of_tab"},
      {"eot", "end_of_tab"},
      {"sog", "start_of_grid"},
      {"eog", "end_of_grid"},
      {"ns", "new_song"},
      {"np", "new_page"},
      {"npp", "new_physical_page"},
      {"colb", "column_break"},
      {"col", "columns"},
      {"g", "grid"},
      {"ng", "no_grid"},
      {"highlight", "comment"},
  }};
  for (auto [s, l] : aliases)
    if (n == s) return std::string(l);
  return n;
}

bool is_meta_name(std::string_view n) {
  static constexpr std::array<std::string_view, 15> names = {
      "title", "subtitle", "artist", "composer", "lyricist", "copyright", "album", "year",
      "key",   "time",     "tempo",  "duration", "capo",     "arranger",  "sorttitle"};
  return std::find(names.begin(), names.end(), n) != names.end();
}

std::string default_section_name(std::string_view kind) {
  if (kind.empty()) return "Section";
  std::string out(kind);
  for (char& c : out)
    if (c == '_') c = ' ';
  if (out[0] >= 'a' && out[0] <= 'z') out[0] = static_cast<char>(out[0] - 'a' + 'A');
  return out;
}

// The section a comment like "Verse 2" or "Pre-Chorus" starts, if it names one.
std::optional<std::string> comment_section_kind(std::string_view value) {
  static constexpr std::array<std::string_view, 16> words = {
      "intro",  "verse",        "pre-chorus", "prechorus", "pre chorus", "chorus", "refrain", "bridge",
      "tag",    "instrumental", "interlude",  "outro",     "ending",     "solo",   "coda",    "turnaround"};
  std::string v = lower(value);
  for (std::string_view w : words) {
    if (!std::string_view(v).starts_with(w)) continue;
    if (v.size() > w.size()) {
      char next = v[w.size()];
      if ((next >= 'a' && next <= 'z')) continue;
    }
    std::string kind(w);
    if (kind == "pre chorus" || kind == "prechorus") kind = "pre-chorus";
    if (kind == "refrain") kind = "chorus";
    return kind;
  }
  return std::nullopt;
}

class Parser {
 public:
  Chart run(std::string_view text) {
    auto lines = split_lines(text);
    for (std::size_t i = 0; i < lines.size(); ++i) line(static_cast<int>(i + 1), lines[i]);
    push();
    return std::move(out_);
  }

 private:
  void issue(int line, std::string message) {
    if (out_.issues.size() < max_issues) out_.issues.push_back({line, std::move(message)});
  }

  void push() {
    while (!cur_.lines.empty() && cur_.lines.back().kind == Line::Kind::blank) cur_.lines.pop_back();
    bool content = std::any_of(cur_.lines.begin(), cur_.lines.end(),
                               [](const Line& l) { return l.kind != Line::Kind::blank; });
    if (content || cur_.name) {
      if (cur_.kind == "chorus") last_chorus_ = cur_.lines;
      out_.sections.push_back(std::move(cur_));
    }
    cur_ = Section{std::nullopt, "none", {}};
  }

  void set_meta(const std::string& name, std::string value) {
    for (auto& [k, v] : out_.meta)
      if (k == name) {
        v = value;
        return;
      }
    out_.meta.emplace_back(name, std::move(value));
  }

  void line(int number, std::string_view raw) {
    std::string repaired;
    if (!valid_utf8(raw)) {
      repaired = repair_utf8(raw);
      raw = repaired;
      if (!utf8_reported_) {
        utf8_reported_ = true;
        issue(number, "Line " + std::to_string(number) +
                          " is not valid UTF-8 (shown with \xEF\xBF\xBD); save the file as UTF-8 and import it again.");
      }
    }
    std::string_view l = trim_end(raw);
    std::string_view t = trim(l);
    if (t.empty()) {
      cur_.lines.push_back(Line{});
      return;
    }
    if (t.front() == '{') {
      std::size_t close = t.find('}');
      if (close == std::string_view::npos) {
        issue(number, "Line " + std::to_string(number) +
                          ": '{' is not closed, so the line is shown as text; end the directive with '}'.");
      } else if (close == t.size() - 1) {
        directive(t.substr(1, close - 1));
        return;
      }
    } else if (t.front() == '#' && cur_.kind != "tab") {
      return;  // a ChordPro file comment: not shown
    }
    if (cur_.kind == "tab") {
      Line ln{Line::Kind::lyrics, {Segment{std::nullopt, std::string(l)}}, {}, {}, {}};
      cur_.lines.push_back(std::move(ln));
      return;
    }
    lyrics(number, l);
  }

  void lyrics(int number, std::string_view l) {
    Line ln;
    ln.kind = Line::Kind::lyrics;
    std::optional<std::string> chord;
    std::string text;
    std::size_t i = 0;
    while (i < l.size()) {
      if (l[i] != '[') {
        text += l[i++];
        continue;
      }
      std::size_t close = l.find(']', i + 1);
      if (close == std::string_view::npos) {
        issue(number, "Line " + std::to_string(number) +
                          ": '[' is not closed, so the rest of the line is shown as text; end the chord with ']'.");
        text.append(l.substr(i));
        break;
      }
      std::string_view name = trim(l.substr(i + 1, close - i - 1));
      i = close + 1;
      if (name.empty()) continue;  // "[]" carries nothing
      if (chord || !text.empty()) ln.segments.push_back(Segment{std::move(chord), std::move(text)});
      chord = std::string(name);
      text.clear();
    }
    if (chord || !text.empty()) ln.segments.push_back(Segment{std::move(chord), std::move(text)});
    if (ln.segments.empty()) ln.kind = Line::Kind::blank;
    cur_.lines.push_back(std::move(ln));
  }

  void directive(std::string_view body) {
    body = trim(body);
    std::size_t end = 0;
    while (end < body.size() && body[end] != ':' && !is_space(body[end])) ++end;
    std::string written = lower(body.substr(0, end));
    std::string value(trim(end < body.size() ? body.substr(end + 1) : std::string_view{}));
    std::string name = long_name(written);

    if (name.starts_with("start_of_")) {
      push();
      std::string kind = name.substr(9);
      cur_ = Section{value.empty() ? default_section_name(kind) : value, kind, {}};
      return;
    }
    if (name.starts_with("end_of_")) {
      push();
      return;
    }
    if (name == "comment" || name == "comment_italic" || name == "comment_box") {
      if (auto kind = comment_section_kind(value)) {
        push();
        cur_ = Section{value, *kind, {}};
      } else {
        Line ln;
        ln.kind = Line::Kind::comment;
        ln.text = value;
        cur_.lines.push_back(std::move(ln));
      }
      return;
    }
    if (name == "chorus") {  // recall the last chorus
      push();
      cur_ = Section{value.empty() ? std::string("Chorus") : value, "chorus", last_chorus_};
      push();
      return;
    }
    if (name == "meta") {
      std::string_view v = value;
      std::size_t sp = 0;
      while (sp < v.size() && !is_space(v[sp])) ++sp;
      std::string key = lower(v.substr(0, sp));
      if (!key.empty()) meta(long_name(key), std::string(trim(v.substr(sp))));
      return;
    }
    if (is_meta_name(name)) {
      meta(name, value);
      return;
    }
    // Unknown or formatting directive: kept where it stands, and in meta.
    set_meta(name, value);
    Line ln;
    ln.kind = Line::Kind::directive;
    ln.name = name;
    ln.value = value;
    cur_.lines.push_back(std::move(ln));
  }

  void meta(const std::string& name, std::string value) {
    if (name == "title") out_.title = value;
    if (name == "subtitle") out_.subtitle = value;
    if (name == "artist") out_.artist = value;
    if (name == "key") out_.key = value;
    if (name == "tempo") out_.tempo = value;
    if (name == "time") out_.time = value;
    set_meta(name, std::move(value));
  }

  Chart out_;
  Section cur_{std::nullopt, "none", {}};
  std::vector<Line> last_chorus_;
  bool utf8_reported_ = false;
};

int clamp(int v, int lo, int hi) { return std::min(hi, std::max(lo, v)); }

Key shifted(Key k, int semitones) {
  Key out{mod12(k.root + semitones), k.minor, std::nullopt};
  if (mod12(semitones) == 0) out.flats = k.flats;
  return out;
}

struct ResolvedKeys {
  std::optional<Key> song, reader, shapes;
  int semitones = 0;
};

ResolvedKeys resolve(const View& view, const std::optional<std::string>& inferred) {
  ResolvedKeys r;
  r.song = view.song_key ? parse_key(*view.song_key) : std::nullopt;
  if (!r.song && inferred) r.song = parse_key(*inferred);
  std::optional<Key> play = view.play_key ? parse_key(*view.play_key) : std::nullopt;
  if (!play) play = r.song;
  if (!r.song) r.song = play;
  int offset = pitch_offset(view.pitch) + clamp(view.transpose, -11, 11);
  int capo = clamp(view.capo, 0, 7);
  int interval = play && r.song ? play->root - r.song->root : 0;
  r.semitones = mod12(interval + offset - capo);
  if (play) {
    r.reader = shifted(*play, offset);
    r.shapes = shifted(*r.reader, -capo);
  }
  return r;
}

}  // namespace

const std::string* Chart::meta_value(std::string_view name) const {
  for (const auto& [k, v] : meta)
    if (k == name) return &v;
  return nullptr;
}

Chart parse(std::string_view text) { return Parser{}.run(text); }

std::vector<std::string> section_names(const Chart& chart) {
  std::vector<std::string> names;
  for (const auto& s : chart.sections)
    if (s.name && std::find(names.begin(), names.end(), *s.name) == names.end()) names.push_back(*s.name);
  return names;
}

std::optional<int> check_utf8(std::string_view text) {
  if (valid_utf8(text)) return std::nullopt;
  auto lines = split_lines(text);
  for (std::size_t i = 0; i < lines.size(); ++i)
    if (!valid_utf8(lines[i])) return static_cast<int>(i + 1);
  return std::nullopt;  // not reached: a bad sequence never spans a '\n'
}

std::optional<Key> parse_key(std::string_view text) {
  text = trim(text);
  auto note = parse_note(text);
  if (!note) return std::nullopt;
  std::string rest = lower(trim(text.substr(note->length)));
  Key k{note->pc, false, std::nullopt};
  if (note->accidental != 0) k.flats = note->accidental < 0;
  if (rest.empty() || rest == "maj" || rest == "major" || rest == "dur") return k;
  // "M" alone is major, "m" minor: compare the original case.
  std::string_view orig = trim(text.substr(note->length));
  if (orig == "M") return k;
  if (rest == "m" || rest == "min" || rest == "minor" || rest == "-" || rest == "moll") {
    k.minor = true;
    return k;
  }
  return std::nullopt;
}

bool key_uses_flats(Key key) {
  if (key.flats) return *key.flats;
  // Relative major: F Bb Eb Ab Db are written with flats; C, G D A E B F# with sharps.
  int major = key.minor ? mod12(key.root + 3) : key.root;
  return major == 5 || major == 10 || major == 3 || major == 8 || major == 1;
}

std::string key_name(Key key) {
  std::string root = key_uses_flats(key) ? flat_names[static_cast<std::size_t>(key.root)]
                                         : sharp_names[static_cast<std::size_t>(key.root)];
  return key.minor ? root + "m" : root;
}

std::optional<Pitch> parse_pitch(std::string_view text) {
  text = trim(text);
  if (text == "C") return Pitch::C;
  if (text == "Bb" || text == "B\xE2\x99\xAD") return Pitch::Bb;
  if (text == "Eb" || text == "E\xE2\x99\xAD") return Pitch::Eb;
  if (text == "F") return Pitch::F;
  return std::nullopt;
}

int pitch_offset(Pitch pitch) {
  switch (pitch) {
    case Pitch::Bb: return 2;
    case Pitch::Eb: return 9;
    case Pitch::F: return 7;
    case Pitch::C: break;
  }
  return 0;
}

Keys keys_for(const View& view, std::optional<std::string> inferred) {
  auto r = resolve(view, inferred);
  Keys k;
  k.semitones = r.semitones;
  if (r.reader) k.key = key_name(*r.reader);
  if (r.shapes) k.shapes_key = key_name(*r.shapes);
  return k;
}

std::optional<std::string> infer_key(const Chart& chart) {
  if (chart.key)
    if (auto k = parse_key(*chart.key)) return key_name(*k);
  for (const auto& s : chart.sections)
    for (const auto& l : s.lines)
      for (const auto& seg : l.segments) {
        if (!seg.chord || s.kind == "tab") continue;
        auto c = parse_chord(*seg.chord);
        if (!c) continue;
        std::string name = written_note(c->root, (*seg.chord)[0]);
        return quality_is_minor(c->quality) ? name + "m" : name;
      }
  return std::nullopt;
}

std::string transpose_chord(std::string_view chord, int semitones, std::optional<Key> target) {
  return with_parens(chord, [&](std::string_view c) {
    auto parts = parse_chord(c);
    if (!parts || mod12(semitones) == 0) return std::string(c);
    const auto& names = names_for(target);
    std::string out = names[static_cast<std::size_t>(mod12(parts->root.pc + semitones))];
    out.append(parts->quality);
    if (parts->bass) {
      out += '/';
      out += names[static_cast<std::size_t>(mod12(parts->bass->pc + semitones))];
    }
    return out;
  });
}

std::string nashville_chord(std::string_view chord, Key key) {
  return with_parens(chord, [&](std::string_view c) {
    auto parts = parse_chord(c);
    if (!parts) return std::string(c);
    std::string out = degree_names[static_cast<std::size_t>(mod12(parts->root.pc - key.root))];
    out.append(parts->quality);
    if (parts->bass) {
      out += '/';
      out += degree_names[static_cast<std::size_t>(mod12(parts->bass->pc - key.root))];
    }
    return out;
  });
}

Rendered render(const Chart& chart, const View& view) {
  auto r = resolve(view, infer_key(chart));
  Rendered out{chart, {}};
  out.keys.semitones = r.semitones;
  if (r.reader) out.keys.key = key_name(*r.reader);
  if (r.shapes) out.keys.shapes_key = key_name(*r.shapes);
  bool numbers = view.nashville && r.song;
  if (!numbers && r.semitones == 0) return out;
  auto move = [&](std::string_view c) {
    return numbers ? nashville_chord(c, *r.song) : transpose_chord(c, r.semitones, r.shapes);
  };
  for (auto& s : out.chart.sections) {
    if (s.kind == "tab") continue;
    for (auto& l : s.lines)
      for (auto& seg : l.segments) {
        if (seg.chord) seg.chord = move(*seg.chord);
        if (s.kind == "grid") seg.text = map_tokens(seg.text, move);
      }
  }
  return out;
}

}  // namespace downbeat::core::chart
