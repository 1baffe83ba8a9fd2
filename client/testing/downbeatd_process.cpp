#include "downbeatd_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace downbeat::testing {
namespace fs = std::filesystem;

namespace {

std::vector<char*> c_argv(const std::vector<std::string>& argv) {
  std::vector<char*> out;
  for (auto& a : argv) out.push_back(const_cast<char*>(a.c_str()));
  out.push_back(nullptr);
  return out;
}

pid_t spawn(const std::vector<std::string>& argv, int out_fd, int err_fd) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (out_fd >= 0) posix_spawn_file_actions_adddup2(&actions, out_fd, STDOUT_FILENO);
  if (err_fd >= 0) posix_spawn_file_actions_adddup2(&actions, err_fd, STDERR_FILENO);
  pid_t pid = -1;
  auto args = c_argv(argv);
  const int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error("cannot start " + argv[0] + ": " + std::strerror(rc));
  return pid;
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

fs::path make_temp_dir() {
  std::string tmpl = (fs::temp_directory_path() / "downbeat-XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  return tmpl;
}

}  // namespace

std::string run_capture(const std::vector<std::string>& argv) {
  const auto dir = make_temp_dir();
  const auto out_path = dir / "out", err_path = dir / "err";
  const int out_fd = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  const int err_fd = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  const pid_t pid = spawn(argv, out_fd, err_fd);
  ::close(out_fd);
  ::close(err_fd);
  int status = 0;
  ::waitpid(pid, &status, 0);
  auto out = read_file(out_path), err = read_file(err_path);
  fs::remove_all(dir);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::string cmd;
    for (auto& a : argv) cmd += a + " ";
    throw std::runtime_error(cmd + "failed: " + err + out);
  }
  return out;
}

DownbeatdProcess::DownbeatdProcess(std::string binary, std::vector<std::string> prefix)
    : binary_(std::move(binary)), prefix_(std::move(prefix)), data_dir_(make_temp_dir()) {}

DownbeatdProcess::~DownbeatdProcess() {
  stop();
  if (!std::getenv("DOWNBEAT_KEEP_DATA")) {
    std::error_code ec;
    fs::remove_all(data_dir_, ec);
  }
}

RoomCodes DownbeatdProcess::create_room(const std::string& name) {
  const auto out = run_capture({binary_, "room", "create", name, "--data-dir", data_dir_.string(), "--json"});
  // The JSON is the last non-empty line (the tool may log before it).
  auto end = out.find_last_not_of("\r\n ");
  auto start = out.rfind('\n', end);
  auto line = out.substr(start == std::string::npos ? 0 : start + 1, end + 1 - (start == std::string::npos ? 0 : start + 1));
  auto v = boost::json::parse(line).as_object();
  RoomCodes rc;
  rc.room = boost::json::serialize(v.at("room"));
  if (v.at("room").is_string()) rc.room = std::string(v.at("room").as_string());
  for (auto& [role, code] : v.at("codes").as_object()) rc.codes[std::string(role)] = std::string(code.as_string());
  return rc;
}

void DownbeatdProcess::start(const std::string& listen, std::vector<std::string> extra_args, std::chrono::milliseconds timeout) {
  if (pid_ > 0) throw std::runtime_error("downbeatd already running");
  const auto ready = data_dir_ / "ready.json";
  fs::remove(ready);
  std::vector<std::string> argv = prefix_;
  for (auto a : {binary_, std::string("serve"), std::string("--data-dir"), data_dir_.string(), std::string("--listen"), listen,
                 std::string("--tls"), tls_, std::string("--ready-file"), ready.string(),
                 // Load tests join a hundred clients from one address in a second: above a LAN's limits.
                 std::string("--max-conns-per-ip"), std::string("1000"), std::string("--joins-per-min-per-address"), std::string("100000"),
                 std::string("--joins-per-min-per-code"), std::string("100000")}) {
    argv.push_back(a);
  }
  for (auto& a : extra_args) argv.push_back(a);
  const int log_fd = ::open(log_path().c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  pid_ = spawn(argv, log_fd, log_fd);
  ::close(log_fd);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("downbeatd exited during start: " + read_file(log_path()));
    }
    boost::system::error_code ec;
    auto v = boost::json::parse(read_file(ready), ec);
    if (!ec && v.is_object() && v.as_object().contains("port")) {
      port_ = static_cast<int>(v.as_object().at("port").to_number<int64_t>());
      url_ = v.as_object().contains("url") ? std::string(v.as_object().at("url").as_string())
                                           : "http://127.0.0.1:" + std::to_string(port_);
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  stop(true);
  throw std::runtime_error("downbeatd did not write its ready file in time: " + read_file(log_path()));
}

void DownbeatdProcess::stop(bool hard) {
  if (pid_ <= 0) return;
  ::kill(pid_, hard ? SIGKILL : SIGTERM);
  int status = 0;
  for (int i = 0; i < 500; ++i) {
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

}  // namespace downbeat::testing
