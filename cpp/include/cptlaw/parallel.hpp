// Splitting independent work (rows, points, fits) across threads.
//
// One pool of worker threads per process, started on first use and grown to the largest
// count asked for (at most kMaxThreads - 1 workers; the caller is the last thread). It never
// aborts: if a thread cannot be started (process or memory limits), the work runs on the
// threads that exist, the caller included, so a call always finishes and its result never
// depends on how many threads took part. Workers are detached and the pool is never
// destroyed, so interpreter or process shutdown does not wait for (or on) them; a child
// made by fork() starts a fresh pool (the parent's threads do not exist there).
//
// Cancellation (cancel.hpp): workers run a job under the caller's CancelScope and stop at
// the next chunk or checkpoint once it is cancelled; the caller keeps polling while it waits.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <new>
#include <thread>

#if defined(__unix__) || defined(__APPLE__)
#include <pthread.h>
#define CPTLAW_HAVE_ATFORK 1
#endif

#include "cptlaw/cancel.hpp"

namespace cptlaw {

// The most threads one call may use (the Python layer refuses larger counts).
constexpr int kMaxThreads = 1024;

inline int default_threads() {
  const unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(std::min<unsigned>(hw, kMaxThreads));
}

namespace detail {

// A unit of shared work: each thread that joins runs work(ctx), which takes chunks from a
// shared counter until none is left and never throws.
struct Job {
  void (*work)(void*) = nullptr;
  void* ctx = nullptr;
  CancelScope* scope = nullptr;
  int wanted = 0;  // helpers still to join
  int active = 0;  // helpers running it now
  Job* next = nullptr;
};

inline bool& in_worker() {
  thread_local bool flag = false;
  return flag;
}

class Pool {
 public:
  // The process's pool (a fresh one after fork); null if it cannot even be allocated.
  static Pool* get() {
    Pool* p = instance().load(std::memory_order_acquire);
    if (p) return p;
    Pool* fresh = new (std::nothrow) Pool();
    if (!fresh) return nullptr;
    if (!instance().compare_exchange_strong(p, fresh)) {
      delete fresh;  // another thread won; `p` is its pool
      return p;
    }
#if CPTLAW_HAVE_ATFORK
    static const bool registered = (pthread_atfork(nullptr, nullptr, &Pool::after_fork_child), true);
    (void)registered;
#endif
    return fresh;
  }

  // Starts workers until `want` exist (or a start fails); returns how many exist.
  int grow(int want) {
    want = std::min(want, kMaxThreads - 1);
    std::lock_guard<std::mutex> lock(mu_);
    while (workers_ < want) {
      try {
        std::thread(&Pool::worker_main, this).detach();
      } catch (...) {  // std::system_error (EAGAIN), bad_alloc: use those we have
        break;
      }
      ++workers_;
    }
    return workers_;
  }

  // Workers started so far.
  int size() {
    std::lock_guard<std::mutex> lock(mu_);
    return workers_;
  }

  // Runs `job` on up to `helpers` workers and the calling thread; returns when all are done.
  void run(Job& job, int helpers) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      job.wanted = helpers;
      job.active = 0;
      job.next = nullptr;
      if (tail_) {
        tail_->next = &job;
      } else {
        head_ = &job;
      }
      tail_ = &job;
    }
    if (helpers == 1) {
      wake_.notify_one();
    } else {
      wake_.notify_all();
    }
    job.work(job.ctx);
    std::unique_lock<std::mutex> lock(mu_);
    if (job.wanted > 0) unlink(job);  // the work is done: late helpers need not join
    // Wait for the helpers still finishing their last chunk, polling for Ctrl-C meanwhile
    // so that they stop early.
    while (job.active > 0) {
      if (job.scope) {
        idle_.wait_for(lock, CancelScope::kPollInterval);
        if (job.active > 0) {
          lock.unlock();
          job.scope->poll();
          lock.lock();
        }
      } else {
        idle_.wait(lock);
      }
    }
  }

