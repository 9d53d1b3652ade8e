#include "cptlaw/areas.hpp"

#include <stdexcept>
#include <string>

#include "bindings.hpp"

namespace {

cptlaw::AreaOptions options(double decay, std::int64_t warmup_as_peak, double s2_lr_exponent) {
  cptlaw::AreaOptions opt;
  opt.decay = decay;
  opt.warmup_as_peak = warmup_as_peak;
  opt.s2_lr_exponent = s2_lr_exponent;
  return opt;
}

cptlaw::Split split_mode(int split) {
  if (split < 0 || split > 2) throw std::invalid_argument("split: unknown mode");
  return static_cast<cptlaw::Split>(split);
}

py::tuple areas(const f64array& lr, double decay, std::int64_t warmup_as_peak, double s2_lr_exponent, int threads,
                const py::object& out_s1, const py::object& out_s2) {
  if (lr.ndim() != 2) throw std::invalid_argument("lr: expected a 2-D (rows, steps) array");
  const auto rows = static_cast<std::int64_t>(lr.shape(0)), n = static_cast<std::int64_t>(lr.shape(1));
  f64array s1 = output_array(out_s1, {rows, n}, "out[0]"), s2 = output_array(out_s2, {rows, n}, "out[1]");
  const double* x = lr.data();
  double* a = s1.mutable_data();
  double* b = s2.mutable_data();
  const auto opt = options(decay, warmup_as_peak, s2_lr_exponent);
  bool ok = true;
  run_released([&] { ok = cptlaw::areas_batch(x, rows, n, opt, a, b, threads); });
  if (!ok) throw std::invalid_argument("lr: learning rates must be finite and >= 0");
  return py::make_tuple(s1, s2);
}

py::tuple cpt_areas(const f64array& lr_pt, const f64array& lr_cpt, double decay, int split,
                    std::int64_t warmup_as_peak, double s2_lr_exponent, int threads) {
  if (lr_pt.ndim() != 2 || lr_cpt.ndim() != 2 || lr_pt.shape(0) != lr_cpt.shape(0))
    throw std::invalid_argument("lr_pt, lr_cpt: expected 2-D arrays with the same number of rows");
  const cptlaw::Split mode = split_mode(split);
  const auto rows = static_cast<std::int64_t>(lr_pt.shape(0));
  const auto n_pt = static_cast<std::int64_t>(lr_pt.shape(1)), n_cpt = static_cast<std::int64_t>(lr_cpt.shape(1));
  const std::int64_t n = n_pt + n_cpt;
  f64array s1p({rows, n}), s2p({rows, n}), s1c({rows, n}), s2c({rows, n});
  const double* xp = lr_pt.data();
  const double* xc = lr_cpt.data();
  double *a = s1p.mutable_data(), *b = s2p.mutable_data(), *c = s1c.mutable_data(), *d = s2c.mutable_data();
  const auto opt = options(decay, warmup_as_peak, s2_lr_exponent);
  bool ok = true;
  run_released([&] { ok = cptlaw::cpt_areas_batch(xp, n_pt, xc, n_cpt, rows, opt, mode, a, b, c, d, threads); });
  if (!ok) {
    const bool pt_ok = cptlaw::valid_learning_rates(xp, rows * n_pt);
    throw std::invalid_argument(std::string(pt_ok ? "lr_cpt" : "lr_pt") +
                                ": learning rates must be finite and >= 0");
  }
  return py::make_tuple(s1p, s2p, s1c, s2c);
}

// The transfer rule of a split mode (areas.hpp), for the Python Tracker.
py::dict cpt_transfer(int split, double momentum_pt, double lr_pt, double s2_pt) {
  const cptlaw::Transfer t = cptlaw::transfer(split_mode(split), momentum_pt, lr_pt, s2_pt);
  py::dict d;
  d["momentum_cpt"] = t.cpt_m;
  d["prev_lr"] = t.prev_lr;
  d["s2_cpt"] = t.cpt_s2;
  d["pt_continues"] = t.pt_continues;
  d["momentum_pt"] = t.pt_m;
  return d;
}

}  // namespace

void bind_areas(py::module_& m) {
  m.def("areas", &areas, py::arg("lr"), py::arg("decay"), py::arg("warmup_as_peak"), py::arg("s2_lr_exponent"),
        py::arg("threads"), py::arg("out_s1") = py::none(), py::arg("out_s2") = py::none());
  m.def("cpt_areas", &cpt_areas, py::arg("lr_pt"), py::arg("lr_cpt"), py::arg("decay"), py::arg("split"),
        py::arg("warmup_as_peak"), py::arg("s2_lr_exponent"), py::arg("threads"));
  m.def("cpt_transfer", &cpt_transfer, py::arg("split"), py::arg("momentum_pt"), py::arg("lr_pt"),
        py::arg("s2_pt") = 0.0);
  // Split mode names by code (enum cptlaw::Split).
  m.attr("splits") = py::make_tuple("by_source", "by_time", "restart");
}
