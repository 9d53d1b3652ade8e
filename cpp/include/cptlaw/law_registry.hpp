// The one list of laws: each law's struct (laws.hpp), the name the Python layer knows it
// by, and how the grid engine feeds it. The bindings (evaluation, fitting, the table
// `_core.laws`) and the grid's dispatch are all generated from this list, so a new law
// is one struct in laws.hpp plus one line here (and its Python class).
#pragma once

#include <cstdint>
#include <vector>

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

// Calls v.operator()<Law>(name, grid_inputs) for every law, in the order of their
// kind codes (0, 1, ...).
template <class Visitor>
void for_each_law(Visitor&& v) {
  v.template operator()<Annealing>("annealing", GridInputs::whole);
  v.template operator()<CPT>("cpt", GridInputs::leading);
  v.template operator()<Replay<false>>("replay_pt", GridInputs::leading);
  v.template operator()<Replay<true>>("replay_cpt", GridInputs::leading);
  v.template operator()<ModelSize>("model_size", GridInputs::none);
  v.template operator()<OpenSource>("open_source", GridInputs::cpt_only);
  v.template operator()<CPTPowerS2>("cpt_power_s2", GridInputs::leading);
  v.template operator()<OutOfDomain>("out_of_domain", GridInputs::none);
  v.template operator()<CPTSharedC>("cpt_shared_c", GridInputs::leading);
}

// One law as the grid engine sees it: sizes, inputs and its dense evaluator.
struct Entry {
  const char* name = "";
  int n_params = 0, n_inputs = 0;
  GridInputs grid = GridInputs::none;
  void (*eval_dense)(const double* p, const double* const* x, std::int64_t n, double* out) = nullptr;
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
    e.eval_dense = [](const double* p, const double* const* x, std::int64_t n, double* o) {
      eval_dense<Law>(p, x, n, o);
    };
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
