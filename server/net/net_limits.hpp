#pragma once
// The network layer's limits. Connections per address are counted by RAII slots from the moment
// a connection is admitted (at accept, and again at the upgrade decision), so concurrent
// handshakes cannot overshoot a cap and no error path can leak a count.
#include <boost/asio/ip/address.hpp>
#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <utility>

namespace downbeat::server {

struct SessionLimits {
  std::size_t max_queue = 1024;                   // frames
  std::size_t max_queue_bytes = 4 * 1024 * 1024;  // bytes waiting behind the frame being written
  std::size_t max_frame = 64 * 1024;
  std::chrono::seconds send_timeout{30};  // one frame that takes longer to leave: the reader is stuck
  bool fault_inject = false;              // tests only: a `fault.throw` text frame throws in the read loop
};

// What the network layer shares between the listener and its sessions. Sessions hold it by
// shared_ptr: a coroutine destroyed after the server (at io_context teardown) still finds it.
struct NetState {
  std::map<std::string, int> http_per_address;  // TCP connections not (yet) upgraded
  std::map<std::string, int> ws_per_address;    // admitted WebSocket connections
  std::size_t queued_bytes = 0;                 // frames waiting in every send queue
  bool stopped = false;                         // the server and its hub are gone: touch neither
};

// The key an address is counted under: IPv4 as is, IPv6 by its /64 (one host owns a whole /64).
inline std::string address_key(const boost::asio::ip::address& a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped()) return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, a.to_v6()).to_string();
  if (a.is_v4()) return a.to_string();
  auto bytes = a.to_v6().to_bytes();
  for (std::size_t i = 8; i < bytes.size(); ++i) bytes[i] = 0;
  return boost::asio::ip::address_v6(bytes).to_string() + "/64";
}

// One count for one address, given back when the slot is destroyed or reset.
class AddressSlot {
 public:
  using Table = std::map<std::string, int> NetState::*;

  AddressSlot() = default;
  AddressSlot(const AddressSlot&) = delete;
  AddressSlot& operator=(const AddressSlot&) = delete;
  AddressSlot(AddressSlot&& o) noexcept : state_(std::move(o.state_)), table_(o.table_), key_(std::move(o.key_)) {}
  AddressSlot& operator=(AddressSlot&& o) noexcept {
    if (this != &o) {
      reset();
      state_ = std::move(o.state_);
      table_ = o.table_;
      key_ = std::move(o.key_);
    }
    return *this;
  }
  ~AddressSlot() { reset(); }

  // A slot for `key` in `table` if fewer than `cap` are held, else an empty slot.
  static AddressSlot acquire(const std::shared_ptr<NetState>& state, Table table, const std::string& key, int cap) {
    int& n = ((*state).*table)[key];
    if (n >= cap) {
      if (n == 0) ((*state).*table).erase(key);
      return {};
    }
    ++n;
    return AddressSlot(state, table, key);
  }

  explicit operator bool() const { return state_ != nullptr; }

  void reset() {
    if (!state_) return;
    auto& t = (*state_).*table_;
    if (auto it = t.find(key_); it != t.end() && --it->second <= 0) t.erase(it);
    state_.reset();
  }

 private:
  AddressSlot(std::shared_ptr<NetState> state, Table table, std::string key) : state_(std::move(state)), table_(table), key_(std::move(key)) {}

  std::shared_ptr<NetState> state_;
  Table table_ = nullptr;
  std::string key_;
};

}  // namespace downbeat::server
