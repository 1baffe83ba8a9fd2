#include "downbeat/auth.hpp"

#include <boost/json.hpp>

#include "downbeat/error.hpp"
#include "net.hpp"
#include "server/auth/crypto.hpp"  // base64url over OpenSSL, the one the server signs with

namespace downbeat {
namespace {

Session parse_session(const detail::HttpReply& reply) {
  if (reply.status != 200) detail::throw_http_error(reply);
  boost::system::error_code ec;
  auto parsed = boost::json::parse(reply.body, ec);
  if (ec || !parsed.is_object()) throw Error("internal", "the server's auth reply is not a JSON object");
  const auto& obj = parsed.as_object();
  Session session;
  auto str = [&](const char* key) -> std::string {
    auto* v = obj.if_contains(key);
    if (!v || !v->is_string()) throw Error("internal", std::string("the server's auth reply has no ") + key);
    return std::string(v->as_string());
  };
  session.tokens.token = str("token");
  session.tokens.refresh_token = str("refresh_token");
  if (auto* p = obj.if_contains("participant"); p && p->is_object()) session.participant = p->as_object();
  if (auto* r = obj.if_contains("room"); r && r->is_object()) session.room = r->as_object();
  return session;
}

}  // namespace

Session exchange_code(const ServerUrl& server, std::string_view code, std::string_view name, std::string_view device_id,
                      const TlsOptions& tls, std::chrono::milliseconds timeout) {
  boost::json::object body{{"code", code}, {"name", name}, {"device_id", device_id}};
  return parse_session(detail::http_post_json(server, "/auth/exchange", boost::json::serialize(body), tls, timeout));
}

Session refresh_session(const ServerUrl& server, std::string_view refresh_token, const TlsOptions& tls,
                        std::chrono::milliseconds timeout) {
  boost::json::object body{{"refresh_token", refresh_token}};
  return parse_session(detail::http_post_json(server, "/auth/refresh", boost::json::serialize(body), tls, timeout));
}

std::optional<int64_t> jwt_expiry(std::string_view jwt) {
  const auto first = jwt.find('.');
  if (first == std::string_view::npos) return std::nullopt;
  const auto second = jwt.find('.', first + 1);
  if (second == std::string_view::npos) return std::nullopt;
  auto payload = server::base64url_decode(jwt.substr(first + 1, second - first - 1));
  if (!payload) return std::nullopt;
  boost::system::error_code ec;
  auto claims = boost::json::parse(*payload, ec);
  if (ec || !claims.is_object()) return std::nullopt;
  auto* exp = claims.as_object().if_contains("exp");
  if (!exp) return std::nullopt;
  if (exp->is_int64()) return exp->as_int64();
  if (exp->is_uint64()) return static_cast<int64_t>(exp->as_uint64());
  if (exp->is_double()) return static_cast<int64_t>(exp->as_double());
  return std::nullopt;
}

}  // namespace downbeat
