// The batched Levenberg-Marquardt of the CUDA kernel (cpp/cuda/lm_batch.hpp), driven on the CPU
// with one lane and with 32 emulated lanes (a warp's split of the points and its butterfly sums),
// against the CPU solver (lm.hpp) on the same problems: the same statuses, and parameters and
// objectives within rounding of the different summation orders.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "../cuda/lm_batch.hpp"
#include "check.hpp"
#include "cptlaw/laws.hpp"
#include "cptlaw/lm.hpp"

namespace {

using namespace cptlaw;

struct Problem {
  std::vector<std::vector<double>> x;  // inputs
  std::vector<double> y, w;
  std::vector<double> lo, hi, starts, grid;
  std::vector<std::uint8_t> fixed, linear;
  fit::Options opt;
};

template <class Law>
void make_losses(Problem& pr, const double* truth, double noise, cptlaw_test::Uniform& rng) {
  const std::size_t n = pr.x[0].size();
  pr.y.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    double raw[Law::n_inputs], z[Law::n_prep];
    for (int k = 0; k < Law::n_inputs; ++k) raw[k] = pr.x[static_cast<std::size_t>(k)][i];
    Law::prepare(raw, z);
    pr.y[i] = Law::template eval<false>(truth, z, nullptr) * (1.0 + noise * (2.0 * rng.next() - 1.0));
  }
}

Problem annealing_problem(int n, int objective, cptlaw_test::Uniform& rng) {
  Problem pr;
  pr.x.resize(2);
  const double alpha = 0.3 + 0.5 * rng.next();
  for (int i = 0; i < n; ++i) {
    const double t = (i + 1.0) / n;
    pr.x[0].push_back(0.02 + 2.0 * t);                                 // S1
    pr.x[1].push_back(std::fmax(0.0, 0.4 * (t - 0.6)) + 0.01 * t);    // S2 (an anneal at the end)
  }
  const double truth[] = {2.0 + rng.next(), 0.3 + 0.4 * rng.next(), alpha, 0.2 + 0.5 * rng.next()};
  make_losses<laws::Annealing>(pr, truth, 2e-3, rng);
  pr.lo = {0.0, 0.0, 0.0, 0.0};
  pr.hi = {INFINITY, INFINITY, 10.0, INFINITY};
  pr.fixed = {0, 0, 0, 0};
  pr.linear = {1, 1, 0, 1};
  for (int k = 0; k < 11; ++k) pr.grid.insert(pr.grid.end(), {1.0, 1.0, 0.05 * std::pow(40.0, k / 10.0), 1.0});
  pr.opt.objective = objective;
  pr.opt.max_iter = 500;
  pr.opt.ftol = pr.opt.xtol = pr.opt.gtol = 1e-10;
  pr.opt.keep = 1;
  return pr;
}

Problem cpt_problem(int n, int objective, cptlaw_test::Uniform& rng) {
  Problem pr;
  pr.x.resize(4);
  for (int i = 0; i < n; ++i) {
    const double t = (i + 1.0) / n;
    const bool cpt = i >= n / 2;
    const double tc = cpt ? (i - n / 2 + 1.0) / (n - n / 2) : 0.0;
    pr.x[0].push_back(cpt ? 4.0 : 0.1 + 8.0 * t);
    pr.x[1].push_back(cpt ? 0.5 : std::fmax(0.0, 2.0 * (t - 0.35)));
    pr.x[2].push_back(cpt ? 2.0 * tc : 0.0);
    pr.x[3].push_back(cpt ? 0.3 * tc * tc - 0.05 * tc : 0.0);
  }
  const double B = rng.next() < 0.5 ? 0.3 : -0.4;
  const double truth[] = {2.8 + 0.3 * rng.next(), 0.4, 0.4 + 0.3 * rng.next(), 0.3, 0.3, B, 20 + 40 * rng.next(), 0.2};
  make_losses<laws::CPT>(pr, truth, 1e-3, rng);
  pr.lo = {0, 0, 0, 0, 0, -INFINITY, 0, 1e-2};
  pr.hi = {INFINITY, INFINITY, 10, INFINITY, INFINITY, INFINITY, 1e6, 10};
  pr.fixed = {0, 0, 0, 0, 0, 0, 0, 0};
  pr.linear = {1, 1, 0, 1, 1, 1, 0, 0};
  for (double a : {0.2, 0.5, 1.0})
    for (double E : {3.0, 30.0, 300.0})
      for (double b : {0.1, 0.5}) pr.grid.insert(pr.grid.end(), {1, 1, a, 1, 1, 1, E, b});
  pr.opt.objective = objective;
  pr.opt.max_iter = 500;
  pr.opt.ftol = pr.opt.xtol = pr.opt.gtol = 1e-10;
  pr.opt.keep = 2;
  return pr;
}

