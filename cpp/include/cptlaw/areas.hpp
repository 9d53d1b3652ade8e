// Learning-rate areas (docs/laws.md#areas) and the PT/CPT split (docs/conventions.md#s2-split).
//
// S1[i] = x[0] + ... + x[i]
// m[0] = 0, m[i] = lam*m[i-1] + (x[i-1] - x[i])
// S2[i] = sum_{j<=i} m[j] * w[j],  w[j] = 1, or x[j]^eps for the LR-weighted form (P1 Eq. 9)
#pragma once

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "cptlaw/cancel.hpp"
#include "cptlaw/config.hpp"
#include "cptlaw/line_writer.hpp"
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

// The PT/CPT transfer (docs/conventions.md#s2-split): what each split mode carries from the state after
// the last PT step (its S2, momentum m and LR x) into CPT. The CPT areas start at 0 with
// previous LR x; the CPT momentum starts at m (by_time: one momentum over the whole timeline)
// or at 0 (by_source, restart). by_source keeps decaying the PT momentum after the transfer
// and adds its area to S2_pt; the other modes freeze S2_pt. by_time's S2_cpt is the part of
// the one S2 after T, S2(t) - S2(T-1): it starts at S2_pt - S2_pt, 0 unless S2_pt is NaN or
// infinite (LR-weighted S2 with LRs of 0). The one place these rules live: the recurrences
// below, the closed forms (schedule.hpp), the grid and the Python Tracker use it.
struct Transfer {
  double cpt_m = 0.0;         // CPT momentum before the first CPT step
  double prev_lr = 0.0;       // LR before the first CPT step
  double cpt_s2 = 0.0;        // S2_cpt before the first CPT step
  bool pt_continues = false;  // S2_pt keeps growing by the decaying PT momentum (by_source)
  double pt_m = 0.0;          // that PT momentum (0 when S2_pt is frozen)
};
CPTLAW_HD inline Transfer transfer(Split split, double pt_m, double pt_lr, double pt_s2 = 0.0) {
  Transfer t;
  t.cpt_m = split == Split::by_time ? pt_m : 0.0;
  t.prev_lr = pt_lr;
  t.cpt_s2 = split == Split::by_time ? pt_s2 - pt_s2 : 0.0;
  t.pt_continues = split == Split::by_source;
  t.pt_m = t.pt_continues ? pt_m : 0.0;
  return t;
}

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

// x^eps with IEEE pow's special values (0^0 = 1, 0^-eps = inf, as the reference); 1 without eps.
inline double s2_weight(double x, double eps) { return std::isnan(eps) ? 1.0 : std::pow(x, eps); }

}  // namespace detail

// True when every value is finite and >= 0 (valid learning rates). Written as a
// floating-point count so it vectorises (a bool &-reduction does not).
inline bool valid_learning_rates(const double* x, std::int64_t n) {
  double bad = 0.0;
#pragma omp simd reduction(+ : bad)
  for (std::int64_t i = 0; i < n; ++i) bad += (x[i] >= 0.0 && x[i] <= 1.7976931348623157e308) ? 0.0 : 1.0;
  return bad == 0.0;
}

// R schedules of n >= 1 steps at once (row r at x + r*n, outputs likewise). The
// recurrence of one row is a chain of dependent floating-point ops, so interleaving
// independent rows keeps the FPU busy. `General` adds the warmup convention and the
// LR-weighted S2; without them its weight is 1 and every op is the same, so both give
// the same bits. Results are staged in an L1 buffer and written by LineWriters
// (line_writer.hpp): with `streaming`, whole lines bypass the cache.
// Returns false if an LR is negative or not finite (outputs then unspecified).
template <int R, bool General>
CPTLAW_CLONES bool areas_rows(const double* x, std::int64_t n, const AreaOptions& opt, bool streaming, double* s1,
                              double* s2) {
  constexpr std::int64_t block = 128;  // steps per flush; buffers 2 x R x 1 KiB
  const double lam = opt.decay, eps = opt.s2_lr_exponent;
  detail::RowView v[R];
  double a1[R], m[R], a2[R], prev[R];
  bool ok = true;
  double b1[R][block + 8], b2[R][block + 8];
  detail::LineWriter w1[R], w2[R];
  for (int r = 0; r < R; ++r) {
    const double* xr = x + r * n;
    if (!valid_learning_rates(xr, General ? n : 1)) return false;  // the plain path checks the rest as it goes
    double peak = 0.0;
    const std::int64_t warm = General ? detail::warmup_length(xr, n, opt.warmup_as_peak, peak) : 0;
    v[r] = detail::RowView{xr, warm, peak};
    a1[r] = prev[r] = v[r][0];
    m[r] = 0.0;
    // m[0] = 0 weighted like every other step (0 * inf = NaN, as the reference).
    a2[r] = General ? 0.0 * detail::s2_weight(v[r][0], eps) : 0.0;
    b1[r][0] = a1[r];
    b2[r][0] = a2[r];
    w1[r] = detail::LineWriter{s1 + r * n, 0, streaming};
    w2[r] = detail::LineWriter{s2 + r * n, 0, streaming};
  }
  for (std::int64_t b = 1;;) {
    const std::int64_t len = n - b < block ? n - b : block;
    double* o1[R];
    double* o2[R];
    for (int r = 0; r < R; ++r) {
      o1[r] = b1[r] + (b - w1[r].done);
      o2[r] = b2[r] + (b - w2[r].done);
    }
    for (std::int64_t i = 0; i < len; ++i) {
      for (int r = 0; r < R; ++r) {
        const double xi = General ? v[r][b + i] : x[r * n + b + i];
        a1[r] += xi;
        m[r] = lam * m[r] + (prev[r] - xi);
        a2[r] += General ? m[r] * detail::s2_weight(xi, eps) : m[r];
        prev[r] = xi;
        o1[r][i] = a1[r];
        o2[r][i] = a2[r];
      }
    }
    // Check the block's steps now that the recurrence has brought them into L1.
    if (!General)
      for (int r = 0; r < R; ++r) ok &= valid_learning_rates(x + r * n + b, len);
    b += len;
    for (int r = 0; r < R; ++r) {
      w1[r].flush(b1[r], b, b == n);
      w2[r].flush(b2[r], b, b == n);
    }
    if (b == n) break;
    if ((b & 8191) < block) CPTLAW_CHECKPOINT();  // every ~8K steps
  }
  if (streaming) detail::stream_fence();
  return ok;
}

