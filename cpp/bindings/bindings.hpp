// pybind11 glue only: array checks, GIL release, conversion. No math here.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace py = pybind11;

// C-contiguous float64 arrays; the Python layer has already validated and converted.
using f64array = py::array_t<double, py::array::c_style | py::array::forcecast>;

// An output: a fresh array of `shape`, or the caller's `given` array, which must be
// C-contiguous, writeable float64 of that many elements (checked with a message in
// Python; no conversion may happen, so it is taken as a plain array).
inline f64array output_array(const py::object& given, const std::vector<py::ssize_t>& shape, const char* name) {
  if (given.is_none()) return f64array(shape);
  py::ssize_t size = 1;
  for (auto d : shape) size *= d;
  auto arr = py::reinterpret_borrow<py::array>(given);
  if (!py::isinstance<py::array_t<double>>(arr) || !(arr.flags() & py::array::c_style) || !arr.writeable() ||
      arr.size() != size)
    throw std::invalid_argument(std::string(name) + ": must be a writeable C-contiguous float64 array of the result's shape");
  return py::reinterpret_borrow<f64array>(arr);
}

void bind_areas(py::module_& m);
void bind_laws(py::module_& m);
void bind_schedules(py::module_& m);
void bind_fit(py::module_& m);
void bind_grid(py::module_& m);
