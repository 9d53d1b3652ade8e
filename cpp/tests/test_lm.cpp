#include <cmath>
#include <cstdint>
#include <vector>

#include "check.hpp"
#include "cptlaw/lm.hpp"

namespace {

using namespace cptlaw;

struct Data {
  std::vector<double> s1, s2, y;
};

Data annealing_data(int n, double noise_sign) {
  Data d;
  for (int i = 0; i < n; ++i) {
    const double a = 0.05 + 3e-3 * (i + 1), b = std::fmax(0.0, -0.05 + 0.35 * i / (n - 1.0));
    d.s1.push_back(a);
    d.s2.push_back(b);
    // deterministic +-0.1% "noise"
    d.y.push_back((2.5 + 0.4 * std::pow(a, -0.5) - 0.3 * b) * (1.0 + noise_sign * 1e-3 * ((i % 3) - 1)));
  }
  return d;
}

}  // namespace

int run_lm_tests() {
  int f = 0;
  const double lo[] = {0, 0, 0, 0}, hi[] = {1e300, 1e300, 10, 1e300};
  const std::uint8_t fixed[] = {0, 0, 0, 0}, linear[] = {1, 1, 0, 1};
  std::vector<double> grid;
  for (int k = 0; k < 16; ++k) grid.insert(grid.end(), {1.0, 1.0, 0.05 * std::pow(40.0, k / 15.0), 1.0});
  // Exact data: every objective recovers the parameters.
  for (int obj : {fit::least_squares, fit::log_least_squares, fit::huber_log}) {
    const Data d = annealing_data(120, 0.0);
    const double* raw[] = {d.s1.data(), d.s2.data()};
    fit::Options opt;
    opt.objective = obj;
    fit::Problem<laws::Annealing> prob(raw, d.y.data(), nullptr, 120, lo, hi, fixed, linear, opt);
    const fit::Result r = prob.multistart(nullptr, 0, grid.data(), 16);
    CPTLAW_CHECK(r.status > 0, f);
    CPTLAW_CHECK(cptlaw_test::close(r.params[2], 0.5, 1e-6), f);
    CPTLAW_CHECK(cptlaw_test::close(r.params[3], 0.3, 1e-6), f);
  }
  // A fixed parameter stays put; a bound holds.
  {
    const Data d = annealing_data(80, 1.0);
    const double* raw[] = {d.s1.data(), d.s2.data()};
    const std::uint8_t fix_alpha[] = {0, 0, 1, 0};
    const double hi_c[] = {1e300, 1e300, 10, 0.2};
    const double start[] = {2.0, 0.5, 0.45, 0.1};
    fit::Problem<laws::Annealing> prob(raw, d.y.data(), nullptr, 80, lo, hi_c, fix_alpha, linear, fit::Options{});
    const fit::Result r = prob.multistart(start, 1, nullptr, 0);
    CPTLAW_CHECK(r.params[2] == 0.45, f);
    CPTLAW_CHECK(r.params[3] <= 0.2, f);
    CPTLAW_CHECK(std::isfinite(r.objective), f);
  }
  // Non-positive losses with a log objective: a status, not a crash.
  {
    Data d = annealing_data(20, 0.0);
    d.y[3] = -1.0;
    const double* raw[] = {d.s1.data(), d.s2.data()};
    fit::Problem<laws::Annealing> prob(raw, d.y.data(), nullptr, 20, lo, hi, fixed, linear, fit::Options{});
    CPTLAW_CHECK(prob.multistart(nullptr, 0, grid.data(), 16).status == fit::bad_input, f);
  }
  // fit_many across threads equals one-by-one fits.
  {
    const int F = 9, n = 60;
    std::vector<double> s1, s2, y;
    for (int k = 0; k < F; ++k) {
      const Data d = annealing_data(n, k % 2 ? 1.0 : -1.0);
      s1.insert(s1.end(), d.s1.begin(), d.s1.end());
      s2.insert(s2.end(), d.s2.begin(), d.s2.end());
      y.insert(y.end(), d.y.begin(), d.y.end());
    }
    const double* raw[] = {s1.data(), s2.data()};
    std::vector<double> params(F * 4), obj(F);
    std::vector<int> status(F), nfev(F);
    fit::Options opt;
    opt.keep = 2;
    fit::fit_many<laws::Annealing>(raw, y.data(), nullptr, F, n, lo, hi, fixed, linear, nullptr, 0, grid.data(), 16,
                                   opt, params.data(), obj.data(), status.data(), nfev.data(), 3);
    for (int k = 0; k < F; ++k) {
      const double* rk[] = {s1.data() + k * n, s2.data() + k * n};
      fit::Problem<laws::Annealing> prob(rk, y.data() + k * n, nullptr, n, lo, hi, fixed, linear, opt);
      const fit::Result r = prob.multistart(nullptr, 0, grid.data(), 16);
      CPTLAW_CHECK(status[k] > 0 && r.objective == obj[k] && r.params[2] == params[k * 4 + 2], f);
    }
  }
  return f;
}