// One schedule: s1, s2 of length n.
inline void areas_row(const double* x, std::int64_t n, const AreaOptions& opt, double* s1, double* s2) {
  if (n > 0) areas_rows<1, true>(x, n, opt, false, s1, s2);
}

// A batch of rows (row-major, `rows` x `n`), rows spread over threads.
// Returns false (and leaves the outputs unspecified) if an LR is negative or not finite.
inline bool areas_batch(const double* x, std::int64_t rows, std::int64_t n, const AreaOptions& opt, double* s1,
                        double* s2, int threads) {
  if (n <= 0) return true;
  constexpr int R = 4;
  std::atomic<bool> ok{true};
  const bool plain = opt.warmup_as_peak == 0 && std::isnan(opt.s2_lr_exponent);
  const bool streaming = rows * n * std::int64_t{2 * sizeof(double)} >= detail::kStreamMinBytes;
  auto kernel = [&](auto rows_at_once, std::int64_t r) {
    constexpr int k = decltype(rows_at_once)::value;
    const bool good = plain ? areas_rows<k, false>(x + r * n, n, opt, streaming, s1 + r * n, s2 + r * n)
                            : areas_rows<k, true>(x + r * n, n, opt, streaming, s1 + r * n, s2 + r * n);
    if (!good) ok = false;
  };
  // Threads take whole groups of R rows, so the kernel a row meets (and so its bits)
  // does not depend on the thread count.
  const std::int64_t groups = (rows + R - 1) / R;
  parallel_for(groups, threads, std::max<std::int64_t>(1, 20000 / (R * n)), [&](std::int64_t gb, std::int64_t ge) {
    const std::int64_t e = std::min(rows, ge * R);
    std::int64_t r = gb * R;
    for (; r + R <= e && ok; r += R) kernel(std::integral_constant<int, R>{}, r);
    for (; r < e && ok; ++r) kernel(std::integral_constant<int, 1>{}, r);
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
  double a1 = 0.0, m = 0.0, a2 = 0.0 * weight(v[0]), prev = v[0];  // m[0] = 0, weighted
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
    if ((i & 65535) == 65535) CPTLAW_CHECKPOINT();
  }
  // CPT phase. m_pt: momentum attributed to PT drops; m_cpt: to CPT drops.
  const Transfer t = transfer(split, m, prev, a2);
  double m_pt = t.pt_m, m_cpt = t.cpt_m, b1 = 0.0, b2 = t.cpt_s2;
  prev = t.prev_lr;
  for (std::int64_t j = 0; j < n_cpt; ++j) {
    const double xi = x_cpt[j];
    const double d = prev - xi;
    const double w = weight(xi);
    b1 += xi;
    if (t.pt_continues) {
      m_pt = lam * m_pt;
      a2 += m_pt * w;
    }
    m_cpt = lam * m_cpt + d;
    b2 += m_cpt * w;
    prev = xi;
    const std::int64_t i = n_pt + j;
    s1_pt[i] = a1;
    s2_pt[i] = a2;
    s1_cpt[i] = b1;
    s2_cpt[i] = b2;
    if ((j & 65535) == 65535) CPTLAW_CHECKPOINT();
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
