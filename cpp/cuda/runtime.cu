// Devices, memory and copies: the CUDA runtime behind api.hpp.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "api.hpp"
#include "device.cuh"

namespace cptlaw {
namespace gpu {

int device_count(std::string* why) {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    cudaGetLastError();
    if (why) *why = std::string(cudaGetErrorName(e)) + ": " + cudaGetErrorString(e);
    return 0;
  }
  if (n == 0 && why) *why = "no CUDA device";
  return n;
}

DeviceInfo device_info(int device) {
  cudaDeviceProp p;
  check(cudaGetDeviceProperties(&p, device), "cudaGetDeviceProperties");
  return DeviceInfo{p.name, p.major, p.minor, p.multiProcessorCount, p.totalGlobalMem};
}

DeviceGuard::DeviceGuard(int device) : previous_(current_device()) {
  if (device != previous_) check(cudaSetDevice(device), "cudaSetDevice");
}
DeviceGuard::~DeviceGuard() {
  int now = previous_;
  if (cudaGetDevice(&now) == cudaSuccess && now != previous_) cudaSetDevice(previous_);
}

Buffer::Buffer(std::size_t bytes, int device) : bytes_(bytes), device_(device) {
  if (bytes == 0) return;
  DeviceGuard g(device);
  check(cudaMalloc(&ptr_, bytes), "cudaMalloc");
}
Buffer::~Buffer() {
  if (ptr_) {
    DeviceGuard g(device_);
    cudaFree(ptr_);
  }
}
Buffer::Buffer(Buffer&& o) noexcept : ptr_(o.ptr_), bytes_(o.bytes_), device_(o.device_) { o.ptr_ = nullptr; }
Buffer& Buffer::operator=(Buffer&& o) noexcept {
  std::swap(ptr_, o.ptr_);
  std::swap(bytes_, o.bytes_);
  std::swap(device_, o.device_);
  return *this;
}

void copy_to_device(void* dst, const void* src, std::size_t bytes, std::uintptr_t stream) {
  if (bytes == 0) return;
  check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, as_stream(stream)), "copy to device");
  check(cudaStreamSynchronize(as_stream(stream)), "copy to device");
}
void copy_to_host(void* dst, const void* src, std::size_t bytes, std::uintptr_t stream) {
  if (bytes == 0) return;
  check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, as_stream(stream)), "copy to host");
  check(cudaStreamSynchronize(as_stream(stream)), "copy to host");
}
void synchronize(std::uintptr_t stream) { check(cudaStreamSynchronize(as_stream(stream)), "synchronize"); }

Buffer upload(const void* src, std::size_t bytes, int device) {
  Buffer b(bytes, device);
  DeviceGuard g(device);
  copy_to_device(b.get(), src, bytes, 0);
  return b;
}

double copy_bandwidth(std::size_t bytes, int repeats, int device) {
  DeviceGuard g(device);
  Buffer a(bytes, device), b(bytes, device);
  check(cudaMemset(a.get(), 0, bytes), "cudaMemset");
  cudaEvent_t t0, t1;
  check(cudaEventCreate(&t0), "cudaEventCreate");
  check(cudaEventCreate(&t1), "cudaEventCreate");
  float best = 0.0f;
  repeats = std::max(repeats, 1);
  for (int r = 0; r <= repeats; ++r) {  // the first copy warms up
    check(cudaEventRecord(t0, 0), "cudaEventRecord");
    check(cudaMemcpyAsync(b.get(), a.get(), bytes, cudaMemcpyDeviceToDevice, 0), "copy");
    check(cudaEventRecord(t1, 0), "cudaEventRecord");
    check(cudaEventSynchronize(t1), "cudaEventSynchronize");
    float ms = 0.0f;
    check(cudaEventElapsedTime(&ms, t0, t1), "cudaEventElapsedTime");
    if (r > 0 && (best == 0.0f || ms < best)) best = ms;
  }
  cudaEventDestroy(t0);
  cudaEventDestroy(t1);
  return 2.0 * static_cast<double>(bytes) / (static_cast<double>(best) * 1e-3);
}

}  // namespace gpu
}  // namespace cptlaw
