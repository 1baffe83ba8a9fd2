#pragma once
// Runs a real downbeatd for tests and the drift bench: a temp data dir, a room, `serve` until ready.
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace downbeat::testing {

struct RoomCodes {
  std::string room;
  std::map<std::string, std::string> codes;  // role → join code
};

// Runs argv to completion, returns its stdout; throws with its stderr when it exits non-zero.
std::string run_capture(const std::vector<std::string>& argv);

class DownbeatdProcess {
 public:
  // `prefix` runs the server under another command (e.g. {"ip","netns","exec","ns"}).
  explicit DownbeatdProcess(std::string binary, std::vector<std::string> prefix = {});
  ~DownbeatdProcess();  // stops the server and removes the data dir
  DownbeatdProcess(const DownbeatdProcess&) = delete;
  DownbeatdProcess& operator=(const DownbeatdProcess&) = delete;

  RoomCodes create_room(const std::string& name);
  // `listen` "127.0.0.1:0" picks a port; pass the old one to restart in place.
  void start(const std::string& listen = "127.0.0.1:0", std::vector<std::string> extra_args = {},
             std::chrono::milliseconds timeout = std::chrono::seconds(20));
  void stop(bool hard = false);  // SIGTERM (or SIGKILL) and wait
  void set_tls(std::string mode) { tls_ = std::move(mode); }  // "off" (default) or "auto" (self-signed in DIR/tls)
  bool running() const { return pid_ > 0; }

  int port() const { return port_; }
  std::string url() const { return url_; }  // http://127.0.0.1:PORT from the ready file
  const std::filesystem::path& data_dir() const { return data_dir_; }
  std::filesystem::path log_path() const { return data_dir_ / "downbeatd.log"; }

 private:
  std::string binary_;
  std::vector<std::string> prefix_;
  std::filesystem::path data_dir_;
  pid_t pid_ = -1;
  int port_ = 0;
  std::string url_;
  std::string tls_ = "off";
};

}  // namespace downbeat::testing
