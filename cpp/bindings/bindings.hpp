// pybind11 glue only: array checks, GIL release, conversion. No math here.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "cptlaw/cancel.hpp"

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

// Runs core work with the GIL released, checking for Ctrl-C (any pending Python signal)
// about every 30 ms when called from the main thread (only it runs signal handlers). A
// signal stops the core (cptlaw::Cancelled); raise() then raises the handler's exception,
// normally KeyboardInterrupt. Construct, run() and raise() with the GIL held.
class Interruptible {
 public:
  Interruptible() : main_(on_main_thread()) {}
  ~Interruptible() {
    Py_XDECREF(type_);
    Py_XDECREF(value_);
    Py_XDECREF(tb_);
  }
  Interruptible(const Interruptible&) = delete;
  Interruptible& operator=(const Interruptible&) = delete;

  // True when `work` ran to the end with no signal; false after an interrupt.
  template <class F>
  bool run(F&& work) {
    bool cancelled = false;
    {
      py::gil_scoped_release release;
      cptlaw::CancelScope scope(main_ ? &Interruptible::poll : nullptr, this);
      try {
        work();
      } catch (const cptlaw::Cancelled&) {
        cancelled = true;
      }
    }
    return !cancelled && type_ == nullptr;
  }

  // Raises the pending exception (KeyboardInterrupt if none was caught), with `partial`
  // attached as its attribute `_cptlaw_partial` when given.
  [[noreturn]] void raise(py::handle partial = py::handle()) {
    if (type_) {
      PyErr_Restore(type_, value_, tb_);
      type_ = value_ = tb_ = nullptr;
    } else {
      PyErr_SetNone(PyExc_KeyboardInterrupt);
    }
    if (partial) {
      PyObject *t, *v, *tb;
      PyErr_Fetch(&t, &v, &tb);
      PyErr_NormalizeException(&t, &v, &tb);
      if (v && PyObject_SetAttrString(v, "_cptlaw_partial", partial.ptr()) != 0) PyErr_Clear();
      PyErr_Restore(t, v, tb);
    }
    throw py::error_already_set();
  }

  // Call once at import (GIL held): Python's main thread (threading.main_thread().ident).
  static void set_main_thread(unsigned long ident) { main_ident() = ident; }

 private:
  static unsigned long& main_ident() {
    static unsigned long ident = 0;
    return ident;
  }
  static bool on_main_thread() { return PyThread_get_thread_ident() == main_ident(); }

  static bool poll(void* self) {
    auto* me = static_cast<Interruptible*>(self);
#if PY_VERSION_HEX >= 0x030D0000
    if (Py_IsFinalizing()) return true;
#else
    if (_Py_IsFinalizing()) return true;
#endif
    py::gil_scoped_acquire acquire;
    if (PyErr_CheckSignals() == 0) return false;
    PyErr_Fetch(&me->type_, &me->value_, &me->tb_);
    return true;
  }

  bool main_;
  PyObject *type_ = nullptr, *value_ = nullptr, *tb_ = nullptr;
};

// Runs `work` as Interruptible does and raises on an interrupt.
template <class F>
void run_released(F&& work) {
  Interruptible in;
  if (!in.run(work)) in.raise();
}

void bind_areas(py::module_& m);
void bind_laws(py::module_& m);
void bind_schedules(py::module_& m);
void bind_fit(py::module_& m);
void bind_grid(py::module_& m);
void bind_threads(py::module_& m);
