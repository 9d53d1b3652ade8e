#include <cmath>
#include <vector>

#include "check.hpp"
#include "cptlaw/areas.hpp"

int run_area_tests() {
  int f = 0;
  using namespace cptlaw;
  // Constant schedule: S2 == 0, S1 = k * lr.
  {
    std::vector<double> x(1000, 2e-4), s1(1000), s2(1000);
    AreaOptions opt;
    CPTLAW_CHECK(areas_batch(x.data(), 1, 1000, opt, s1.data(), s2.data(), 2), f);
    CPTLAW_CHECK(s2[999] == 0.0, f);
    CPTLAW_CHECK(cptlaw_test::close(s1[999], 0.2, 1e-12), f);
  }
  // Drop a -> b then a long flat tail: S2 -> (a - b) / (1 - lam); interleaved rows agree with one row.
  {
    const std::int64_t n = 20000, rows = 7;
    std::vector<double> x(rows * n), s1(rows * n), s2(rows * n), r1(n), r2(n);
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t i = 0; i < n; ++i) x[r * n + i] = i == 0 ? 1e-3 : 1e-4 * (1 + r);
    AreaOptions opt;
    CPTLAW_CHECK(areas_batch(x.data(), rows, n, opt, s1.data(), s2.data(), 3), f);
    CPTLAW_CHECK(cptlaw_test::close(s2[n - 1], (1e-3 - 1e-4) / 1e-3, 1e-8), f);
    areas_row(x.data() + 5 * n, n, opt, r1.data(), r2.data());
    bool same = true;
    for (std::int64_t i = 0; i < n; ++i) same = same && r1[i] == s1[5 * n + i] && r2[i] == s2[5 * n + i];
    CPTLAW_CHECK(same, f);
  }
  // Invalid learning rates are reported, not computed on.
  {
    std::vector<double> x = {1e-3, -1e-3, 1e-3}, s1(3), s2(3);
    CPTLAW_CHECK(!areas_batch(x.data(), 1, 3, AreaOptions{}, s1.data(), s2.data(), 1), f);
    x[1] = std::nan("");
    CPTLAW_CHECK(!areas_batch(x.data(), 1, 3, AreaOptions{}, s1.data(), s2.data(), 1), f);
  }
  // Splits coincide when PT ends flat; by_time S2 sums to the full-timeline S2.
  {
    const std::int64_t np = 40000, nc = 500;  // PT momentum ~ lam^39000: gone
    std::vector<double> pt(np), cpt(nc), full(np + nc), fs1(np + nc), fs2(np + nc);
    for (std::int64_t i = 0; i < np; ++i) pt[i] = i < 1000 ? 3e-4 : 1e-4;
    for (std::int64_t i = 0; i < nc; ++i) cpt[i] = 2e-4 * (1.0 - double(i) / nc);
    for (std::int64_t i = 0; i < np + nc; ++i) full[i] = i < np ? pt[i] : cpt[i - np];
    areas_row(full.data(), np + nc, AreaOptions{}, fs1.data(), fs2.data());
    std::vector<double> out[3][4];
    for (int s = 0; s < 3; ++s) {
      for (auto& v : out[s]) v.assign(np + nc, 0.0);
      CPTLAW_CHECK(cpt_areas_batch(pt.data(), np, cpt.data(), nc, 1, AreaOptions{}, static_cast<Split>(s),
                                   out[s][0].data(), out[s][1].data(), out[s][2].data(), out[s][3].data(), 1),
                   f);
    }
    const std::int64_t last = np + nc - 1;
    CPTLAW_CHECK(cptlaw_test::close(out[0][3][last], out[2][3][last], 1e-12), f);
    CPTLAW_CHECK(cptlaw_test::close(out[0][1][last], out[2][1][last], 1e-6), f);
    CPTLAW_CHECK(cptlaw_test::close(out[1][1][last] + out[1][3][last], fs2[last], 1e-12), f);
    CPTLAW_CHECK(cptlaw_test::close(out[0][0][last] + out[0][2][last], fs1[last], 1e-12), f);
  }
  return f;
}
