// Parametric learning-rate schedules and their areas in closed form (docs/laws.md#areas).
//
// A schedule is a list of segments over consecutive steps. Each segment has a value
// formula (its `Shape`, written to reproduce what PyTorch / Hugging Face compute, see
// docs/schedules.md#schedule-families) and, where one exists, a closed form for the areas:
//
//   constant      x_j = c
//   affine        x_j = c + b j
//   exponential   x_j = c + b r^j
//   cosine        x_j = c + b cos(w j + phi)
//
// (j = step inside the segment). Other shapes (1-sqrt, inverse-sqrt, polynomial with
// power != 1, arbitrary arrays) use the per-step recurrence inside their segment, which is
// exact but O(length).
//
// Areas. S1[i] = x0 + ... + xi, m[0] = 0, m[i] = lam m[i-1] + x[i-1] - x[i], S2[i] = sum m.
// The state after step i is (S1, S2, m, x[i]). Entering a segment with state
// (S1, S2, m, xp), its first k steps y_0..y_{k-1} give
//
//   S1' = S1 + P_k                                   P_k = sum_{j<k} y_j
//   S2' = S2 + (lam m + J) g_k + D_k                 J = xp - y_0,  g_k = sum_{r<k} lam^r
//   m'  = lam^k m + lam^(k-1) J + M_k                D_k = sum_{j<k} lam^(k-1-j) (y_0 - y_j)
//   x'  = y_{k-1}                                    M_k = sum_{1<=r<k} lam^(k-1-r) (y_{r-1} - y_r)
//
// (sum the recurrence m_j = lam^(j+1) m + lam^j J + M_{j+1} over j < k; D_k = sum_{j<k} M_{j+1}).
// The very first step of a schedule has no previous LR: xp = y_0, m = 0.
// None of these forms divides by (1 - lam) after a subtraction: geometric sums are written
// with expm1 (g_n = expm1(-nL) / (lam - 1), L = -log lam; the complex version for cosines),
// and h_n = sum_{s<n} (n-s) lam^s = n (phi2(L) + n phi2(-nL)) / (phi1(L) phi1(-L)),
// phi1(z) = (e^z - 1)/z, phi2(z) = (e^z - 1 - z)/z^2, so lam = 1 - 1e-12 or a cosine of
// frequency pi/20000 are as accurate as lam = 0.9. What remains is cancellation at the level
// eps * max|x| * g_k in D_k, which is the accuracy of the per-step recurrence itself on
// rounded LRs.
//
// Per schedule the state at every segment boundary is computed once (O(segments), plus
// O(length) for recurrence-only segments); the areas at any step are then O(1) for
// closed-form segments (binary search for the segment, one partial advance).
// The per-segment functions (values, pieces, advance) are CPTLAW_HD: the CUDA grid kernel
// calls the same code; Decay and Schedule are built on the host.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <vector>

#include "cptlaw/areas.hpp"
#include "cptlaw/cancel.hpp"
#include "cptlaw/config.hpp"
#include "cptlaw/parallel.hpp"

