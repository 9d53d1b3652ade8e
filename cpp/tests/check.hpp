// A tiny check macro for the standalone C++ tests.
#pragma once

#include <cmath>
#include <cstdio>

namespace cptlaw_test {
inline int& passed() {
  static int n = 0;
  return n;
}
inline bool close(double a, double b, double rtol, double atol = 0.0) {
  return std::fabs(a - b) <= atol + rtol * std::fabs(b);
}
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
