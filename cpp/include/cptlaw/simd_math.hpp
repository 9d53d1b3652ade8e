// Branch-free exp/log/log1p that compilers can vectorise.
//
// Why: glibc's vector math (libmvec) is only reachable under -ffast-math, which
// also breaks NaN handling and rewrites exp(c*log(x)) into a slower pow. These
// kernels are plain arithmetic and bit tricks, so a loop over them vectorises at
// any ISA level (SSE2 .. AVX-512) and stays within ~2 ulp of the libm result for
// normal inputs. Subnormal inputs/results are flushed (never seen in losses/LRs).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

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

// e^x. Cody-Waite reduction x = k ln2 + r, |r| <= ln2/2, degree-13 Taylor on r.
inline double exp(double x) {
  constexpr double log2e = 1.4426950408889634;
  constexpr double ln2_hi = 6.93147180369123816490e-01;
  constexpr double ln2_lo = 1.90821492927058770002e-10;
  constexpr double shifter = 6755399441055744.0;  // 1.5 * 2^52: rounds to integer
  const double xc = x > 709.0 ? 709.0 : (x < -708.0 ? -708.0 : x);
  const double t = xc * log2e + shifter;
  const double k = t - shifter;
  const double r = (xc - k * ln2_hi) - k * ln2_lo;
  // Estrin-ish evaluation of sum r^i / i!, i = 0..13.
  const double r2 = r * r;
  const double r4 = r2 * r2;
  const double r8 = r4 * r4;
  const double p01 = 1.0 + r;
  const double p23 = 0.5 + r * (1.0 / 6);
  const double p45 = 1.0 / 24 + r * (1.0 / 120);
  const double p67 = 1.0 / 720 + r * (1.0 / 5040);
  const double p89 = 1.0 / 40320 + r * (1.0 / 362880);
  const double p1011 = 1.0 / 3628800 + r * (1.0 / 39916800);
  const double p1213 = 1.0 / 479001600 + r * (1.0 / 6227020800.0);
  const double q0 = p01 + r2 * p23;
  const double q1 = p45 + r2 * p67;
  const double q2 = p89 + r2 * p1011;
  const double p = q0 + r4 * q1 + r8 * (q2 + r4 * p1213);
  // 2^k from the integer sitting in the low mantissa bits of t.
  const std::uint64_t kbits = as_bits(t) - as_bits(shifter);
  const double scale = as_double((kbits + 1023) << 52);
  double y = p * scale;
  y = x > 709.782712893384 ? std::numeric_limits<double>::infinity() : y;
  y = x < -708.0 ? 0.0 : y;
  y = x != x ? x : y;
  return y;
}

// log(x). x = m 2^e with m in [sqrt(1/2), sqrt(2)); log m = 2 atanh((m-1)/(m+1)).
inline double log(double x) {
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
  // sum_{i=0..10} s^i / (2i+1)
  const double a0 = 1.0 + s * (1.0 / 3);
  const double a1 = 1.0 / 5 + s * (1.0 / 7);
  const double a2 = 1.0 / 9 + s * (1.0 / 11);
  const double a3 = 1.0 / 13 + s * (1.0 / 15);
  const double a4 = 1.0 / 17 + s * (1.0 / 19);
  const double a5 = 1.0 / 21;
  const double b0 = a0 + s2 * a1;
  const double b1 = a2 + s2 * a3;
  const double b2 = a4 + s2 * a5;
  const double poly = b0 + s4 * (b1 + s4 * b2);
  const double lm = 2.0 * f * poly;
  double y = e * ln2_hi + (lm + e * ln2_lo);
  y = x == std::numeric_limits<double>::infinity() ? x : y;
  y = x < 2.2250738585072014e-308 ? -std::numeric_limits<double>::infinity() : y;
  y = x < 0.0 ? std::numeric_limits<double>::quiet_NaN() : y;
  y = x != x ? x : y;
  return y;
}

// log(1+u), accurate for small u: log(w) corrected by the rounding error of w = 1+u.
inline double log1p(double u) {
  const double w = 1.0 + u;
  const double corr = (u - (w - 1.0)) / w;
  const double y = simd::log(w);
  return (w == 1.0) ? u : y + corr;
}

// x^p for x > 0 as exp(p log x); NaN for x < 0, like std::pow with a non-integer p.
inline double pow_pos(double x, double p) { return simd::exp(p * simd::log(x)); }

}  // namespace simd
}  // namespace cptlaw