namespace cptlaw {
namespace sched {

constexpr double kPi = 3.141592653589793;  // == Python's math.pi

// Value formulas. p = (j + off) / den, w = 1 - floor. Each reproduces a library's
// arithmetic operation for operation (so values match it bit for bit where it uses the
// closed form).
enum class Shape : int {
  constant = 0,      // scale
  linear = 1,        // scale * (p * w + floor)                       HF warmup, WSD warmup
  one_minus = 2,     // scale * ((1 - p) * w + floor)                 HF WSD linear decay
  ratio_down = 3,    // scale * (((off - j) / den) * w + floor)       HF linear decay (T - t)/(T - W)
  cosine = 4,        // scale * (0.5 * (1 + cos(pi * a * 2 * p)) * w + floor)   HF cosine, a = num_cycles
  cosine_up = 5,     // scale * (0.5 * (1 - cos(pi * p)) * w + floor)            HF WSD cosine warmup
  cosine_hard = 6,   // scale * (0.5 * (1 + cos(pi * fmod(a * p, 1))) * w + floor)  HF hard restarts;
                     //   b = the cycle index floor(a * p), constant on the segment
  cosine_torch = 7,  // floor + (scale - floor) * (1 + cos(pi * (j + off) / den)) / 2  (floor absolute)
  power = 8,         // scale * (pow(a, j + off) * w + floor)         ExponentialLR
  sqrt_down = 9,     // scale * ((1 - sqrt(p)) * w + floor)           1-sqrt cooldown
  sqrt_up = 10,      // scale * ((1 - sqrt(1 - p)) * w + floor)       HF WSD 1-sqrt warmup
  inv_sqrt = 11,     // scale * ((1 / sqrt(p)) * w + floor)           HF inverse_sqrt
  poly = 12,         // scale * (((scale - floor) * pow(1 - p, a) + floor) / scale)  HF polynomial (floor absolute)
  array = 13,        // data[off + j]
};
constexpr int kShapeCount = 14;

// One segment. In tables (the Python layer's format) a segment is a row of
// kSegmentFields doubles: len, shape, scale, floor, off, den, a, b.
struct Segment {
  std::int64_t len = 0;
  Shape shape = Shape::constant;
  double scale = 0.0, floor = 0.0, off = 0.0, den = 1.0, a = 0.0, b = 0.0;
};
constexpr int kSegmentFields = 8;

inline Segment segment_from_row(const double* row) {
  Segment s;
  const int shape = row[1] >= 0.0 && row[1] < kShapeCount ? static_cast<int>(row[1]) : -1;
  // Lengths are exact integers in the double table (<= 2^53, so the cast is defined).
  if (!(row[0] >= 0.0 && row[0] <= 9007199254740992.0) || !(row[1] >= 0.0 && row[1] < kShapeCount) ||
      static_cast<double>(shape) != row[1])
    throw std::invalid_argument("schedule: malformed segment row");
  s.len = static_cast<std::int64_t>(row[0]);
  s.shape = static_cast<Shape>(shape);
  s.scale = row[2];
  s.floor = row[3];
  s.off = row[4];
  s.den = row[5];
  s.a = row[6];
  s.b = row[7];
  return s;
}

// The LR at step j of a segment (0 <= j < len).
CPTLAW_HD inline double segment_value(const Segment& s, std::int64_t j, const double* data) {
  const double jo = static_cast<double>(j) + s.off;
  const double p = jo / s.den;
  const double w = 1.0 - s.floor;
  switch (s.shape) {
    case Shape::constant:
      return s.scale;
    case Shape::linear:
      return s.scale * (p * w + s.floor);
    case Shape::one_minus:
      return s.scale * ((1.0 - p) * w + s.floor);
    case Shape::ratio_down:
      return s.scale * (((s.off - static_cast<double>(j)) / s.den) * w + s.floor);
    case Shape::cosine:
      return s.scale * (0.5 * (1.0 + std::cos(kPi * s.a * 2.0 * p)) * w + s.floor);
    case Shape::cosine_up:
      return s.scale * (0.5 * (1.0 - std::cos(kPi * p)) * w + s.floor);
    case Shape::cosine_hard:
      return s.scale * (0.5 * (1.0 + std::cos(kPi * std::fmod(s.a * p, 1.0))) * w + s.floor);
    case Shape::cosine_torch:
      return s.floor + (s.scale - s.floor) * (1.0 + std::cos(kPi * jo / s.den)) / 2.0;
    case Shape::power:
      return s.scale * (std::pow(s.a, jo) * w + s.floor);
    case Shape::sqrt_down:
      return s.scale * ((1.0 - std::sqrt(p)) * w + s.floor);
    case Shape::sqrt_up:
      return s.scale * ((1.0 - std::sqrt(1.0 - p)) * w + s.floor);
    case Shape::inv_sqrt:
      return s.scale * ((1.0 / std::sqrt(p)) * w + s.floor);
    case Shape::poly:
      return s.scale * (((s.scale - s.floor) * std::pow(1.0 - p, s.a) + s.floor) / s.scale);
    case Shape::array:
      return data[static_cast<std::int64_t>(s.off) + j];
  }
  return std::numeric_limits<double>::quiet_NaN();
}

// Area state after a step.
struct State {
  double s1 = 0.0, s2 = 0.0, m = 0.0, x = 0.0;
};

namespace detail {

struct cplx {
  double re, im;
};
CPTLAW_HD inline cplx operator*(cplx a, cplx b) { return {a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re}; }
CPTLAW_HD inline cplx operator+(double a, cplx b) { return {a + b.re, b.im}; }
CPTLAW_HD inline cplx inverse(cplx a) {
  // Scaled to avoid overflow/underflow in |a|^2.
  const double s = std::max(std::fabs(a.re), std::fabs(a.im));
  const double r = a.re / s, i = a.im / s;
  const double d = s * (r * r + i * i);
  return {r / d, -i / d};
}

// -log(r) for r > 0, accurate near r = 1.
CPTLAW_HD inline double neglog(double r) { return (r > 0.5 && r < 2.0) ? -std::log1p(r - 1.0) : -std::log(r); }

// phi2(-x) = (e^-x - 1 + x) / x^2 for x >= 0, given em1 = expm1(-x).
CPTLAW_HD inline double phi2_neg(double x, double em1) {
  if (x < 0.25) {
    // sum_j (-x)^j / (j+2)!, j = 0..13 (truncation < 1e-19 at x = 0.25).
    static constexpr double c[14] = {1.0 / 2,
                                     -1.0 / 6,
                                     1.0 / 24,
                                     -1.0 / 120,
                                     1.0 / 720,
                                     -1.0 / 5040,
                                     1.0 / 40320,
                                     -1.0 / 362880,
                                     1.0 / 3628800,
                                     -1.0 / 39916800,
                                     1.0 / 479001600,
                                     -1.0 / 6227020800.0,
                                     1.0 / 87178291200.0,
                                     -1.0 / 1307674368000.0};
    double acc = c[13];
    for (int j = 12; j >= 0; --j) acc = acc * x + c[j];
    return acc;
  }
  return (em1 + x) / (x * x);
}

// sum_{j<n} e^{-x j} for any real x (x = 0: n), given inv_em1 = 1 / expm1(-x).
CPTLAW_HD inline double geo_sum(std::int64_t n, double x, double inv_em1) {
  if (n <= 0) return 0.0;
  if (x == 0.0) return static_cast<double>(n);
  return std::expm1(-static_cast<double>(n) * x) * inv_em1;
}

}  // namespace detail

// Everything about the decay factor lam that does not depend on the schedule.
struct Decay {
  double lam = 0.999;
  double L = 0.0;      // -log(lam)
  double oml = 0.0;    // 1 - lam (exact for lam >= 0.5)
  double phi2L = 0.0;  // phi2(L)
  double K = 1.0;      // phi1(L) phi1(-L) = (1 - lam)^2 / (lam L^2)
  enum Regime { zero, general, one } regime = general;

