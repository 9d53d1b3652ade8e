#include "bindings.hpp"

PYBIND11_MODULE(_core, m) {
  m.doc() = "cptlaw compiled core (private; use the cptlaw package).";
  Interruptible::set_main_thread(
      py::module_::import("threading").attr("main_thread")().attr("ident").cast<unsigned long>());
  bind_areas(m);
  bind_laws(m);
  bind_schedules(m);
  bind_fit(m);
  bind_grid(m);
  bind_threads(m);
}
