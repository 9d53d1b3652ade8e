// Learning-rate areas (LAW.md section 1) and the PT/CPT split (section 3).
//
// S1[i] = x[0] + ... + x[i]
// m[0] = 0, m[i] = lam*m[i-1] + (x[i-1] - x[i])
// S2[i] = sum_{j<=i} m[j] * w[j],  w[j] = 1, or x[j]^eps for the LR-weighted form (P1 Eq. 9)
#pragma once

#include <atomic>
#include <cmath>
#include <cstdint>

#include "cptlaw/config.hpp"
#include "cptlaw/parallel.hpp"

namespace cptlaw {

enum class Split : int { by_source = 0, by_time = 1, restart = 2 };

struct AreaOptions {
  double decay = 0.999;
  // 0: literal LRs; -1: steps before the first maximum count at the maximum;
  // W > 0: the first W steps count at the row's maximum (P2's warmup convention).
  std::int64_t warmup_as_peak = 0;
  // NaN: plain momentum sum; otherwise S2 weights each momentum by x^eps (P1 Eq. 9).
  double s2_lr_exponent = std::nan("");
};

namespace detail {

// Number of leading steps to lift to the row maximum, and that maximum.
inline std::int64_t warmup_length(const double* x, std::int64_t n, std::int64_t option, double& peak) {
  peak = 0.0;
  std::int64_t first_max = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    if (x[i] > peak) {
      peak = x[i];
      first_max = i;
    }
  }
  if (option == 0) return 0;
  if (option < 0) return first_max;
  return option < n ? option : n;
}

// Step value seen by the area recurrences (after the warmup convention).
struct RowView {
  const double* x;
  std::int64_t warm;
  double peak;
  double operator[](std::int64_t i) const { return i < warm ? peak : x[i]; }
};

inline double s2_weight(double x, double eps) { return std::isnan(eps) ? 1.0 : (x == 0.0 ? (eps == 0.0 ? 1.0 : 0.0) : std::pow(x, eps)); }

}  // namespace detail

// True when every value is finite and >= 0 (valid learning rates).
inline bool valid_learning_rates(const double* x, std::int64_t n) {
  bool ok = true;
  for (std::int64_t i = 0; i < n; ++i) ok &= (x[i] >= 0.0) & (x[i] <= 1.7976931348623157e308);
  return ok;
}

// One schedule: s1, s2 of length n.
inline void areas_row(const double* x, std::int64_t n, const AreaOptions& opt, double* s1, double* s2) {
  if (n <= 0) return;
  double peak;
  const std::int64_t warm = detail::warmup_length(x, n, opt.warmup_as_peak, peak);
  const detail::RowView v{x, warm, peak};
  const double lam = opt.decay;
  const bool weighted = !std::isnan(opt.s2_lr_exponent);
  double a1 = v[0], m = 0.0, a2 = 0.0, prev = v[0];
  s1[0] = a1;
  s2[0] = 0.0;
  for (std::int64_t i = 1; i < n; ++i) {
    const double xi = v[i];
    a1 += xi;
    m = lam * m + (prev - xi);
    a2 += m * (weighted ? detail::s2_weight(xi, opt.s2_lr_exponent) : 1.0);
    prev = xi;
    s1[i] = a1;
    s2[i] = a2;
  }
}

// The common case (literal LRs, plain S2) for R rows at once: the recurrence of one
// row is a chain of dependent floating-point ops, so interleaving independent rows
// keeps the FPU busy. Same operations in the same order as areas_row, so results
// are bit-identical.
template <int R>
inline void areas_rows_plain(const double* x, std::int64_t n, double lam, double* s1, double* s2) {
  double a1[R], m[R], a2[R], prev[R];
  for (int r = 0; r < R; ++r) {
    a1[r] = prev[r] = x[r * n];
    m[r] = a2[r] = 0.0;
    s1[r * n] = a1[r];
    s2[r * n] = 0.0;
  }
  for (std::int64_t i = 1; i < n; ++i) {
    for (int r = 0; r < R; ++r) {
      const double xi = x[r * n + i];
      a1[r] += xi;
      m[r] = lam * m[r] + (prev[r] - xi);
      a2[r] += m[r];
      prev[r] = xi;
      s1[r * n + i] = a1[r];
      s2[r * n + i] = a2[r];
    }
  }
}

