// Closed-form schedule areas (cptlaw/schedule.hpp) against the per-step recurrence
// (cptlaw/areas.hpp). Entry point: run_schedule_tests(), called by the test main;
// returns the number of failed checks.
#include "cptlaw/schedule.hpp"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "check.hpp"

int run_schedule_tests();

namespace {

using cptlaw::sched::Shape;
namespace sc = cptlaw::sched;

int g_failures = 0;

void check(bool ok, const char* what, double got = 0.0, double want = 0.0) {
  if (ok) {
    ++cptlaw_test::passed();
  } else {
    ++g_failures;
    std::printf("  FAIL %s: got %.17g want %.17g\n", what, got, want);
  }
}

struct Table {
  std::vector<double> rows;
  std::vector<double> data;
  std::int64_t steps = 0;
  Table& add(std::int64_t len, Shape shape, double scale, double floor = 0.0, double off = 0.0, double den = 1.0,
             double a = 0.0, double b = 0.0) {
    rows.insert(rows.end(), {static_cast<double>(len), static_cast<double>(static_cast<int>(shape)), scale, floor,
                             off, den, a, b});
    steps += len;
    return *this;
  }
  std::int64_t nseg() const { return static_cast<std::int64_t>(rows.size()) / sc::kSegmentFields; }
};

// |got - want| <= rtol |want| + floor, floor = 1e-12 * max|S| (the per-step recurrence
// itself is only that accurate on rounded LRs; see tests/test_schedules.py).
bool close(double got, double want, double rtol, double floor) {
  return std::fabs(got - want) <= rtol * std::fabs(want) + floor;
}

void compare_all(const char* name, const Table& t, double lam) {
  sc::Schedule s;
  s.build(t.rows.data(), t.nseg(), t.data.data(), lam);
  check(s.steps() == t.steps, name);
  const auto n = static_cast<std::size_t>(t.steps);
  std::vector<double> x(n), r1(n), r2(n), c1(n), c2(n);
  s.values(x.data());
  for (std::size_t i = 0; i < n; i += 1 + n / 17) check(s.value(static_cast<std::int64_t>(i)) == x[i], name);
  cptlaw::AreaOptions opt;
  opt.decay = lam;
  cptlaw::areas_row(x.data(), t.steps, opt, r1.data(), r2.data());
  std::vector<std::int64_t> steps(n);
  for (std::size_t i = 0; i < n; ++i) steps[i] = static_cast<std::int64_t>(i);
  s.areas_at(steps.data(), t.steps, c1.data(), c2.data());
  double m1 = 0.0, m2 = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    m1 = std::max(m1, std::fabs(r1[i]));
    m2 = std::max(m2, std::fabs(r2[i]));
  }
  const double floor = 1e-12 * std::max(m1, m2);
  int bad = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (!close(c1[i], r1[i], 1e-9, floor) || !close(c2[i], r2[i], 1e-9, floor)) {
      if (bad++ < 3)
        std::printf("  FAIL %s lam=%.12g step %zu: S1 %.17g vs %.17g, S2 %.17g vs %.17g\n", name, lam, i, c1[i],
                    r1[i], c2[i], r2[i]);
    }
  }
  check(bad == 0, name);
  // Random access (descending order defeats the recurrence cursor) and final state.
  for (std::size_t i = n; i-- > 0;) {
    if (i % 7 != 0 && i != n - 1) continue;
    const sc::State st = s.state_at(static_cast<std::int64_t>(i));
    check(close(st.s1, r1[i], 1e-9, floor) && close(st.s2, r2[i], 1e-9, floor), name, st.s2, r2[i]);
  }
  check(close(s.final_state().s2, r2[n - 1], 1e-9, floor), name, s.final_state().s2, r2[n - 1]);
  check(s.final_state().x == x[n - 1] || close(s.final_state().x, x[n - 1], 1e-12, 1e-15 * m1), name);
}

