// Levenberg-Marquardt for the laws, with box bounds, fixed parameters, per-point
// weights, robust (Huber on log residuals) objective via IRLS, and a multistart
// seeded by variable projection over the law's linear parameters.
//
// Objective (docs/fitting.md#objective): sum_i w_i * rho(r_i) with
//   least_squares:      r = f - y,          rho = r^2 / 2
//   log_least_squares:  r = log f - log y,  rho = r^2 / 2
//   huber_log:          r = log f - log y,  rho = huber(r, delta)
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "cptlaw/cancel.hpp"
#include "cptlaw/laws.hpp"
#include "cptlaw/parallel.hpp"

namespace cptlaw {
namespace fit {

enum Objective : int { least_squares = 0, log_least_squares = 1, huber_log = 2 };

// > 0: converged (which test); 0: iteration limit; < 0: failure.
enum Status : int {
  converged_ftol = 1,     // relative objective decrease below ftol
  converged_xtol = 2,     // relative step below xtol
  converged_gtol = 3,     // scaled gradient below gtol
  max_iterations = 0,
  singular = -1,          // no damping made the normal equations solvable
  non_finite = -2,        // the model is NaN/inf at every start
  bad_input = -3,         // e.g. non-positive loss with a log objective
};

// Every status with the message the Python layer reports for it.
struct StatusInfo {
  int code;
  const char* message;
};
constexpr StatusInfo kStatuses[] = {
    {converged_ftol, "converged: relative decrease of the objective below ftol"},
    {converged_xtol, "converged: relative step below xtol"},
    {converged_gtol, "converged: scaled gradient below gtol"},
    {max_iterations, "stopped: iteration limit reached before convergence"},
    {singular, "failed: the normal equations stayed singular at every damping"},
    {non_finite, "failed: the model is NaN or infinite at every start"},
    {bad_input, "failed: the data cannot be fitted (see message)"},
};

struct Options {
  int objective = huber_log;
  double delta = 1e-3;
  int max_iter = 200;
  double ftol = 1e-12;
  double xtol = 1e-10;
  double gtol = 1e-10;
  int keep = 6;  // LM runs from the best `keep` multistart candidates
  double mu0 = 1e-6;  // initial damping relative to the largest diagonal of J'J (starts are VarPro-projected, so close)
};

struct Result {
  std::vector<double> params;
  double objective = std::numeric_limits<double>::infinity();
  int status = non_finite;
  int nfev = 0;
  int iterations = 0;
  int starts_tried = 0;
};

namespace detail {

// Cholesky solve of (m x m) SPD A x = b in place; false if not positive definite.
CPTLAW_HD inline bool cholesky_solve(double* A, double* b, int m) {
  for (int j = 0; j < m; ++j) {
    double d = A[j * m + j];
    for (int k = 0; k < j; ++k) d -= A[j * m + k] * A[j * m + k];
    if (!(d > 0.0) || !std::isfinite(d)) return false;
    d = std::sqrt(d);
    A[j * m + j] = d;
    for (int i = j + 1; i < m; ++i) {
      double s = A[i * m + j];
      for (int k = 0; k < j; ++k) s -= A[i * m + k] * A[j * m + k];
      A[i * m + j] = s / d;
    }
  }
  for (int i = 0; i < m; ++i) {
    double s = b[i];
    for (int k = 0; k < i; ++k) s -= A[i * m + k] * b[k];
    b[i] = s / A[i * m + i];
  }
  for (int i = m - 1; i >= 0; --i) {
    double s = b[i];
    for (int k = i + 1; k < m; ++k) s -= A[k * m + i] * b[k];
    b[i] = s / A[i * m + i];
  }
  return true;
}

// The pieces below are shared with the CUDA batch solver (cpp/cuda/lm_batch.hpp): one
// definition each, CPTLAW_HD, fixed-size arrays only.

// p projected onto the box [lo, hi].
template <int P>
CPTLAW_HD inline void clamp_to_box(double* p, const double* lo, const double* hi) {
  for (int k = 0; k < P; ++k) p[k] = std::min(hi[k], std::max(lo[k], p[k]));
}

// False for an empty (or NaN) box, which has no solution.
template <int P>
CPTLAW_HD inline bool box_valid(const double* lo, const double* hi) {
  for (int k = 0; k < P; ++k)
    if (!(lo[k] <= hi[k])) return false;
  return true;
}

// The free linear parameters (those variable projection solves) into lin; their count.
template <int P>
CPTLAW_HD inline int free_linear(const bool* linear, const bool* fixed, int* lin) {
  int nl = 0;
  for (int k = 0; k < P; ++k)
    if (linear[k] && !fixed[k]) lin[nl++] = k;
  return nl;
}

// Variable projection's solve: the (nl x nl) normal equations A b' = b, lightly regularised
// by their trace, into p[lin[a]]; false if singular. A and b are overwritten.
CPTLAW_HD inline bool solve_projection(double* A, double* b, int nl, const int* lin, double* p) {
  double tr = 0.0;
  for (int a = 0; a < nl; ++a) tr += A[a * nl + a];
  for (int a = 0; a < nl; ++a) A[a * nl + a] += 1e-13 * tr / nl + 1e-300;
  if (!cholesky_solve(A, b, nl)) return false;
  for (int a = 0; a < nl; ++a) p[lin[a]] = b[a];
  return true;
}

// Whether a run ending at (obj, status) beats the best so far: lower objective, or as low
// and converged where the best did not.
CPTLAW_HD inline bool better_run(double obj, int status, double best_obj, int best_status) {
  return std::isfinite(obj) &&
         (!std::isfinite(best_obj) || obj < best_obj || (obj == best_obj && status > 0 && best_status <= 0));
}

// A parameter on a bound whose gradient g pushes it outwards.
CPTLAW_HD inline bool blocked(double x, double lo, double hi, double g) {
  return (x <= lo && g > 0) || (x >= hi && g < 0);
}

// How one Levenberg-Marquardt run ended.
struct Run {
  double objective;
  int status;
  int nfev;
  int iterations;
};

// Levenberg-Marquardt (Nielsen's damping update) from x (P values, projected onto the box;
// on return the last accepted point), over the m free parameters free[0..m). The solver
// supplies the passes over its data:
//   evaluate(p) -> objective at p (inf where not finite), remembering what normal() needs;
//   normal(A, g)   the normal equations of the last evaluate() over the free parameters,
//                  A = J'WJ (m x m, row-major), g = J'Wr;
//   poll(it)       a chance to stop (the CPU's Ctrl-C checkpoint; nothing on the device).
CPTLAW_NO_EXEC_CHECK
template <int P, class Evaluate, class Normal, class Poll>
CPTLAW_HD Run levenberg_marquardt(double* x, const double* lo, const double* hi, const int* free, int m,
                                  const Options& opt, Evaluate&& evaluate, Normal&& normal, Poll&& poll) {
  double A[P * P], g[P], xn[P];
  clamp_to_box<P>(x, lo, hi);
  double obj = evaluate(x);
  if (std::isfinite(obj)) normal(A, g);
  Run res{obj, non_finite, 1, 0};
  if (!std::isfinite(obj)) return res;
  if (m == 0) {
    res.status = converged_xtol;
    return res;
  }
  double dmax = 0.0;
  for (int a = 0; a < m; ++a) dmax = std::max(dmax, A[a * m + a]);
  double mu = opt.mu0 * (dmax > 0 ? dmax : 1.0), nu = 2.0;
  res.status = max_iterations;
  for (int it = 0; it < opt.max_iter; ++it) {
    poll(it);
    res.iterations = it + 1;
    // Scaled gradient test (zero-gradient along an active bound counts as zero).
    double gmax = 0.0;
    for (int a = 0; a < m; ++a) {
      const int k = free[a];
      if (!blocked(x[k], lo[k], hi[k], g[a])) gmax = std::max(gmax, std::fabs(g[a]) * (std::fabs(x[k]) + 1e-12));
    }
    if (gmax <= opt.gtol * std::max(obj, 1e-300)) {
      res.status = converged_gtol;
      break;
    }
    bool accepted = false;
    for (int tries = 0; tries < 60 && !accepted; ++tries) {
      // Active set: a parameter on a bound whose gradient pushes it outwards stays
      // put this iteration; the step is solved over the others (a projected full
      // step would distort them and stall convergence).
      int act[P], na = 0;
      for (int a = 0; a < m; ++a) {
        const int k = free[a];
        if (!blocked(x[k], lo[k], hi[k], g[a])) act[na++] = a;
      }
      if (na == 0) {
        res.status = converged_gtol;
        break;
      }
      double M[P * P], hr[P], h[P];
      for (int a = 0; a < na; ++a) {
        for (int b = 0; b < na; ++b) M[a * na + b] = A[act[a] * m + act[b]];
        M[a * na + a] += mu * std::max(A[act[a] * m + act[a]], 1e-30 * dmax + 1e-300);
        hr[a] = -g[act[a]];
      }
      if (!cholesky_solve(M, hr, na)) {
        mu *= nu;
        nu *= 2;
        continue;
      }
      for (int a = 0; a < m; ++a) h[a] = 0.0;
      for (int a = 0; a < na; ++a) h[act[a]] = hr[a];
      for (int k = 0; k < P; ++k) xn[k] = x[k];
      for (int a = 0; a < m; ++a) xn[free[a]] += h[a];
      clamp_to_box<P>(xn, lo, hi);
      double step = 0.0, size = 0.0, pred = 0.0;
      for (int a = 0; a < m; ++a) {
        const int k = free[a];
        h[a] = xn[k] - x[k];
        step += h[a] * h[a];
        size += x[k] * x[k];
      }
      for (int a = 0; a < m; ++a) {
        double Ah = 0.0;
        for (int b = 0; b < m; ++b) Ah += A[a * m + b] * h[b];
        pred -= g[a] * h[a] + 0.5 * h[a] * Ah;
      }
      if (std::sqrt(step) <= opt.xtol * (std::sqrt(size) + opt.xtol)) {
        res.status = converged_xtol;
        break;
      }
      // The trial is evaluated with what its normal equations need: most steps are
      // accepted, and then they need no second pass through the data.
      const double on = evaluate(xn);
      ++res.nfev;
      if (on < obj) {
        const double rho = pred > 0 ? (obj - on) / pred : 1.0;
        const double t = 2.0 * rho - 1.0;
        mu *= std::max(1.0 / 3.0, 1.0 - t * t * t);
        nu = 2.0;
        const double dec = obj - on;
        for (int k = 0; k < P; ++k) x[k] = xn[k];
        obj = on;
        normal(A, g);
        for (int a = 0; a < m; ++a) dmax = std::max(dmax, A[a * m + a]);
        accepted = true;
        if (dec <= opt.ftol * obj || obj == 0.0) res.status = converged_ftol;
      } else {
        mu *= nu;
        nu *= 2.0;
        if (!std::isfinite(mu) || mu > 1e300) break;
      }
    }
    if (res.status != max_iterations) break;
    if (!accepted) {
      // No step improved the objective at any damping: a (possibly bound-constrained) minimum.
      res.status = converged_xtol;
      break;
    }
  }
  res.objective = obj;
  return res;
}

// Residuals r, IRLS weights wt (weight * psi(r)/r) and the objective sum.
CPTLAW_CLONES inline double residuals(const double* f, const double* y, const double* logy, const double* w,
                                      std::int64_t n, int objective, double delta, double* r, double* wt) {
  double s = 0.0;
  if (objective == least_squares) {
#pragma omp simd reduction(+ : s)
    for (std::int64_t i = 0; i < n; ++i) {
      const double ri = f[i] - y[i];
      r[i] = ri;
      wt[i] = w[i];
      s += w[i] * 0.5 * ri * ri;
    }
    return s;
  }
  const bool huber = objective == huber_log;
#pragma omp simd reduction(+ : s)
  for (std::int64_t i = 0; i < n; ++i) {
    const double fi = f[i];
    const double ri = (fi > 0.0 ? simd::log(fi) : std::numeric_limits<double>::quiet_NaN()) - logy[i];
    const double a = std::fabs(ri);
    const bool inner = !huber || a <= delta;
    r[i] = ri;
    wt[i] = inner ? w[i] : w[i] * delta / a;
    s += w[i] * (inner ? 0.5 * ri * ri : delta * (a - 0.5 * delta));
  }
  return s;
}

// G[k * n + i] /= f[i] for every column k.
CPTLAW_CLONES inline void scale_columns(double* G, const double* f, std::int64_t n, int cols) {
  for (int k = 0; k < cols; ++k) {
    double* g = G + static_cast<std::size_t>(k) * n;
#pragma omp simd
    for (std::int64_t i = 0; i < n; ++i) g[i] /= f[i];
  }
}

// r = y - f
CPTLAW_CLONES inline void difference(const double* __restrict y, const double* __restrict f, double* __restrict r,
                                     std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) r[i] = y[i] - f[i];
}

// f += a * g
CPTLAW_CLONES inline void add_scaled(double* __restrict f, double a, const double* __restrict g, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) f[i] += a * g[i];
}

// Normal equations from the columns cols[0..m) of G (G[k * n + i]): A = J' W J
// (m x m, row-major) and g = J' W r, W = diag(wt). One multi-versioned call per
// LM step; u (n scratch values) holds W times the current column.
CPTLAW_CLONES inline void weighted_gram(const double* G, std::int64_t n, const int* cols, int m, const double* wt,
                                        const double* r, double* u, double* A, double* g) {
  for (int a = 0; a < m; ++a) {
    const double* ga = G + static_cast<std::int64_t>(cols[a]) * n;
    double s = 0.0;
#pragma omp simd reduction(+ : s)
    for (std::int64_t i = 0; i < n; ++i) {
      u[i] = wt[i] * ga[i];
      s += u[i] * r[i];
    }
    g[a] = s;
    for (int b = 0; b <= a; ++b) {
      const double* gb = G + static_cast<std::int64_t>(cols[b]) * n;
      double t = 0.0;
#pragma omp simd reduction(+ : t)
      for (std::int64_t i = 0; i < n; ++i) t += u[i] * gb[i];
      A[a * m + b] = A[b * m + a] = t;
    }
  }
}

}  // namespace detail

