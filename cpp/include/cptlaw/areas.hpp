// Learning-rate areas (LAW.md section 1) and the PT/CPT split (section 3).
//
// S1[i] = x[0] + ... + x[i]
// m[0] = 0, m[i] = lam*m[i-1] + (x[i-1] - x[i])
// S2[i] = sum_{j<=i} m[j] * w[j],  w[j] = 1, or x[j]^eps for the LR-weighted form (P1 Eq. 9)
#pragma once

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
  if (!weighted && warm == 0) {
    // Hot path: no branches inside, two short dependency chains per step.
    for (std::int64_t i = 1; i < n; ++i) {
      const double xi = x[i];
      a1 += xi;
      m = lam * m + (prev - xi);
      a2 += m;
      prev = xi;
      s1[i] = a1;
      s2[i] = a2;
    }
    return;
  }
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

// A batch of rows (row-major, `rows` x `n`), rows spread over threads.
inline void areas_batch(const double* x, std::int64_t rows, std::int64_t n, const AreaOptions& opt, double* s1,
                        double* s2, int threads) {
  parallel_for(rows, threads, std::max<std::int64_t>(1, 20000 / std::max<std::int64_t>(n, 1)),
               [&](std::int64_t b, std::int64_t e) {
                 for (std::int64_t r = b; r < e; ++r) areas_row(x + r * n, n, opt, s1 + r * n, s2 + r * n);
               });
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

inline void cpt_areas_batch(const double* x_pt, std::int64_t n_pt, const double* x_cpt, std::int64_t n_cpt,
                            std::int64_t rows, const AreaOptions& opt, Split split, double* s1_pt, double* s2_pt,
                            double* s1_cpt, double* s2_cpt, int threads) {
  const std::int64_t n = n_pt + n_cpt;
  parallel_for(rows, threads, std::max<std::int64_t>(1, 20000 / std::max<std::int64_t>(n, 1)),
               [&](std::int64_t b, std::int64_t e) {
                 for (std::int64_t r = b; r < e; ++r)
                   cpt_areas_row(x_pt + r * n_pt, n_pt, x_cpt + r * n_cpt, n_cpt, opt, split, s1_pt + r * n,
                                 s2_pt + r * n, s1_cpt + r * n, s2_cpt + r * n);
               });
}

}  // namespace cptlaw
