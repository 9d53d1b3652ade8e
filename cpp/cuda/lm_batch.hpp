// Levenberg-Marquardt for batches of independent fits, as the CUDA kernel runs it: one fit per
// team of lanes (a warp on the device), each team with its own iteration loop, taking the next
// fit when done, so a batch never waits for its slowest member.
//
// It is the algorithm of the CPU solver (lm.hpp), and shares its code where the two are the
// same logic: the Levenberg-Marquardt iteration itself (fit::detail::levenberg_marquardt:
// gradient test, active set, damped Cholesky step, box projection, Nielsen's damping update,
// the stopping tests and status codes), the box checks, the variable projection's solve and
// the ranking of runs (fit::detail::better_run). What is restated here is how the data are
// read, so that nothing is stored per point: a pass over the points evaluates the law
// (prepare + eval of laws.hpp) and accumulates the sums a step needs (objective, J'WJ, J'Wr
// over all parameters), which the team then adds up. The points of a fit are split among the
// lanes (lane l takes l, l + size, ...); every lane ends a pass with the same sums, so every
// lane takes the same decisions.
//
// The team is a template parameter: the kernel's warp (device.cuh's WarpTeam), or SerialTeam /
// EmulatedTeam<32> here, with which the C++ tests drive this code on the CPU against lm.hpp.
// Everything here is CPTLAW_HD and uses fixed-size arrays only.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>

#include "cptlaw/config.hpp"
#include "cptlaw/laws.hpp"
#include "cptlaw/lm.hpp"
#include "cptlaw/simd_math.hpp"

namespace cptlaw {
namespace batch {

// The most grid candidates a fit refines (Options::keep) on the device.
constexpr int kMaxKeep = 16;

// One fit's points: input k of point i is x[k][i]; w null: all weights 1.
template <int NIn>
struct Points {
  const double* x[NIn];
  const double* y;
  const double* w;
  std::int64_t n;
};

// What every fit of a batch shares (lm.hpp's Problem arguments besides the data).
struct Setup {
  const double* lo;
  const double* hi;
  const std::uint8_t* fixed;
  const std::uint8_t* linear;
  const double* starts;  // n_starts x P
  int n_starts;
  const double* grid;  // n_grid x P
  int n_grid;
  fit::Options opt;
};

// One fit's answer (lm.hpp's Result without the vector): how its best run ended, where, and
// how many runs it tried.
template <int P>
struct Outcome : fit::detail::Run {
  double params[P];
  int starts_tried;
};

// One lane: the team of the CPU reference.
struct SerialTeam {
  template <class Body>
  void run(Body&& body, double* acc, int nacc) const {
    for (int i = 0; i < nacc; ++i) acc[i] = 0.0;
    body(0, 1, acc);
  }
};

// S lanes run one after another, their sums then combined in the order of a warp's butterfly
// (lane l adds lane l ^ off, off = S/2 .. 1): the device's arithmetic, on the CPU.
template <int S, int MaxAcc>
struct EmulatedTeam {
  template <class Body>
  void run(Body&& body, double* acc, int nacc) const {
    double part[S][MaxAcc], next[S][MaxAcc];
    for (int l = 0; l < S; ++l) {
      for (int i = 0; i < nacc; ++i) part[l][i] = 0.0;
      body(l, S, part[l]);
    }
    for (int off = S / 2; off >= 1; off /= 2) {
      for (int l = 0; l < S; ++l)
        for (int i = 0; i < nacc; ++i) next[l][i] = part[l][i] + part[l ^ off][i];
      for (int l = 0; l < S; ++l)
        for (int i = 0; i < nacc; ++i) part[l][i] = next[l][i];
    }
    for (int i = 0; i < nacc; ++i) acc[i] = part[0][i];
  }
};

template <class Law, class Team>
class Fitter {
 public:
  static constexpr int P = Law::n_params;
  static constexpr int NIn = Law::n_inputs;
  // Accumulators of a pass: objective, then g[P], then the lower triangle of A (P x P).
  static constexpr int kTri = P * (P + 1) / 2;
  static constexpr int kAcc = 1 + P + kTri;

