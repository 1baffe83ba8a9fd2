// Joining by code and rotating refresh tokens (DESIGN §3, §8).
#include <spdlog/spdlog.h>

#include <algorithm>

#include "core/text.hpp"
#include "server/auth/crypto.hpp"
#include "server/clock.hpp"
#include "server/hub/hub.hpp"

namespace downbeat::server {
namespace json = boost::json;
using core::ErrorCode;

namespace {
std::size_t code_points(std::string_view s) {
  return static_cast<std::size_t>(std::count_if(s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

// People type codes from a screen: ignore case, spaces and dashes.
std::string normalize_code(std::string_view raw) {
  std::string out;
  for (char c : raw) {
    if (c == ' ' || c == '-') continue;
    out.push_back(static_cast<char>(c >= 'a' && c <= 'z' ? c - 32 : c));
  }
  return out;
}

std::optional<std::string> field(const json::value& body, std::string_view key) {
  if (!body.is_object()) return std::nullopt;
  const auto* v = body.as_object().if_contains(key);
  if (!v || !v->is_string()) return std::nullopt;
  return std::string(v->get_string());
}
}  // namespace

JoinResult Hub::issue_tokens(const core::Participant& p, RoomRuntime& rt, const std::string& family) {
  std::int64_t now_s = unix_seconds();
  Claims c{p.id, rt.room.id(), std::string(core::to_string(p.role)), random_hex(8), family, now_s, now_s + cfg_.token_ttl_s, now_s};
  std::string refresh = base64url_encode(random_bytes(32));
  storage_.insert_refresh(sha256_hex(refresh), p.id, rt.room.id(), family, unix_us() + cfg_.refresh_ttl_s * 1'000'000);
  return JoinResult{jwt_sign(c, key_), refresh, rt.room.participant_json(p), rt.room.room_json()};
}

Hub::JoinGuesses& Hub::join_guesses(const std::string& address, std::int64_t now) {
  // The brute-force defence is this address's own failed-guess budget, shared by /auth/exchange and
  // /auth/peek (peek is no faster way to guess). It is checked before the code is looked up: an
  // address that spent it waits even with the right code, or the answer would tell a guesser which
  // guess was right. Nothing else counts against it: not a right code, not another address's
  // guesses, not a malformed request, not the same wrong code sent again (a stale QR code scanned
  // twice is one guess).
  auto& guesses = join_failures_.try_emplace(address, JoinGuesses{core::TokenBucket(cfg_.join_fail_rate_per_s, cfg_.join_fail_burst), {}})
                      .first->second;
  if (int wait = guesses.budget.retry_after_s(now); wait > 0) {
    metrics_.inc("downbeat_rate_limited_total", "limit=\"join\"");
    throw HttpError{ErrorCode::rate_limited,
                    "too many wrong join codes from your address: wait " + std::to_string(wait) +
                        " s and try again with the code on the MD's screen",
                    wait};
  }
  return guesses;
}

auto Hub::resolve_code(JoinGuesses& guesses, const std::string& code, std::int64_t now) -> std::pair<JoinCode, RoomRuntime*> {
  auto wrong = [&](std::string msg) {
    auto& recent = guesses.recent_wrong;
    // Codes longer than any real one are never remembered (they would only cost memory): each counts.
    if (code.size() > 32 || std::find(recent.begin(), recent.end(), code) == recent.end()) {
      guesses.budget.try_take(now);
      if (code.size() <= 32) recent.push_back(code);
      if (recent.size() > 4) recent.erase(recent.begin());
    }
    metrics_.inc("downbeat_auth_failures_total", "reason=\"bad_code\"");
    int left = guesses.budget.tokens_left(now);
    return HttpError{ErrorCode::unauthorized,
                     msg + (left < 5 ? " (" + std::to_string(left) + " more wrong codes from this address before a wait)" : "")};
  };
  auto jc = code.size() <= 32 ? storage_.lookup_code(code) : std::nullopt;
  if (!jc) throw wrong("join code not recognised: check it, or ask the MD for a new QR code");
  RoomRuntime* rt = find_room(jc->room);
  if (!rt) throw wrong("this join code's room no longer exists: ask the MD for a new QR code");
  return {*jc, rt};
}

json::object Hub::peek(const std::string& address, const json::value& body) {
  std::int64_t now = now_us();
  auto& guesses = join_guesses(address, now);
  if (!body.is_object()) {
    metrics_.inc("downbeat_auth_failures_total", "reason=\"bad_request\"");
    throw HttpError{ErrorCode::bad_request, "send a JSON object {code}"};
  }
  auto code_raw = field(body, "code");
  if (!code_raw) {
    metrics_.inc("downbeat_auth_failures_total", "reason=\"bad_request\"");
    throw HttpError{ErrorCode::bad_request, "code is required: it is the part after /j/ in the join link"};
  }
  auto [jc, rt] = resolve_code(guesses, normalize_code(*code_raw), now);
  return json::object{{"room", json::object{{"id", rt->room.id()}, {"name", rt->room.name()}}}, {"role", core::to_string(jc.role)}};
}

JoinResult Hub::exchange(const std::string& address, const json::value& body) {
  std::int64_t now = now_us();
  auto& guesses = join_guesses(address, now);
  auto bad = [&](std::string msg) {
    metrics_.inc("downbeat_auth_failures_total", "reason=\"bad_request\"");
    return HttpError{ErrorCode::bad_request, std::move(msg)};
  };
  if (!body.is_object()) throw bad("send a JSON object {code, name, device_id}");
  auto code_raw = field(body, "code");
  if (!code_raw) throw bad("code is required: it is the part after /j/ in the join link");
  std::string code = normalize_code(*code_raw);
  auto name_raw = field(body, "name");
  if (!name_raw) throw HttpError{ErrorCode::bad_request, "name is required: type the name the band will see"};
  if (!core::valid_utf8(*name_raw)) throw HttpError{ErrorCode::bad_request, "name is not valid text (UTF-8)"};
  std::string name = core::trim_invisible(*name_raw);
  if (name.empty() || !core::has_visible_text(name))
    throw HttpError{ErrorCode::bad_request, "name must not be empty: type the name the band will see (letters, digits or emoji)"};
  if (code_points(name) > 40) throw HttpError{ErrorCode::bad_request, "name is too long: use at most 40 characters"};
  auto dev_raw = field(body, "device_id");
  std::string device = dev_raw ? *dev_raw : std::string();
  if (device.size() < 8 || device.size() > 64 ||
      !std::all_of(device.begin(), device.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_'; }))
    throw HttpError{ErrorCode::bad_request, "device_id must be 8-64 letters, digits, '-' or '_' (the app makes one for you)"};

  auto [jc, rt] = resolve_code(guesses, code, now);

  // Same phone, same room, same role: same participant (identity survives rejoining).
  const core::Participant* existing = nullptr;
  for (const auto& p : rt->room.participants())
    if (p.device_id == device && p.role == jc.role) existing = &p;
  auto take = [&](std::map<std::string, core::TokenBucket>& buckets, const std::string& key, double per_min, const char* what) {
    auto& b = buckets.try_emplace(key, per_min / 60.0, per_min).first->second;
    if (b.try_take(now)) return;
    metrics_.inc("downbeat_rate_limited_total", std::string("limit=\"") + what + "\"");
    int wait = b.retry_after_s(now);
    throw HttpError{ErrorCode::rate_limited, std::string("too many joins ") + (what == std::string("joins_per_code") ? "with this code" : "from your address") +
                                                 ": wait " + std::to_string(wait) + " s and try again",
                    wait};
  };
  take(joins_by_address_, address, cfg_.joins_per_min_per_address, "joins_per_address");
  take(joins_by_code_, code, cfg_.joins_per_min_per_code, "joins_per_code");
  core::Participant p;
  if (existing) {
    p = *existing;
    p.kicked = false;
    if (p.removed) p.name = name;
  } else {
    if (!make_room_for_participant(*rt))
      throw HttpError{ErrorCode::conflict, "the room is full (" + std::to_string(cfg_.max_participants_per_room) +
                                               " people): ask the MD to remove people who have left"};
    p.id = "p" + random_hex(6);
    p.name = name;
    p.device_id = device;
    p.role = jc.role;
    p.removed = true;  // in the room once it connects
  }
  auto record = core::Room::participant_record(p);
  storage_.put_entity(rt->room.id(), "participant", p.id, record);
  rt->room.apply_mutation(core::Mutation{"participant", p.id, record, false});
  spdlog::info("auth.join room={} participant={} role={} address={} returning={}", rt->room.id(), p.id, core::to_string(p.role), address,
               existing != nullptr);
  return issue_tokens(p, *rt, random_hex(8));
}

JoinResult Hub::refresh(const json::value& body) {
  auto token = field(body, "refresh_token");
  if (!token) throw HttpError{ErrorCode::bad_request, "refresh_token is required"};
  auto use = storage_.use_refresh(sha256_hex(*token), unix_us());
  using R = RefreshUse::Result;
  switch (use.result) {
    case R::ok: break;
    case R::reused:
      metrics_.inc("downbeat_auth_failures_total", "reason=\"refresh_reuse\"");
      spdlog::warn("auth.refresh_reuse room={} participant={}: revoked the device's tokens and closed its sessions", use.room, use.participant);
      close_family(use.room, use.family, "this device's session was revoked (a refresh token was replayed): scan the QR code to join again");
      throw HttpError{ErrorCode::unauthorized, "this refresh token was already used, so this device's sessions were revoked: scan the QR code to join again"};
    case R::revoked:
      metrics_.inc("downbeat_auth_failures_total", "reason=\"refresh_revoked\"");
      throw HttpError{ErrorCode::unauthorized, "this session was revoked: scan the QR code to join again"};
    case R::expired:
      metrics_.inc("downbeat_auth_failures_total", "reason=\"refresh_expired\"");
      throw HttpError{ErrorCode::unauthorized, "this session expired: scan the QR code to join again"};
    case R::unknown:
      metrics_.inc("downbeat_auth_failures_total", "reason=\"refresh_unknown\"");
      throw HttpError{ErrorCode::unauthorized, "refresh token not recognised: scan the QR code to join again"};
  }
  RoomRuntime* rt = find_room(use.room);
  const core::Participant* p = rt ? rt->room.find_participant(use.participant) : nullptr;
  if (!p || p->kicked) throw HttpError{ErrorCode::unauthorized, "you are no longer in this room: scan the QR code to join again"};
  return issue_tokens(*p, *rt, use.family);
}

bool Hub::make_room_for_participant(RoomRuntime& rt) {
  const auto& all = rt.room.participants();
  auto cap = static_cast<std::size_t>(cfg_.max_participants_per_room);
  if (all.size() < cap) return true;
  // Long gone first: never connected (last_seen 0), then the longest away. Present people stay.
  std::vector<const core::Participant*> gone;
  for (const auto& p : all)
    if (p.removed && !p.online) gone.push_back(&p);
  if (gone.empty()) return false;
  std::sort(gone.begin(), gone.end(), [](const auto* a, const auto* b) { return a->last_seen < b->last_seen; });
  // Prune a tenth of the cap at once, so a busy room does not prune on every join.
  std::size_t n = std::min(gone.size(), std::max<std::size_t>(all.size() + 1 - cap, cap / 10));
  std::vector<std::string> ids;
  for (std::size_t i = 0; i < n; ++i) ids.push_back(gone[i]->id);
  storage_.delete_participants(rt.room.id(), ids);
  for (const auto& id : ids) rt.room.apply_mutation(core::Mutation{"participant", id, std::nullopt, false});
  metrics_.inc("downbeat_participants_pruned_total", "", static_cast<double>(ids.size()));
  spdlog::info("participants.pruned room={} count={}", rt.room.id(), ids.size());
  return true;
}

void Hub::close_family(const std::string& room, const std::string& family, const std::string& reason) {
  auto it = rooms_.find(room);
  if (it == rooms_.end() || family.empty()) return;
  for (auto& w : it->second->conns)
    if (auto c = w.lock(); c && c->family == family) c->close(1008, reason);
}

Claims Hub::md_claims(const std::string& bearer) {
  auto verdict = jwt_verify(bearer, key_, unix_seconds());
  if (!verdict.claims) throw HttpError{ErrorCode::unauthorized, verdict.error};
  if (!verdict.claims->fam.empty() && storage_.family_revoked(verdict.claims->fam))
    throw HttpError{ErrorCode::unauthorized, "this session was revoked: scan the QR code to join again"};
  if (verdict.claims->role != "md") throw HttpError{ErrorCode::forbidden, "only the MD may see or change the join codes"};
  return *verdict.claims;
}

json::object Hub::room_codes(const std::string& bearer) {
  Claims c = md_claims(bearer);
  json::object codes;
  for (const auto& [role, code] : storage_.codes(c.room)) codes[core::to_string(role)] = code;
  return {{"room", c.room}, {"codes", std::move(codes)}};
}

void Hub::replace_codes(RoomRuntime& rt, const std::vector<core::Role>& roles, const char* why) {
  for (core::Role r : roles) storage_.replace_code(rt.room.id(), r, random_code(10), unix_us());
  json::object codes;
  for (const auto& [role, code] : storage_.codes(rt.room.id())) codes[core::to_string(role)] = code;
  // Only MD consoles learn the new codes, so their QR panels follow at once.
  core::Outcome out;
  out.event_type = "room.codes";
  out.event_data = {{"codes", std::move(codes)}, {"reason", why}};
  out.audience = core::Audience::md_only;
  fanout(rt, out, 0, now_us(), nullptr);
  metrics_.inc("downbeat_code_rotations_total", std::string("reason=\"") + why + "\"");
  spdlog::info("codes.rotated room={} roles={} reason={}", rt.room.id(), roles.size(), why);
}

json::object Hub::rotate_codes(const std::string& bearer, const json::value& body) {
  Claims c = md_claims(bearer);
  RoomRuntime* rt = find_room(c.room);
  if (!rt) throw HttpError{ErrorCode::not_found, "this room no longer exists"};
  std::vector<core::Role> roles;
  if (const auto* list = body.is_object() ? body.as_object().if_contains("roles") : nullptr) {
    if (!list->is_array() || list->as_array().empty() || list->as_array().size() > 4)
      throw HttpError{ErrorCode::bad_request, "roles must be a list of md, musician, tech, viewer"};
    for (const auto& v : list->as_array()) {
      auto r = v.is_string() ? core::role_from_string(v.get_string()) : std::nullopt;
      if (!r) throw HttpError{ErrorCode::bad_request, "roles must be a list of md, musician, tech, viewer"};
      if (std::find(roles.begin(), roles.end(), *r) == roles.end()) roles.push_back(*r);
    }
  } else {
    roles.push_back(core::Role::md);
  }
  replace_codes(*rt, roles, "requested");
  return room_codes(bearer);
}

void Hub::rotate_expired_md_codes() {
  if (cfg_.md_code_ttl_s <= 0) return;
  std::int64_t now = unix_us();
  for (auto& [id, rt] : rooms_) {
    auto made = storage_.code_created(id, core::Role::md);
    if (made && now - *made >= cfg_.md_code_ttl_s * 1'000'000) replace_codes(*rt, {core::Role::md}, "expired");
  }
}

}  // namespace downbeat::server
