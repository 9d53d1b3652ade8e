// The laws over device arrays: a grid-stride loop over law_point (laws.hpp's prepare + eval).
#include <cuda_runtime.h>

#include <cstdint>
#include <vector>

#include "api.hpp"
#include "cptlaw/law_registry.hpp"
#include "device.cuh"
#include "law_points.hpp"

namespace cptlaw {
namespace gpu {
namespace {

template <class Law>
struct Params {
  double p[Law::n_params];
};

template <class Law, bool Grad>
__global__ void law_kernel(Params<Law> p, LawInputs in, std::int64_t n, double* out, double* grad) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    law_point<Law, Grad>(p.p, in, i, out, grad);
}

template <class Law>
void launch(const double* params, const LawInputs& in, std::int64_t n, double* out, double* grad,
            std::uintptr_t stream) {
  if (n <= 0) return;
  Params<Law> p;
  for (int k = 0; k < Law::n_params; ++k) p.p[k] = params[k];
  constexpr int threads = 256;
  if (grad) {
    const int blocks = fill_blocks(law_kernel<Law, true>, threads, n);
    law_kernel<Law, true><<<blocks, threads, 0, as_stream(stream)>>>(p, in, n, out, grad);
  } else {
    const int blocks = fill_blocks(law_kernel<Law, false>, threads, n);
    law_kernel<Law, false><<<blocks, threads, 0, as_stream(stream)>>>(p, in, n, out, grad);
  }
  check(cudaGetLastError(), "law kernel launch");
}

struct Collect {
  std::vector<LawEntry>* table;
  template <class Law>
  void operator()(const char* name, laws::GridInputs) {
    static_assert(Law::n_inputs <= kMaxInputs, "LawInputs holds kMaxInputs inputs");
    table->push_back(LawEntry{name, Law::n_params, Law::n_inputs, &launch<Law>});
  }
};

}  // namespace

const std::vector<LawEntry>& law_table() {
  static const std::vector<LawEntry> table = [] {
    std::vector<LawEntry> t;
    Collect c{&t};
    laws::for_each_law(c);
    return t;
  }();
  return table;
}

}  // namespace gpu
}  // namespace cptlaw
