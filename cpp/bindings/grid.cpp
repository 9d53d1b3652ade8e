#include "cptlaw/grid.hpp"

#include <algorithm>
#include <stdexcept>
#include <utility>
#include <string>
#include <vector>

#include "bindings.hpp"
#include "grid_spec.hpp"

namespace {

namespace gr = cptlaw::grid;
using cptlaw::bindings::GroupSpec;
using cptlaw::bindings::Holder;
using cptlaw::bindings::i32array;
using cptlaw::bindings::i64array;

py::tuple outputs(const gr::Grid& g, std::int64_t nrows, std::vector<double*>& out, std::int32_t*& codes,
                  double*& start) {
  f64array vals({g.outputs(), nrows});
  i32array cd({static_cast<std::int64_t>(gr::kAxes), nrows});
  f64array st(nrows);
  out.resize(static_cast<std::size_t>(g.outputs()));
  for (std::int64_t c = 0; c < g.outputs(); ++c) out[static_cast<std::size_t>(c)] = vals.mutable_data() + c * nrows;
  codes = cd.mutable_data();
  start = st.mutable_data();
  return py::make_tuple(vals, cd, st);
}

py::tuple grid_info(const py::dict& d) {
  Holder h(d);
  gr::Grid g(h.spec);
  return py::make_tuple(g.schedules(), g.rows_per_schedule(), g.outputs());
}

// On Ctrl-C the KeyboardInterrupt carries `_cptlaw_partial` = (values, codes, start, done):
// the outputs and a flag per schedule of [s0, s1) whose rows were complete.
py::tuple grid_materialize(const py::dict& d, std::int64_t s0, std::int64_t s1, int threads) {
  Holder h(d);
  gr::Grid g(h.spec);
  if (s0 < 0 || s1 < s0 || s1 > g.schedules()) throw std::out_of_range("grid: schedule range out of range");
  const std::int64_t nrows = (s1 - s0) * g.rows_per_schedule();
  std::vector<double*> out;
  std::int32_t* codes = nullptr;
  double* start = nullptr;
  py::tuple res = outputs(g, nrows, out, codes, start);
  py::array_t<std::uint8_t> done(s1 - s0);
  std::uint8_t* dn = done.mutable_data();
  std::fill(dn, dn + (s1 - s0), std::uint8_t{0});
  Interruptible in;
  if (!in.run([&] { g.materialize(s0, s1, out.data(), codes, start, threads, dn); }))
    in.raise(py::make_tuple(res[0], res[1], res[2], done));
  return res;
}

py::tuple grid_rows(const py::dict& d, const i64array& rows, int threads) {
  Holder h(d);
  gr::Grid g(h.spec);
  const auto n = static_cast<std::int64_t>(rows.size());
  std::vector<double*> out;
  std::int32_t* codes = nullptr;
  double* start = nullptr;
  py::tuple res = outputs(g, n, out, codes, start);
  const std::int64_t* r = rows.data();
  run_released([&] { g.rows(r, n, out.data(), codes, start, threads); });
  return res;
}

// maps: 12 int32 arrays (empty: identity); mul: 12 multipliers (0: axis not grouped).
py::tuple grid_reduce(const py::dict& d, std::int64_t s0, std::int64_t s1, std::int64_t objective, bool maximize,
                      std::int64_t k, std::int64_t groups, const i64array& mul, const py::list& maps, int threads) {
  Holder h(d);
  gr::Grid g(h.spec);
  const GroupSpec gs(h, objective, maximize, k, groups, mul, maps);
  const gr::Reduction& red = gs.red;
  gr::TopK top;
  std::int64_t seen = 0;
  Interruptible in;
  const bool finished = in.run([&] { g.reduce(s0, s1, red, top, threads, &seen); });
  f64array vals({groups, k});
  i64array rows({groups, k});
  i64array counts(groups);
  double* v = vals.mutable_data();
  std::int64_t* r = rows.mutable_data();
  for (std::size_t i = 0; i < top.slots().size(); ++i) {
    v[i] = top.slots()[i].v;
    r[i] = top.slots()[i].row;
  }
  std::copy(top.counts().begin(), top.counts().end(), counts.mutable_data());
  // On Ctrl-C the KeyboardInterrupt carries `_cptlaw_partial` = (values, rows, counts,
  // rows_seen): the reduction over the rows evaluated so far.
  if (!finished) in.raise(py::make_tuple(vals, rows, counts, seen));
  return py::make_tuple(vals, rows, counts);
}

}  // namespace

void bind_grid(py::module_& m) {
  m.def("grid_info", &grid_info, py::arg("spec"));
  m.def("grid_materialize", &grid_materialize, py::arg("spec"), py::arg("s0"), py::arg("s1"), py::arg("threads"));
  m.def("grid_rows", &grid_rows, py::arg("spec"), py::arg("rows"), py::arg("threads"));
  m.def("grid_reduce", &grid_reduce, py::arg("spec"), py::arg("s0"), py::arg("s1"), py::arg("objective"),
        py::arg("maximize"), py::arg("k"), py::arg("groups"), py::arg("mul"), py::arg("maps"), py::arg("threads"));
  // Axis codes of the compiled grid (enum cptlaw::grid::Axis) and the code tables it reads.
  py::dict axes;
  const std::pair<const char*, int> names[] = {
      {"pt", gr::kPT},         {"shape", gr::kShape}, {"decay_type", gr::kDecayType}, {"peak_lr", gr::kPeak},
      {"steps", gr::kSteps},   {"warmup", gr::kWarmup}, {"start_lr", gr::kStart},      {"decay_frac", gr::kFrac},
      {"min_lr", gr::kMin},    {"replay", gr::kReplay}, {"w", gr::kWeight},             {"step", gr::kStep}};
  static_assert(sizeof(names) / sizeof(names[0]) == gr::kAxes, "every axis has a name");
  for (const auto& n : names) axes[n.first] = n.second;
  m.attr("grid_axes") = axes;
  m.attr("grid_schedule_axes") = static_cast<int>(gr::kScheduleAxes);
  m.attr("grid_n_axes") = static_cast<int>(gr::kAxes);
  // CPT shapes and WSD decay types by code (ShapeCode, DecayCode); start_lr level codes.
  py::list shapes(5), decays(3);
  shapes[gr::shape_constant] = "constant";
  shapes[gr::shape_linear] = "linear";
  shapes[gr::shape_cosine] = "cosine";
  shapes[gr::shape_wsd] = "wsd";
  shapes[gr::shape_one_minus_sqrt] = "1-sqrt";
  decays[gr::decay_linear] = "linear";
  decays[gr::decay_cosine] = "cosine";
  decays[gr::decay_sqrt] = "1-sqrt";
  m.attr("grid_shapes") = py::tuple(shapes);
  m.attr("grid_decay_types") = py::tuple(decays);
  m.attr("grid_start_hf") = gr::kStartHF;
  m.attr("grid_start_pt") = gr::kStartPT;
}
