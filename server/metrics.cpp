#include "server/metrics.hpp"

#include <charconv>

namespace downbeat::server {

namespace {
// Shortest text that reads back as the same double: "0.005", not "0.0050000000000000001".
std::string num(double v) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}
}  // namespace

std::string label_escape(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

void Histogram::observe(double v) {
  std::size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  ++counts_[i];
  sum_ += v;
  ++count_;
}

void Histogram::render(std::string& out, const std::string& name, const std::string& help) const {
  out += "# HELP " + name + " " + help + "\n# TYPE " + name + " histogram\n";
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += counts_[i];
    out += name + "_bucket{le=\"" + num(bounds_[i]) + "\"} " + std::to_string(cumulative) + "\n";
  }
  cumulative += counts_.back();
  out += name + "_bucket{le=\"+Inf\"} " + std::to_string(cumulative) + "\n";
  out += name + "_sum " + num(sum_) + "\n" + name + "_count " + std::to_string(count_) + "\n";
}

Metrics::Metrics() {
  help_ = {
      {"downbeat_connections", "open WebSocket connections"},
      {"downbeat_connections_total", "WebSocket connections accepted"},
      {"downbeat_frames_in_total", "frames received by command type"},
      {"downbeat_frames_out_total", "frames sent by message type"},
      {"downbeat_errors_total", "error replies by code"},
      {"downbeat_http_requests_total", "HTTP requests by route and status"},
      {"downbeat_auth_failures_total", "failed joins, refreshes and token checks by reason"},
      {"downbeat_rate_limited_total", "requests or frames refused by a rate limit, by limit"},
      {"downbeat_slow_consumers_dropped_total", "connections closed because their send queue overflowed"},
      {"downbeat_send_queue_max", "largest send queue (frames) seen on any connection since the last scrape"},
      {"downbeat_send_queue_bytes", "bytes waiting in every connection's send queue"},
      {"downbeat_http_connections", "open TCP connections not (yet) upgraded to a WebSocket"},
      {"downbeat_ws_admitted", "WebSocket connections admitted under the per-address cap, handshakes included"},
      {"downbeat_accept_errors_total", "accept() failures by reason (resources: out of descriptors or memory, the listener backs off)"},
      {"downbeat_timeouts_total", "connections closed by a timeout, by phase (tls_handshake, first_request, idle)"},
      {"downbeat_events_total", "durable events committed"},
      {"downbeat_client_rtt_seconds", "per-room mean RTT reported by clients (metrics.report)"},
      {"downbeat_client_jitter_seconds", "per-room mean jitter reported by clients"},
      {"downbeat_client_loss", "per-room mean loss fraction reported by clients"},
      {"downbeat_client_clock_uncertainty_seconds", "per-room max clock-sync uncertainty reported by clients"},
      {"downbeat_participants_pruned_total", "long-gone participant records pruned to keep a room's table bounded"},
      {"downbeat_client_reports", "clients with a recent metrics.report, per room"},
      {"downbeat_snapshot_library_bytes", "serialized song metadata and setlists in a room's join snapshot (what --max-snapshot-bytes bounds)"},
      {"downbeat_snapshot_bytes", "bytes of the last join snapshot frame built, per room (song charts are not in it)"},
      {"downbeat_memory_trims_total", "times freed memory was handed back to the system (malloc_trim) after connections closed or a big snapshot was replaced"},
      {"downbeat_song_bodies_total", "GET /api/room/songs/<id> answers by result (ok, not_modified, not_found)"},
  };
  // Series a dashboard or alert expects exist from the first scrape, at zero.
  for (const char* c : {"downbeat_connections_total", "downbeat_slow_consumers_dropped_total", "downbeat_participants_pruned_total"})
    counters_[c][""] = 0;
  counters_["downbeat_auth_failures_total"]["reason=\"token\""] = 0;
  counters_["downbeat_rate_limited_total"]["limit=\"frames\""] = 0;
  counters_["downbeat_errors_total"]["code=\"internal\""] = 0;
  gauges_["downbeat_connections"][""] = 0;
}

void Metrics::inc(const std::string& name, const std::string& labels, double v) { counters_[name][labels] += v; }
void Metrics::set_gauge(const std::string& name, const std::string& labels, double v) { gauges_[name][labels] = v; }

double Metrics::value(const std::string& name, const std::string& labels) const {
  if (auto it = counters_.find(name); it != counters_.end())
    if (auto jt = it->second.find(labels); jt != it->second.end()) return jt->second;
  if (auto it = gauges_.find(name); it != gauges_.end())
    if (auto jt = it->second.find(labels); jt != it->second.end()) return jt->second;
  return 0;
}

std::string Metrics::render() const {
  std::string out;
  auto family = [&](const std::string& name, const std::map<std::string, double>& series, const char* type) {
    auto h = help_.find(name);
    out += "# HELP " + name + " " + (h != help_.end() ? h->second : name) + "\n# TYPE " + name + " " + type + "\n";
    for (const auto& [labels, v] : series) out += name + (labels.empty() ? "" : "{" + labels + "}") + " " + num(v) + "\n";
  };
  for (const auto& [name, series] : counters_) family(name, series, "counter");
  for (const auto& [name, series] : gauges_) family(name, series, "gauge");
  commit_seconds.render(out, "downbeat_commit_seconds", "time to commit one durable change to SQLite");
  fanout_seconds.render(out, "downbeat_fanout_seconds", "time to queue one event to every connection of a room");
  return out;
}

}  // namespace downbeat::server