std::vector<Table> tables() {
  std::vector<Table> out;
  const double peak = 3e-4;
  // HF cosine with warmup and min_lr ratio.
  out.push_back(Table()
                    .add(100, Shape::linear, peak, 0.0, 0.0, 100.0)
                    .add(1900, Shape::cosine, peak, 0.1, 0.0, 1900.0, 0.5));
  // WSD: warmup from min ratio, stable, each decay type, tail.
  for (Shape d : {Shape::one_minus, Shape::cosine, Shape::sqrt_down}) {
    out.push_back(Table()
                      .add(50, Shape::linear, peak, 0.05, 0.0, 50.0)
                      .add(700, Shape::constant, peak)
                      .add(300, Shape::one_minus == d ? Shape::one_minus : d, peak, 0.05, 0.0, 300.0, 0.5)
                      .add(20, Shape::constant, peak * 0.05));
  }
  // HF linear, exponential (including gamma ~ lam), inverse sqrt, polynomial.
  out.push_back(Table().add(10, Shape::linear, peak, 0, 0, 10).add(990, Shape::ratio_down, peak, 0, 990, 990));
  out.push_back(Table().add(10, Shape::linear, peak, 0, 0, 10).add(1500, Shape::power, peak, 0.0, 0.0, 1.0, 0.999));
  out.push_back(Table().add(700, Shape::power, peak, 0.2, 3.0, 1.0, 0.995).add(300, Shape::power, peak, 0, 0, 1, 1.002));
  out.push_back(Table().add(20, Shape::linear, peak, 0, 0, 20).add(900, Shape::inv_sqrt, peak, 0, 20, 20));
  out.push_back(Table().add(900, Shape::poly, peak, 1e-6, 0, 900, 1.0).add(100, Shape::poly, peak, 1e-6, 0, 120, 2.0));
  // Torch warm restarts (cosine_torch) and HF hard restarts (cosine_hard).
  out.push_back(Table()
                    .add(200, Shape::cosine_torch, peak, 1e-5, 0, 200)
                    .add(400, Shape::cosine_torch, peak, 1e-5, 0, 400)
                    .add(800, Shape::cosine_torch, peak, 1e-5, 0, 800));
  out.push_back(Table()
                    .add(334, Shape::cosine_hard, peak, 0, 0, 1000, 3.0, 0.0)
                    .add(333, Shape::cosine_hard, peak, 0, 334, 1000, 3.0, 1.0)
                    .add(333, Shape::cosine_hard, peak, 0, 667, 1000, 3.0, 2.0));
  // Re-warmup from a nonzero LR, cosine warmup, 1-sqrt warmup, jumps up and down.
  out.push_back(Table()
                    .add(300, Shape::constant, 1e-5)
                    .add(40, Shape::linear, peak, 1e-5 / peak, 0, 40)
                    .add(60, Shape::cosine_up, peak, 0.0, 0, 60)
                    .add(30, Shape::sqrt_up, peak, 0.3, 0, 30)
                    .add(500, Shape::cosine, peak, 0, 0, 500, 1.5)
                    .add(1, Shape::constant, 0.0)
                    .add(77, Shape::constant, peak));
  // Arrays mixed with closed forms; a long slow cosine (w = pi/20000).
  Table arr;
  for (int i = 0; i < 123; ++i) arr.data.push_back(peak * (0.5 + 0.5 * std::sin(0.1 * i)));
  arr.add(123, Shape::array, 0, 0, 0, 1).add(100, Shape::constant, peak).add(50, Shape::array, 0, 0, 60, 1);
  out.push_back(arr);
  out.push_back(Table().add(20000, Shape::cosine, peak, 0.0, 0.0, 20000.0, 0.5));
  return out;
}

void test_against_recurrence() {
  const std::vector<Table> ts = tables();
  for (double lam : {0.0, 0.3, 0.9, 0.999, 0.99999, 1.0 - 1e-9, 1.0}) {
    int i = 0;
    for (const Table& t : ts) {
      char name[64];
      std::snprintf(name, sizeof name, "table %d", i++);
      compare_all(name, t, lam);
    }
  }
}

