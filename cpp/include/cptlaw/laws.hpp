// Every law of docs/laws.md, defined once: value and analytic gradient.
//
// A law is a struct with
//   n_params, n_inputs, n_prep          sizes
//   prepare(raw, prep)                  data-only transforms (logs of areas), done
//                                       once per point and reused across a fit
//   eval<Grad>(p, prep, g)              value; if Grad, also dL/dp into g[n_params]
// Kernels below loop over points; they are plain arithmetic so they vectorise.
// prepare and eval are CPTLAW_HD: the CUDA kernels (cpp/cuda) call the same functions.
// Non-positive forward areas give NaN (a power of them is undefined).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "cptlaw/cancel.hpp"
#include "cptlaw/config.hpp"
#include "cptlaw/line_writer.hpp"
#include "cptlaw/parallel.hpp"
#include "cptlaw/simd_math.hpp"

namespace cptlaw {
namespace laws {

namespace detail {
constexpr double nan = std::numeric_limits<double>::quiet_NaN();
// log of a forward area; NaN where the area is not positive.
CPTLAW_HD inline double log_area(double s) { return s > 0.0 ? simd::log(s) : nan; }
// e^x - 1, accurate for small x.
CPTLAW_HD inline double expm1(double x) {
  const double big = simd::exp(x) - 1.0;
  const double small = x * (1.0 + x * (0.5 + x * (1.0 / 6 + x * (1.0 / 24))));
  return (x < 1e-4 && x > -1e-4) ? small : big;
}
// The distribution-shift factor: 1 - (1 + E s)^-beta and the pieces of its gradient.
struct Shift {
  double q, lq, one_minus_q, dq_dE_over_b;  // dq_dE_over_b = beta s Q / (1 + E s)
  CPTLAW_HD Shift(double E, double beta, double s1_cpt) {
    const double u = E * s1_cpt;
    lq = u > -1.0 ? simd::log1p(u) : nan;  // a base 1 + E s <= 0 is NaN, as log_area's (0^-beta too)
    q = simd::exp(-beta * lq);
    one_minus_q = -expm1(-beta * lq);
    dq_dE_over_b = beta * s1_cpt * q / (1.0 + u);
  }
};
}  // namespace detail

// P2: L = L0 + A S1^-alpha - C S2
struct Annealing {
  static constexpr int n_params = 4, n_inputs = 2, n_prep = 2;
  CPTLAW_HD static void prepare(const double* x, double* z) {
    z[0] = detail::log_area(x[0]);
    z[1] = x[1];
  }
  template <bool Grad>
  CPTLAW_HD static double eval(const double* p, const double* z, double* g) {
    const double P = simd::exp(-p[2] * z[0]);
    if (Grad) {
      g[0] = 1.0;
      g[1] = P;
      g[2] = -p[1] * z[0] * P;
      g[3] = -z[1];
    }
    return p[0] + p[1] * P - p[3] * z[1];
  }
};

// P1 Eq. 4. Inputs s1_pt, s2_pt, s1_cpt, s2_cpt; params L0 A alpha C1 C2 B E beta.
struct CPT {
  static constexpr int n_params = 8, n_inputs = 4, n_prep = 4;
  CPTLAW_HD static void prepare(const double* x, double* z) {
    z[0] = detail::log_area(x[0] + x[2]);
    z[1] = x[1];
    z[2] = x[2];
    z[3] = x[3];
  }
  template <bool Grad>
  CPTLAW_HD static double eval(const double* p, const double* z, double* g) {
    const double P = simd::exp(-p[2] * z[0]);
    const detail::Shift sh(p[6], p[7], z[2]);
    if (Grad) {
      g[0] = 1.0;
      g[1] = P;
      g[2] = -p[1] * z[0] * P;
      g[3] = -z[1];
      g[4] = -z[3];
      g[5] = sh.one_minus_q;
      g[6] = p[5] * sh.dq_dE_over_b;
      g[7] = p[5] * sh.q * sh.lq;
    }
    return p[0] + p[1] * P - p[3] * z[1] - p[4] * z[3] + p[5] * sh.one_minus_q;
  }
};

// docs/laws.md#shared-c: Eq. 4 with one annealing coefficient C over the whole LR history.
// Inputs s1_pt, s2_pt, s1_cpt, s2_cpt; params L0 A alpha C B E beta.
struct CPTSharedC {
  static constexpr int n_params = 7, n_inputs = 4, n_prep = 3;
  CPTLAW_HD static void prepare(const double* x, double* z) {
    z[0] = detail::log_area(x[0] + x[2]);
    z[1] = x[1] + x[3];
    z[2] = x[2];
  }
  template <bool Grad>
  CPTLAW_HD static double eval(const double* p, const double* z, double* g) {
    const double P = simd::exp(-p[2] * z[0]);
    const detail::Shift sh(p[5], p[6], z[2]);
    if (Grad) {
      g[0] = 1.0;
      g[1] = P;
      g[2] = -p[1] * z[0] * P;
      g[3] = -z[1];
      g[4] = sh.one_minus_q;
      g[5] = p[4] * sh.dq_dE_over_b;
      g[6] = p[4] * sh.q * sh.lq;
    }
    return p[0] + p[1] * P - p[3] * z[1] + p[4] * sh.one_minus_q;
  }
};

// P1 Eq. 8, both validation sets. Inputs s1_pt s2_pt s1_cpt s2_cpt r_pt;
// params L0 A alpha C1 C2 a1 B E beta a2. r_cpt = 1 - r_pt.
// ForCPT = false: D_pt loss, annealing factor exp(a1 r_pt), shift factor 1 - exp(-a2 r_cpt).
// ForCPT = true:  D_cpt loss, annealing factor exp(a1 r_cpt), shift factor exp(a2 r_cpt) - 1.
template <bool ForCPT>
struct Replay {
  static constexpr int n_params = 10, n_inputs = 5, n_prep = 5;
  CPTLAW_HD static void prepare(const double* x, double* z) {
    z[0] = detail::log_area(x[0] + x[2]);
    z[1] = x[1];
    z[2] = x[2];
    z[3] = x[3];
    z[4] = x[4];
  }
  template <bool Grad>
  CPTLAW_HD static double eval(const double* p, const double* z, double* g) {
    const double r_pt = z[4], r_cpt = 1.0 - z[4];
    const double r_ann = ForCPT ? r_cpt : r_pt;
    const double P = simd::exp(-p[2] * z[0]);
    const double ea1 = simd::exp(p[5] * r_ann);
    const double f = ForCPT ? detail::expm1(p[9] * r_cpt) : -detail::expm1(-p[9] * r_cpt);
    const double df_da2 = ForCPT ? r_cpt * simd::exp(p[9] * r_cpt) : r_cpt * simd::exp(-p[9] * r_cpt);
    const detail::Shift sh(p[7], p[8], z[2]);
    if (Grad) {
      g[0] = 1.0;
      g[1] = P;
      g[2] = -p[1] * z[0] * P;
      g[3] = -z[1];
      g[4] = -z[3] * ea1;
      g[5] = -p[4] * z[3] * r_ann * ea1;
      g[6] = sh.one_minus_q * f;
      g[7] = p[6] * f * sh.dq_dE_over_b;
      g[8] = p[6] * f * sh.q * sh.lq;
      g[9] = p[6] * sh.one_minus_q * df_da2;
    }
    return p[0] + p[1] * P - p[3] * z[1] - p[4] * z[3] * ea1 + p[6] * sh.one_minus_q * f;
  }
};

// P1 Eq. 7. Inputs s1_pt s2_pt s1_cpt s2_cpt N;
// params L0 A alpha C1 C2 g1 g2 B E beta F g3.
struct ModelSize {
  static constexpr int n_params = 12, n_inputs = 5, n_prep = 5;
  CPTLAW_HD static void prepare(const double* x, double* z) {
    z[0] = detail::log_area(x[0] + x[2]);
    z[1] = x[1];
    z[2] = x[2];
    z[3] = x[3];
    z[4] = detail::log_area(x[4]);
  }
  template <bool Grad>
  CPTLAW_HD static double eval(const double* p, const double* z, double* g) {
    const double lN = z[4];
    const double P = simd::exp(-p[2] * z[0]);
    const double n1 = simd::exp(p[5] * lN), n2 = simd::exp(p[6] * lN), n3 = simd::exp(-p[11] * lN);
    const detail::Shift sh(p[8], p[9], z[2]);
    if (Grad) {
      g[0] = 1.0;
      g[1] = P;
      g[2] = -p[1] * z[0] * P;
      g[3] = -z[1] * n1;
      g[4] = -z[3] * n2;
      g[5] = -p[3] * z[1] * n1 * lN;
      g[6] = -p[4] * z[3] * n2 * lN;
      g[7] = sh.one_minus_q;
      g[8] = p[7] * sh.dq_dE_over_b;
      g[9] = p[7] * sh.q * sh.lq;
      g[10] = n3;
      g[11] = -p[10] * n3 * lN;
    }
    return p[0] + p[1] * P - p[3] * z[1] * n1 - p[4] * z[3] * n2 + p[7] * sh.one_minus_q + p[10] * n3;
  }
};

// P1 Sec. 6, open-source base models. Inputs s1_cpt s2_cpt;
// params L0 A alpha S1_pt_hat B E beta C2.
struct OpenSource {
  static constexpr int n_params = 8, n_inputs = 2, n_prep = 2;
  CPTLAW_HD static void prepare(const double* x, double* z) {
    z[0] = x[0];
    z[1] = x[1];
  }
  template <bool Grad>
  CPTLAW_HD static double eval(const double* p, const double* z, double* g) {
    const double s = z[0] + p[3];
    const double ls = detail::log_area(s);
    const double P = simd::exp(-p[2] * ls);
    const detail::Shift sh(p[5], p[6], z[0]);
    if (Grad) {
      g[0] = 1.0;
      g[1] = P;
      g[2] = -p[1] * ls * P;
      g[3] = -p[1] * p[2] * P / s;
      g[4] = sh.one_minus_q;
      g[5] = p[4] * sh.dq_dE_over_b;
      g[6] = p[4] * sh.q * sh.lq;
      g[7] = -z[1];
    }
    return p[0] + p[1] * P + p[4] * sh.one_minus_q - p[7] * z[1];
  }
};

// P1 App. J Eq. 10: powered annealing areas, -C1 S2_pt^z1 - C2 S2_cpt^z2.
// S2 turns negative under re-warmup, so the power is the odd extension
// sign(s)|s|^z. Params L0 A alpha C1 C2 B E beta z1 z2.
struct CPTPowerS2 {
  static constexpr int n_params = 10, n_inputs = 4, n_prep = 6;
  CPTLAW_HD static void prepare(const double* x, double* z) {
    z[0] = detail::log_area(x[0] + x[2]);
    z[1] = x[2];
    z[2] = x[1] > 0.0 ? 1.0 : (x[1] < 0.0 ? -1.0 : 0.0);
    z[3] = x[1] != 0.0 ? simd::log(std::fabs(x[1])) : 0.0;
    z[4] = x[3] > 0.0 ? 1.0 : (x[3] < 0.0 ? -1.0 : 0.0);
    z[5] = x[3] != 0.0 ? simd::log(std::fabs(x[3])) : 0.0;
  }
  template <bool Grad>
  CPTLAW_HD static double eval(const double* p, const double* z, double* g) {
    const double P = simd::exp(-p[2] * z[0]);
    const double t1 = z[2] * simd::exp(p[8] * z[3]);
    const double t2 = z[4] * simd::exp(p[9] * z[5]);
    const detail::Shift sh(p[6], p[7], z[1]);
    if (Grad) {
      g[0] = 1.0;
      g[1] = P;
      g[2] = -p[1] * z[0] * P;
      g[3] = -t1;
      g[4] = -t2;
      g[5] = sh.one_minus_q;
      g[6] = p[5] * sh.dq_dE_over_b;
      g[7] = p[5] * sh.q * sh.lq;
      g[8] = -p[3] * t1 * z[3];
      g[9] = -p[4] * t2 * z[5];
    }
    return p[0] + p[1] * P - p[3] * t1 - p[4] * t2 + p[5] * sh.one_minus_q;
  }
};

// P1 Eq. 6: out-of-domain loss as w1 L_Dpt + w2 L_Dcpt.
struct OutOfDomain {
  static constexpr int n_params = 2, n_inputs = 2, n_prep = 2;
  CPTLAW_HD static void prepare(const double* x, double* z) {
    z[0] = x[0];
    z[1] = x[1];
  }
  template <bool Grad>
  CPTLAW_HD static double eval(const double* p, const double* z, double* g) {
    if (Grad) {
      g[0] = z[0];
      g[1] = z[1];
    }
    return p[0] * z[0] + p[1] * z[1];
  }
};

// Contiguous inputs, no gradient: the memory-speed path. Each block runs in two
// loops, prepare (the logs of the areas) then eval (the rest): one loop carrying both
// log and exp keeps too many polynomial terms live at once and runs ~1.4x slower.
// Staging through small stack blocks also shows the compiler that nothing aliases
// the inputs, so both loops vectorise without runtime overlap checks. Large outputs
// are written in whole lines with non-temporal stores (line_writer.hpp).
template <class Law>
CPTLAW_CLONES void eval_dense(const double* p, const double* const* x, std::int64_t n, double* out,
                              bool streaming = false) {
  constexpr std::int64_t block = 256;
  double pl[Law::n_params];
  for (int k = 0; k < Law::n_params; ++k) pl[k] = p[k];
  double zb[Law::n_prep][block];
  double res[block + 8];
  cptlaw::detail::LineWriter w{out, 0, streaming};
  for (std::int64_t b = 0; b < n; b += block) {
    const std::int64_t len = n - b < block ? n - b : block;
    for (std::int64_t i = 0; i < len; ++i) {
      double raw[Law::n_inputs], z[Law::n_prep];
      for (int k = 0; k < Law::n_inputs; ++k) raw[k] = x[k][b + i];
      Law::prepare(raw, z);
      for (int k = 0; k < Law::n_prep; ++k) zb[k][i] = z[k];
    }
    double* o = res + (b - w.done);
    for (std::int64_t i = 0; i < len; ++i) {
      double z[Law::n_prep];
      for (int k = 0; k < Law::n_prep; ++k) z[k] = zb[k][i];
      o[i] = Law::template eval<false>(pl, z, nullptr);
    }
    w.flush(res, b + len, b + len == n);
  }
  if (streaming) cptlaw::detail::stream_fence();
}

// General path: each input has stride 0 (broadcast scalar) or 1; optional gradient
// into grad[i * n_params + k].
template <class Law>
CPTLAW_CLONES void eval_strided(const double* p, const double* const* x, const std::int64_t* stride, std::int64_t n,
                                double* out, double* grad) {
  double raw[Law::n_inputs], z[Law::n_prep];
  for (std::int64_t i = 0; i < n; ++i) {
    for (int k = 0; k < Law::n_inputs; ++k) raw[k] = x[k][i * stride[k]];
    Law::prepare(raw, z);
    if (grad) {
      out[i] = Law::template eval<true>(p, z, grad + i * Law::n_params);
    } else {
      out[i] = Law::template eval<false>(p, z, nullptr);
    }
  }
}

// Prepared features of n points, stored by feature: z[k * n + i].
template <class Law>
CPTLAW_CLONES void prepare_columns(const double* const* x, std::int64_t n, double* z) {
  for (std::int64_t i = 0; i < n; ++i) {
    double raw[Law::n_inputs], zi[Law::n_prep];
    for (int k = 0; k < Law::n_inputs; ++k) raw[k] = x[k][i];
    Law::prepare(raw, zi);
    for (int k = 0; k < Law::n_prep; ++k) z[k * n + i] = zi[k];
  }
}

// Prepared features stored by feature (z[k * n + i]); values into f[i] and, if
// Grad, gradients into G[k * n + i]. Used by the fitter, which prepares once.
// Stores go straight to f and G when the vectoriser can prove them independent with
// a few runtime overlap checks (it allows 10); with more gradient columns they are
// staged in stack blocks (known not to alias) and copied out.
template <class Law, bool Grad>
CPTLAW_CLONES void eval_prepared(const double* __restrict p, const double* __restrict z, std::int64_t n,
                                 double* __restrict f, double* __restrict G) {
  double pl[Law::n_params];
  for (int k = 0; k < Law::n_params; ++k) pl[k] = p[k];
  if (!Grad || Law::n_params <= 4) {
    for (std::int64_t i = 0; i < n; ++i) {
      double zi[Law::n_prep], g[Law::n_params];
      for (int k = 0; k < Law::n_prep; ++k) zi[k] = z[k * n + i];
      f[i] = Law::template eval<Grad>(pl, zi, g);
      if (Grad)
        for (int k = 0; k < Law::n_params; ++k) G[k * n + i] = g[k];
    }
    return;
  }
  constexpr std::int64_t block = 128;
  double fb[block], gb[Law::n_params][block];
  for (std::int64_t b = 0; b < n; b += block) {
    const std::int64_t len = n - b < block ? n - b : block;
    for (std::int64_t i = 0; i < len; ++i) {
      double zi[Law::n_prep], g[Law::n_params];
      for (int k = 0; k < Law::n_prep; ++k) zi[k] = z[k * n + b + i];
      fb[i] = Law::template eval<Grad>(pl, zi, g);
      for (int k = 0; k < Law::n_params; ++k) gb[k][i] = g[k];
    }
    std::memcpy(f + b, fb, static_cast<std::size_t>(len) * sizeof(double));
    for (int k = 0; k < Law::n_params; ++k)
      std::memcpy(G + k * n + b, gb[k], static_cast<std::size_t>(len) * sizeof(double));
  }
}

// Evaluate over n points, split across threads.
template <class Law>
void evaluate(const double* p, const double* const* x, const std::int64_t* stride, std::int64_t n, double* out,
              double* grad, int threads) {
  bool dense = grad == nullptr;
  for (int k = 0; k < Law::n_inputs; ++k) dense = dense && stride[k] == 1;
  const bool streaming = n * std::int64_t{sizeof(double)} >= cptlaw::detail::kStreamMinBytes;
  constexpr std::int64_t piece = std::int64_t{1} << 18;  // points between cancellation checks (~1 ms)
  parallel_for(n, threads, 1 << 16, [&](std::int64_t b0, std::int64_t e0) {
    for (std::int64_t b = b0; b < e0; b += piece) {
      if (b > b0) CPTLAW_CHECKPOINT();
      const std::int64_t e = e0 - b > piece ? b + piece : e0;
      const double* xb[Law::n_inputs];
      for (int k = 0; k < Law::n_inputs; ++k) xb[k] = x[k] + b * stride[k];
      if (dense) {
        eval_dense<Law>(p, xb, e - b, out + b, streaming);
      } else {
        eval_strided<Law>(p, xb, stride, e - b, out + b, grad ? grad + b * Law::n_params : nullptr);
      }
    }
  });
}

}  // namespace laws
}  // namespace cptlaw