// One fitting problem: prepared features, observations, weights, bounds.
template <class Law>
class Problem {
 public:
  static constexpr int P = Law::n_params;

  // raw[k] points to n values of input k (contiguous); w may be null (all 1).
  Problem(const double* const* raw, const double* y, const double* w, std::int64_t n, const double* lo,
          const double* hi, const std::uint8_t* fixed, const std::uint8_t* linear, const Options& opt)
      : n_(n), y_(y, y + n), w_(n, 1.0), opt_(opt) {
    // Prepared features stored by feature (z_[k * n + i]) so the kernels stream them.
    z_.resize(static_cast<std::size_t>(n) * Law::n_prep);
    laws::prepare_columns<Law>(raw, n, z_.data());
    if (w) std::copy(w, w + n, w_.begin());
    // Log objectives compare log f with log y; variable projection then weights the
    // relative residuals (f - y) / y, i.e. w / y^2.
    logy_.resize(n);
    wproj_ = w_;
    if (log_objective()) {
      for (std::int64_t i = 0; i < n; ++i) {
        logy_[i] = y_[i] > 0.0 ? std::log(y_[i]) : std::nan("");
        wproj_[i] /= y_[i] * y_[i];
      }
    }
    for (int k = 0; k < P; ++k) {
      lo_[k] = lo[k];
      hi_[k] = hi[k];
      fixed_[k] = fixed[k] != 0;
      linear_[k] = linear[k] != 0;
      if (!fixed_[k]) free_[m_++] = k;
    }
    f_.resize(n);
    u_.resize(n);
    r_.resize(n);
    wt_.resize(n);
    G_.resize(static_cast<std::size_t>(n) * P);
  }

