#include "server/hub/hub.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "core/frame.hpp"
#include "server/auth/crypto.hpp"
#include "server/clock.hpp"

namespace downbeat::server {
namespace json = boost::json;
using core::ErrorCode;

namespace {
std::shared_ptr<const std::string> frame_of(const json::object& msg) {
  return std::make_shared<const std::string>(json::serialize(msg));
}
}  // namespace

Hub::Hub(boost::asio::io_context& io, Storage& storage, Metrics& metrics, JwtKey key, HubConfig cfg)
    : io_(io), storage_(storage), metrics_(metrics), key_(std::move(key)), cfg_(cfg), schema_(core::Schema::builtin()), sweep_timer_(io) {}

Hub::RoomRuntime* Hub::find_room(const std::string& id) {
  if (auto it = rooms_.find(id); it != rooms_.end()) return it->second.get();
  // Rooms made by `downbeatd room create` while we run appear here on first use.
  auto row = storage_.room(id);
  if (!row) return nullptr;
  core::Room room(row->id, row->name, cfg_.room);
  storage_.load_room(room);
  auto rt = std::make_unique<RoomRuntime>(io_, std::move(room));
  auto* raw = rt.get();
  rooms_.emplace(id, std::move(rt));
  schedule_beats(*raw);
  return raw;
}

namespace {
std::string boot_id() {
  std::ifstream in("/proc/sys/kernel/random/boot_id");
  std::string id;
  std::getline(in, id);
  return id;
}
}  // namespace

void Hub::rebase_after_reboot() {
  // The room clock is CLOCK_MONOTONIC, which starts again at every boot. Stored instants (tempo
  // anchors, "away since") are moved onto the new clock through the wall clock of each boot.
  std::string boot = boot_id();
  std::int64_t wall_minus_mono = unix_us() - now_us();
  auto prev_boot = storage_.server_meta("boot_id");
  auto prev_offset = storage_.server_meta("wall_minus_mono_us");
  if (!boot.empty() && prev_boot && prev_offset && *prev_boot != boot) {
    std::int64_t delta = std::stoll(*prev_offset) - wall_minus_mono;
    spdlog::info("clock.rebased boot changed: stored instants moved by {} s", delta / 1'000'000);
    for (const auto& row : storage_.rooms()) {
      RoomRuntime* rt = find_room(row.id);
      run(*rt, rt->room.plan_clock_shift(delta), nullptr);
      schedule_beats(*rt);
    }
  }
  if (!boot.empty()) storage_.set_server_meta("boot_id", boot);
  storage_.set_server_meta("wall_minus_mono_us", std::to_string(wall_minus_mono));
}

void Hub::start() {
  rebase_after_reboot();
  std::int64_t now = now_us();
  for (const auto& row : storage_.rooms()) {
    RoomRuntime* rt = find_room(row.id);
    // Nobody is connected to a process that just started: whoever was online when it stopped is now away.
    for (const auto& pid : rt->room.online_participants()) run(*rt, rt->room.plan_offline(pid, now), nullptr);
  }
  sweep();
}

void Hub::release_memory_soon() {
  if (!trim_at_) trim_at_ = now_us() + 1'000'000;
}

void Hub::sweep() {
  std::int64_t now = now_us();
  // A dropped slow consumer or a replaced big snapshot frees many blocks at once; glibc keeps them
  // mapped (issue 9 saw 57–192 MiB stay) unless asked: once, a second later, off the hot path.
  if (trim_at_ && now >= *trim_at_) {
    trim_at_.reset();
#if defined(__GLIBC__)
    malloc_trim(0);
    metrics_.inc("downbeat_memory_trims_total");
#endif
  }
  for (auto& [id, rt] : rooms_)
    for (const auto& pid : rt->room.expired(now)) {
      spdlog::info("participant.timeout room={} participant={}", id, pid);
      try {
        run(*rt, rt->room.plan_timeout(pid), nullptr);
      } catch (const std::exception& e) {
        // Disk full or read-only: keep serving; the timeout is retried on the next sweep.
        spdlog::error("participant.timeout_failed room={} participant={} error={}", id, pid, e.what());
      }
    }
  // Addresses whose wrong-code allowance has refilled need no memory.
  try {
    rotate_expired_md_codes();
  } catch (const std::exception& e) {
    spdlog::error("codes.rotate_failed error={}", e.what());
  }
  for (auto it = join_failures_.begin(); it != join_failures_.end();) it = it->second.budget.full(now) ? join_failures_.erase(it) : std::next(it);
  for (auto* buckets : {&joins_by_address_, &joins_by_code_})
    for (auto it = buckets->begin(); it != buckets->end();) it = it->second.full(now) ? buckets->erase(it) : std::next(it);
  sweep_timer_.expires_after(std::chrono::seconds(1));
  sweep_timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) sweep();
  });
}

