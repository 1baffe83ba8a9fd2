#include "core/frame.hpp"

namespace downbeat::core {
namespace json = boost::json;

ParsedFrame parse_frame(std::string_view text, const Schema& schema) {
  auto fail = [](std::optional<std::string> re, ErrorCode code, std::string msg) {
    return ParsedFrame{std::nullopt, FrameError{std::move(re), code, std::move(msg)}};
  };
  if (text.size() > schema.max_frame_bytes())
    return fail(std::nullopt, ErrorCode::too_large, "frame is larger than " + std::to_string(schema.max_frame_bytes()) + " bytes");
  json::error_code ec;
  json::parse_options opts;
  opts.max_depth = 32;
  json::value v = json::parse(text, ec, {}, opts);
  if (ec) return fail(std::nullopt, ErrorCode::bad_request, "frame is not valid JSON: send one JSON object per text frame");
  if (!v.is_object()) return fail(std::nullopt, ErrorCode::bad_request, "frame must be a JSON object {\"type\",\"id\",\"data\"}");
  auto& obj = v.as_object();

  std::optional<std::string> re;
  const json::value* id = obj.if_contains("id");
  if (id && id->is_string() && !id->get_string().empty() && id->get_string().size() <= schema.max_id_length())
    re = std::string(id->get_string());

  const json::value* type = obj.if_contains("type");
  if (!type || !type->is_string() || type->get_string().empty())
    return fail(re, ErrorCode::bad_request, "frame needs a string \"type\" naming the command");
  if (!id) return fail(std::nullopt, ErrorCode::bad_request, "frame needs a string \"id\" (1-" + std::to_string(schema.max_id_length()) + " characters) so the reply can refer to it");
  if (!re) return fail(std::nullopt, ErrorCode::bad_request, "\"id\" must be a string of 1-" + std::to_string(schema.max_id_length()) + " characters");

  const CommandSpec* spec = schema.find(type->get_string());
  if (!spec) return fail(re, ErrorCode::unsupported, "unknown command type \"" + std::string(std::string_view(type->get_string()).substr(0, 64)) + "\"");

  json::value data = json::object{};
  if (const auto* d = obj.if_contains("data")) data = *d;
  for (const auto& [key, _] : obj)
    if (key != "type" && key != "id" && key != "data")
      return fail(re, ErrorCode::bad_request, "unknown top-level field \"" + std::string(key.substr(0, 64)) + "\": only type, id and data are allowed");
  if (auto err = schema.validate(*spec, data); !err.empty()) return fail(re, ErrorCode::bad_request, err);

  Command cmd{spec->type, *re, std::move(data.as_object()), spec};
  return ParsedFrame{std::move(cmd), std::nullopt};
}

}  // namespace downbeat::core