  CPTLAW_HD Fitter(const Points<NIn>& pts, const Setup& s, const Team& team) : d_(pts), s_(s), team_(team) {
    m_ = 0;
    for (int k = 0; k < P; ++k) {
      lo_[k] = s.lo[k];
      hi_[k] = s.hi[k];
      fixed_[k] = s.fixed[k] != 0;
      linear_[k] = s.linear[k] != 0;
      if (!fixed_[k]) free_[m_++] = k;
    }
  }

  // lm.hpp's Problem::multistart: user starts plus grid points (linear parameters projected),
  // LM from every user start and the best `keep` grid candidates; the best result wins.
  CPTLAW_HD Outcome<P> multistart() const {
    Outcome<P> best;
    for (int k = 0; k < P; ++k) best.params[k] = std::numeric_limits<double>::quiet_NaN();
    best.objective = std::numeric_limits<double>::infinity();
    best.status = fit::non_finite;
    best.nfev = 0;
    best.iterations = 0;
    best.starts_tried = 0;
    bool have = false;
    if (!valid()) {
      best.status = fit::bad_input;
      return best;
    }
    const int keep = s_.opt.keep < kMaxKeep ? s_.opt.keep : kMaxKeep;
    // The grid's best candidates, ascending; ties keep the earlier grid point. Restated from
    // the CPU's sort of every candidate: a device keeps only `keep` of them, in place.
    double kept_obj[kMaxKeep], kept_p[kMaxKeep][P];
    int n_kept = 0, evals = 0;
    for (int s = 0; s < s_.n_grid; ++s) {
      double p[P];
      for (int k = 0; k < P; ++k) p[k] = s_.grid[s * P + k];
      clamp(p);
      double o;
      if (!project_linear(p, &o)) continue;
      ++evals;
      if (!std::isfinite(o)) continue;
      int at = n_kept;
      while (at > 0 && o < kept_obj[at - 1]) --at;
      if (at >= keep) continue;
      const int last = n_kept < keep ? n_kept : keep - 1;
      for (int j = last; j > at; --j) {
        kept_obj[j] = kept_obj[j - 1];
        for (int k = 0; k < P; ++k) kept_p[j][k] = kept_p[j - 1][k];
      }
      kept_obj[at] = o;
      for (int k = 0; k < P; ++k) kept_p[at][k] = p[k];
      if (n_kept < keep) ++n_kept;
    }
    // The CPU evaluates every candidate before it solves any; a start's solve does not depend
    // on that evaluation, so running the user starts as they come gives the same answers.
    auto run = [&](const double* p0) {
      Outcome<P> r = solve(p0);
      best.nfev += r.nfev;
      ++best.starts_tried;
      if (fit::detail::better_run(r.objective, r.status, best.objective, best.status)) {
        const int nfev = best.nfev, tried = best.starts_tried;
        best = r;
        best.nfev = nfev;
        best.starts_tried = tried;
        have = true;
      }
    };
    for (int s = 0; s < s_.n_starts; ++s) {
      double p[P];
      for (int k = 0; k < P; ++k) p[k] = s_.starts[s * P + k];
      clamp(p);
      ++evals;
      if (std::isfinite(objective(p))) run(p);
    }
    for (int j = 0; j < n_kept; ++j) run(kept_p[j]);
    best.nfev += evals;
    if (!have) {
      for (int k = 0; k < P; ++k) best.params[k] = std::numeric_limits<double>::quiet_NaN();
      best.status = fit::non_finite;
    }
    return best;
  }

