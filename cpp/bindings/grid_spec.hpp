// The grid spec dict (python/cptlaw/grid.py builds it) as a grid::Spec, and a reduction's
// group spec as a grid::Reduction, both checked; shared by _core and the optional _cuda module.
#pragma once

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "bindings.hpp"
#include "cptlaw/grid.hpp"

namespace cptlaw {
namespace bindings {

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

// A best-k reduction: maps are 12 int32 arrays (empty: identity); mul: 12 multipliers (0: axis
// not grouped). Checked so that no group index can fall outside the table.
struct GroupSpec {
  gr::Reduction red;
  std::vector<i32array> keep;

  GroupSpec(const Holder& h, std::int64_t objective, bool maximize, std::int64_t k, std::int64_t groups,
            const i64array& mul, const py::list& maps) {
    if (mul.size() != gr::kAxes || maps.size() != gr::kAxes)
      throw std::invalid_argument("grid: group spec must have 12 entries");
    if (k < 1 || groups < 1) throw std::invalid_argument("grid: k and groups must be >= 1");
    if (groups > (std::int64_t{1} << 40) / k) throw std::invalid_argument("grid: too many groups x k");
    red.objective = objective;
    red.maximize = maximize;
    red.k = k;
    red.groups = groups;
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
  }
};

}  // namespace bindings
}  // namespace cptlaw