  Decay() : Decay(0.999) {}
  explicit Decay(double lam_) : lam(lam_) {
    if (!(lam >= 0.0 && lam <= 1.0)) throw std::invalid_argument("decay: must be in [0, 1]");
    oml = 1.0 - lam;
    if (lam == 0.0) {
      regime = zero;
      L = std::numeric_limits<double>::infinity();
    } else if (lam == 1.0) {
      regime = one;
    } else {
      regime = general;
      L = detail::neglog(lam);
      // phi2(L) = (e^L - 1 - L)/L^2: its series sum_j L^j/(j+2)! while the formula would cancel.
      if (L < 0.25) {
        static constexpr double c[14] = {1.0 / 2,        1.0 / 6,         1.0 / 24,           1.0 / 120,
                                         1.0 / 720,      1.0 / 5040,      1.0 / 40320,        1.0 / 362880,
                                         1.0 / 3628800,  1.0 / 39916800,  1.0 / 479001600,    1.0 / 6227020800.0,
                                         1.0 / 87178291200.0, 1.0 / 1307674368000.0};
        double acc = c[13];
        for (int j = 12; j >= 0; --j) acc = acc * L + c[j];
        phi2L = acc;
      } else {
        phi2L = (std::expm1(L) - L) / (L * L);
      }
      K = oml * oml / (lam * L * L);
    }
  }

  // lam^n, expm1(-nL) = lam^n - 1, g_n = sum_{r<n} lam^r and (if need_h) h_n = sum_{s<n} (n-s) lam^s.
  struct Geo {
    double pw, em1, g, h;
  };
  CPTLAW_HD Geo geo(std::int64_t n, bool need_h) const {
    Geo r{1.0, 0.0, 0.0, 0.0};
    const double nn = static_cast<double>(n);
    if (n <= 0) return r;
    switch (regime) {
      case one:
        r.g = nn;
        r.h = 0.5 * nn * (nn + 1.0);
        return r;
      case zero:
        r.pw = 0.0;
        r.em1 = -1.0;
        r.g = 1.0;
        r.h = nn;
        return r;
      case general:
        break;
    }
    const double x = nn * L;
    if (x < 0.5) {
      r.em1 = std::expm1(-x);
      r.pw = 1.0 + r.em1;
    } else {
      r.pw = std::exp(-x);
      r.em1 = r.pw - 1.0;
    }
    r.g = -r.em1 / oml;
    if (need_h) {
      if (lam >= 0.5) {
        r.h = nn * (phi2L + nn * detail::phi2_neg(x, r.em1)) / K;
      } else {
        r.h = (nn * oml + lam * r.em1) / (oml * oml);  // no cancellation: 1 - lam >= 1/2
      }
    }
    return r;
  }
};

// A segment prepared for one decay factor: closed-form kind and its constants.
struct Piece {
  enum Kind : int { constant, affine, exponential, cosine, generic };
  Segment seg;
  std::int64_t start = 0;
  Kind kind = generic;
  double c = 0.0, b = 0.0;  // x_j = c (+ b j | + b r^j | + b cos(w j + phi))
  double y0 = 0.0;          // value at j = 0 as the closed form has it
  // exponential
  double r = 1.0, rho = 0.0, inv_em1_rho = 0.0, mu = 0.0, d = 0.0, inv_em1_d = 0.0;
  // cosine
  double omega = 0.0, phi = 0.0, cos_phi = 1.0;
  detail::cplx eiphi{1, 0}, eiw{1, 0}, em1_negiw{0, 0}, inv_em1_iw{0, 0}, q{0, 0}, inv_em1_z{0, 0};

