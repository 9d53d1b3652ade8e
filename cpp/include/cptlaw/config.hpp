// Build-time switches shared by the core headers.
#pragma once

// Hot loops are compiled several times for different x86-64 levels and picked at
// load time (GCC/Clang function multi-versioning). A default build therefore runs
// on any x86-64 CPU yet uses AVX2/AVX-512 where present. CPTLAW_NATIVE (an opt-in
// -march=native build) or non-x86 targets get the plain function.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(CPTLAW_NATIVE) && !defined(CPTLAW_NO_CLONES) && \
    !defined(__SANITIZE_ADDRESS__)
#define CPTLAW_CLONES __attribute__((target_clones("default", "arch=x86-64-v3", "arch=x86-64-v4")))
#else
#define CPTLAW_CLONES
#endif
