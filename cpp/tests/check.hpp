// A tiny check macro for the standalone C++ tests.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>

namespace cptlaw_test {
inline int& passed() {
  static int n = 0;
  return n;
}
inline bool close(double a, double b, double rtol, double atol = 0.0) {
  return std::fabs(a - b) <= atol + rtol * std::fabs(b);
}
// Deterministic pseudo-random doubles in [0, 1) (no <random>: the same sequence everywhere).
struct Uniform {
  std::uint64_t s;
  double next() {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<double>(s >> 11) * (1.0 / 9007199254740992.0);
  }
};
}  // namespace cptlaw_test

#define CPTLAW_CHECK(cond, failures)                                        \
  do {                                                                      \
    if (cond) {                                                             \
      ++cptlaw_test::passed();                                              \
    } else {                                                                \
      ++(failures);                                                         \
      std::printf("FAILED %s:%d: %s\n", __FILE__, __LINE__, #cond);         \
    }                                                                       \
  } while (0)