  bool log_objective() const { return opt_.objective != least_squares; }
  bool valid() const {
    if (!detail::box_valid<P>(lo_, hi_)) return false;
    if (!log_objective()) return true;
    for (double v : y_)
      if (!(v > 0.0)) return false;
    return true;
  }

  double objective(const double* p) const {
    laws::eval_prepared<Law, false>(p, z_.data(), n_, f_.data(), nullptr);
    const double s = detail::residuals(f_.data(), y_.data(), logy_.data(), w_.data(), n_, opt_.objective,
                                       opt_.delta, r_.data(), wt_.data());
    return std::isfinite(s) ? s : std::numeric_limits<double>::infinity();
  }

  // Objective at p, leaving the residuals, IRLS weights and the residual Jacobian
  // (dr/dp = df/dp for least squares, df/dp / f for log objectives) in the scratch
  // arrays for normal_equations().
  double objective_and_jacobian(const double* p) const {
    laws::eval_prepared<Law, true>(p, z_.data(), n_, f_.data(), G_.data());
    const double s = detail::residuals(f_.data(), y_.data(), logy_.data(), w_.data(), n_, opt_.objective,
                                       opt_.delta, r_.data(), wt_.data());
    if (!std::isfinite(s)) return std::numeric_limits<double>::infinity();
    if (log_objective()) detail::scale_columns(G_.data(), f_.data(), n_, P);
    return s;
  }

