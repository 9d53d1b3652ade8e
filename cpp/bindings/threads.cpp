#include "cptlaw/parallel.hpp"

#include "bindings.hpp"

void bind_threads(py::module_& m) {
  m.attr("max_threads") = cptlaw::kMaxThreads;
  // Worker threads the pool has started so far (the calling thread is not counted).
  m.def("pool_workers", [] {
    cptlaw::detail::Pool* p = cptlaw::detail::Pool::get();
    return p ? p->size() : 0;
  });
}
