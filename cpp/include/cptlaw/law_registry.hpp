// The one list of laws: each law's struct (laws.hpp), the name the Python layer knows it
// by, and how the grid engine feeds it. The bindings (evaluation, fitting, the table
// `_core.laws`), the grid's dispatch and the CUDA kernels are all generated from this
// list, so a new law is one struct in laws.hpp plus one line here (and its Python class).
#pragma once

#include <cstdint>
#include <type_traits>
#include <vector>

#include "cptlaw/config.hpp"
#include "cptlaw/laws.hpp"

namespace cptlaw {
namespace laws {

// How a law reads the grid's per-row areas (s1_pt, s2_pt, s1_cpt, s2_cpt, r_pt).
enum class GridInputs : int {
  none = 0,      // not evaluable on a grid (it takes inputs the grid does not have)
  leading = 1,   // the first n_inputs of (s1_pt, s2_pt, s1_cpt, s2_cpt, r_pt)
  whole = 2,     // (s1_pt + s1_cpt, s2_pt + s2_cpt): a one-run law on the whole timeline
  cpt_only = 3,  // (s1_cpt, s2_cpt)
};

// A GridInputs known at compile time (device code and the grid's typed dispatch read
// `value`); it converts to GridInputs for visitors that take the plain enum.
template <GridInputs G>
struct GridInputsOf {
  static constexpr GridInputs value = G;
  CPTLAW_HD constexpr operator GridInputs() const { return G; }
};

// Calls v.operator()<Law>(name, grid_inputs) for every law, in the order of their
// kind codes (0, 1, ...). Host and device code (visit_law below).
CPTLAW_NO_EXEC_CHECK
template <class Visitor>
CPTLAW_HD void for_each_law(Visitor&& v) {
  using G = GridInputs;
  v.template operator()<Annealing>("annealing", GridInputsOf<G::whole>{});
  v.template operator()<CPT>("cpt", GridInputsOf<G::leading>{});
  v.template operator()<Replay<false>>("replay_pt", GridInputsOf<G::leading>{});
  v.template operator()<Replay<true>>("replay_cpt", GridInputsOf<G::leading>{});
  v.template operator()<ModelSize>("model_size", GridInputsOf<G::none>{});
  v.template operator()<OpenSource>("open_source", GridInputsOf<G::cpt_only>{});
  v.template operator()<CPTPowerS2>("cpt_power_s2", GridInputsOf<G::leading>{});
  v.template operator()<OutOfDomain>("out_of_domain", GridInputsOf<G::none>{});
  v.template operator()<CPTSharedC>("cpt_shared_c", GridInputsOf<G::leading>{});
}

// A law as a type: its struct and how the grid feeds it.
template <class L, GridInputs G>
struct Kind {
  using law = L;
  static constexpr GridInputs grid = G;
};

namespace detail {
template <class F>
struct ByCode {
  int code;
  int i;
  F* f;
  CPTLAW_NO_EXEC_CHECK
  template <class Law, class G>
  CPTLAW_HD void operator()(const char*, G) {
    if (i++ == code) (*f)(Kind<Law, G::value>{});
  }
};
}  // namespace detail

// Calls f(Kind<Law, grid inputs>{}) for the law with kind code `code`; nothing for an
// unknown code. The typed dispatch of the grid engine, on the CPU and on the device.
CPTLAW_NO_EXEC_CHECK
template <class F>
CPTLAW_HD void visit_law(int code, F&& f) {
  for_each_law(detail::ByCode<typename std::remove_reference<F>::type>{code, 0, &f});
}

// One law as a table row: its name, sizes and grid inputs.
struct Entry {
  const char* name = "";
  int n_params = 0, n_inputs = 0;
  GridInputs grid = GridInputs::none;
};

namespace detail {
struct Tabulate {
  std::vector<Entry>* out;
  template <class Law>
  void operator()(const char* name, GridInputs grid) {
    Entry e;
    e.name = name;
    e.n_params = Law::n_params;
    e.n_inputs = Law::n_inputs;
    e.grid = grid;
    out->push_back(e);
  }
};
}  // namespace detail

// The registry as a table indexed by kind code. Never destroyed: a call still running in
// another thread while the process exits may read it.
inline const std::vector<Entry>& registry() {
  static const std::vector<Entry>* table = [] {
    auto* v = new std::vector<Entry>();
    for_each_law(detail::Tabulate{v});
    return v;
  }();
  return *table;
}

}  // namespace laws
}  // namespace cptlaw
