// Branch-free exp/log/log1p that compilers can vectorise.
//
// Why: glibc's vector math (libmvec) is only reachable under -ffast-math, which
// also breaks NaN handling and rewrites exp(c*log(x)) into a slower pow. These
// kernels are plain arithmetic and bit tricks, so a loop over them vectorises at
// any ISA level (SSE2 .. AVX-512) and stays within ~2 ulp of the libm result for
// normal inputs. Subnormal inputs/results are flushed (never seen in losses/LRs).
// On a CUDA device they are CUDA's own exp/log/log1p (correctly rounded to ~1 ulp).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "cptlaw/config.hpp"

namespace cptlaw {
namespace simd {

inline double as_double(std::uint64_t u) {
  double d;
  std::memcpy(&d, &u, sizeof d);
  return d;
}
inline std::uint64_t as_bits(double d) {
  std::uint64_t u;
  std::memcpy(&u, &d, sizeof u);
  return u;
}

// e^x. Cody-Waite reduction x = k ln2 + r, |r| <= ln2/2, then a degree-11
// polynomial fitted to e^r in relative error (3e-18 on the interval; coefficients
// from a high-precision least-squares fit on Chebyshev nodes).
CPTLAW_HD inline double exp(double x) {
#if defined(__CUDA_ARCH__)
  return ::exp(x);
#else
  constexpr double log2e = 1.4426950408889634;
  constexpr double ln2_hi = 6.93147180369123816490e-01;
  constexpr double ln2_lo = 1.90821492927058770002e-10;
  constexpr double shifter = 6755399441055744.0;  // 1.5 * 2^52: rounds to integer
  const double xc = x > 709.0 ? 709.0 : (x < -708.0 ? -708.0 : x);
  const double t = xc * log2e + shifter;
  const double k = t - shifter;
  const double r = (xc - k * ln2_hi) - k * ln2_lo;
  const double r2 = r * r;
  const double r4 = r2 * r2;
  const double r8 = r4 * r4;
  const double p01 = 1.0 + r;
  const double p23 = 0.5000000000000018 + r * 0.16666666666666147;
  const double p45 = 0.04166666666649316 + r * 0.008333333333569098;
  const double p67 = 0.0013888888951133485 + r * 0.00019841269413815112;
  const double p89 = 2.480148660775664e-05 + r * 2.7557638344026344e-06;
  const double p1011 = 2.763226447373137e-07 + r * 2.4989491355772434e-08;
  const double p = (p01 + r2 * p23) + r4 * (p45 + r2 * p67) + r8 * (p89 + r2 * p1011);
  // 2^k from the integer sitting in the low mantissa bits of t.
  const std::uint64_t kbits = as_bits(t) - as_bits(shifter);
  const double scale = as_double((kbits + 1023) << 52);
  double y = p * scale;
  y = x > 709.782712893384 ? std::numeric_limits<double>::infinity() : y;
  y = x < -708.0 ? 0.0 : y;
  return y;  // a NaN x passes the clamp and propagates through r: no blend needed
#endif
}

// log(x). x = m 2^e with m in [sqrt(1/2), sqrt(2)); log m = 2 atanh((m-1)/(m+1)).
CPTLAW_HD inline double log(double x) {
#if defined(__CUDA_ARCH__)
  return ::log(x);
#else
  constexpr double ln2_hi = 6.93147180369123816490e-01;
  constexpr double ln2_lo = 1.90821492927058770002e-10;
  constexpr double two52 = 4503599627370496.0;
  const std::uint64_t u = as_bits(x);
  const std::uint64_t mant = (u & 0x000FFFFFFFFFFFFFull) | 0x3FF0000000000000ull;
  double m = as_double(mant);
  // exponent field as a double without int64->double conversion (no AVX-512DQ needed)
  double e = as_double((u >> 52) | 0x4330000000000000ull) - two52 - 1023.0;
  const bool big = m > 1.4142135623730951;
  m = big ? 0.5 * m : m;
  e = big ? e + 1.0 : e;
  const double f = (m - 1.0) / (m + 1.0);
  const double s = f * f;
  const double s2 = s * s;
  const double s4 = s2 * s2;
  // atanh(sqrt s)/sqrt s = sum_i s^i/(2i+1), as a degree-7 polynomial fitted in
  // relative error on s in [0, 0.0295] (1e-18; high-precision least squares).
  const double a0 = 1.0 + s * 0.33333333333333826;
  const double a1 = 0.19999999999650817 + s * 0.14285714380392664;
  const double a2 = 0.11111098521383353 + s * 0.09091816188210201;
  const double a3 = 0.07656255467088043 + s * 0.07404938778032384;
  const double poly = (a0 + s2 * a1) + s4 * (a2 + s2 * a3);
  const double lm = 2.0 * f * poly;
  double y = e * ln2_hi + (lm + e * ln2_lo);
  y = x == std::numeric_limits<double>::infinity() ? x : y;
  y = x < 2.2250738585072014e-308 ? -std::numeric_limits<double>::infinity() : y;
  y = !(x >= 0.0) ? std::numeric_limits<double>::quiet_NaN() : y;  // negative or NaN
  return y;
#endif
}

// log(1+u), accurate for small u: log(w) corrected by the rounding error of w = 1+u.
CPTLAW_HD inline double log1p(double u) {
#if defined(__CUDA_ARCH__)
  return ::log1p(u);
#else
  const double w = 1.0 + u;
  // w == 0 (u == -1): the correction would be 0/0; log(0) = -inf is the answer
  const double corr = w != 0.0 ? (u - (w - 1.0)) / w : 0.0;
  const double y = simd::log(w);
  return (w == 1.0) ? u : y + corr;
#endif
}

// x^p for x > 0 as exp(p log x); NaN for x < 0, like std::pow with a non-integer p.
CPTLAW_HD inline double pow_pos(double x, double p) { return simd::exp(p * simd::log(x)); }

}  // namespace simd
}  // namespace cptlaw