// A 1e6-step linear decay and a slow cosine: a handful of steps against a recurrence run.
void test_long() {
  const double peak = 1.0;
  for (double lam : {0.999, 1.0 - 1e-9, 1.0}) {
    Table t;
    t.add(1000000, Shape::ratio_down, peak, 0.0, 1000000, 1000000).add(1000000, Shape::cosine, peak, 0.0, 0, 1e6, 0.5);
    sc::Schedule s;
    s.build(t.rows.data(), t.nseg(), nullptr, lam);
    std::vector<double> x(static_cast<std::size_t>(t.steps)), r1(x.size()), r2(x.size());
    s.values(x.data());
    cptlaw::AreaOptions opt;
    opt.decay = lam;
    cptlaw::areas_row(x.data(), t.steps, opt, r1.data(), r2.data());
    const double floor = 1e-12 * std::max(r1.back(), std::fabs(r2.back()));
    for (std::int64_t i : {std::int64_t{0}, std::int64_t{1}, std::int64_t{12345}, std::int64_t{999999},
                           std::int64_t{1000000}, std::int64_t{1500001}, std::int64_t{1999999}}) {
      const sc::State st = s.state_at(i);
      const auto u = static_cast<std::size_t>(i);
      check(close(st.s1, r1[u], 1e-9, floor), "long S1", st.s1, r1[u]);
      check(close(st.s2, r2[u], 1e-9, floor), "long S2", st.s2, r2[u]);
    }
  }
}

void test_cpt() {
  const double peak = 2e-4;
  Table pt, cpt;
  pt.add(50, Shape::linear, peak, 0, 0, 50).add(500, Shape::constant, peak).add(200, Shape::one_minus, peak, 0.1, 0, 200);
  cpt.add(30, Shape::linear, peak, 0.1, 0, 30).add(400, Shape::cosine, peak, 0.0, 0, 400, 0.5);
  const std::int64_t N = pt.steps + cpt.steps;
  std::vector<double> xp(static_cast<std::size_t>(pt.steps)), xc(static_cast<std::size_t>(cpt.steps));
  for (double lam : {0.0, 0.99, 0.999, 1.0}) {
    sc::Schedule p;
    p.build(pt.rows.data(), pt.nseg(), nullptr, lam);
    p.values(xp.data());
    sc::Schedule tmp;
    tmp.build(cpt.rows.data(), cpt.nseg(), nullptr, lam);
    tmp.values(xc.data());
    for (cptlaw::Split split : {cptlaw::Split::by_source, cptlaw::Split::by_time, cptlaw::Split::restart}) {
      std::vector<double> r[4], c[4];
      for (auto& v : r) v.resize(static_cast<std::size_t>(N));
      for (auto& v : c) v.resize(static_cast<std::size_t>(N));
      cptlaw::AreaOptions opt;
      opt.decay = lam;
      cptlaw::cpt_areas_row(xp.data(), pt.steps, xc.data(), cpt.steps, opt, split, r[0].data(), r[1].data(),
                            r[2].data(), r[3].data());
      sc::CPTPair pair;
      pair.build(p, cpt.rows.data(), cpt.nseg(), nullptr, split);
      std::vector<std::int64_t> steps;
      for (std::int64_t i = N; i-- > 0;) steps.push_back(i);
      pair.areas_at(steps.data(), N, c[0].data(), c[1].data(), c[2].data(), c[3].data());
      double scale = 0.0;
      for (auto& v : r)
        for (double y : v) scale = std::max(scale, std::fabs(y));
      int bad = 0;
      for (std::int64_t q = 0; q < N; ++q) {
        const auto i = static_cast<std::size_t>(steps[static_cast<std::size_t>(q)]);
        for (int a = 0; a < 4; ++a)
          if (!close(c[a][static_cast<std::size_t>(q)], r[a][i], 1e-9, 1e-12 * scale) && bad++ < 3)
            std::printf("  FAIL cpt lam=%g split=%d step %zu area %d: %.17g vs %.17g\n", lam, static_cast<int>(split),
                        i, a, c[a][static_cast<std::size_t>(q)], r[a][i]);
      }
      check(bad == 0, "cpt splits");
    }
  }
}

