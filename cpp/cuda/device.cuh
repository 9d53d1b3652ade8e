// Helpers of the .cu files: CUDA errors as exceptions, launch sizes, the warp as a team.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <string>

#include "api.hpp"

namespace cptlaw {
namespace gpu {

inline void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    cudaGetLastError();  // clear a sticky-free error so the next call starts clean
    throw Error(std::string("CUDA: ") + what + ": " + cudaGetErrorString(e));
  }
}

inline cudaStream_t as_stream(std::uintptr_t s) { return reinterpret_cast<cudaStream_t>(s); }

inline int current_device() {
  int d = 0;
  check(cudaGetDevice(&d), "cudaGetDevice");
  return d;
}

// Blocks for a grid-stride kernel over n items: enough to fill the device, no more than needed.
template <class Kernel>
int fill_blocks(Kernel kernel, int threads, std::int64_t n) {
  int dev = current_device(), sms = 0, per_sm = 0;
  check(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev), "cudaDeviceGetAttribute");
  check(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, threads, 0), "occupancy");
  const std::int64_t full = static_cast<std::int64_t>(sms) * (per_sm > 0 ? per_sm : 1);
  const std::int64_t need = (n + threads - 1) / threads;
  return static_cast<int>(need < full ? (need > 0 ? need : 1) : full);
}

// A warp as lm_batch.hpp's team: lane l takes points l, l + 32, ...; the sums are added by a
// butterfly, so every lane holds the same (bitwise) totals.
struct WarpTeam {
  template <class Body>
  __device__ void run(Body&& body, double* acc, int nacc) const {
    for (int i = 0; i < nacc; ++i) acc[i] = 0.0;
    body(static_cast<int>(threadIdx.x & 31u), 32, acc);
    for (int i = 0; i < nacc; ++i) {
      double v = acc[i];
#pragma unroll
      for (int off = 16; off >= 1; off /= 2) v += __shfl_xor_sync(0xffffffffu, v, off);
      acc[i] = v;
    }
  }
};

}  // namespace gpu
}  // namespace cptlaw
