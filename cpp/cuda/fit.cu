// fit_many on the device: one fit per warp (lm_batch.hpp's Fitter with the warp as its team),
// each warp taking the next fit from a counter when it is done, so fits converge on their own
// schedule; and the checks _fit_problem.py makes on host data, for device data.
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "api.hpp"
#include "cptlaw/law_registry.hpp"
#include "device.cuh"
#include "lm_batch.hpp"

namespace cptlaw {
namespace gpu {
namespace {

constexpr int kThreads = 128;  // 4 fits per block at a time

struct DeviceSetup {
  const double *x[kMaxInputs], *y, *w;
  std::int64_t F, N;
  batch::Setup setup;  // its arrays on the device
  double* params;
  double* objective;
  int* status;
  int* nfev;
  unsigned long long* next;
};

template <class Law>
__global__ void __launch_bounds__(kThreads) fit_kernel(DeviceSetup d) {
  constexpr int P = Law::n_params;
  const WarpTeam team;
  const int lane = static_cast<int>(threadIdx.x & 31u);
  for (;;) {
    unsigned long long f = 0;
    if (lane == 0) f = atomicAdd(d.next, 1ull);
    f = __shfl_sync(0xffffffffu, f, 0);
    if (f >= static_cast<unsigned long long>(d.F)) break;
    const std::int64_t off = static_cast<std::int64_t>(f) * d.N;
    batch::Points<Law::n_inputs> pts;
    for (int k = 0; k < Law::n_inputs; ++k) pts.x[k] = d.x[k] + off;
    pts.y = d.y + off;
    pts.w = d.w ? d.w + off : nullptr;
    pts.n = d.N;
    const batch::Fitter<Law, WarpTeam> fitter(pts, d.setup, team);
    const batch::Outcome<P> r = fitter.multistart();
    if (lane == 0) {
      for (int k = 0; k < P; ++k) d.params[f * P + k] = r.params[k];
      d.objective[f] = r.objective;
      d.status[f] = r.status;
      d.nfev[f] = r.nfev;
    }
  }
}

template <class Law>
void launch(const FitBatch& b, const FitOut& out, int device, std::uintptr_t stream) {
  constexpr int P = Law::n_params;
  if (b.F <= 0) return;
  if (b.opt.keep > batch::kMaxKeep) throw Error("keep: at most 16 candidates per fit on the device");
  DeviceGuard guard(device);
  const cudaStream_t s = as_stream(stream);
  // Parameter arrays and starts on the device; outputs in one buffer.
  const std::size_t nst = static_cast<std::size_t>(b.n_starts) * P, ngr = static_cast<std::size_t>(b.n_grid) * P;
  std::vector<double> dbl(b.lo, b.lo + P);
  dbl.insert(dbl.end(), b.hi, b.hi + P);
  if (nst) dbl.insert(dbl.end(), b.starts, b.starts + nst);
  if (ngr) dbl.insert(dbl.end(), b.grid, b.grid + ngr);
  std::vector<std::uint8_t> u8(b.fixed, b.fixed + P);
  u8.insert(u8.end(), b.linear, b.linear + P);
  Buffer pd = upload(dbl.data(), dbl.size() * sizeof(double), device);
  Buffer pu = upload(u8.data(), u8.size(), device);
  const std::size_t F = static_cast<std::size_t>(b.F);
  Buffer res(F * (P + 1) * sizeof(double) + F * 2 * sizeof(int) + sizeof(unsigned long long), device);
  DeviceSetup d{};
  for (int k = 0; k < Law::n_inputs; ++k) d.x[k] = b.x[k];
  d.y = b.y;
  d.w = b.w;
  d.F = b.F;
  d.N = b.N;
  const double* dp = static_cast<const double*>(pd.get());
  const std::uint8_t* du = static_cast<const std::uint8_t*>(pu.get());
  d.setup = batch::Setup{dp, dp + P, du, du + P, dp + 2 * P, b.n_starts, dp + 2 * P + nst, b.n_grid, b.opt};
  char* base = static_cast<char*>(res.get());
  d.params = reinterpret_cast<double*>(base);
  d.objective = d.params + F * P;
  d.status = reinterpret_cast<int*>(d.objective + F);
  d.nfev = d.status + F;
  d.next = reinterpret_cast<unsigned long long*>(base + F * (P + 1) * sizeof(double) + F * 2 * sizeof(int));
  check(cudaMemsetAsync(d.next, 0, sizeof(unsigned long long), s), "cudaMemset");
  const int blocks = fill_blocks(fit_kernel<Law>, kThreads, b.F * 32);
  fit_kernel<Law><<<blocks, kThreads, 0, s>>>(d);
  check(cudaGetLastError(), "fit kernel launch");
  copy_to_host(out.params, d.params, F * P * sizeof(double), stream);
  copy_to_host(out.objective, d.objective, F * sizeof(double), stream);
  copy_to_host(out.status, d.status, F * sizeof(int), stream);
  copy_to_host(out.nfev, d.nfev, F * sizeof(int), stream);
}

struct Collect {
  std::vector<FitEntry>* table;
  template <class Law>
  void operator()(const char* name, laws::GridInputs) {
    table->push_back(FitEntry{name, Law::n_params, Law::n_inputs, &launch<Law>});
  }
};

// One fit per warp: flags, per-input maxima and the losses' range (fit_check in api.hpp).
__global__ void check_kernel(DeviceSetup d, int n_inputs, std::uint8_t* flags, double* max_in, double* range) {
  const int lane = static_cast<int>(threadIdx.x & 31u);
  const std::int64_t warps = static_cast<std::int64_t>(gridDim.x) * (blockDim.x / 32);
  for (std::int64_t f = (static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) / 32; f < d.F;
       f += warps) {
    const std::int64_t off = f * d.N;
    unsigned bits = 0;
    double lo = std::numeric_limits<double>::infinity(), hi = -lo, amax = 0.0;
    double mx[kMaxInputs];
    for (int k = 0; k < n_inputs; ++k) mx[k] = -std::numeric_limits<double>::infinity();
    for (std::int64_t i = lane; i < d.N; i += 32) {
      for (int k = 0; k < n_inputs; ++k) {
        const double v = d.x[k][off + i];
        if (!isfinite(v)) {
          bits |= 1u;
        } else {
          mx[k] = fmax(mx[k], v);
        }
      }
      const double y = d.y[off + i];
      if (!isfinite(y)) bits |= 2u;
      if (!(y > 0.0)) bits |= 4u;
      if (isfinite(y)) {
        lo = fmin(lo, y);
        hi = fmax(hi, y);
        amax = fmax(amax, fabs(y));
      }
      if (d.w) {
        const double w = d.w[off + i];
        if (!isfinite(w)) bits |= 8u;
        if (w < 0.0) bits |= 16u;
        if (w > 0.0) bits |= 32u;
      }
    }
    for (int o = 16; o >= 1; o /= 2) {
      bits |= __shfl_xor_sync(0xffffffffu, bits, o);
      lo = fmin(lo, __shfl_xor_sync(0xffffffffu, lo, o));
      hi = fmax(hi, __shfl_xor_sync(0xffffffffu, hi, o));
      amax = fmax(amax, __shfl_xor_sync(0xffffffffu, amax, o));
      for (int k = 0; k < n_inputs; ++k) mx[k] = fmax(mx[k], __shfl_xor_sync(0xffffffffu, mx[k], o));
    }
    if (lane == 0) {
      flags[f] = static_cast<std::uint8_t>(bits);
      for (int k = 0; k < n_inputs; ++k) max_in[f * n_inputs + k] = mx[k];
      range[2 * f] = hi - lo;
      range[2 * f + 1] = amax;
    }
  }
}

}  // namespace

const std::vector<FitEntry>& fit_table() {
  static const std::vector<FitEntry> table = [] {
    std::vector<FitEntry> t;
    Collect c{&t};
    laws::for_each_law(c);
    return t;
  }();
  return table;
}

void fit_check(const FitBatch& b, int n_inputs, std::uint8_t* flags, double* max_in, double* range, int device,
               std::uintptr_t stream) {
  if (b.F <= 0) return;
  if (n_inputs > kMaxInputs) throw Error("fit_check: too many inputs");
  DeviceGuard guard(device);
  const std::size_t F = static_cast<std::size_t>(b.F);
  const std::size_t nd = F * (static_cast<std::size_t>(n_inputs) + 2);  // doubles: maxima, then ranges
  Buffer out(nd * sizeof(double) + F, device);
  DeviceSetup d{};
  for (int k = 0; k < n_inputs; ++k) d.x[k] = b.x[k];
  d.y = b.y;
  d.w = b.w;
  d.F = b.F;
  d.N = b.N;
  double* dmax = static_cast<double*>(out.get());
  double* drange = dmax + F * static_cast<std::size_t>(n_inputs);
  std::uint8_t* dflags = reinterpret_cast<std::uint8_t*>(dmax + nd);
  constexpr int threads = 256;
  const int blocks = fill_blocks(check_kernel, threads, b.F * 32);
  check_kernel<<<blocks, threads, 0, as_stream(stream)>>>(d, n_inputs, dflags, dmax, drange);
  check(cudaGetLastError(), "check kernel launch");
  copy_to_host(flags, dflags, F, stream);
  copy_to_host(max_in, dmax, F * static_cast<std::size_t>(n_inputs) * sizeof(double), stream);
  copy_to_host(range, drange, F * 2 * sizeof(double), stream);
}

}  // namespace gpu
}  // namespace cptlaw
