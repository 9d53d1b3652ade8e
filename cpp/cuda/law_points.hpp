// One point of a law evaluated over device arrays, as the CUDA law kernel does it: the law's
// inputs (an array with stride 1, an array broadcast with stride 0, or a scalar), then
// prepare + eval of laws.hpp. Plain C++ as well (the C++ tests compare it with
// laws::evaluate); law.cu loops over it.
#pragma once

#include <cstdint>

#include "cptlaw/config.hpp"

namespace cptlaw {
namespace gpu {

// The most inputs a law takes.
constexpr int kMaxInputs = 8;

// Input k: x[k][i * stride[k]], or scalar[k] where x[k] is null.
struct LawInputs {
  const double* x[kMaxInputs];
  std::int64_t stride[kMaxInputs];
  double scalar[kMaxInputs];
};

// Point i: out[i] and, if Grad, grad[i * n_params + j].
template <class Law, bool Grad>
CPTLAW_HD void law_point(const double* p, const LawInputs& in, std::int64_t i, double* out, double* grad) {
  double raw[Law::n_inputs], z[Law::n_prep];
  for (int k = 0; k < Law::n_inputs; ++k) raw[k] = in.x[k] ? in.x[k][i * in.stride[k]] : in.scalar[k];
  Law::prepare(raw, z);
  out[i] = Law::template eval<Grad>(p, z, Grad ? grad + i * Law::n_params : nullptr);
}

}  // namespace gpu
}  // namespace cptlaw