  // Normal equations over the free parameters at the point of the last
  // objective_and_jacobian(): A = J' W J, g = J' W r (W = weights * IRLS).
  void normal_equations(double* A, double* g) const {
    detail::weighted_gram(G_.data(), n_, free_, m_, wt_.data(), r_.data(), u_.data(), A, g);
  }

  void clamp(double* p) const { detail::clamp_to_box<P>(p, lo_, hi_); }

  // Variable projection: solve the free linear parameters by (relative, for log
  // objectives) least squares with the others held at p. Returns false if singular.
  // With `obj`, also the objective at the projected p: the model is linear in those
  // parameters, f(p) = f(p without them) + sum_a p_a df/dp_a, so no second evaluation.
  bool project_linear(double* p, double* obj = nullptr) const {
    int lin[P];
    const int nl = detail::free_linear<P>(linear_, fixed_, lin);
    if (nl == 0) {
      if (obj) *obj = objective(p);  // nothing to project; the caller still needs its score
      return true;
    }
    double q[P];
    for (int k = 0; k < P; ++k) q[k] = p[k];
    for (int a = 0; a < nl; ++a) q[lin[a]] = 0.0;  // model without the solved terms
    laws::eval_prepared<Law, true>(q, z_.data(), n_, f_.data(), G_.data());
    // Target y - rest, weights w (LS) or w / y^2 (relative residuals ~ log residuals).
    detail::difference(y_.data(), f_.data(), r_.data(), n_);
    double A[P * P], b[P];
    detail::weighted_gram(G_.data(), n_, lin, nl, wproj_.data(), r_.data(), u_.data(), A, b);
    if (!detail::solve_projection(A, b, nl, lin, p)) return false;
    clamp(p);
    if (obj) {
      for (int a = 0; a < nl; ++a)
        detail::add_scaled(f_.data(), p[lin[a]], &G_[static_cast<std::size_t>(lin[a]) * n_], n_);
      const double s = detail::residuals(f_.data(), y_.data(), logy_.data(), w_.data(), n_, opt_.objective,
                                         opt_.delta, r_.data(), wt_.data());
      *obj = std::isfinite(s) ? s : std::numeric_limits<double>::infinity();
    }
    return true;
  }

