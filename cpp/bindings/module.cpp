#include "bindings.hpp"

PYBIND11_MODULE(_core, m) {
  m.doc() = "cptlaw compiled core (private; use the cptlaw package).";
  bind_areas(m);
  bind_laws(m);
  bind_schedules(m);
  bind_fit(m);
  bind_grid(m);
}
