// Stopping long calls early (Ctrl-C), without Python headers.
//
// A caller that can be interrupted installs a CancelScope on its thread for the length of
// a call. It holds a stop flag and, optionally, a poll function (the Python bindings check
// for pending signals there). Long loops in the core call CPTLAW_CHECKPOINT() every
// ~0.01-1 ms of work: it throws Cancelled once the flag is set and, on the scope's own
// thread, runs the poll at most every kPollInterval. Pool workers run a job under the
// submitting thread's scope (parallel.hpp), so they stop too. Without a scope (the C++
// tests, other C++ users) a checkpoint is one thread-local read.
#pragma once

#include <atomic>
#include <chrono>
#include <exception>
#include <thread>

namespace cptlaw {

// Thrown out of the core when the current scope is cancelled.
struct Cancelled : std::exception {
  const char* what() const noexcept override { return "cptlaw: cancelled"; }
};

class CancelScope;

namespace detail {
inline CancelScope*& current_scope() {
  thread_local CancelScope* scope = nullptr;
  return scope;
}
}  // namespace detail

class CancelScope {
 public:
  // poll(ctx) returns true to stop; it is only ever called on the thread that made the scope.
  using Poll = bool (*)(void* ctx);
  // Polls are spaced so that a Ctrl-C is seen within ~50 ms of work.
  static constexpr std::chrono::milliseconds kPollInterval{30};

  explicit CancelScope(Poll poll = nullptr, void* ctx = nullptr)
      : poll_(poll), ctx_(ctx), owner_(std::this_thread::get_id()), prev_(detail::current_scope()) {
    next_poll_ = std::chrono::steady_clock::now() + kPollInterval;
    detail::current_scope() = this;
  }
  ~CancelScope() { detail::current_scope() = prev_; }
  CancelScope(const CancelScope&) = delete;
  CancelScope& operator=(const CancelScope&) = delete;

  static CancelScope* current() { return detail::current_scope(); }

  void cancel() { stop_.store(true, std::memory_order_relaxed); }
  bool cancelled() const { return stop_.load(std::memory_order_relaxed); }

  // Polls now if this is the owning thread and the interval has passed; true when stopped.
  bool poll() {
    if (cancelled()) return true;
    if (poll_ == nullptr || std::this_thread::get_id() != owner_) return false;
    const auto now = std::chrono::steady_clock::now();
    if (now < next_poll_) return false;
    next_poll_ = now + kPollInterval;
    if (poll_(ctx_)) cancel();
    return cancelled();
  }
  void check() {
    if (poll()) throw Cancelled();
  }

 private:
  std::atomic<bool> stop_{false};
  Poll poll_;
  void* ctx_;
  std::thread::id owner_;
  std::chrono::steady_clock::time_point next_poll_;
  CancelScope* prev_;
};

// Runs a pool job under the submitting thread's scope (as a helper: it never polls).
class AdoptScope {
 public:
  explicit AdoptScope(CancelScope* s) : prev_(detail::current_scope()) { detail::current_scope() = s; }
  ~AdoptScope() { detail::current_scope() = prev_; }
  AdoptScope(const AdoptScope&) = delete;
  AdoptScope& operator=(const AdoptScope&) = delete;

 private:
  CancelScope* prev_;
};

// Throws Cancelled if the current call has been cancelled.
inline void checkpoint() {
  if (CancelScope* s = detail::current_scope()) s->check();
}

}  // namespace cptlaw

// For loops that device code may share: a no-op when compiled for a GPU.
#if defined(__CUDA_ARCH__)
#define CPTLAW_CHECKPOINT() \
  do {                      \
  } while (0)
#else
#define CPTLAW_CHECKPOINT() ::cptlaw::checkpoint()
#endif