  // lm.hpp's Problem::solve: the same fit::detail::levenberg_marquardt, each evaluation a pass
  // that also sums the normal equations, which an accepted step then takes over.
  CPTLAW_HD Outcome<P> solve(const double* p0) const {
    double x[P], An[P * P], gn[P];
    for (int k = 0; k < P; ++k) x[k] = p0[k];
    const int m = m_;
    const fit::detail::Run run = fit::detail::levenberg_marquardt<P>(
        x, lo_, hi_, free_, m, s_.opt, [&](const double* p) { return objective_and_normal(p, An, gn); },
        [&](double* A, double* g) {
          for (int a = 0; a < m * m; ++a) A[a] = An[a];
          for (int a = 0; a < m; ++a) g[a] = gn[a];
        },
        [](int) {});
    Outcome<P> res;
    static_cast<fit::detail::Run&>(res) = run;
    for (int k = 0; k < P; ++k) res.params[k] = x[k];
    res.starts_tried = 0;
    return res;
  }

  // -- passes over the points ----------------------------------------------------------------

  // lm.hpp's Problem::valid: a box that is not empty, and for a log objective every loss > 0.
  CPTLAW_HD bool valid() const {
    if (!fit::detail::box_valid<P>(lo_, hi_)) return false;
    if (s_.opt.objective == fit::least_squares) return true;
    double bad = 0.0;
    team_.run(
        [&](int lane, int stride, double* acc) {
          for (std::int64_t i = lane; i < d_.n; i += stride) acc[0] += d_.y[i] > 0.0 ? 0.0 : 1.0;
        },
        &bad, 1);
    return bad == 0.0;
  }

  // The objective at p (inf where not finite).
  CPTLAW_HD double objective(const double* p) const {
    double s = 0.0;
    team_.run(
        [&](int lane, int stride, double* acc) {
          for (std::int64_t i = lane; i < d_.n; i += stride) {
            double z[Law::n_prep];
            prepare(i, z);
            double r, wt;
            acc[0] += residual(i, Law::template eval<false>(p, z, nullptr), r, wt);
          }
        },
        &s, 1);
    return std::isfinite(s) ? s : std::numeric_limits<double>::infinity();
  }

  // The objective at p and the normal equations over the free parameters, A = J'WJ (m x m)
  // and g = J'Wr, J the residual Jacobian (df/dp, or df/dp / f for log objectives).
  CPTLAW_HD double objective_and_normal(const double* p, double* A, double* g) const {
    double acc[kAcc];
    team_.run(
        [&](int lane, int stride, double* ac) {
          for (std::int64_t i = lane; i < d_.n; i += stride) {
            double z[Law::n_prep], G[P];
            prepare(i, z);
            const double f = Law::template eval<true>(p, z, G);
            double r, wt;
            ac[0] += residual(i, f, r, wt);
            if (s_.opt.objective != fit::least_squares) {
              for (int k = 0; k < P; ++k) G[k] /= f;
            }
            gram(G, wt, r, ac + 1);
          }
        },
        acc, kAcc);
    const double s = acc[0];
    if (!std::isfinite(s)) return std::numeric_limits<double>::infinity();
    const int m = m_;
    for (int a = 0; a < m; ++a) {
      g[a] = acc[1 + free_[a]];
      for (int b = 0; b < m; ++b) A[a * m + b] = acc[1 + P + tri(free_[a], free_[b])];
    }
    return s;
  }

