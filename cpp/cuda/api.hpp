// The host-side face of the CUDA kernels: plain C++ (no CUDA headers), so the pybind11
// module (module.cpp) is compiled by the ordinary C++ compiler. Device memory is passed as
// addresses; errors are thrown as cptlaw::gpu::Error with CUDA's message.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "cptlaw/grid.hpp"
#include "cptlaw/lm.hpp"
#include "law_points.hpp"

namespace cptlaw {
namespace gpu {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// -- runtime (runtime.cu) ---------------------------------------------------------------
// Devices the runtime sees; 0 without a driver or device (never throws). `why` gets the reason.
int device_count(std::string* why = nullptr);
struct DeviceInfo {
  std::string name;
  int major, minor, sms;
  std::size_t memory;
};
DeviceInfo device_info(int device);

// Makes `device` current for the lifetime of the guard, then restores the previous one.
class DeviceGuard {
 public:
  explicit DeviceGuard(int device);
  ~DeviceGuard();
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_;
};

// Device memory owned by the host object (freed on destruction).
class Buffer {
 public:
  Buffer() = default;
  Buffer(std::size_t bytes, int device);
  ~Buffer();
  Buffer(Buffer&& o) noexcept;
  Buffer& operator=(Buffer&& o) noexcept;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  void* get() const { return ptr_; }
  std::size_t bytes() const { return bytes_; }
  int device() const { return device_; }

 private:
  void* ptr_ = nullptr;
  std::size_t bytes_ = 0;
  int device_ = 0;
};

void copy_to_device(void* dst, const void* src, std::size_t bytes, std::uintptr_t stream);
void copy_to_host(void* dst, const void* src, std::size_t bytes, std::uintptr_t stream);
void synchronize(std::uintptr_t stream);
// A buffer holding a copy of host data.
Buffer upload(const void* src, std::size_t bytes, int device);
// The device's copy bandwidth (bytes read + written per second) of a device-to-device copy of
// `bytes`, best of `repeats`, timed with events.
double copy_bandwidth(std::size_t bytes, int repeats, int device);

// -- laws (law.cu) ----------------------------------------------------------------------
// n points of law `name` into out (and grad, n x n_params, unless null), on `stream`.
using LawLaunch = void (*)(const double* params, const LawInputs& in, std::int64_t n, double* out, double* grad,
                           std::uintptr_t stream);
struct LawEntry {
  std::string name;
  int n_params, n_inputs;
  LawLaunch launch;
};
const std::vector<LawEntry>& law_table();

// -- fit_many (fit.cu) --------------------------------------------------------------------
// F fits of N points each: input k of fit f at x[k] + f * N (device), likewise y and w (w may
// be null); parameter arrays on the host. Outputs on the host.
struct FitBatch {
  const double* x[kMaxInputs];
  const double* y;
  const double* w;
  std::int64_t F, N;
  const double *lo, *hi;
  const std::uint8_t *fixed, *linear;
  const double* starts;
  int n_starts;
  const double* grid;
  int n_grid;
  fit::Options opt;
};
struct FitOut {
  double* params;  // F x n_params
  double* objective;
  int* status;
  int* nfev;
};
using FitLaunch = void (*)(const FitBatch& b, const FitOut& out, int device, std::uintptr_t stream);
struct FitEntry {
  std::string name;
  int n_params, n_inputs;
  FitLaunch launch;
};
const std::vector<FitEntry>& fit_table();

// Checks of a batch on the device (what _fit_problem.py checks on the host): per fit, flags
// (bit 0: a feature not finite, 1: a loss not finite, 2: a loss <= 0, 3: a weight not
// finite, 4: a weight < 0, 5: a weight > 0), the largest finite value of each input
// (max_in[f * n_inputs + k]; -inf if none) and of the finite losses their range and largest
// magnitude (range[2 f], range[2 f + 1]).
void fit_check(const FitBatch& b, int n_inputs, std::uint8_t* flags, double* max_in, double* range, int device,
               std::uintptr_t stream);

// -- grid (grid.cu) -------------------------------------------------------------------------
// A grid's spec copied to the device once; chunks of schedules then run there.
class DeviceGrid {
 public:
  DeviceGrid(const grid::Grid& g, int device);
  ~DeviceGrid();
  DeviceGrid(const DeviceGrid&) = delete;
  DeviceGrid& operator=(const DeviceGrid&) = delete;

  // Rows of schedules [s0, s1) into host arrays (Grid::materialize's layout: out holds the
  // output columns one after another, nrows each).
  void materialize(std::int64_t s0, std::int64_t s1, double* out, std::int32_t* codes, double* start);

  // Best-k per group of schedules [s0, s1) (red's maps on the host). seed[g]: a value no row
  // of the result may exceed (the k-th best of earlier chunks; infinity: none). Results as
  // Grid::reduce leaves its TopK: vals/rows (groups x k, ascending, empty slots inf / -1).
  void reduce(std::int64_t s0, std::int64_t s1, const grid::Reduction& red, const double* seed, double* vals,
              std::int64_t* rows, std::int64_t* counts);

  std::int64_t outputs() const { return outputs_; }
  std::int64_t rows_per_schedule() const { return rows_per_schedule_; }

 private:
  struct Impl;
  Impl* impl_;
  std::int64_t outputs_, rows_per_schedule_;
};

}  // namespace gpu
}  // namespace cptlaw