  // Levenberg-Marquardt (detail::levenberg_marquardt) from p, projected onto the box.
  Result solve(const double* p0) const {
    double x[P];
    for (int k = 0; k < P; ++k) x[k] = p0[k];
    const detail::Run run = detail::levenberg_marquardt<P>(
        x, lo_, hi_, free_, m_, opt_, [this](const double* p) { return objective_and_jacobian(p); },
        [this](double* A, double* g) { normal_equations(A, g); },
        [this](int it) {
          if (n_ >= 4096 || (it & 15) == 15) CPTLAW_CHECKPOINT();  // small fits: every ~16 iterations
        });
    Result res;
    res.params.assign(x, x + P);
    res.objective = run.objective;
    res.status = run.status;
    res.nfev = run.nfev;
    res.iterations = run.iterations;
    return res;
  }

  // Multistart: user starts plus every grid point (linear parameters projected),
  // ranked by objective; LM from the best `keep` candidates; the best result wins.
  Result multistart(const double* starts, int n_starts, const double* grid, int n_grid) const {
    Result best;
    if (!valid()) {
      best.status = bad_input;
      best.params.assign(P, std::numeric_limits<double>::quiet_NaN());  // fit_many copies P values
      return best;
    }
    struct Cand {
      double obj;
      std::vector<double> p;
    };
    std::vector<Cand> cands;
    int evals = 0;
    auto add = [&](const double* src, bool project) {
      std::vector<double> p(src, src + P);
      clamp(p.data());
      double o;
      if (project) {
        if (!project_linear(p.data(), &o)) return;
      } else {
        o = objective(p.data());
      }
      ++evals;
      if (std::isfinite(o)) cands.push_back({o, std::move(p)});
    };
    for (int s = 0; s < n_starts; ++s) {
      CPTLAW_CHECKPOINT();
      add(starts + s * P, false);
    }
    const int user = static_cast<int>(cands.size());
    for (int s = 0; s < n_grid; ++s) {
      if ((s & 7) == 7) CPTLAW_CHECKPOINT();
      add(grid + s * P, true);
    }
    // User starts always run; the grid contributes its best candidates.
    std::vector<Cand> run(cands.begin(), cands.begin() + user);
    std::sort(cands.begin() + user, cands.end(), [](const Cand& a, const Cand& b) { return a.obj < b.obj; });
    for (std::size_t i = user; i < cands.size() && static_cast<int>(run.size()) < user + opt_.keep; ++i)
      run.push_back(cands[i]);
    best.nfev = evals;
    for (const auto& c : run) {
      Result r = solve(c.p.data());
      best.nfev += r.nfev;
      ++best.starts_tried;
      if (detail::better_run(r.objective, r.status, best.objective, best.status)) {
        const int nfev = best.nfev, tried = best.starts_tried;
        best = r;
        best.nfev = nfev;
        best.starts_tried = tried;
      }
    }
    if (best.params.empty()) {
      best.params.assign(P, std::numeric_limits<double>::quiet_NaN());
      best.status = non_finite;
    }
    return best;
  }