 private:
  Pool() = default;

  static std::atomic<Pool*>& instance() {
    static std::atomic<Pool*> p{nullptr};
    return p;
  }
  // In a forked child only the forking thread exists and the old pool's mutex may be held:
  // leave that pool behind and start a new one on first use.
  static void after_fork_child() { instance().store(nullptr, std::memory_order_relaxed); }

  void unlink(Job& job) {
    Job* prev = nullptr;
    for (Job* j = head_; j; prev = j, j = j->next) {
      if (j != &job) continue;
      (prev ? prev->next : head_) = j->next;
      if (tail_ == j) tail_ = prev;
      break;
    }
    job.wanted = 0;
  }

  void worker_main() {
    in_worker() = true;
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      wake_.wait(lock, [this] { return head_ != nullptr; });
      Job* job = head_;
      if (--job->wanted == 0) unlink(*job);
      ++job->active;
      lock.unlock();
      {
        AdoptScope scope(job->scope);
        job->work(job->ctx);
      }
      lock.lock();
      if (--job->active == 0) idle_.notify_all();
    }
  }

  std::mutex mu_;
  std::condition_variable wake_, idle_;
  Job *head_ = nullptr, *tail_ = nullptr;
  int workers_ = 0;
};

// Shared state of one parallel_for call.
template <class Fn>
struct ForContext {
  std::atomic<std::int64_t> next{0};
  std::int64_t n = 0, chunk = 1;
  Fn* fn = nullptr;
  std::exception_ptr error;
  std::mutex error_mutex;

  static void work(void* p) {
    auto& c = *static_cast<ForContext*>(p);
    try {
      for (;;) {
        CPTLAW_CHECKPOINT();
        const std::int64_t b = c.next.fetch_add(c.chunk);
        if (b >= c.n) break;
        (*c.fn)(b, std::min(c.n, b + c.chunk));
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(c.error_mutex);
      if (!c.error) c.error = std::current_exception();
      c.next.store(c.n);
    }
  }
};

}  // namespace detail

// Calls fn(begin, end) on contiguous chunks of [0, n). Chunks are handed out
// dynamically (from a shared counter) so one slow chunk does not hold the rest back.
// `grain` is the smallest chunk worth a thread, so at most ceil(n / grain) threads take
// part. The first exception thrown by fn (or Cancelled) stops the rest and is rethrown.
template <class Fn>
void parallel_for(std::int64_t n, int threads, std::int64_t grain, Fn&& fn) {
  if (n <= 0) return;
  CPTLAW_CHECKPOINT();
  grain = std::max<std::int64_t>(grain, 1);
  const std::int64_t max_useful = (n + grain - 1) / grain;
  const std::int64_t cap = std::min<std::int64_t>(max_useful, kMaxThreads);
  const int nt = static_cast<int>(std::max<std::int64_t>(1, std::min<std::int64_t>(threads, cap)));
  // Nested calls run inline: the pool's threads are already busy with the outer one.
  detail::Pool* pool = nt > 1 && !detail::in_worker() ? detail::Pool::get() : nullptr;
  const int helpers = pool ? pool->grow(nt - 1) : 0;
  if (helpers == 0) {
    fn(std::int64_t{0}, n);
    return;
  }
  using F = std::remove_reference_t<Fn>;
  detail::ForContext<F> ctx;
  ctx.n = n;
  // ~4 chunks per thread balances uneven rows without much contention.
  ctx.chunk = std::max<std::int64_t>(grain, n / (4 * static_cast<std::int64_t>(nt)));
  ctx.fn = &fn;
  detail::Job job;
  job.work = &detail::ForContext<F>::work;
  job.ctx = &ctx;
  job.scope = CancelScope::current();
  pool->run(job, std::min(helpers, nt - 1));
  if (ctx.error) std::rethrow_exception(ctx.error);
}

}  // namespace cptlaw
