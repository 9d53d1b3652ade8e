#include "cptlaw/laws.hpp"

#include <stdexcept>
#include <string>
#include <vector>

#include <pybind11/stl.h>

#include "bindings.hpp"
#include "cptlaw/law_registry.hpp"

namespace {

template <class Law>
py::object eval_law(const f64array& params, const std::vector<f64array>& inputs, std::int64_t n, bool with_grad,
                    int threads, const py::object& out_values) {
  if (params.ndim() != 1 || params.shape(0) != Law::n_params) throw std::invalid_argument("params: wrong length");
  if (static_cast<int>(inputs.size()) != Law::n_inputs) throw std::invalid_argument("inputs: wrong count");
  if (n < 0) throw std::invalid_argument("n: must be >= 0");
  const double* x[Law::n_inputs];
  std::int64_t stride[Law::n_inputs];
  for (int k = 0; k < Law::n_inputs; ++k) {
    const auto size = static_cast<std::int64_t>(inputs[k].size());
    if (size != n && size != 1) throw std::invalid_argument("inputs: each must have n elements or one");
    x[k] = inputs[k].data();
    stride[k] = size == 1 && n != 1 ? 0 : 1;
  }
  f64array out = output_array(out_values, {n}, "out");
  f64array grad(with_grad ? std::vector<py::ssize_t>{n, Law::n_params} : std::vector<py::ssize_t>{0});
  double* o = out.mutable_data();
  double* g = with_grad ? grad.mutable_data() : nullptr;
  const double* p = params.data();
  run_released([&] { cptlaw::laws::evaluate<Law>(p, x, stride, n, o, g, threads); });
  if (with_grad) return py::make_tuple(out, grad);
  return std::move(out);
}

const char* grid_inputs_name(cptlaw::laws::GridInputs g) {
  switch (g) {
    case cptlaw::laws::GridInputs::leading:
      return "leading";
    case cptlaw::laws::GridInputs::whole:
      return "whole";
    case cptlaw::laws::GridInputs::cpt_only:
      return "cpt_only";
    case cptlaw::laws::GridInputs::none:
      break;
  }
  return nullptr;
}

struct Binder {
  py::dict eval, table;
  int kind = 0;
  template <class Law>
  void operator()(const char* name, cptlaw::laws::GridInputs grid) {
    eval[name] = py::cpp_function(&eval_law<Law>, py::arg("params"), py::arg("inputs"), py::arg("n"),
                                  py::arg("with_grad"), py::arg("threads"), py::arg("out") = py::none());
    py::dict info;
    info["kind"] = kind++;
    info["n_params"] = Law::n_params;
    info["n_inputs"] = Law::n_inputs;
    const char* g = grid_inputs_name(grid);
    info["grid_inputs"] = g ? py::object(py::str(g)) : py::object(py::none());
    table[name] = info;
  }
};

}  // namespace

void bind_laws(py::module_& m) {
  Binder binder;
  cptlaw::laws::for_each_law(binder);
  m.attr("law_eval") = binder.eval;
  // The law registry: name -> {kind (grid code), n_params, n_inputs, grid_inputs}, in kind order.
  m.attr("laws") = binder.table;
}