  // lm.hpp's Problem::project_linear: the free linear parameters by (relative, for log
  // objectives) least squares with the others held at p; false if singular. With obj, also
  // the objective at the projected p, from f(p without them) + sum_a p_a df/dp_a as the CPU
  // computes it.
  CPTLAW_HD bool project_linear(double* p, double* obj) const {
    int lin[P];
    const int nl = fit::detail::free_linear<P>(linear_, fixed_, lin);
    if (nl == 0) {
      if (obj) *obj = objective(p);  // as the CPU's multistart scores an unprojected candidate
      return true;
    }
    double q[P];
    for (int k = 0; k < P; ++k) q[k] = p[k];
    for (int a = 0; a < nl; ++a) q[lin[a]] = 0.0;
    const bool logobj = s_.opt.objective != fit::least_squares;
    double acc[P + kTri];
    team_.run(
        [&](int lane, int stride, double* ac) {
          for (std::int64_t i = lane; i < d_.n; i += stride) {
            double z[Law::n_prep], G[P];
            prepare(i, z);
            const double f = Law::template eval<true>(q, z, G);
            const double y = d_.y[i], w = d_.w ? d_.w[i] : 1.0;
            const double r = y - f;
            const double wp = logobj ? w / (y * y) : w;
            gram(G, wp, r, ac);
          }
        },
        acc, P + kTri);
    double A[P * P], b[P];
    for (int a = 0; a < nl; ++a) {
      b[a] = acc[lin[a]];
      for (int c = 0; c < nl; ++c) A[a * nl + c] = acc[P + tri(lin[a], lin[c])];
    }
    if (!fit::detail::solve_projection(A, b, nl, lin, p)) return false;
    clamp(p);
    if (obj) {
      double s = 0.0;
      team_.run(
          [&](int lane, int stride, double* ac) {
            for (std::int64_t i = lane; i < d_.n; i += stride) {
              double z[Law::n_prep], G[P];
              prepare(i, z);
              double f = Law::template eval<true>(q, z, G);
              for (int a = 0; a < nl; ++a) f += p[lin[a]] * G[lin[a]];
              double r, wt;
              ac[0] += residual(i, f, r, wt);
            }
          },
          &s, 1);
      *obj = std::isfinite(s) ? s : std::numeric_limits<double>::infinity();
    }
    return true;
  }

 private:
  // Index of (a, b) in the packed lower triangle.
  CPTLAW_HD static int tri(int a, int b) { return a >= b ? a * (a + 1) / 2 + b : b * (b + 1) / 2 + a; }

  CPTLAW_HD void clamp(double* p) const { fit::detail::clamp_to_box<P>(p, lo_, hi_); }

  CPTLAW_HD void prepare(std::int64_t i, double* z) const {
    double raw[NIn];
    for (int k = 0; k < NIn; ++k) raw[k] = d_.x[k][i];
    Law::prepare(raw, z);
  }

  // Point i's residual r, IRLS weight wt and objective term (lm.hpp's detail::residuals,
  // restated per point: the CPU's is one vectorised loop over stored f and log y).
  CPTLAW_HD double residual(std::int64_t i, double f, double& r, double& wt) const {
    const double y = d_.y[i], w = d_.w ? d_.w[i] : 1.0;
    const int objective = s_.opt.objective;
    if (objective == fit::least_squares) {
      r = f - y;
      wt = w;
      return w * 0.5 * r * r;
    }
    const double delta = s_.opt.delta;
    const bool huber = objective == fit::huber_log;
    r = (f > 0.0 ? simd::log(f) : std::numeric_limits<double>::quiet_NaN()) - std::log(y);
    const double a = std::fabs(r);
    const bool inner = !huber || a <= delta;
    wt = inner ? w : w * delta / a;
    return w * (inner ? 0.5 * r * r : delta * (a - 0.5 * delta));
  }

  // g[a] += (wt G_a) r and the lower triangle of A += (wt G_a) G_b (lm.hpp's weighted_gram,
  // restated per point: the CPU's streams stored Jacobian columns, the team sums per lane).
  CPTLAW_HD static void gram(const double* G, double wt, double r, double* ac) {
    int t = P;
    for (int a = 0; a < P; ++a) {
      const double u = wt * G[a];
      ac[a] += u * r;
      for (int b = 0; b <= a; ++b) ac[t++] += u * G[b];
    }
  }

  const Points<NIn>& d_;
  const Setup& s_;
  const Team& team_;
  double lo_[P], hi_[P];
  bool fixed_[P], linear_[P];
  int free_[P], m_;
};

}  // namespace batch
}  // namespace cptlaw
