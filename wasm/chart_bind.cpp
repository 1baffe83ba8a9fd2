// The web app's chart functions: core/chart compiled to WebAssembly, exposed through embind.
// Every function takes and returns plain JS values in the shapes web/src/chart.ts declares
// (null for absent values, Record<string,string> for meta), so the TS wrapper adds nothing.
#include <emscripten/bind.h>
#include <emscripten/val.h>

#include <string>

#include "core/chart.hpp"

using emscripten::val;
namespace chart = downbeat::core::chart;

namespace {

val opt(const std::optional<std::string>& s) { return s ? val(*s) : val::null(); }

std::optional<std::string> opt_string(const val& v) {
  if (v.isString()) return v.as<std::string>();
  return std::nullopt;
}

int int_or(const val& v, int fallback) {
  if (!v.isNumber()) return fallback;
  double d = v.as<double>();
  if (!(d >= -1000.0 && d <= 1000.0)) return fallback;  // NaN, ±Infinity and absurd numbers
  return static_cast<int>(d);
}

chart::View to_view(const val& v) {
  chart::View view;
  if (v.isNull() || v.isUndefined()) return view;
  view.song_key = opt_string(v["songKey"]);
  view.play_key = opt_string(v["playKey"]);
  view.capo = int_or(v["capo"], 0);
  view.transpose = int_or(v["transpose"], 0);
  if (auto p = opt_string(v["pitch"]))
    if (auto pitch = chart::parse_pitch(*p)) view.pitch = *pitch;
  view.nashville = v["nashville"].isTrue();
  return view;
}

const char* line_kind(chart::Line::Kind k) {
  switch (k) {
    case chart::Line::Kind::lyrics: return "lyrics";
    case chart::Line::Kind::comment: return "comment";
    case chart::Line::Kind::directive: return "directive";
    case chart::Line::Kind::blank: break;
  }
  return "blank";
}

val to_js(const chart::Line& l) {
  val o = val::object();
  o.set("kind", val(line_kind(l.kind)));
  switch (l.kind) {
    case chart::Line::Kind::lyrics: {
      val segs = val::array();
      for (const auto& s : l.segments) {
        val seg = val::object();
        seg.set("chord", opt(s.chord));
        seg.set("text", val(s.text));
        segs.call<void>("push", seg);
      }
      o.set("segments", segs);
      break;
    }
    case chart::Line::Kind::comment: o.set("text", val(l.text)); break;
    case chart::Line::Kind::directive:
      o.set("name", val(l.name));
      o.set("value", val(l.value));
      break;
    case chart::Line::Kind::blank: break;
  }
  return o;
}

void set_body(val& o, const chart::Chart& c) {
  o.set("title", opt(c.title));
  val meta = val::object();
  for (const auto& [k, v] : c.meta) meta.set(k, val(v));
  o.set("meta", meta);
  val sections = val::array();
  for (const auto& s : c.sections) {
    val sec = val::object();
    sec.set("name", opt(s.name));
    sec.set("kind", val(s.kind));
    val lines = val::array();
    for (const auto& l : s.lines) lines.call<void>("push", to_js(l));
    sec.set("lines", lines);
    sections.call<void>("push", sec);
  }
  o.set("sections", sections);
  val issues = val::array();
  for (const auto& i : c.issues) {
    val is = val::object();
    is.set("line", val(i.line));
    is.set("message", val(i.message));
    issues.call<void>("push", is);
  }
  o.set("issues", issues);
}

// RenderedChart (web/src/chart.ts).
val render_chart(const std::string& src, const val& v) {
  auto r = chart::render(chart::parse(src), to_view(v));
  val o = val::object();
  set_body(o, r.chart);
  o.set("key", opt(r.keys.key));
  o.set("shapesKey", opt(r.keys.shapes_key));
  return o;
}

// ParsedChart: the chart as written, with the directives an importer needs.
val parse_chart(const std::string& src) {
  auto c = chart::parse(src);
  val o = val::object();
  set_body(o, c);
  o.set("subtitle", opt(c.subtitle));
  o.set("artist", opt(c.artist));
  o.set("key", opt(c.key));
  o.set("tempo", opt(c.tempo));
  o.set("time", opt(c.time));
  o.set("inferredKey", opt(chart::infer_key(c)));
  return o;
}

val section_names(const std::string& src) {
  val out = val::array();
  for (const auto& n : chart::section_names(chart::parse(src))) out.call<void>("push", val(n));
  return out;
}

val transpose_key_for(const val& v) {
  auto k = chart::keys_for(to_view(v));
  val o = val::object();
  o.set("key", opt(k.key));
  o.set("shapesKey", opt(k.shapes_key));
  return o;
}

val check_utf8_bytes(const std::string& bytes) {
  auto line = chart::check_utf8(bytes);
  return line ? val(*line) : val::null();
}

}  // namespace

EMSCRIPTEN_BINDINGS(downbeat_chart) {
  emscripten::function("renderChart", &render_chart);
  emscripten::function("parseChart", &parse_chart);
  emscripten::function("sectionNames", &section_names);
  emscripten::function("transposeKeyFor", &transpose_key_for);
  emscripten::function("checkUtf8", &check_utf8_bytes);
}
