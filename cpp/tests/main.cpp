// Standalone C++ tests of the core (no Python), built with ASan+UBSan in CI.
#include <cstdio>

#include "check.hpp"

int run_area_tests();
int run_law_tests();
int run_schedule_tests();
int run_lm_tests();
int run_grid_tests();
int run_simd_math_tests();
int run_parallel_tests();
int run_batch_lm_tests();
int run_gpu_rows_tests();

int main() {
  int failures = 0;
  failures += run_area_tests();
  failures += run_law_tests();
  failures += run_schedule_tests();
  failures += run_lm_tests();
  failures += run_grid_tests();
  failures += run_simd_math_tests();
  failures += run_parallel_tests();
  failures += run_batch_lm_tests();
  failures += run_gpu_rows_tests();
  std::printf("%d passed, %d failed\n", cptlaw_test::passed(), failures);
  return failures == 0 ? 0 : 1;
}
