#include "bindings.hpp"

// Placeholder until the Levenberg-Marquardt core lands.
void bind_fit(py::module_&) {}