  // Closed-form value at step j (generic: the formula).
  CPTLAW_HD double cf_value(std::int64_t j, const double* data) const {
    const double jj = static_cast<double>(j);
    switch (kind) {
      case constant:
        return c;
      case affine:
        return c + b * jj;
      case exponential:
        return c + b * std::exp(-jj * rho);
      case cosine:
        return c + b * std::cos(omega * jj + phi);
      case generic:
        break;
    }
    return segment_value(seg, j, data);
  }
};

namespace detail {

CPTLAW_HD inline Piece make_piece(const Segment& s, std::int64_t start, const Decay& dc, const double* data) {
  Piece p;
  p.seg = s;
  p.start = start;
  const double w = 1.0 - s.floor;
  double omega = 0.0, phi = 0.0;
  switch (s.shape) {
    case Shape::constant:
      p.kind = Piece::constant;
      p.c = s.scale;
      break;
    case Shape::linear:
      p.kind = Piece::affine;
      p.c = s.scale * ((s.off / s.den) * w + s.floor);
      p.b = s.scale * w / s.den;
      break;
    case Shape::one_minus:
      p.kind = Piece::affine;
      p.c = s.scale * ((1.0 - s.off / s.den) * w + s.floor);
      p.b = -s.scale * w / s.den;
      break;
    case Shape::ratio_down:
      p.kind = Piece::affine;
      p.c = s.scale * ((s.off / s.den) * w + s.floor);
      p.b = -s.scale * w / s.den;
      break;
    case Shape::poly:
      if (s.a == 1.0) {
        p.kind = Piece::affine;
        p.c = (s.scale - s.floor) * (1.0 - s.off / s.den) + s.floor;
        p.b = -(s.scale - s.floor) / s.den;
      }
      break;
    case Shape::cosine:
      p.kind = Piece::cosine;
      p.c = s.scale * (0.5 * w + s.floor);
      p.b = 0.5 * s.scale * w;
      omega = 2.0 * kPi * s.a / s.den;
      phi = omega * s.off;
      break;
    case Shape::cosine_up:
      p.kind = Piece::cosine;
      p.c = s.scale * (0.5 * w + s.floor);
      p.b = -0.5 * s.scale * w;
      omega = kPi / s.den;
      phi = omega * s.off;
      break;
    case Shape::cosine_hard:
      p.kind = Piece::cosine;
      p.c = s.scale * (0.5 * w + s.floor);
      p.b = 0.5 * s.scale * w;
      omega = kPi * s.a / s.den;
      phi = omega * s.off - kPi * s.b;
      break;
    case Shape::cosine_torch:
      p.kind = Piece::cosine;
      p.c = s.floor + 0.5 * (s.scale - s.floor);
      p.b = 0.5 * (s.scale - s.floor);
      omega = kPi / s.den;
      phi = omega * s.off;
      break;
    case Shape::power:
      if (s.a > 0.0 && std::isfinite(s.a)) {
        p.kind = Piece::exponential;
        p.c = s.scale * s.floor;
        p.b = s.scale * w * std::pow(s.a, s.off);
        p.r = s.a;
      }
      break;
    default:
      break;
  }
  if (p.kind == Piece::cosine) {
    if (omega == 0.0) {
      p.kind = Piece::constant;
      p.c += p.b * std::cos(phi);
    } else if (!(omega > 0.0 && omega < 1.9 * kPi) || !std::isfinite(phi)) {
      p.kind = Piece::generic;  // near-aliased frequencies: the geometric sums degenerate
    }
  }
  switch (p.kind) {
    case Piece::exponential: {
      p.rho = neglog(p.r);
      p.inv_em1_rho = p.rho == 0.0 ? 0.0 : 1.0 / std::expm1(-p.rho);
      const double L = dc.regime == Decay::one ? 0.0 : dc.L;
      p.mu = std::min(L, p.rho);
      p.d = std::fabs(L - p.rho);
      p.inv_em1_d = (p.d == 0.0 || !std::isfinite(p.d)) ? 0.0 : 1.0 / std::expm1(-p.d);
      if (dc.regime == Decay::zero) p.d = std::numeric_limits<double>::infinity();
      break;
    }
    case Piece::cosine: {
      p.omega = omega;
      p.phi = phi;
      p.eiphi = {std::cos(phi), std::sin(phi)};
      p.cos_phi = p.eiphi.re;
      const double sw = std::sin(omega), sh = std::sin(0.5 * omega);
      const double cw = 1.0 - 2.0 * sh * sh;
      p.eiw = {cw, sw};
      p.em1_negiw = {-2.0 * sh * sh, -sw};
      p.inv_em1_iw = inverse({-2.0 * sh * sh, sw});
      if (dc.regime != Decay::zero) {
        p.q = {dc.lam * cw, -dc.lam * sw};
        // expm1(-L - i w) = (expm1(-L) cos w - 2 sin^2(w/2)) - i e^-L sin w, expm1(-L) = lam - 1.
        p.inv_em1_z = inverse({-dc.oml * cw - 2.0 * sh * sh, -dc.lam * sw});
      }
      break;
    }
    default:
      break;
  }
  p.y0 = p.cf_value(0, data);
  return p;
}

}  // namespace detail

// Steps of a recurrence between two cancellation checkpoints (~0.1 ms).
constexpr std::int64_t kCheckEvery = 65536;

// Advances `st` over steps j0 .. j1-1 of a segment with the per-step recurrence.
CPTLAW_HD inline void advance_steps(State& st, const Piece& p, std::int64_t j0, std::int64_t j1,
                                    const Decay& dc, const double* data) {
  double s1 = st.s1, s2 = st.s2, m = st.m, prev = st.x;
  const double lam = dc.lam;
  const Segment& s = p.seg;
  for (std::int64_t c = j0; c < j1;) {
    const std::int64_t e = j1 - c > kCheckEvery ? c + kCheckEvery : j1;
    if (s.shape == Shape::array) {
      const double* x = data + static_cast<std::int64_t>(s.off);
      for (std::int64_t j = c; j < e; ++j) {
        const double y = x[j];
        s1 += y;
        m = lam * m + (prev - y);
        s2 += m;
        prev = y;
      }
    } else {
      for (std::int64_t j = c; j < e; ++j) {
        const double y = segment_value(s, j, data);
        s1 += y;
        m = lam * m + (prev - y);
        s2 += m;
        prev = y;
      }
    }
    c = e;
    if (c < j1) CPTLAW_CHECKPOINT();
  }
  st = {s1, s2, m, prev};
}

// Area that a momentum m adds to S2 over the next k steps without new drops:
// sum_{r=1..k} lam^r m = pt_momentum_area(dc, k) * m (by_source's S2_pt after the transfer).
CPTLAW_HD inline double pt_momentum_area(const Decay& dc, std::int64_t k) {
  return k <= 0 ? 0.0 : dc.lam * (1.0 + dc.lam * dc.geo(k - 1, false).g);
}

// State after the first k steps of a segment, from the state `st` before it.
CPTLAW_HD inline void advance(State& st, const Piece& p, std::int64_t k, const Decay& dc, const double* data) {
  if (k <= 0) return;
  if (p.kind == Piece::generic) {
    advance_steps(st, p, 0, k, dc, data);
    return;
  }
  const double kk = static_cast<double>(k);
  const std::int64_t n = k - 1;
  const double nn = static_cast<double>(n);
  const double J = st.x - p.y0;

  // Lam-free pieces: S1 increment P and the value at the last step.
  double P = 0.0, ylast = 0.0;
  // Cosine bits shared by both regimes.
  detail::cplx phase{1, 0};
  double sn = 0.0, c2 = 1.0, s2n = 0.0;
  double rn = 1.0;
  switch (p.kind) {
    case Piece::constant:
      P = kk * p.c;
      ylast = p.c;
      break;
    case Piece::affine:
      P = kk * p.c + p.b * (0.5 * kk * nn);
      ylast = p.c + p.b * nn;
      break;
    case Piece::exponential:
      rn = std::exp(-nn * p.rho);
      P = kk * p.c + p.b * detail::geo_sum(k, p.rho, p.inv_em1_rho);
      ylast = p.c + p.b * rn;
      break;
    case Piece::cosine: {
      const double th = 0.5 * nn * p.omega;
      sn = std::sin(th);
      const double cn = std::cos(th);
      c2 = 1.0 - 2.0 * sn * sn;  // cos(n w)
      s2n = 2.0 * sn * cn;       // sin(n w)
      phase = p.eiphi * detail::cplx{c2, s2n};
      // sum_{j<k} e^{i w j} = 1 + e^{iw} expm1(i n w) / expm1(i w)
      const detail::cplx gfree = 1.0 + p.eiw * (detail::cplx{-2.0 * sn * sn, s2n} * p.inv_em1_iw);
      P = kk * p.c + p.b * (p.eiphi * gfree).re;
      ylast = p.c + p.b * phase.re;
      break;
    }
    case Piece::generic:
      break;
  }

  if (dc.regime == Decay::zero) {
    // m[i] = x[i-1] - x[i]: S2 telescopes.
    const double yprev = n == 0 ? st.x : p.cf_value(n - 1, nullptr);
    st.s1 += P;
    st.s2 += st.x - ylast;
    st.m = yprev - ylast;
    st.x = ylast;
    return;
  }

  const Decay::Geo G = dc.geo(n, p.kind == Piece::affine);
  const double gk = 1.0 + dc.lam * G.g;  // g_k
  const double pwk = dc.lam * G.pw;      // lam^k
  double D = 0.0, M = 0.0;
  switch (p.kind) {
    case Piece::constant:
      break;
    case Piece::affine:
      D = -p.b * G.h;
      M = -p.b * G.g;
      break;
    case Piece::exponential: {
      // E(n) = sum_{u<n} lam^(n-1-u) r^u = e^{-mu (n-1)} sum_{u<n} e^{-d u}
      double En = 0.0;
      if (n > 0) {
        const double tail = p.d == 0.0 ? nn : (std::isfinite(p.d) ? std::expm1(-nn * p.d) * p.inv_em1_d : 1.0);
        En = std::exp(-p.mu * (nn - 1.0)) * tail;
      }
      const double Ek = dc.lam * En + rn;
      M = p.b * (1.0 - p.r) * En;
      D = p.b * (gk - Ek);
      break;
    }
    case Piece::cosine: {
      // G_n(z) = sum_{s<n} (lam e^{-iw})^s = expm1(-n z) / expm1(-z), z = L + i w.
      const detail::cplx em1nz{G.em1 * c2 - 2.0 * sn * sn, -G.pw * s2n};
      const detail::cplx Gn = em1nz * p.inv_em1_z;
      const detail::cplx Gk = 1.0 + p.q * Gn;
      D = p.b * (p.cos_phi * gk - (phase * Gk).re);
      M = p.b * (p.em1_negiw * phase * Gn).re;
      break;
    }
    case Piece::generic:
      break;
  }
  st.s1 += P;
  st.s2 += (dc.lam * st.m + J) * gk + D;
  st.m = pwk * st.m + G.pw * J + M;
  st.x = ylast;
}

// A schedule prepared for one decay factor: O(1) areas at any step (closed-form segments).
class Schedule {
 public:
  Schedule() = default;

