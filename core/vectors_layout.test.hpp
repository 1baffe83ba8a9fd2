#pragma once
// Writes a shared vectors file (protocol/vectors/*.json) with one case key, and one row of its
// long arrays, per line, so that a regenerated file diffs line by line. Test code only.
#include <boost/json.hpp>
#include <string>

namespace downbeat::testing {

inline std::string vectors_layout(const boost::json::object& file) {
  namespace json = boost::json;
  auto rows = [](const json::array& a, const std::string& indent) {
    std::string out = "[";
    for (std::size_t i = 0; i < a.size(); ++i) out += (i ? ",\n" : "\n") + indent + "  " + json::serialize(a[i]);
    return out + (a.empty() ? "]" : "\n" + indent + "]");
  };
  std::string out = "{\n";
  std::size_t k = 0;
  for (const auto& [key, value] : file) {
    out += "  " + json::serialize(json::value(key)) + ": ";
    if (key == "cases") {
      out += "[\n";
      const json::array& cases = value.as_array();
      for (std::size_t i = 0; i < cases.size(); ++i) {
        out += "    {\n";
        const json::object& c = cases[i].as_object();
        std::size_t j = 0;
        for (const auto& [ck, cv] : c) {
          out += "      " + json::serialize(json::value(ck)) + ": ";
          out += cv.is_array() && cv.as_array().size() > 1 ? rows(cv.as_array(), "      ") : json::serialize(cv);
          out += ++j < c.size() ? ",\n" : "\n";
        }
        out += i + 1 < cases.size() ? "    },\n" : "    }\n";
      }
      out += "  ]";
    } else {
      out += json::serialize(value);
    }
    out += ++k < file.size() ? ",\n" : "\n";
  }
  return out + "}\n";
}

}  // namespace downbeat::testing