// Eq. 4 with one annealing coefficient (CPTSharedC) on the CPT problem's areas.
Problem shared_c_problem(int n, int objective, cptlaw_test::Uniform& rng) {
  Problem pr = cpt_problem(n, objective, rng);
  const double B = rng.next() < 0.5 ? 0.3 : -0.4;
  const double truth[] = {2.8 + 0.3 * rng.next(), 0.4, 0.4 + 0.3 * rng.next(), 0.3, B, 20 + 40 * rng.next(), 0.2};
  make_losses<laws::CPTSharedC>(pr, truth, 1e-3, rng);
  pr.lo = {0, 0, 0, 0, -INFINITY, 0, 1e-2};
  pr.hi = {INFINITY, INFINITY, 10, INFINITY, INFINITY, 1e6, 10};
  pr.fixed = {0, 0, 0, 0, 0, 0, 0};
  pr.linear = {1, 1, 0, 1, 1, 0, 0};
  pr.grid.clear();
  for (double a : {0.2, 0.5, 1.0})
    for (double E : {3.0, 30.0, 300.0})
      for (double b : {0.1, 0.5}) pr.grid.insert(pr.grid.end(), {1, 1, a, 1, 1, E, b});
  return pr;
}

// The largest relative difference of the parameters (scaled by max(|p|, 1e-3)).
template <int P>
double param_diff(const double* a, const std::vector<double>& b) {
  double worst = 0.0;
  for (int k = 0; k < P; ++k) {
    const double scale = std::fmax(std::fabs(b[static_cast<std::size_t>(k)]), 1e-3);
    worst = std::fmax(worst, std::fabs(a[k] - b[static_cast<std::size_t>(k)]) / scale);
  }
  return worst;
}

template <class Law, class Team>
batch::Outcome<Law::n_params> run_batch(const Problem& pr, const Team& team) {
  batch::Points<Law::n_inputs> pts;
  for (int k = 0; k < Law::n_inputs; ++k) pts.x[k] = pr.x[static_cast<std::size_t>(k)].data();
  pts.y = pr.y.data();
  pts.w = pr.w.empty() ? nullptr : pr.w.data();
  pts.n = static_cast<std::int64_t>(pr.y.size());
  batch::Setup s{pr.lo.data(), pr.hi.data(), pr.fixed.data(), pr.linear.data(), pr.starts.data(),
                 static_cast<int>(pr.starts.size() / Law::n_params), pr.grid.data(),
                 static_cast<int>(pr.grid.size() / Law::n_params), pr.opt};
  const batch::Fitter<Law, Team> fitter(pts, s, team);
  return fitter.multistart();
}

// Compares one problem; returns the number of failed checks and counts the statuses seen.
template <class Law>
int compare(const Problem& pr, const char* what, int* seen, double ptol = 1e-8) {
  constexpr int P = Law::n_params;
  int f = 0;
  const double* raw[Law::n_inputs];
  for (int k = 0; k < Law::n_inputs; ++k) raw[k] = pr.x[static_cast<std::size_t>(k)].data();
  const std::int64_t n = static_cast<std::int64_t>(pr.y.size());
  fit::Problem<Law> cpu(raw, pr.y.data(), pr.w.empty() ? nullptr : pr.w.data(), n, pr.lo.data(), pr.hi.data(),
                        pr.fixed.data(), pr.linear.data(), pr.opt);
  const fit::Result ref = cpu.multistart(pr.starts.data(), static_cast<int>(pr.starts.size() / P), pr.grid.data(),
                                         static_cast<int>(pr.grid.size() / P));
  ++seen[ref.status + 3];
  const auto one = run_batch<Law>(pr, batch::SerialTeam{});
  const auto warp = run_batch<Law>(pr, batch::EmulatedTeam<32, batch::Fitter<Law, batch::SerialTeam>::kAcc>{});
  for (const auto* r : {&one, &warp}) {
    const bool same_status = r->status == ref.status;
    const double dp = param_diff<P>(r->params, ref.params);
    const bool obj_close = (std::isinf(ref.objective) && std::isinf(r->objective)) ||
                           std::fabs(r->objective - ref.objective) <= 1e-10 * std::fabs(ref.objective) + 1e-300;
    CPTLAW_CHECK(same_status, f);
    CPTLAW_CHECK(dp <= ptol || (ref.status <= 0 && std::isnan(ref.params[0])), f);
    CPTLAW_CHECK(obj_close, f);
    CPTLAW_CHECK(r->starts_tried == ref.starts_tried, f);
    if (!same_status || !(dp <= ptol) || !obj_close)
      std::printf("  %s (%s lanes): status %d vs %d, params rel diff %.3g, objective %.17g vs %.17g\n", what,
                  r == &one ? "1" : "32", r->status, ref.status, dp, r->objective, ref.objective);
  }
  return f;
}

}  // namespace