// A batch of rows (row-major, `rows` x `n`), rows spread over threads.
// Returns false (and leaves the outputs unspecified) if an LR is negative or not finite.
inline bool areas_batch(const double* x, std::int64_t rows, std::int64_t n, const AreaOptions& opt, double* s1,
                        double* s2, int threads) {
  std::atomic<bool> ok{true};
  const bool plain = opt.warmup_as_peak == 0 && std::isnan(opt.s2_lr_exponent);
  parallel_for(rows, threads, std::max<std::int64_t>(4, 20000 / std::max<std::int64_t>(n, 1)),
               [&](std::int64_t b, std::int64_t e) {
                 if (!valid_learning_rates(x + b * n, (e - b) * n)) {
                   ok = false;
                   return;
                 }
                 std::int64_t r = b;
                 if (plain) {
                   for (; r + 4 <= e; r += 4) areas_rows_plain<4>(x + r * n, n, opt.decay, s1 + r * n, s2 + r * n);
                 }
                 for (; r < e; ++r) areas_row(x + r * n, n, opt, s1 + r * n, s2 + r * n);
               });
  return ok;
}

// PT schedule (n_pt >= 1 steps) followed by a CPT schedule (n_cpt steps), on one
// timeline of N = n_pt + n_cpt steps; T = n_pt is the first CPT step. The warmup
// convention applies to the PT part only (CPT re-warmup is always literal).
inline void cpt_areas_row(const double* x_pt, std::int64_t n_pt, const double* x_cpt, std::int64_t n_cpt,
                          const AreaOptions& opt, Split split, double* s1_pt, double* s2_pt, double* s1_cpt,
                          double* s2_cpt) {
  if (n_pt <= 0) return;
  double peak;
  const std::int64_t warm = detail::warmup_length(x_pt, n_pt, opt.warmup_as_peak, peak);
  const detail::RowView v{x_pt, warm, peak};
  const double lam = opt.decay;
  const double eps = opt.s2_lr_exponent;
  const bool weighted = !std::isnan(eps);
  auto weight = [&](double xi) { return weighted ? detail::s2_weight(xi, eps) : 1.0; };

  // PT phase: plain recurrences.
  double a1 = 0.0, m = 0.0, a2 = 0.0, prev = v[0];
  for (std::int64_t i = 0; i < n_pt; ++i) {
    const double xi = v[i];
    a1 += xi;
    if (i > 0) {
      m = lam * m + (prev - xi);
      a2 += m * weight(xi);
    }
    prev = xi;
    s1_pt[i] = a1;
    s2_pt[i] = a2;
    s1_cpt[i] = 0.0;
    s2_cpt[i] = 0.0;
  }
  // CPT phase. m_pt: momentum attributed to PT drops; m_cpt: to CPT drops.
  double m_pt = m, m_cpt = 0.0, b1 = 0.0, b2 = 0.0;
  for (std::int64_t j = 0; j < n_cpt; ++j) {
    const double xi = x_cpt[j];
    const double d = prev - xi;
    const double w = weight(xi);
    b1 += xi;
    switch (split) {
      case Split::by_source:
        m_pt = lam * m_pt;
        a2 += m_pt * w;
        m_cpt = lam * m_cpt + d;
        break;
      case Split::by_time:
        // One momentum over the whole timeline, its area after T goes to CPT.
        m_cpt = lam * (j == 0 ? m : m_cpt) + d;
        break;
      case Split::restart:
        m_cpt = lam * m_cpt + d;
        break;
    }
    b2 += m_cpt * w;
    prev = xi;
    const std::int64_t i = n_pt + j;
    s1_pt[i] = a1;
    s2_pt[i] = a2;
    s1_cpt[i] = b1;
    s2_cpt[i] = b2;
  }
}

// Returns false if an LR is negative or not finite (outputs then unspecified).
inline bool cpt_areas_batch(const double* x_pt, std::int64_t n_pt, const double* x_cpt, std::int64_t n_cpt,
                            std::int64_t rows, const AreaOptions& opt, Split split, double* s1_pt, double* s2_pt,
                            double* s1_cpt, double* s2_cpt, int threads) {
  const std::int64_t n = n_pt + n_cpt;
  std::atomic<bool> ok{true};
  parallel_for(rows, threads, std::max<std::int64_t>(1, 20000 / std::max<std::int64_t>(n, 1)),
               [&](std::int64_t b, std::int64_t e) {
                 if (!valid_learning_rates(x_pt + b * n_pt, (e - b) * n_pt) ||
                     !valid_learning_rates(x_cpt + b * n_cpt, (e - b) * n_cpt)) {
                   ok = false;
                   return;
                 }
                 for (std::int64_t r = b; r < e; ++r)
                   cpt_areas_row(x_pt + r * n_pt, n_pt, x_cpt + r * n_cpt, n_cpt, opt, split, s1_pt + r * n,
                                 s2_pt + r * n, s1_cpt + r * n, s2_cpt + r * n);
               });
  return ok;
}

}  // namespace cptlaw
