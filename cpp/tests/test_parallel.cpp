// The thread pool (parallel.hpp) and cancellation (cancel.hpp).
#include <atomic>
#include <cstdint>
#include <stdexcept>
#include <thread>
#include <vector>

#include "check.hpp"
#include "cptlaw/areas.hpp"
#include "cptlaw/cancel.hpp"
#include "cptlaw/parallel.hpp"
#include "cptlaw/schedule.hpp"

namespace {

// Sum of i^2 over [0, n) by chunks, each chunk's partial sum stored at its first index.
std::int64_t chunked_sum(std::int64_t n, int threads, std::int64_t grain) {
  std::vector<std::int64_t> part(static_cast<std::size_t>(n), 0);
  cptlaw::parallel_for(n, threads, grain, [&](std::int64_t b, std::int64_t e) {
    std::int64_t s = 0;
    for (std::int64_t i = b; i < e; ++i) s += i * i;
    part[static_cast<std::size_t>(b)] = s;
  });
  std::int64_t total = 0;
  for (auto v : part) total += v;
  return total;
}

}  // namespace

int run_parallel_tests() {
  int f = 0;
  using namespace cptlaw;
  const std::int64_t n = 100000;
  const std::int64_t want = (n - 1) * n * (2 * n - 1) / 6;
  // Any thread count (even absurd ones) and grain give the same answer.
  for (int t : {1, 2, 3, 8, 64, 100000}) CPTLAW_CHECK(chunked_sum(n, t, 7) == want, f);
  CPTLAW_CHECK(chunked_sum(5, 64, 1) == 0 + 1 + 4 + 9 + 16, f);
  // Every index visited exactly once.
  {
    std::vector<std::atomic<int>> hits(10007);
    for (auto& h : hits) h = 0;
    parallel_for(10007, 4, 3, [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t i = b; i < e; ++i) ++hits[static_cast<std::size_t>(i)];
    });
    bool once = true;
    for (auto& h : hits) once = once && h == 1;
    CPTLAW_CHECK(once, f);
  }
  // No more pool threads than pieces of work: 3 pieces use at most 2 helpers.
  {
    std::atomic<int> calls{0};
    parallel_for(3, 64, 1, [&](std::int64_t b, std::int64_t e) { calls += static_cast<int>(e - b); });
    CPTLAW_CHECK(calls == 3, f);
    CPTLAW_CHECK(detail::Pool::get()->size() <= kMaxThreads - 1, f);
  }
  // The first exception reaches the caller; the pool keeps working afterwards.
  {
    bool caught = false;
    try {
      parallel_for(1000, 4, 1, [&](std::int64_t b, std::int64_t) {
        if (b >= 500) throw std::runtime_error("boom");
      });
    } catch (const std::runtime_error&) {
      caught = true;
    }
    CPTLAW_CHECK(caught, f);
    CPTLAW_CHECK(chunked_sum(n, 4, 7) == want, f);
  }
  // Nested calls run inline and give the same result.
  {
    std::vector<std::int64_t> inner(16, 0);
    parallel_for(16, 4, 1, [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t i = b; i < e; ++i) inner[static_cast<std::size_t>(i)] = chunked_sum(1000, 4, 10);
    });
    bool same = true;
    for (auto v : inner) same = same && v == 999LL * 1000 * 1999 / 6;
    CPTLAW_CHECK(same, f);
  }
  // Several callers at once share the pool and each gets its own answer.
  {
    std::vector<std::int64_t> got(6, -1);
    std::vector<std::thread> callers;
    for (int c = 0; c < 6; ++c)
      callers.emplace_back([&, c] { got[static_cast<std::size_t>(c)] = chunked_sum(n - c, 3, 11); });
    for (auto& t : callers) t.join();
    bool ok = true;
    for (int c = 0; c < 6; ++c) {
      const std::int64_t m = n - c;
      ok = ok && got[static_cast<std::size_t>(c)] == (m - 1) * m * (2 * m - 1) / 6;
    }
    CPTLAW_CHECK(ok, f);
  }
  // Cancellation: a cancelled scope stops parallel work and the kernels with Cancelled.
  {
    CancelScope scope;
    std::atomic<std::int64_t> done{0};
    bool stopped = false;
    try {
      parallel_for(1 << 20, 4, 1, [&](std::int64_t b, std::int64_t e) {
        if (b >= 1000) scope.cancel();
        done += e - b;
      });
    } catch (const Cancelled&) {
      stopped = true;
    }
    CPTLAW_CHECK(stopped, f);
    CPTLAW_CHECK(done < (1 << 20), f);
  }
  {
    std::vector<double> x(4 * 100000, 1e-4), s1(x.size()), s2(x.size());
    AreaOptions opt;
    CancelScope scope;
    scope.cancel();
    bool stopped = false;
    try {
      areas_batch(x.data(), 4, 100000, opt, s1.data(), s2.data(), 2);
    } catch (const Cancelled&) {
      stopped = true;
    }
    CPTLAW_CHECK(stopped, f);
  }
  // Without a scope nothing is cancelled; a scope ends with its block.
  CPTLAW_CHECK(CancelScope::current() == nullptr, f);
  // The poll function stops a long recurrence (10^10 steps of a 1-sqrt decay, ~minutes
  // if it did not): the owning thread polls at checkpoints.
  {
    std::atomic<int> polls{0};
    auto poll = [](void* ctx) { return ++*static_cast<std::atomic<int>*>(ctx) >= 2; };
    CancelScope scope(poll, &polls);
    const double rows[8] = {1e10, static_cast<double>(sched::Shape::sqrt_down), 1e-3, 0.0, 0.0, 1e10, 0.0, 0.0};
    bool stopped = false;
    try {
      sched::Schedule s;
      s.build(rows, 1, nullptr, 0.999);
    } catch (const Cancelled&) {
      stopped = true;
    }
    CPTLAW_CHECK(stopped, f);
    CPTLAW_CHECK(polls >= 2, f);
  }
  std::printf("parallel tests: %s (%d failures)\n", f ? "FAILED" : "ok", f);
  return f;
}
