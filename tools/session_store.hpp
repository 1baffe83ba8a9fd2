#pragma once
// The CLI's saved session ($XDG_CONFIG_HOME/downbeat/session.json, mode 0600): server, tokens, who we are.
#include <boost/json/object.hpp>
#include <filesystem>
#include <optional>
#include <string>

#include "downbeat/auth.hpp"
#include "downbeat/tls.hpp"
#include "downbeat/url.hpp"

namespace downbeat::cli {

struct SavedSession {
  ServerUrl server;
  TlsOptions tls;
  Session session;
  std::string device_id;  // kept across joins so the server gives this device the same participant back
};

std::filesystem::path default_session_path();  // $DOWNBEAT_SESSION, else $XDG_CONFIG_HOME or ~/.config + /downbeat/session.json

std::optional<SavedSession> load_session(const std::filesystem::path& path);
// Atomic replace (temp file + rename), file 0600, directory 0700: it holds a refresh token.
void save_session(const std::filesystem::path& path, const SavedSession& saved);

std::string new_device_id();

// A refresher for ClientConfig that is safe when several `downbeat` processes share one session file:
// under an exclusive lock it re-reads the file, reuses a token another process already refreshed,
// and otherwise spends the refresh token and writes the new pair before unlocking.
Tokens refresh_shared(const std::filesystem::path& path, const Tokens& stale);

}  // namespace downbeat::cli
