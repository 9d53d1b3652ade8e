// Writing large outputs in whole cache lines, without reading them first.
//
// Why: a plain store to a line that is not in cache makes the CPU fetch the line from
// memory before overwriting it (read-for-ownership). For outputs larger than the caches
// that is one extra read per written byte: the area kernels then spend most of their
// time on memory traffic they do not need. Non-temporal stores of whole 64-byte lines
// skip the fetch, but only whole lines pay off, so a kernel stages its results in a
// small buffer and hands them to a LineWriter, which writes the complete lines and keeps
// the unfinished one for the next flush. Outputs that fit in cache are better left
// there for whatever reads them next: those use ordinary stores (`streaming = false`).
#pragma once

#include <cstdint>

#if defined(__SSE2__)
#include <emmintrin.h>
#define CPTLAW_HAVE_STREAM_STORES 1
#endif

namespace cptlaw {
namespace detail {

// Outputs at least this large (all arrays of one call together) are streamed.
constexpr std::int64_t kStreamMinBytes = std::int64_t{32} << 20;

struct LineWriter {
  double* dst;            // the output row
  std::int64_t done = 0;  // values [0, done) are written; the buffer holds [done, ...)
  bool streaming = false;

  // The buffer holds the values [done, cur). Write those up to the last line boundary
  // (all of them when `last`), then move the rest (< 8 values) to the buffer's front.
  void flush(double* buf, std::int64_t cur, bool last) {
    std::int64_t end = cur;
    if (!last) end -= static_cast<std::int64_t>((reinterpret_cast<std::uintptr_t>(dst + cur) & 63) / 8);
    if (end <= done) return;
    const double* src = buf - done;  // src[i] is the value of step i
    std::int64_t i = done;
#if CPTLAW_HAVE_STREAM_STORES
    if (streaming) {
      for (; i < end && (reinterpret_cast<std::uintptr_t>(dst + i) & 63) != 0; ++i) dst[i] = src[i];
      for (; i + 8 <= end; i += 8) {
        _mm_stream_pd(dst + i, _mm_loadu_pd(src + i));
        _mm_stream_pd(dst + i + 2, _mm_loadu_pd(src + i + 2));
        _mm_stream_pd(dst + i + 4, _mm_loadu_pd(src + i + 4));
        _mm_stream_pd(dst + i + 6, _mm_loadu_pd(src + i + 6));
      }
    }
#endif
    for (; i < end; ++i) dst[i] = src[i];
    for (std::int64_t k = end; k < cur; ++k) buf[k - end] = src[k];
    done = end;
  }
};

// Non-temporal stores are weakly ordered: make them visible before another thread
// (or the caller) reads the output.
inline void stream_fence() {
#if CPTLAW_HAVE_STREAM_STORES
  _mm_sfence();
#endif
}

}  // namespace detail
}  // namespace cptlaw
