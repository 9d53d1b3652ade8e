#include "cptlaw/lm.hpp"

#include <pybind11/stl.h>

#include <cmath>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "bindings.hpp"
#include "cptlaw/law_registry.hpp"
#include "fit_args.hpp"

namespace {

using cptlaw::bindings::check_param_arrays;
using cptlaw::bindings::make_options;
using cptlaw::bindings::u8array;

template <class Law>
py::tuple fit_one(const std::vector<f64array>& inputs, const f64array& y, const std::optional<f64array>& w,
                  const f64array& lo, const f64array& hi, const u8array& fixed, const u8array& linear,
                  const f64array& starts, const f64array& grid, int objective, double delta, int max_iter,
                  double ftol, double xtol, double gtol, int keep) {
  check_param_arrays(Law::n_params, lo, hi, fixed, linear, starts, grid);
  if (static_cast<int>(inputs.size()) != Law::n_inputs) throw std::invalid_argument("inputs: wrong count");
  const auto n = static_cast<std::int64_t>(y.size());
  const double* raw[Law::n_inputs];
  for (int k = 0; k < Law::n_inputs; ++k) {
    if (static_cast<std::int64_t>(inputs[k].size()) != n) throw std::invalid_argument("inputs: length differs from y");
    raw[k] = inputs[k].data();
  }
  if (w && static_cast<std::int64_t>(w->size()) != n) throw std::invalid_argument("w: wrong length");
  const auto opt = make_options(objective, delta, max_iter, ftol, xtol, gtol, keep);
  cptlaw::fit::Result r;
  run_released([&] {
    cptlaw::fit::Problem<Law> prob(raw, y.data(), w ? w->data() : nullptr, n, lo.data(), hi.data(), fixed.data(),
                                   linear.data(), opt);
    r = prob.multistart(starts.data(), static_cast<int>(starts.shape(0)), grid.data(),
                        static_cast<int>(grid.shape(0)));
  });
  f64array params(Law::n_params);
  std::copy(r.params.begin(), r.params.end(), params.mutable_data());
  return py::make_tuple(params, r.objective, r.status, r.nfev, r.iterations, r.starts_tried);
}

template <class Law>
py::tuple fit_batch(const std::vector<f64array>& inputs, const f64array& y, const std::optional<f64array>& w,
                    const f64array& lo, const f64array& hi, const u8array& fixed, const u8array& linear,
                    const f64array& starts, const f64array& grid, int objective, double delta, int max_iter,
                    double ftol, double xtol, double gtol, int keep, int threads) {
  check_param_arrays(Law::n_params, lo, hi, fixed, linear, starts, grid);
  if (static_cast<int>(inputs.size()) != Law::n_inputs) throw std::invalid_argument("inputs: wrong count");
  if (y.ndim() != 2) throw std::invalid_argument("y: expected (n_fits, n_points)");
  const auto F = static_cast<std::int64_t>(y.shape(0)), N = static_cast<std::int64_t>(y.shape(1));
  const double* raw[Law::n_inputs];
  for (int k = 0; k < Law::n_inputs; ++k) {
    if (inputs[k].ndim() != 2 || inputs[k].shape(0) != F || inputs[k].shape(1) != N)
      throw std::invalid_argument("inputs: each must be shaped like y");
    raw[k] = inputs[k].data();
  }
  if (w && (w->ndim() != 2 || w->shape(0) != F || w->shape(1) != N))
    throw std::invalid_argument("w: must be shaped like y");
  const auto opt = make_options(objective, delta, max_iter, ftol, xtol, gtol, keep);
  f64array params({F, static_cast<std::int64_t>(Law::n_params)}), obj(F);
  py::array_t<int> status(F), nfev(F);
  double* pp = params.mutable_data();
  double* po = obj.mutable_data();
  int* ps = status.mutable_data();
  int* pn = nfev.mutable_data();
  run_released([&] {
    cptlaw::fit::fit_many<Law>(raw, y.data(), w ? w->data() : nullptr, F, N, lo.data(), hi.data(), fixed.data(),
                               linear.data(), starts.data(), static_cast<int>(starts.shape(0)), grid.data(),
                               static_cast<int>(grid.shape(0)), opt, pp, po, ps, pn, threads);
  });
  return py::make_tuple(params, obj, status, nfev);
}

struct Binder {
  py::dict one, many;
  template <class Law>
  void operator()(const char* name, cptlaw::laws::GridInputs) {
    one[name] = py::cpp_function(&fit_one<Law>, py::arg("inputs"), py::arg("y"), py::arg("w"), py::arg("lo"),
                                 py::arg("hi"), py::arg("fixed"), py::arg("linear"), py::arg("starts"), py::arg("grid"),
                                 py::arg("objective"), py::arg("delta"), py::arg("max_iter"), py::arg("ftol"),
                                 py::arg("xtol"), py::arg("gtol"), py::arg("keep"));
    many[name] = py::cpp_function(&fit_batch<Law>, py::arg("inputs"), py::arg("y"), py::arg("w"), py::arg("lo"),
                                  py::arg("hi"), py::arg("fixed"), py::arg("linear"), py::arg("starts"),
                                  py::arg("grid"), py::arg("objective"), py::arg("delta"), py::arg("max_iter"),
                                  py::arg("ftol"), py::arg("xtol"), py::arg("gtol"), py::arg("keep"),
                                  py::arg("threads"));
  }
};

}  // namespace

void bind_fit(py::module_& m) {
  Binder binder;
  cptlaw::laws::for_each_law(binder);
  m.attr("fit_one") = binder.one;
  m.attr("fit_many") = binder.many;
  py::dict statuses;
  for (const auto& s : cptlaw::fit::kStatuses) statuses[py::int_(s.code)] = s.message;
  m.attr("fit_statuses") = statuses;
  // Objective names by code (enum cptlaw::fit::Objective).
  m.attr("fit_objectives") = py::make_tuple("least_squares", "log_least_squares", "huber_log");
}
