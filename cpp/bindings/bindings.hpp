// pybind11 glue only: array checks, GIL release, conversion. No math here.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

namespace py = pybind11;

// C-contiguous float64 arrays; the Python layer has already validated and converted.
using f64array = py::array_t<double, py::array::c_style | py::array::forcecast>;

void bind_areas(py::module_& m);
void bind_laws(py::module_& m);
void bind_schedules(py::module_& m);
void bind_fit(py::module_& m);
void bind_grid(py::module_& m);