 private:
  std::int64_t n_;
  std::vector<double> y_, w_, logy_, z_;
  std::vector<double> wproj_;  // variable-projection weights: w, or w / y^2 for log objectives
  // Scratch for one evaluation: model values, residuals, weights, gradients (G_[k * n + i]).
  mutable std::vector<double> f_, u_, r_, wt_, G_;
  Options opt_;
  double lo_[P], hi_[P];
  bool fixed_[P], linear_[P];
  int free_[P], m_ = 0;  // the free parameters' indices
};

// Many independent fits (rows of raw inputs / losses), each with the same starts
// and grid, spread over threads with dynamic scheduling.
template <class Law>
void fit_many(const double* const* raw, const double* y, const double* w, std::int64_t n_fits, std::int64_t n_points,
              const double* lo, const double* hi, const std::uint8_t* fixed, const std::uint8_t* linear,
              const double* starts, int n_starts, const double* grid, int n_grid, const Options& opt,
              double* out_params, double* out_objective, int* out_status, int* out_nfev, int threads) {
  parallel_for(n_fits, threads, 1, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t f = b; f < e; ++f) {
      CPTLAW_CHECKPOINT();
      const double* rows[Law::n_inputs];
      for (int k = 0; k < Law::n_inputs; ++k) rows[k] = raw[k] + f * n_points;
      Problem<Law> prob(rows, y + f * n_points, w ? w + f * n_points : nullptr, n_points, lo, hi, fixed, linear,
                        opt);
      const Result r = prob.multistart(starts, n_starts, grid, n_grid);
      for (int k = 0; k < Law::n_params; ++k) out_params[f * Law::n_params + k] = r.params[k];
      out_objective[f] = r.objective;
      out_status[f] = r.status;
      out_nfev[f] = r.nfev;
    }
  });
}

}  // namespace fit
}  // namespace cptlaw
