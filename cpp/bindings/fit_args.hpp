// The fitter's options and parameter arrays as the fit bindings take them, checked again
// (the Python layer checks first); shared by _core and the optional _cuda module.
#pragma once

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "bindings.hpp"
#include "cptlaw/lm.hpp"

namespace cptlaw {
namespace bindings {

using u8array = py::array_t<std::uint8_t, py::array::c_style | py::array::forcecast>;

inline fit::Options make_options(int objective, double delta, int max_iter, double ftol, double xtol, double gtol,
                                 int keep) {
  if (objective < 0 || objective > 2) throw std::invalid_argument("objective: unknown");
  auto tolerance = [](double v, const char* name) {
    if (!(v >= 0.0) || std::isinf(v)) throw std::invalid_argument(std::string(name) + ": must be finite and >= 0");
  };
  tolerance(ftol, "ftol");
  tolerance(xtol, "xtol");
  tolerance(gtol, "gtol");
  if (!(delta > 0.0) || std::isinf(delta)) throw std::invalid_argument("delta: must be finite and > 0");
  if (max_iter < 1) throw std::invalid_argument("max_iter: must be >= 1");
  if (keep < 1) throw std::invalid_argument("keep: must be >= 1");
  fit::Options o;
  o.objective = objective;
  o.delta = delta;
  o.max_iter = max_iter;
  o.ftol = ftol;
  o.xtol = xtol;
  o.gtol = gtol;
  o.keep = keep;
  return o;
}

// Bounds, masks, starts and grid of a law with P parameters.
inline void check_param_arrays(py::ssize_t P, const f64array& lo, const f64array& hi, const u8array& fixed,
                               const u8array& linear, const f64array& starts, const f64array& grid) {
  if (lo.size() != P || hi.size() != P || fixed.size() != P || linear.size() != P)
    throw std::invalid_argument("lo, hi, fixed, linear: wrong length");
  if (starts.ndim() != 2 || starts.shape(1) != P) throw std::invalid_argument("starts: expected (k, n_params)");
  if (grid.ndim() != 2 || grid.shape(1) != P) throw std::invalid_argument("grid: expected (k, n_params)");
  if (starts.shape(0) + grid.shape(0) == 0) throw std::invalid_argument("starts: no start and no grid");
}

}  // namespace bindings
}  // namespace cptlaw
