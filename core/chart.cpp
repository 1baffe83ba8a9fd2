#include "core/chart.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstddef>
#include <unordered_map>
#include <unordered_set>

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

// ---- Spelling by scale degree ---------------------------------------------------------------
// A chord root is spelled with the letter of its scale degree in the target key (so B♭ in G is
// the flat third, never A♯), with at most one accidental and never C♭ F♭ E♯ B♯ (then the key's
// sharp/flat table decides). A slash bass is spelled as an interval above the chord's root
// (E/G♯, not E/A♭). Rules and examples: docs/charts.md.

constexpr std::array<int, 7> letter_pcs = {0, 2, 4, 5, 7, 9, 11};  // C D E F G A B
constexpr std::string_view letters = "CDEFGAB";

// Letter steps above the tonic for each semitone degree. Chromatic degrees in major: #1, b3, #4,
// b6, b7; in minor: b2, 3 (Picardy, V/iv), #4, 6 (Dorian), 7 (leading tone).
constexpr std::array<int, 12> major_steps = {0, 0, 1, 2, 2, 3, 3, 4, 5, 5, 6, 6};
constexpr std::array<int, 12> minor_steps = {0, 1, 1, 2, 2, 3, 3, 4, 5, 5, 6, 6};
// Letter steps above a chord root for a bass at each interval (−1: the tritone, spelled by the key).
constexpr std::array<int, 12> chord_steps = {0, 1, 1, 2, 2, 3, -1, 4, 5, 5, 6, 6};

int letter_index(char c) {
  auto i = letters.find(c);
  return i == std::string_view::npos ? 0 : static_cast<int>(i);
}

std::optional<std::string> spell_with_letter(int pc, int letter) {
  int diff = mod12(pc - letter_pcs[static_cast<std::size_t>(letter)]);
  std::string out(1, letters[static_cast<std::size_t>(letter)]);
  if (diff == 0) return out;
  if (diff == 1 && letter != 2 && letter != 6) return out + "#";   // no E#, B#
  if (diff == 11 && letter != 0 && letter != 3) return out + "b";  // no Cb, Fb
  return std::nullopt;
}

struct Spelled {
  std::string name;
  int letter = 0;
};

Spelled from_table(int pc, std::optional<Key> key) {
  std::string name = names_for(key)[static_cast<std::size_t>(pc)];
  return {name, letter_index(name[0])};
}

// Diminished chords lead up a half step, so they take the raised degree (G#° in C, not Ab°).
bool is_diminished(std::string_view q) {
  for (std::string_view p : {"dim", "\xC2\xB0", "o", "\xC3\xB8", "\xC3\x98", "m7b5", "m7-5", "mi7b5", "min7b5"})
    if (q.starts_with(p)) return true;
  return false;
}

Spelled spell_root(int pc, std::optional<Key> key, bool diminished) {
  if (!key) return from_table(pc, key);
  int degree = mod12(pc - key->root);
  int step = (key->minor ? minor_steps : major_steps)[static_cast<std::size_t>(degree)];
  if (diminished) {
    if (degree == 1) step = 0;  // #1
    if (degree == 3) step = 1;  // #2
    if (degree == 8) step = 4;  // #5
  }
  int letter = (letter_index(key_name(*key)[0]) + step) % 7;
  if (auto name = spell_with_letter(pc, letter)) return {*name, letter};
  return from_table(pc, key);
}

std::string spell_bass(int pc, const Spelled& root, int root_pc, std::optional<Key> key) {
  int step = chord_steps[static_cast<std::size_t>(mod12(pc - root_pc))];
  if (step >= 0)
    if (auto name = spell_with_letter(pc, (root.letter + step) % 7)) return *name;
  return spell_root(pc, key, false).name;
}

// The root of a key or chord as written, in ASCII ("E♭" → "Eb").
std::string written_note(const Note& n, char letter) {
  std::string out(1, letter);
  if (n.accidental > 0) out += '#';
  if (n.accidental < 0) out += 'b';
  return out;
}

