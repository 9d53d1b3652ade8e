#include "cptlaw/schedule.hpp"

#include <stdexcept>
#include <utility>

#include "bindings.hpp"

namespace {

namespace sc = cptlaw::sched;
using i64array = py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>;

// rows: (nseg, 8) for one schedule or (count, nseg, 8) for a batch.
void check_rows(const f64array& rows, int ndim, const char* name) {
  if (rows.ndim() != ndim || rows.shape(ndim - 1) != sc::kSegmentFields)
    throw std::invalid_argument(std::string(name) + ": malformed segment table");
}

const double* data_ptr(const f64array& data) { return data.size() ? data.data() : nullptr; }

f64array values(const f64array& rows, const f64array& data) {
  check_rows(rows, 2, "rows");
  sc::Schedule s;
  s.layout(rows.data(), rows.shape(0), data_ptr(data));
  f64array out(s.steps());
  double* o = out.mutable_data();
  run_released([&] { s.values(o); });
  return out;
}

f64array lr_at(const f64array& rows, const f64array& data, const i64array& steps) {
  check_rows(rows, 2, "rows");
  sc::Schedule s;
  s.layout(rows.data(), rows.shape(0), data_ptr(data));
  const auto n = static_cast<std::int64_t>(steps.size());
  f64array out(n);
  double* o = out.mutable_data();
  const std::int64_t* t = steps.data();
  run_released([&] {
    for (std::int64_t i = 0; i < n; ++i) {
      if ((i & 65535) == 65535) cptlaw::checkpoint();
      o[i] = s.value(t[i]);
    }
  });
  return out;
}

py::tuple final_state(const f64array& rows, const f64array& data, double decay) {
  check_rows(rows, 2, "rows");
  sc::Schedule s;
  const double* r = rows.data();
  const double* d = data_ptr(data);
  const auto nseg = static_cast<std::int64_t>(rows.shape(0));
  run_released([&] { s.build(r, nseg, d, decay); });
  const sc::State& st = s.final_state();
  return py::make_tuple(st.s1, st.s2, st.m, st.x);
}

// Batch of schedules: rows (count, nseg, 8); steps (k,) shared or (count, k).
py::tuple areas_batch(const f64array& rows, const f64array& data, const i64array& steps, double decay, int threads) {
  check_rows(rows, 3, "rows");
  const auto count = static_cast<std::int64_t>(rows.shape(0)), nseg = static_cast<std::int64_t>(rows.shape(1));
  if (steps.ndim() != 1 && !(steps.ndim() == 2 && steps.shape(0) == count))
    throw std::invalid_argument("steps: expected (k,) or (count, k)");
  const auto k = static_cast<std::int64_t>(steps.shape(steps.ndim() - 1));
  const std::int64_t stride = steps.ndim() == 2 ? k : 0;
  f64array s1({count, k}), s2({count, k});
  const double* r = rows.data();
  const double* d = data_ptr(data);
  const std::int64_t* t = steps.data();
  double* a = s1.mutable_data();
  double* b = s2.mutable_data();
  run_released([&] { sc::areas_batch(r, count, nseg, nseg * sc::kSegmentFields, d, t, k, stride, decay, a, b, threads); });
  return py::make_tuple(s1, s2);
}

// PT/CPT pairs: pt_rows (1 or count, nseg_pt, 8), cpt_rows (1 or count, nseg_cpt, 8).
py::tuple cpt_areas_batch(const f64array& pt_rows, const f64array& pt_data, const f64array& cpt_rows,
                          const f64array& cpt_data, const i64array& steps, double decay, int split, int threads) {
  check_rows(pt_rows, 3, "pt_rows");
  check_rows(cpt_rows, 3, "cpt_rows");
  if (split < 0 || split > 2) throw std::invalid_argument("split: unknown mode");
  const auto np = static_cast<std::int64_t>(pt_rows.shape(0)), nc = static_cast<std::int64_t>(cpt_rows.shape(0));
  const std::int64_t count = std::max(np, nc);
  if ((np != 1 && np != count) || (nc != 1 && nc != count))
    throw std::invalid_argument("pt_rows, cpt_rows: counts do not broadcast");
  if (steps.ndim() != 1 && !(steps.ndim() == 2 && steps.shape(0) == count))
    throw std::invalid_argument("steps: expected (k,) or (count, k)");
  const auto k = static_cast<std::int64_t>(steps.shape(steps.ndim() - 1));
  const std::int64_t sstride = steps.ndim() == 2 ? k : 0;
  const auto pseg = static_cast<std::int64_t>(pt_rows.shape(1)), cseg = static_cast<std::int64_t>(cpt_rows.shape(1));
  const std::int64_t pstride = np == 1 ? 0 : pseg * sc::kSegmentFields;
  const std::int64_t cstride = nc == 1 ? 0 : cseg * sc::kSegmentFields;
  f64array o1({count, k}), o2({count, k}), o3({count, k}), o4({count, k});
  const double *pr = pt_rows.data(), *cr = cpt_rows.data();
  const double *pd = data_ptr(pt_data), *cd = data_ptr(cpt_data);
  const std::int64_t* t = steps.data();
  double *a = o1.mutable_data(), *b = o2.mutable_data(), *c = o3.mutable_data(), *d = o4.mutable_data();
  run_released([&] {
    sc::cpt_areas_batch(pr, pseg, pstride, pd, cr, cseg, cstride, cd, count, t, k, sstride, decay,
                        static_cast<cptlaw::Split>(split), a, b, c, d, threads);
  });
  return py::make_tuple(o1, o2, o3, o4);
}

}  // namespace

void bind_schedules(py::module_& m) {
  m.def("schedule_values", &values, py::arg("rows"), py::arg("data"));
  m.def("schedule_lr", &lr_at, py::arg("rows"), py::arg("data"), py::arg("steps"));
  m.def("schedule_final_state", &final_state, py::arg("rows"), py::arg("data"), py::arg("decay"));
  m.def("schedule_areas", &areas_batch, py::arg("rows"), py::arg("data"), py::arg("steps"), py::arg("decay"),
        py::arg("threads"));
  m.def("schedule_cpt_areas", &cpt_areas_batch, py::arg("pt_rows"), py::arg("pt_data"), py::arg("cpt_rows"),
        py::arg("cpt_data"), py::arg("steps"), py::arg("decay"), py::arg("split"), py::arg("threads"));
  m.attr("schedule_fields") = sc::kSegmentFields;
  // Segment value formulas by name -> code (enum cptlaw::sched::Shape).
  py::dict shapes;
  using S = sc::Shape;
  const std::pair<const char*, S> names[] = {
      {"constant", S::constant},       {"linear", S::linear},         {"one_minus", S::one_minus},
      {"ratio_down", S::ratio_down},   {"cosine", S::cosine},         {"cosine_up", S::cosine_up},
      {"cosine_hard", S::cosine_hard}, {"cosine_torch", S::cosine_torch}, {"power", S::power},
      {"sqrt_down", S::sqrt_down},     {"sqrt_up", S::sqrt_up},       {"inv_sqrt", S::inv_sqrt},
      {"poly", S::poly},               {"array", S::array}};
  static_assert(sizeof(names) / sizeof(names[0]) == sc::kShapeCount, "every shape has a name");
  for (const auto& n : names) shapes[n.first] = static_cast<int>(n.second);
  m.attr("schedule_shapes") = shapes;
}
