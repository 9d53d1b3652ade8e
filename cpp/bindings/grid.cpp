#include "cptlaw/grid.hpp"

#include <algorithm>
#include <stdexcept>
#include <utility>
#include <string>
#include <vector>

#include "bindings.hpp"

namespace {

namespace gr = cptlaw::grid;
using i64array = py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>;
using i32array = py::array_t<std::int32_t, py::array::c_style | py::array::forcecast>;

// A Spec and the arrays it points into (python/cptlaw/grid.py builds the dict).
struct Holder {
  gr::Spec spec;
  std::vector<py::object> keep;

  template <class A>
  A get(const py::dict& d, const char* key) {
    if (!d.contains(key)) throw std::invalid_argument(std::string("grid spec: missing ") + key);
    A a = A::ensure(d[key]);
    if (!a) throw std::invalid_argument(std::string("grid spec: bad array ") + key);
    keep.push_back(a);
    return a;
  }

  explicit Holder(const py::dict& d) {
    gr::Spec& s = spec;
    auto pt = get<f64array>(d, "pt_state");
    if (pt.ndim() != 2 || pt.shape(1) != 4) throw std::invalid_argument("grid spec: pt_state must be (n, 4)");
    s.pt_state = pt.data();
    s.n_pt = pt.shape(0);
    py::list levels = d["levels"];
    if (levels.size() != gr::kScheduleAxes) throw std::invalid_argument("grid spec: levels must have 9 arrays");
    for (int a = 0; a < gr::kScheduleAxes; ++a) {
      f64array lv = f64array::ensure(levels[a]);
      if (!lv) throw std::invalid_argument("grid spec: bad levels");
      keep.push_back(lv);
      s.levels[a] = lv.data();
      s.n_levels[a] = lv.size();
    }
    auto size = get<i64array>(d, "block_size");
    auto off = get<i64array>(d, "block_code_off");
    auto codes = get<i32array>(d, "block_codes");
    if (size.ndim() != 2 || size.shape(1) != gr::kScheduleAxes || off.ndim() != 2 || off.shape(0) != size.shape(0) ||
        off.shape(1) != gr::kScheduleAxes)
      throw std::invalid_argument("grid spec: block tables must be (n_blocks, 9)");
    s.n_blocks = size.shape(0);
    s.block_size = size.data();
    s.block_code_off = off.data();
    s.block_codes = codes.data();
    s.n_codes = codes.size();
    s.min_is_ratio = d["min_is_ratio"].cast<bool>();
    auto replay = get<f64array>(d, "replay");
    s.replay = replay.data();
    s.n_replay = replay.size();
    if (!d["w"].is_none()) {
      auto w = get<f64array>(d, "w");
      s.w = w.data();
      s.n_w = w.size();
      s.w_law_a = d["w_law_a"].cast<std::int64_t>();
      s.w_law_b = d["w_law_b"].cast<std::int64_t>();
    }
    if (!d["steps"].is_none()) {
      auto st = get<i64array>(d, "steps");
      s.steps = st.data();
      s.n_steps = st.size();
    }
    s.lam = d["decay"].cast<double>();
    const int split = d["split"].cast<int>();
    if (split < 0 || split > 2) throw std::invalid_argument("grid spec: unknown split");
    s.split = static_cast<cptlaw::Split>(split);
    auto kind = get<i32array>(d, "law_kind");
    auto params = get<f64array>(d, "law_params");
    auto poff = get<i64array>(d, "law_param_off");
    if (poff.size() != kind.size() + 1 || poff.data()[kind.size()] != params.size())
      throw std::invalid_argument("grid spec: law parameter offsets");
    s.n_laws = kind.size();
    s.law_kind = kind.data();
    s.law_params = params.data();
    s.law_param_off = poff.data();
  }
};

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
  if (mul.size() != gr::kAxes || maps.size() != gr::kAxes)
    throw std::invalid_argument("grid: group spec must have 12 entries");
  if (k < 1 || groups < 1) throw std::invalid_argument("grid: k and groups must be >= 1");
  if (groups > (std::int64_t{1} << 40) / k) throw std::invalid_argument("grid: too many groups x k");
  gr::Reduction red;
  red.objective = objective;
  red.maximize = maximize;
  red.k = k;
  red.groups = groups;
  std::vector<i32array> keep;
  // Largest group index reachable, to check the spec cannot write outside the table.
  std::int64_t reach = 0;
  for (int a = 0; a < gr::kAxes; ++a) {
    red.mul[a] = mul.data()[a];
    if (red.mul[a] < 0) throw std::invalid_argument("grid: negative group multiplier");
    i32array m = i32array::ensure(maps[a]);
    if (!m) throw std::invalid_argument("grid: bad group map");
    keep.push_back(m);
    if (red.mul[a] == 0) continue;
    std::int64_t n_codes;
    if (a == gr::kPT) {
      n_codes = h.spec.n_pt;
    } else if (a < gr::kScheduleAxes) {
      n_codes = h.spec.n_levels[a];
    } else {
      n_codes = a == gr::kReplay ? h.spec.n_replay : a == gr::kWeight ? h.spec.n_w : h.spec.n_steps;
    }
    std::int64_t top = n_codes - 1;
    if (m.size() > 0) {
      if (m.size() != n_codes) throw std::invalid_argument("grid: group map has the wrong length");
      red.map[a] = m.data();
      red.map_len[a] = m.size();
      top = 0;
      for (std::int64_t i = 0; i < n_codes; ++i) {
        if (m.data()[i] < 0) throw std::invalid_argument("grid: negative group code");
        top = std::max<std::int64_t>(top, m.data()[i]);
      }
    }
    reach += red.mul[a] * top;
  }
  if (reach >= groups) throw std::invalid_argument("grid: group codes exceed the number of groups");
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
