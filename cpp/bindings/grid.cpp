#include "cptlaw/grid.hpp"

#include <stdexcept>
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

py::tuple grid_materialize(const py::dict& d, std::int64_t s0, std::int64_t s1, int threads) {
  Holder h(d);
  gr::Grid g(h.spec);
  if (s0 < 0 || s1 < s0 || s1 > g.schedules()) throw std::out_of_range("grid: schedule range out of range");
  const std::int64_t nrows = (s1 - s0) * g.rows_per_schedule();
  std::vector<double*> out;
  std::int32_t* codes = nullptr;
  double* start = nullptr;
  py::tuple res = outputs(g, nrows, out, codes, start);
  {
    py::gil_scoped_release release;
    g.materialize(s0, s1, out.data(), codes, start, threads);
  }
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
  {
    py::gil_scoped_release release;
    g.rows(r, n, out.data(), codes, start, threads);
  }
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
  {
    py::gil_scoped_release release;
    g.reduce(s0, s1, red, top, threads);
  }
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
  return py::make_tuple(vals, rows, counts);
}

}  // namespace

void bind_grid(py::module_& m) {
  m.def("grid_info", &grid_info, py::arg("spec"));
  m.def("grid_materialize", &grid_materialize, py::arg("spec"), py::arg("s0"), py::arg("s1"), py::arg("threads"));
  m.def("grid_rows", &grid_rows, py::arg("spec"), py::arg("rows"), py::arg("threads"));
  m.def("grid_reduce", &grid_reduce, py::arg("spec"), py::arg("s0"), py::arg("s1"), py::arg("objective"),
        py::arg("maximize"), py::arg("k"), py::arg("groups"), py::arg("mul"), py::arg("maps"), py::arg("threads"));
  m.attr("grid_axes") = static_cast<int>(gr::kAxes);
}