// ---------------------------------------------------------------- durable commit and fan-out

std::int64_t Hub::commit(RoomRuntime& rt, const core::Outcome& out, std::int64_t now) {
  // The command's own event; events_before take the seqs below it, events_after the ones above.
  std::int64_t seq = out.durable ? rt.room.seq() + 1 + static_cast<std::int64_t>(out.events_before.size()) : 0;
  bool touches_disk = out.durable || std::any_of(out.mutations.begin(), out.mutations.end(), [](const auto& m) { return !m.ephemeral; });
  if (touches_disk) {
    auto t0 = std::chrono::steady_clock::now();
    storage_.commit(rt.room.id(), seq, now, out, json::serialize(out.event_data));
    metrics_.commit_seconds.observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  rt.room.apply(out, seq);
  if (out.durable) {
    metrics_.inc("downbeat_events_total", "type=\"" + out.event_type + "\"");
    for (const auto* evs : {&out.events_before, &out.events_after})
      for (const auto& ev : *evs) metrics_.inc("downbeat_events_total", "type=\"" + ev.type + "\"");
  }
  return seq;
}

namespace {
bool changes_tempo(const core::Outcome& out) {
  if (out.event_type == "tempo.anchor") return true;
  return std::any_of(out.events_after.begin(), out.events_after.end(), [](const core::Event& e) { return e.type == "tempo.anchor"; });
}
}  // namespace

void Hub::fanout_all(RoomRuntime& rt, const core::Outcome& out, std::int64_t seq, std::int64_t ts, const Connection* sender) {
  std::int64_t at = seq - static_cast<std::int64_t>(out.events_before.size());
  auto extra = [&](const core::Event& ev) {
    core::Outcome one;
    one.durable = true;
    one.event_type = ev.type;
    one.event_data = ev.data;
    fanout(rt, one, at++, ts, sender);
  };
  for (const auto& ev : out.events_before) extra(ev);
  fanout(rt, out, at++, ts, sender);
  for (const auto& ev : out.events_after) extra(ev);
}

void Hub::fanout(RoomRuntime& rt, const core::Outcome& out, std::int64_t seq, std::int64_t ts, const Connection* sender) {
  if (out.event_type.empty()) return;
  auto t0 = std::chrono::steady_clock::now();
  json::object msg{{"type", out.event_type}};
  if (out.durable) msg["seq"] = seq;
  msg["ts"] = ts;
  msg["data"] = out.event_data;
  auto frame = frame_of(msg);
  // Copy the live connections first: a send may drop a slow consumer and edit the list.
  std::vector<std::shared_ptr<Connection>> targets;
  for (auto& w : rt.conns)
    if (auto c = w.lock(); c && !c->closing) targets.push_back(std::move(c));
  double delivered = 0;
  for (auto& c : targets) {
    bool deliver = true;
    switch (out.audience) {
      case core::Audience::room: break;
      case core::Audience::sender: deliver = c.get() == sender; break;
      case core::Audience::one: deliver = c->participant == out.target; break;
      case core::Audience::md_only: deliver = c->role == core::Role::md; break;
      case core::Audience::group: {
        const core::Slot* s = rt.room.slot_of(c->participant);
        deliver = c.get() == sender || c->role == core::Role::md || (s && s->group == out.target);
        break;
      }
    }
    if (!deliver) continue;
    c->send(frame);
    ++delivered;
  }
  // One metrics update per event, not per recipient: this loop is the hot path of a big room.
  if (delivered) metrics_.inc("downbeat_frames_out_total", "type=\"" + out.event_type + "\"", delivered);
  metrics_.fanout_seconds.observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
}

void Hub::run(RoomRuntime& rt, const core::Outcome& out, const Connection* sender) {
  std::int64_t now = now_us();
  std::int64_t seq = commit(rt, out, now);
  fanout_all(rt, out, seq, now, sender);
  if (out.durable) refresh_talkers(rt);
}

void Hub::refresh_talkers(RoomRuntime& rt) {
  if (rt.room.ptt().empty()) return;
  std::int64_t now = now_us();
  for (const auto& out : rt.room.plan_ptt_refresh()) {
    rt.room.apply(out, 0);  // live only: nothing to store
    fanout(rt, out, 0, now, nullptr);
  }
}

void Hub::send_json(Connection& conn, const json::object& msg) {
  conn.send(frame_of(msg));
  metrics_.inc("downbeat_frames_out_total", "type=\"" + std::string(msg.at("type").as_string()) + "\"");
}

void Hub::send_error(Connection& conn, const std::optional<std::string>& re, ErrorCode code, const std::string& message) {
  metrics_.inc("downbeat_errors_total", "code=\"" + std::string(core::to_string(code)) + "\"");
  send_json(conn, {{"type", "error"}, {"re", re ? json::value(*re) : json::value(nullptr)}, {"code", core::to_string(code)}, {"message", message}});
}

void Hub::send_snapshot(Connection& conn, RoomRuntime& rt) {
  if (!rt.snapshot || rt.snapshot_version != rt.room.version()) {
    if (rt.snapshot && rt.snapshot->size() > (256u << 10)) release_memory_soon();
    rt.snapshot = frame_of({{"type", "snapshot"}, {"ts", now_us()}, {"data", rt.room.snapshot()}});
    rt.snapshot_version = rt.room.version();
  }
  conn.send(rt.snapshot);
  metrics_.inc("downbeat_frames_out_total", "type=\"snapshot\"");
}

// ---------------------------------------------------------------- connections

int Hub::conns_from(const std::string& address) const {
  int n = 0;
  for (const auto& [id, rt] : rooms_)
    for (const auto& w : rt->conns)
      if (auto c = w.lock(); c && c->address == address) ++n;
  return n;
}

Claims Hub::authorize(const std::string& token, const std::string& address) {
  auto verdict = jwt_verify(token, key_, unix_seconds());
  if (!verdict.claims) {
    metrics_.inc("downbeat_auth_failures_total", "reason=\"token\"");
    throw HttpError{ErrorCode::unauthorized, verdict.error};
  }
  const Claims& c = *verdict.claims;
  RoomRuntime* rt = find_room(c.room);
  const core::Participant* p = rt ? rt->room.find_participant(c.sub) : nullptr;
  if (!p || !core::role_from_string(c.role)) {
    metrics_.inc("downbeat_auth_failures_total", "reason=\"unknown_participant\"");
    throw HttpError{ErrorCode::unauthorized, "this token's room or participant no longer exists: scan the QR code to join again"};
  }
  if (p->kicked) {
    metrics_.inc("downbeat_auth_failures_total", "reason=\"kicked\"");
    throw HttpError{ErrorCode::unauthorized, "you were removed from the room by the MD: scan the QR code to join again"};
  }
  if (!c.fam.empty() && storage_.family_revoked(c.fam)) {
    metrics_.inc("downbeat_auth_failures_total", "reason=\"revoked\"");
    throw HttpError{ErrorCode::unauthorized, "this session was revoked: scan the QR code to join again"};
  }
  if (conns_from(address) >= cfg_.max_conns_per_ip) {
    metrics_.inc("downbeat_rate_limited_total", "limit=\"conns_per_ip\"");
    throw HttpError{ErrorCode::rate_limited, "too many connections from your address (" + std::to_string(cfg_.max_conns_per_ip) + "): close other tabs", 5};
  }
  return c;
}

void Hub::attach(const std::shared_ptr<Connection>& conn, const Claims& claims, std::optional<std::int64_t> since) {
  RoomRuntime* rt = find_room(claims.room);
  if (!rt) {
    conn->close(1008, "room no longer exists");
    return;
  }
  conn->participant = claims.sub;
  conn->room = claims.room;
  conn->family = claims.fam;
  conn->role = core::role_from_string(claims.role).value_or(core::Role::viewer);
  metrics_.inc("downbeat_connections_total");
  const core::Participant* p = rt->room.find_participant(claims.sub);
  if (!p) {
    conn->close(1008, "participant no longer exists: scan the QR code to join again");
    return;
  }
  try {
    if (!p->online || p->removed) run(*rt, rt->room.plan_online(claims.sub), nullptr);
  } catch (const std::exception& e) {
    spdlog::error("presence.commit_failed room={} participant={} error={}", claims.room, claims.sub, e.what());
    conn->close(1011, "server could not record your arrival: try again");
    return;
  }
  p = rt->room.find_participant(claims.sub);  // the record as it is now, online
  rt->conns.push_back(conn);
  std::optional<std::vector<EventRow>> replay;
  if (since) replay = storage_.events_since(claims.room, *since, rt->room.seq());
  // A replay that would overflow the send queue would get the client dropped again at once: a snapshot is one frame.
  if (replay && replay->size() + 2 > conn->queue_capacity() / 2) replay.reset();
  send_json(*conn, {{"type", "hello"},
                    {"ts", now_us()},
                    {"data",
                     {{"protocol", 1},
                      {"server_time", now_us()},
                      {"participant", rt->room.participant_json(*p)},
                      {"room", rt->room.room_json()},
                      {"resumed", replay.has_value()}}}});
  if (replay) {
    for (const auto& e : *replay) {
      json::object msg{{"type", e.type}, {"seq", e.seq}, {"ts", e.ts}, {"data", json::parse(e.data)}};
      send_json(*conn, msg);
    }
    // Live state is not in the event log: who is talking now reaches a resumed client as it would in a snapshot.
    for (const auto& entry : rt->room.snapshot_ptt()) send_json(*conn, {{"type", "ptt.state"}, {"ts", now_us()}, {"data", entry}});
  } else {
    send_snapshot(*conn, *rt);
  }
  spdlog::info("connection.open room={} participant={} role={} address={} resumed={}", claims.room, claims.sub, claims.role,
               conn->address, replay.has_value());
}

void Hub::detach(Connection& conn) {
  release_memory_soon();  // its queue and buffers go with it
  if (conn.room.empty()) return;
  auto it = rooms_.find(conn.room);
  if (it == rooms_.end()) return;
  RoomRuntime& rt = *it->second;
  std::erase_if(rt.conns, [&](const std::weak_ptr<Connection>& w) {
    auto c = w.lock();
    return !c || c.get() == &conn;
  });
  bool still_here = std::any_of(rt.conns.begin(), rt.conns.end(), [&](const std::weak_ptr<Connection>& w) {
    auto c = w.lock();
    return c && c->participant == conn.participant;
  });
  spdlog::info("connection.close room={} participant={} address={}", conn.room, conn.participant, conn.address);
  if (conn.talking) {
    // A talker whose page closed or whose link dropped is released for everyone at once.
    conn.talking = false;
    auto release = rt.room.plan_ptt_release(conn.participant);
    if (!release.event_type.empty()) {
      spdlog::info("ptt.released room={} participant={} reason=disconnect", conn.room, conn.participant);
      run(rt, release, nullptr);
    }
  }
  const core::Participant* p = rt.room.find_participant(conn.participant);
  if (still_here || !p || !p->online) return;
  try {
    run(rt, rt.room.plan_offline(conn.participant, now_us()), nullptr);
  } catch (const std::exception& e) {
    spdlog::error("presence.commit_failed room={} participant={} error={}", conn.room, conn.participant, e.what());
  }
}

void Hub::on_binary_frame(Connection& conn) {
  send_error(conn, std::nullopt, ErrorCode::bad_request, "binary frames are not supported: send JSON text frames");
}

bool Hub::rate_limited(Connection& conn, const std::optional<std::string>& re, std::string_view type, std::int64_t now) {
  const char* limit = nullptr;
  std::string message;
  if (!conn.frames.try_take(now)) {
    limit = "frames";
    message = "too many messages: slow down (at most 50 per second)";
  } else if (type.starts_with("rtc.") && !conn.rtc.try_take(now)) {
    limit = "rtc";
    message = std::string(type) + ": too much signalling (at most 50 per second): wait a moment";
  } else if (type == "ptt.press" && !conn.ptt.try_take(now)) {
    limit = "ptt";
    message = "ptt.press: too many talk presses (at most 4 per second): hold Talk instead of tapping";
  } else {
    return false;
  }
  metrics_.inc("downbeat_rate_limited_total", std::string("limit=\"") + limit + "\"");
  if (!conn.refusals.try_take(now)) {
    spdlog::warn("connection.flooding room={} participant={} address={} limit={}", conn.room, conn.participant, conn.address, limit);
    conn.close(1008, "flooding: too many frames per second");
    return true;
  }
  // The refusal names the command, so the client knows which one failed (exactly one reply each).
  send_error(conn, re, ErrorCode::rate_limited, message);
  return true;
}

void Hub::on_frame(Connection& conn, std::string_view text, std::int64_t received_us) {
  std::int64_t now = now_us();
  auto parsed = core::parse_frame(text, schema_);
  if (parsed.error) {
    if (rate_limited(conn, parsed.error->re, "", now)) return;
    metrics_.inc("downbeat_frames_in_total", "type=\"invalid\"");
    send_error(conn, parsed.error->re, parsed.error->code, parsed.error->message);
    return;
  }
  if (rate_limited(conn, parsed.command->id, parsed.command->type, now)) return;
  core::Command& cmd = *parsed.command;
  metrics_.inc("downbeat_frames_in_total", "type=\"" + cmd.type + "\"");
  auto it = rooms_.find(conn.room);
  if (it == rooms_.end()) return;
  RoomRuntime& rt = *it->second;

  if (cmd.type == "time.ping") {
    // t1 is when the frame was read off the socket, t2 as late as possible before it is queued.
    json::object pong{{"t0", cmd.data.at("t0")}, {"t1", received_us}, {"t2", now_us()}};
    send_json(conn, {{"type", "time.pong"}, {"re", cmd.id}, {"data", std::move(pong)}});
    return;
  }

  core::Outcome out;
  try {
    out = rt.room.plan(core::Actor{conn.participant, conn.role}, cmd, now);
  } catch (const core::CommandError& e) {
    send_error(conn, cmd.id, e.code(), e.what());
    return;
  }
  if (out.send_snapshot) {
    send_json(conn, {{"type", "ack"}, {"re", cmd.id}});
    send_snapshot(conn, rt);
    return;
  }
  std::int64_t seq = 0;
  try {
    seq = commit(rt, out, now);
  } catch (const std::exception& e) {
    spdlog::error("command.commit_failed room={} participant={} type={} error={}", conn.room, conn.participant, cmd.type, e.what());
    send_error(conn, cmd.id, ErrorCode::internal, "the server could not save this change (disk full or read-only?); nothing was changed");
    return;
  }
  json::object ack{{"type", "ack"}, {"re", cmd.id}};
  if (out.durable) ack["seq"] = seq;
  send_json(conn, ack);
  if (cmd.type == "ptt.press") conn.talking = true;
  if (cmd.type == "ptt.release") conn.talking = false;
  fanout_all(rt, out, seq, now, &conn);
  if (out.durable) refresh_talkers(rt);
  if (out.durable) spdlog::info("command.applied room={} participant={} type={} seq={}", conn.room, conn.participant, cmd.type, seq);

  for (const auto& pid : out.disconnect)
    for (auto& w : rt.conns)
      if (auto c = w.lock(); c && c->participant == pid) c->close(1008, "removed from the room by the MD");
  if (changes_tempo(out)) {
    rt.last_anchor_sent = now;
    schedule_beats(rt);
  }
}

// ---------------------------------------------------------------- tempo heartbeats

void Hub::schedule_beats(RoomRuntime& rt) {
  rt.beat_timer.cancel();
  auto beat = core::next_beat(rt.room.tempo(), now_us() + 1);
  if (!beat) return;
  std::int64_t rev = rt.room.tempo().rev;
  rt.beat_timer.expires_at(std::chrono::steady_clock::time_point(std::chrono::microseconds(beat->t)));
  std::string room = rt.room.id();
  rt.beat_timer.async_wait([this, room, rev](boost::system::error_code ec) {
    if (ec) return;
    if (auto* r = find_room(room); r && r->room.tempo().rev == rev) on_beat(*r, rev);
  });
}

void Hub::on_beat(RoomRuntime& rt, std::int64_t rev) {
  std::int64_t now = now_us();
  auto beat = core::beat_at_or_before(rt.room.tempo(), now);
  if (beat) {
    core::Outcome upd;
    upd.event_type = "tempo.update";
    upd.event_data = {{"rev", rev}, {"bar", beat->bar}, {"beat", beat->beat}};
    fanout(rt, upd, 0, now, nullptr);
    // Re-send the anchor each bar (and at least every 2 s) so a client that missed it recovers.
    if (beat->beat == 0 || now - rt.last_anchor_sent >= cfg_.anchor_resend_us) {
      core::Outcome anchor;
      anchor.event_type = "tempo.anchor";
      anchor.event_data = {{"tempo", core::to_json(rt.room.tempo())}, {"resend", true}};
      fanout(rt, anchor, 0, now, nullptr);
      rt.last_anchor_sent = now;
    }
  }
  schedule_beats(rt);
}

void Hub::update_gauges() {
  int conns = 0;
  std::size_t max_queue = 0;
  for (auto& [id, rt] : rooms_) {
    double rtt = 0, jitter = 0, loss = 0, unc = 0;
    int n_rtt = 0, n_jit = 0, n_loss = 0, reports = 0;
    for (const auto& entry : rt->room.health()) {
      const core::Health& h = entry.second;  // a named reference: clang 14 cannot capture structured bindings
      ++reports;
      auto num = [&](const char* k) -> std::optional<double> {
        if (const auto* v = h.report.if_contains(k); v && v->is_number()) return v->to_number<double>();
        return std::nullopt;
      };
      if (auto v = num("rtt_ms")) rtt += *v, ++n_rtt;
      if (auto v = num("jitter_ms")) jitter += *v, ++n_jit;
      if (auto v = num("loss")) loss += *v, ++n_loss;
      if (auto v = num("clock_uncertainty_ms")) unc = std::max(unc, *v);
    }
    std::string l = "room=\"" + label_escape(id) + "\"";
    metrics_.set_gauge("downbeat_client_reports", l, reports);
    // What --max-snapshot-bytes bounds (song metadata and setlists), and the last join frame built.
    metrics_.set_gauge("downbeat_snapshot_library_bytes", l, static_cast<double>(rt->room.library_bytes()));
    if (rt->snapshot) metrics_.set_gauge("downbeat_snapshot_bytes", l, static_cast<double>(rt->snapshot->size()));
    // Clients report milliseconds; Prometheus wants base units.
    if (n_rtt) metrics_.set_gauge("downbeat_client_rtt_seconds", l, rtt / n_rtt / 1000.0);
    if (n_jit) metrics_.set_gauge("downbeat_client_jitter_seconds", l, jitter / n_jit / 1000.0);
    if (n_loss) metrics_.set_gauge("downbeat_client_loss", l, loss / n_loss);
    if (reports) metrics_.set_gauge("downbeat_client_clock_uncertainty_seconds", l, unc / 1000.0);
    for (const auto& w : rt->conns)
      if (auto c = w.lock()) {
        ++conns;
        max_queue = std::max(max_queue, c->queue_depth());
      }
  }
  metrics_.set_gauge("downbeat_connections", "", conns);
  metrics_.set_gauge("downbeat_send_queue_max", "", static_cast<double>(max_queue));
}

}  // namespace downbeat::server
