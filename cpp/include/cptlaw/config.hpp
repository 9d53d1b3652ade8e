// Build-time switches shared by the core headers.
#pragma once

// Hot loops are compiled several times for different x86-64 levels and picked at
// load time (GCC/Clang function multi-versioning). A default build therefore runs
// on any x86-64 CPU yet uses AVX2/AVX-512 where present. CPTLAW_NATIVE (an opt-in
// -march=native build) or non-x86 targets get the plain function. Translation units
// compiled by nvcc (the optional CUDA module) use the core only for its per-element
// functions, so they get the plain function too.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(CPTLAW_NATIVE) && !defined(CPTLAW_NO_CLONES) && \
    !defined(__SANITIZE_ADDRESS__) && !defined(__CUDACC__)
#define CPTLAW_CLONES __attribute__((target_clones("default", "arch=x86-64-v3", "arch=x86-64-v4")))
#else
#define CPTLAW_CLONES
#endif

// Per-element functions (the laws, the closed-form schedule areas, the grid's rows) are
// defined once for both targets: plain C++ here, host + device code under nvcc, where the
// CUDA kernels (cpp/cuda) are thin loops over them. Such functions use no std::vector,
// no exceptions and no other host-only library call.
#if defined(__CUDACC__)
#define CPTLAW_HD __host__ __device__
#else
#define CPTLAW_HD
#endif

// Put before a CPTLAW_HD template that calls the function it is given (a visitor, a
// callback): host code gives it host functions, kernels device ones, so nvcc is told not to
// warn that a host+device function calls a host function.
#if defined(__CUDACC__)
#define CPTLAW_NO_EXEC_CHECK _Pragma("nv_exec_check_disable")
#else
#define CPTLAW_NO_EXEC_CHECK
#endif