  // rows: nseg x kSegmentFields table; data: storage of array segments (may be null).
  // init: state before the first step (null: a fresh start, m = 0 and no previous LR).
  void build(const double* rows, std::int64_t nseg, const double* data, double lam, const State* init = nullptr) {
    dc_ = Decay(lam);
    build(rows, nseg, data, dc_, init);
  }
  // Segments only (no area states): enough for value() and values().
  void layout(const double* rows, std::int64_t nseg, const double* data) {
    build(rows, nseg, data, Decay(0.0), nullptr, false);
  }
  void build(const double* rows, std::int64_t nseg, const double* data, const Decay& dc, const State* init = nullptr,
             bool with_states = true) {
    dc_ = dc;
    data_ = data;
    pieces_.clear();
    starts_.clear();
    entry_.clear();
    has_generic_ = false;
    std::int64_t t = 0;
    for (std::int64_t i = 0; i < nseg; ++i) {
      const Segment s = segment_from_row(rows + i * kSegmentFields);
      if (s.len == 0) continue;
      pieces_.push_back(detail::make_piece(s, t, dc_, data));
      has_generic_ = has_generic_ || pieces_.back().kind == Piece::generic;
      starts_.push_back(t);
      t += s.len;
    }
    steps_ = t;
    State st;
    if (init) {
      st = *init;
    } else if (!pieces_.empty()) {
      st.x = pieces_.front().y0;
    }
    for (const Piece& p : pieces_) {
      entry_.push_back(st);
      if (with_states) advance(st, p, p.seg.len, dc_, data_);
    }
    entry_.push_back(st);
  }

