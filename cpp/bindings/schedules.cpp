#include "bindings.hpp"

// Placeholder until the closed-form schedule core lands.
void bind_schedules(py::module_&) {}
