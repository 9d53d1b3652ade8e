// Splitting independent work (rows, points, fits) across threads.
//
// Plain std::thread per call: the jobs this library runs in parallel are large
// (thousands of rows or millions of points), so thread start-up (~20 us) is noise;
// small jobs run inline on the caller's thread.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace cptlaw {

inline int default_threads() {
  const unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(hw);
}

// Calls fn(begin, end) on contiguous chunks of [0, n). Chunks are handed out
// dynamically (work stealing from a shared counter) so one slow chunk does not
// hold the rest back. `grain` is the smallest chunk worth a thread.
template <class Fn>
void parallel_for(std::int64_t n, int threads, std::int64_t grain, Fn&& fn) {
  if (n <= 0) return;
  grain = std::max<std::int64_t>(grain, 1);
  const std::int64_t max_useful = (n + grain - 1) / grain;
  const int nt = static_cast<int>(std::max<std::int64_t>(1, std::min<std::int64_t>(threads, max_useful)));
  if (nt <= 1) {
    fn(std::int64_t{0}, n);
    return;
  }
  // ~4 chunks per thread balances uneven rows without much contention.
  const std::int64_t chunk = std::max<std::int64_t>(grain, n / (4 * static_cast<std::int64_t>(nt)));
  std::atomic<std::int64_t> next{0};
  std::exception_ptr error;
  std::mutex error_mutex;
  auto worker = [&]() {
    try {
      for (;;) {
        const std::int64_t b = next.fetch_add(chunk);
        if (b >= n) break;
        fn(b, std::min(n, b + chunk));
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (!error) error = std::current_exception();
      next.store(n);
    }
  };
  std::vector<std::thread> pool;
  pool.reserve(static_cast<std::size_t>(nt - 1));
  for (int t = 1; t < nt; ++t) pool.emplace_back(worker);
  worker();
  for (auto& th : pool) th.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace cptlaw