  std::int64_t steps() const { return steps_; }
  const Decay& decay() const { return dc_; }
  // State after the last step (the initial state if the schedule is empty).
  const State& final_state() const { return entry_.back(); }

  // Index of the segment holding step t (0 <= t < steps).
  std::size_t find(std::int64_t t) const {
    if (t < 0 || t >= steps_) throw std::out_of_range("steps: outside the schedule");
    const auto it = std::upper_bound(starts_.begin(), starts_.end(), t);
    return static_cast<std::size_t>(it - starts_.begin()) - 1;
  }

  double value(std::int64_t t) const {
    const Piece& p = pieces_[find(t)];
    return segment_value(p.seg, t - p.start, data_);
  }

  // All per-step values (length steps()).
  void values(double* out) const {
    for (const Piece& p : pieces_) {
      double* o = out + p.start;
      if (p.seg.shape == Shape::array) {
        const double* x = data_ + static_cast<std::int64_t>(p.seg.off);
        std::copy(x, x + p.seg.len, o);
      } else {
        for (std::int64_t j = 0; j < p.seg.len; ++j) {
          o[j] = segment_value(p.seg, j, data_);
          if ((j & (kCheckEvery - 1)) == kCheckEvery - 1) CPTLAW_CHECKPOINT();
        }
      }
    }
  }