int run_batch_lm_tests() {
  int f = 0;
  int seen[7] = {};  // statuses -3 .. 3
  cptlaw_test::Uniform rng{12345};
  // Random annealing problems, every objective; some weighted, some with a fixed parameter,
  // an active bound or user starts.
  for (int i = 0; i < 24; ++i) {
    const int objective = i % 3;
    Problem pr = annealing_problem(37 + 13 * i, objective, rng);
    if (i % 4 == 1) {
      for (std::size_t j = 0; j < pr.y.size(); ++j) pr.w.push_back(0.5 + rng.next());
    }
    if (i % 6 == 2) {
      pr.fixed[2] = 1;
      for (std::size_t r = 0; r < pr.grid.size(); r += 4) pr.grid[r + 2] = 0.5;
    }
    if (i % 6 == 3) pr.hi[3] = 0.1;  // C held on its upper bound
    if (i % 5 == 4) pr.starts = {2.5, 0.5, 0.45, 0.3, 2.0, 0.2, 1.5, 0.1};
    if (i % 7 == 5) pr.opt.keep = 3;
    if (i % 8 == 6) {  // stop on the step size, or on the gradient
      pr.opt.ftol = 0.0;
      pr.opt.xtol = 1e-5;
    }
    if (i % 8 == 7) {
      pr.opt.ftol = pr.opt.xtol = 0.0;
      pr.opt.gtol = 1e-4;
    }
    f += compare<laws::Annealing>(pr, "annealing", seen);
  }
  // Every linear parameter fixed: candidates are scored without projection.
  {
    Problem pr = annealing_problem(50, fit::huber_log, rng);
    pr.fixed = {1, 1, 0, 1};
    for (std::size_t r = 0; r < pr.grid.size(); r += 4) {
      pr.grid[r] = 2.4;
      pr.grid[r + 1] = 0.5;
      pr.grid[r + 3] = 0.4;
    }
    f += compare<laws::Annealing>(pr, "annealing, linear fixed", seen);
  }
  // A log objective with a non-positive loss: bad_input, NaN parameters.
  {
    Problem pr = annealing_problem(40, fit::huber_log, rng);
    pr.y[7] = 0.0;
    f += compare<laws::Annealing>(pr, "annealing, bad loss", seen);
  }
  // An empty box (lo > hi): bad_input, as lm.hpp.
  {
    Problem pr = annealing_problem(40, fit::least_squares, rng);
    pr.lo[2] = 2.0;
    pr.hi[2] = 1.0;
    f += compare<laws::Annealing>(pr, "annealing, empty box", seen);
  }
  // An iteration limit.
  {
    Problem pr = annealing_problem(60, fit::least_squares, rng);
    pr.opt.max_iter = 2;
    pr.opt.ftol = pr.opt.xtol = pr.opt.gtol = 0.0;
    f += compare<laws::Annealing>(pr, "annealing, 2 iterations", seen);
  }
  // The 8-parameter CPT law: its B-beta-E direction is nearly flat, so the parameters that
  // minimise the objective agree to less than the objective does.
  for (int i = 0; i < 6; ++i) {
    Problem pr = cpt_problem(80 + 20 * i, i % 3, rng);
    f += compare<laws::CPT>(pr, "cpt", seen, 1e-6);
  }
  // CPTSharedC (7 parameters, the same near-flat direction).
  for (int i = 0; i < 6; ++i) {
    Problem pr = shared_c_problem(80 + 20 * i, i % 3, rng);
    f += compare<laws::CPTSharedC>(pr, "cpt_shared_c", seen, 1e-6);
  }
  // The statuses these problems reach (so the comparison covered more than one path).
  CPTLAW_CHECK(seen[fit::bad_input + 3] >= 2, f);
  CPTLAW_CHECK(seen[fit::max_iterations + 3] >= 1, f);
  CPTLAW_CHECK(seen[fit::converged_ftol + 3] >= 10 && seen[fit::converged_xtol + 3] >= 1 &&
                   seen[fit::converged_gtol + 3] >= 1,
               f);
  std::printf("batch lm tests: statuses -3..3 seen %d %d %d %d %d %d %d\n", seen[0], seen[1], seen[2], seen[3],
              seen[4], seen[5], seen[6]);
  return f;
}