// Leading extension digits as superscripts ("7" → "⁷", "6/9" → "⁶/⁹", "m7" unchanged): a
// Nashville "57" would read as fifty-seven, and "b7" is a chord on the flat seventh.
std::string superscript_extension(std::string_view q) {
  static constexpr std::array<const char*, 10> sup = {"\xE2\x81\xB0", "\xC2\xB9", "\xC2\xB2", "\xC2\xB3", "\xE2\x81\xB4",
                                                      "\xE2\x81\xB5", "\xE2\x81\xB6", "\xE2\x81\xB7", "\xE2\x81\xB8", "\xE2\x81\xB9"};
  std::string out;
  std::size_t i = 0;
  for (; i < q.size(); ++i) {
    if (is_digit(q[i]))
      out += sup[static_cast<std::size_t>(q[i] - '0')];
    else if (q[i] == '/' && i > 0 && i + 1 < q.size() && is_digit(q[i + 1]))
      out += '/';
    else
      break;
  }
  out.append(q.substr(i));
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

// A section label: `Verse 2`, or ChordPro 6's attribute form `label="Verse 2"`.
std::string section_label(std::string value) {
  std::string_view v = value;
  if (!v.starts_with("label=")) return value;
  v.remove_prefix(6);
  if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front()) v = v.substr(1, v.size() - 2);
  return std::string(trim(v));
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
    recall_budget_ = lines.size();
    for (std::size_t i = 0; i < lines.size(); ++i) line(static_cast<int>(i + 1), lines[i]);
    push();
    return std::move(out_);
  }

 private:
  // At most max_issues, except that the UTF-8 one is always kept (an import is refused on it).
  void issue(int line, std::string message, bool always = false) {
    if (always || out_.issues.size() < max_issues) out_.issues.push_back({line, std::move(message)});
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
    auto [it, added] = meta_index_.try_emplace(name, out_.meta.size());
    if (added)
      out_.meta.emplace_back(name, std::move(value));
    else
      out_.meta[it->second].second = std::move(value);
  }

  void line(int number, std::string_view raw) {
    std::string repaired;
    if (!valid_utf8(raw)) {
      repaired = repair_utf8(raw);
      raw = repaired;
      if (!utf8_reported_) {
        utf8_reported_ = true;
        issue(number, "Line " + std::to_string(number) +
                          " is not valid UTF-8 (shown with \xEF\xBF\xBD); save the file as UTF-8 and import it again.",
              true);
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
    if (name.starts_with("start_of_") || name == "chorus") value = section_label(std::move(value));

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
      cur_ = Section{value.empty() ? std::string("Chorus") : value, "chorus", {}};
      // Copies are bounded by the input's size: a file of {chorus} lines cannot grow a huge chart.
      if (last_chorus_.size() <= recall_budget_) {
        recall_budget_ -= last_chorus_.size();
        cur_.lines = last_chorus_;
      }
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
    if (name == "key" && !out_.key) out_.key = value;  // the song key; a later {key} is a modulation
    if (name == "tempo") out_.tempo = value;
    if (name == "time") out_.time = value;
    set_meta(name, std::move(value));
  }

  Chart out_;
  Section cur_{std::nullopt, "none", {}};
  std::vector<Line> last_chorus_;
  std::unordered_map<std::string, std::size_t> meta_index_;  // name → position in out_.meta
  std::size_t recall_budget_ = 0;  // lines {chorus} may still copy
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
  std::unordered_set<std::string_view> seen;
  for (const auto& s : chart.sections)
    if (s.name && seen.insert(*s.name).second) names.push_back(*s.name);
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
    int root_pc = mod12(parts->root.pc + semitones);
    Spelled root = spell_root(root_pc, target, is_diminished(parts->quality));
    std::string out = root.name;
    out.append(parts->quality);
    if (parts->bass) {
      out += '/';
      out += spell_bass(mod12(parts->bass->pc + semitones), root, root_pc, target);
    }
    return out;
  });
}

std::string nashville_chord(std::string_view chord, Key key) {
  return with_parens(chord, [&](std::string_view c) {
    auto parts = parse_chord(c);
    if (!parts) return std::string(c);
    std::string out = degree_names[static_cast<std::size_t>(mod12(parts->root.pc - key.root))];
    out.append(superscript_extension(parts->quality));
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

std::optional<double> song_bpm(std::string_view v) {
  v = trim(v);
  std::string s(v);
  // "120 bpm", "120BPM": the number first.
  std::size_t end = 0;
  while (end < s.size() && (std::isdigit(static_cast<unsigned char>(s[end])) || s[end] == '.')) ++end;
  if (end == 0) return std::nullopt;
  std::string rest(trim(std::string_view(s).substr(end)));
  for (char& c : rest) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (!rest.empty() && rest != "bpm") return std::nullopt;
  // strtod, not from_chars: the WebAssembly build's libc++ has no floating-point from_chars.
  const std::string num = s.substr(0, end);
  char* stop = nullptr;
  const double d = std::strtod(num.c_str(), &stop);
  if (stop != num.c_str() + num.size() || !std::isfinite(d) || d < 20 || d > 400) return std::nullopt;
  return d;
}

std::optional<Meter> song_meter(std::string_view v) {
  v = trim(v);
  auto slash = v.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  int beats = 0, unit = 0;
  auto a = trim(v.substr(0, slash)), b = trim(v.substr(slash + 1));
  auto r1 = std::from_chars(a.data(), a.data() + a.size(), beats);
  auto r2 = std::from_chars(b.data(), b.data() + b.size(), unit);
  if (r1.ec != std::errc() || r1.ptr != a.data() + a.size() || r2.ec != std::errc() || r2.ptr != b.data() + b.size()) return std::nullopt;
  if (beats < 1 || beats > 32 || (unit != 1 && unit != 2 && unit != 4 && unit != 8 && unit != 16)) return std::nullopt;
  return Meter{beats, unit};
}

}  // namespace downbeat::core::chart