  // State after step t (0 <= t < steps).
  State state_at(std::int64_t t) const {
    const std::size_t i = find(t);
    State st = entry_[i];
    advance(st, pieces_[i], t - pieces_[i].start + 1, dc_, data_);
    return st;
  }

  // S1, S2 at `n` steps (any order). Closed-form segments cost O(1) per step; inside
  // recurrence-only segments the steps are visited in ascending order, each continuing from
  // the previous one (so all steps of such a segment cost O(length) in total).
  // Safe to call concurrently on one object.
  void areas_at(const std::int64_t* steps, std::int64_t n, double* s1, double* s2) const {
    Cursor cur;
    if (has_generic_ && !std::is_sorted(steps, steps + n)) {
      std::vector<std::int64_t> order(static_cast<std::size_t>(n));
      for (std::int64_t q = 0; q < n; ++q) order[static_cast<std::size_t>(q)] = q;
      std::stable_sort(order.begin(), order.end(), [steps](std::int64_t a, std::int64_t b) { return steps[a] < steps[b]; });
      for (std::int64_t i = 0; i < n; ++i) {
        const std::int64_t q = order[static_cast<std::size_t>(i)];
        eval(steps[q], cur, s1[q], s2[q]);
        if ((i & (kCheckEvery - 1)) == kCheckEvery - 1) CPTLAW_CHECKPOINT();
      }
      return;
    }
    for (std::int64_t q = 0; q < n; ++q) {
      eval(steps[q], cur, s1[q], s2[q]);
      if ((q & (kCheckEvery - 1)) == kCheckEvery - 1) CPTLAW_CHECKPOINT();
    }
  }

 private:
  struct Cursor {
    std::size_t piece = static_cast<std::size_t>(-1);
    std::int64_t k = 0;
    State st;
  };
  void eval(std::int64_t t, Cursor& cur, double& s1, double& s2) const {
    const std::size_t i = find(t);
    const Piece& p = pieces_[i];
    const std::int64_t k = t - p.start + 1;
    if (p.kind == Piece::generic) {
      if (i != cur.piece || k < cur.k) {
        cur.piece = i;
        cur.k = 0;
        cur.st = entry_[i];
      }
      advance_steps(cur.st, p, cur.k, k, dc_, data_);
      cur.k = k;
      s1 = cur.st.s1;
      s2 = cur.st.s2;
      return;
    }
    State st = entry_[i];
    advance(st, p, k, dc_, data_);
    s1 = st.s1;
    s2 = st.s2;
  }

