#pragma once
// The two threading rules of the client, as types: state user threads read sits in a Guarded<T>
// (reachable only under its mutex), state only the io thread touches sits in an IoOnly<T>.
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <cassert>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <type_traits>
#include <utility>

namespace downbeat::detail {

// A value shared between the io thread and user threads. The only way to reach it is under its lock,
// and every update wakes the threads waiting for a condition on it. Never call user code from inside f.
template <class T>
class Guarded {
 public:
  template <class... Args>
  explicit Guarded(Args&&... args) : value_(std::forward<Args>(args)...) {}
  Guarded(const Guarded&) = delete;
  Guarded& operator=(const Guarded&) = delete;

  // Reads (or changes without waking waiters) under the lock; returns what f returns, by value.
  template <class F>
  auto with(F&& f) const {
    std::lock_guard lock(mu_);
    return f(std::as_const(value_));
  }
  template <class F>
  auto with_mut(F&& f) {
    std::lock_guard lock(mu_);
    return f(value_);
  }

  // Changes the value under the lock, then wakes every wait_for().
  template <class F>
  auto update(F&& f) {
    std::unique_lock lock(mu_);
    if constexpr (std::is_void_v<decltype(f(value_))>) {
      f(value_);
      lock.unlock();
      cv_.notify_all();
    } else {
      auto result = f(value_);
      lock.unlock();
      cv_.notify_all();
      return result;
    }
  }

  T copy() const {
    std::lock_guard lock(mu_);
    return value_;
  }

  // Blocks until pred(value) holds (checked after every update) or the timeout passes.
  template <class Pred>
  bool wait_for(std::chrono::milliseconds timeout, Pred&& pred) const {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return pred(std::as_const(value_)); });
  }

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  T value_;
};

// A value only code running on one io_context touches: no lock, because there is one io thread.
// Other threads reach it through post(); operator-> checks (in debug builds) that the caller runs on
// that io_context, or that the context is stopped (its thread joined, the caller is the only one left).
template <class T>
class IoOnly {
 public:
  template <class... Args>
  explicit IoOnly(boost::asio::io_context& ioc, Args&&... args) : ioc_(ioc), value_(std::forward<Args>(args)...) {}
  IoOnly(const IoOnly&) = delete;
  IoOnly& operator=(const IoOnly&) = delete;

  T* operator->() {
    assert(on_io());
    return &value_;
  }
  const T* operator->() const {
    assert(on_io());
    return &value_;
  }
  T& operator*() { return *operator->(); }

  // From any thread: runs f(value) on the io thread.
  template <class F>
  void post(F&& f) {
    boost::asio::post(ioc_, [this, f = std::forward<F>(f)]() mutable { f(value_); });
  }

 private:
  bool on_io() const { return ioc_.get_executor().running_in_this_thread() || ioc_.stopped(); }
  boost::asio::io_context& ioc_;
  T value_;
};

}  // namespace downbeat::detail