void test_batch() {
  // 3 WSD schedules of different decay lengths, padded to the same number of rows.
  const double peak = 1e-3;
  std::vector<double> rows;
  const std::int64_t nseg = 4;
  for (int d : {100, 250, 400}) {
    Table t;
    t.add(10, Shape::linear, peak, 0, 0, 10).add(500 - d, Shape::constant, peak).add(d, Shape::one_minus, peak, 0, 0, d);
    t.add(0, Shape::constant, 0.0);
    rows.insert(rows.end(), t.rows.begin(), t.rows.end());
  }
  const std::vector<std::int64_t> steps = {0, 5, 9, 10, 200, 399, 400, 509};
  const auto k = static_cast<std::int64_t>(steps.size());
  std::vector<double> b1(static_cast<std::size_t>(3 * k)), b2(b1.size());
  cptlaw::sched::areas_batch(rows.data(), 3, nseg, nseg * sc::kSegmentFields, nullptr, steps.data(), k, 0, 0.999,
                             b1.data(), b2.data(), 2);
  for (int r = 0; r < 3; ++r) {
    sc::Schedule s;
    s.build(rows.data() + r * nseg * sc::kSegmentFields, nseg, nullptr, 0.999);
    std::vector<double> a1(static_cast<std::size_t>(k)), a2(a1.size());
    s.areas_at(steps.data(), k, a1.data(), a2.data());
    for (std::int64_t q = 0; q < k; ++q)
      check(a1[static_cast<std::size_t>(q)] == b1[static_cast<std::size_t>(r * k + q)] &&
                a2[static_cast<std::size_t>(q)] == b2[static_cast<std::size_t>(r * k + q)],
            "batch");
  }
  // Unsorted steps inside recurrence-only (array, 1-sqrt) segments: same as sorted.
  {
    Table t;
    for (int i = 0; i < 5000; ++i) t.data.push_back(1e-3 * (1.0 - i / 5000.0));
    t.add(5000, Shape::array, 0, 0, 0, 1).add(3000, Shape::sqrt_down, 1e-3, 0.0, 0, 3000);
    sc::Schedule s;
    s.build(t.rows.data(), t.nseg(), t.data.data(), 0.999);
    std::vector<std::int64_t> fwd, rev;
    for (std::int64_t i = 0; i < t.steps; i += 7) fwd.push_back(i);
    rev.assign(fwd.rbegin(), fwd.rend());
    std::vector<double> a1(fwd.size()), a2(fwd.size()), c1(fwd.size()), c2(fwd.size());
    s.areas_at(fwd.data(), static_cast<std::int64_t>(fwd.size()), a1.data(), a2.data());
    s.areas_at(rev.data(), static_cast<std::int64_t>(rev.size()), c1.data(), c2.data());
    bool same = true;
    for (std::size_t q = 0; q < fwd.size(); ++q)
      same = same && a1[q] == c1[fwd.size() - 1 - q] && a2[q] == c2[fwd.size() - 1 - q];
    check(same, "unsorted steps in recurrence segments");
  }
  // Out-of-range steps throw.
  bool threw = false;
  try {
    sc::Schedule s;
    s.build(rows.data(), nseg, nullptr, 0.999);
    s.value(s.steps());
  } catch (const std::out_of_range&) {
    threw = true;
  }
  check(threw, "out of range step throws");
}

void test_geo() {
  // g_n, h_n against direct sums.
  for (double lam : {0.0, 0.2, 0.5, 0.9, 0.999, 1.0 - 1e-7, 1.0 - 1e-12, 1.0}) {
    const sc::Decay dc(lam);
    for (std::int64_t n : {0, 1, 2, 3, 10, 250, 4000}) {
      long double g = 0, h = 0, pw = 1;
      for (std::int64_t s = 0; s < n; ++s) {
        g += pw;
        h += static_cast<long double>(n - s) * pw;
        pw *= lam;
      }
      const auto G = dc.geo(n, true);
      check(close(G.g, static_cast<double>(g), 1e-13, 1e-300), "g_n", G.g, static_cast<double>(g));
      check(close(G.h, static_cast<double>(h), 1e-12, 1e-300), "h_n", G.h, static_cast<double>(h));
    }
  }
}

}  // namespace

int run_schedule_tests() {
  g_failures = 0;
  test_geo();
  test_against_recurrence();
  test_long();
  test_cpt();
  test_batch();
  std::printf("schedule tests: %s (%d failures)\n", g_failures == 0 ? "ok" : "FAILED", g_failures);
  return g_failures;
}