  Decay dc_;
  const double* data_ = nullptr;
  bool has_generic_ = false;
  std::vector<Piece> pieces_;
  std::vector<std::int64_t> starts_;
  std::vector<State> entry_;  // entry_[i]: state before piece i; entry_.back(): final state
  std::int64_t steps_ = 0;
};

// Areas of `count` schedules, each a table of `nseg` rows (zero-length rows pad shorter
// schedules), schedule r at rows + r * row_stride. Steps: `nsteps` per schedule, at
// steps + r * steps_stride (steps_stride = 0: the same steps for all). Output (count, nsteps).
inline void areas_batch(const double* rows, std::int64_t count, std::int64_t nseg, std::int64_t row_stride,
                        const double* data, const std::int64_t* steps, std::int64_t nsteps,
                        std::int64_t steps_stride, double lam, double* s1, double* s2, int threads) {
  const Decay dc(lam);
  const std::int64_t grain = std::max<std::int64_t>(1, 4096 / std::max<std::int64_t>(nsteps + nseg, 1));
  parallel_for(count, threads, grain, [&](std::int64_t b, std::int64_t e) {
    Schedule sch;
    for (std::int64_t r = b; r < e; ++r) {
      if ((r & 63) == 63) CPTLAW_CHECKPOINT();
      sch.build(rows + r * row_stride, nseg, data, dc);
      sch.areas_at(steps + r * steps_stride, nsteps, s1 + r * nsteps, s2 + r * nsteps);
    }
  });
}

// PT schedule followed by a CPT schedule (docs/conventions.md#s2-split), at global steps of the
// concatenated timeline (0 <= t < pt.steps() + cpt.steps()). Matches cpt_areas_row on the
// materialised LRs. For t < T = pt.steps(): the PT areas and zeros. For t >= T, with
// (S1p, S2p, m_p, x_{T-1}) the state after PT, j = t - T and the transfer rules of areas.hpp:
//   s1_pt = S1p; s2_pt = S2p + lam m_p g_{j+1} (by_source) or S2p (restart, by_time);
//   s1_cpt, s2_cpt: the CPT schedule advanced from (0, 0, transfer's CPT momentum, x_{T-1}).
class CPTPair {
 public:
  void build(const Schedule& pt, const double* cpt_rows, std::int64_t cpt_nseg, const double* cpt_data,
             Split split) {
    pt_ = &pt;
    const State& f = pt.final_state();
    tr_ = transfer(split, f.m, f.x, f.s2);
    State init;
    init.x = tr_.prev_lr;
    init.m = tr_.cpt_m;
    init.s2 = tr_.cpt_s2;
    cpt_.build(cpt_rows, cpt_nseg, cpt_data, pt.decay(), &init);
  }
  void areas_at(const std::int64_t* steps, std::int64_t n, double* s1p, double* s2p, double* s1c,
                double* s2c) const {
    const std::int64_t T = pt_->steps();
    const std::int64_t N = steps_total();
    const State& f = pt_->final_state();
    const Decay& dc = pt_->decay();
    // Runs of steps on one side of the transfer go through one areas_at call, so the
    // cursor of recurrence-only segments carries over between ascending steps.
    std::int64_t q = 0;
    while (q < n) {
      const bool in_pt = steps[q] < T;
      std::int64_t e = q;
      while (e < n && (steps[e] < T) == in_pt) {
        if (steps[e] < 0 || steps[e] >= N) throw std::out_of_range("steps: outside the PT + CPT timeline");
        ++e;
      }
      if (in_pt) {
        pt_->areas_at(steps + q, e - q, s1p + q, s2p + q);
        std::fill(s1c + q, s1c + e, 0.0);
        std::fill(s2c + q, s2c + e, 0.0);
      } else {
        local_.resize(static_cast<std::size_t>(e - q));
        for (std::int64_t u = q; u < e; ++u) local_[static_cast<std::size_t>(u - q)] = steps[u] - T;
        cpt_.areas_at(local_.data(), e - q, s1c + q, s2c + q);
        for (std::int64_t u = q; u < e; ++u) {
          s1p[u] = f.s1;
          s2p[u] = f.s2;
          if (tr_.pt_continues) s2p[u] += pt_momentum_area(dc, steps[u] - T + 1) * tr_.pt_m;
        }
      }
      q = e;
    }
  }
  std::int64_t steps_total() const { return pt_->steps() + cpt_.steps(); }
  const Schedule& cpt() const { return cpt_; }

 private:
  const Schedule* pt_ = nullptr;
  Schedule cpt_;
  Transfer tr_;
  mutable std::vector<std::int64_t> local_;
};

// Batch of (PT, CPT) pairs: pair r uses PT table pt_rows + r * pt_stride (pt_stride = 0:
// one shared PT, prepared once) and CPT table cpt_rows + r * cpt_stride. Output (count, nsteps).
inline void cpt_areas_batch(const double* pt_rows, std::int64_t pt_nseg, std::int64_t pt_stride,
                            const double* pt_data, const double* cpt_rows, std::int64_t cpt_nseg,
                            std::int64_t cpt_stride, const double* cpt_data, std::int64_t count,
                            const std::int64_t* steps, std::int64_t nsteps, std::int64_t steps_stride, double lam,
                            Split split, double* s1p, double* s2p, double* s1c, double* s2c, int threads) {
  const Decay dc(lam);
  Schedule shared;
  if (pt_stride == 0) shared.build(pt_rows, pt_nseg, pt_data, dc);
  const std::int64_t grain = std::max<std::int64_t>(1, 4096 / std::max<std::int64_t>(nsteps + cpt_nseg, 1));
  parallel_for(count, threads, grain, [&](std::int64_t b, std::int64_t e) {
    Schedule own;
    CPTPair pair;
    for (std::int64_t r = b; r < e; ++r) {
      if ((r & 63) == 63) CPTLAW_CHECKPOINT();
      const Schedule* pt = &shared;
      if (pt_stride != 0) {
        own.build(pt_rows + r * pt_stride, pt_nseg, pt_data, dc);
        pt = &own;
      }
      pair.build(*pt, cpt_rows + r * cpt_stride, cpt_nseg, cpt_data, split);
      const std::int64_t o = r * nsteps;
      pair.areas_at(steps + r * steps_stride, nsteps, s1p + o, s2p + o, s1c + o, s2c + o);
    }
  });
}

}  // namespace sched
}  // namespace cptlaw
