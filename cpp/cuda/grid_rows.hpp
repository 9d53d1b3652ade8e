// What one CUDA thread of the grid kernels does with one schedule: its rows' objective values
// offered to a best-k reduction, or all its rows written out, exactly as the CPU engine
// (grid.hpp) computes them, from the same CPTLAW_HD functions (resolve, schedule_areas,
// law_value, row_group). Plain C++ as well, so the C++ tests run it on the CPU against
// grid::Grid; grid.cu loops over it.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>

#include "cptlaw/config.hpp"
#include "cptlaw/grid.hpp"

namespace cptlaw {
namespace gpu {

// A grid as the kernels read it: the spec (its pointers on the device) and what Grid derives.
struct GridView {
  grid::Spec spec;
  const std::int64_t* starts;  // first schedule of each block, n_blocks + 1 entries
  const double* pt_decay;      // sched::pt_momentum_area(dc, steps[q]); unused for the final step
  sched::Decay dc;
};

// The areas (S1_pt, S2_pt, S1_cpt, S2_cpt) of a schedule at every requested step, in
// ascending order: fn(q, a). NaN for an invalid schedule or beyond its length.
template <class Fn>
CPTLAW_HD void schedule_steps(const GridView& g, const grid::Config& c, Fn&& fn) {
  const grid::Spec& sp = g.spec;
  if (!c.valid) {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const double a[4] = {nan, nan, nan, nan};
    for (std::int64_t q = 0; q < sp.n_steps; ++q) fn(q, a);
    return;
  }
  grid::schedule_areas(
      c, g.dc, sp.split, sp.steps, sp.n_steps,
      [&](std::int64_t q) { return sp.steps ? g.pt_decay[q] : sched::pt_momentum_area(g.dc, c.n); }, fn);
}

// Law l's loss at row inputs x = (s1_pt, s2_pt, s1_cpt, s2_cpt, r_pt).
CPTLAW_HD inline double law_loss(const grid::Spec& sp, std::int64_t l, const double* x) {
  return grid::law_value(sp.law_kind[l], sp.law_params + sp.law_param_off[l], x);
}

// Every row of schedule s (config c) whose objective is not NaN: offer(group, value, row), the
// value negated when maximising (grid::Grid's Reducer).
template <class Offer>
CPTLAW_HD void reduce_schedule(const GridView& g, const grid::Reduction& red, std::int64_t s, const grid::Config& c,
                               Offer&& offer) {
  const grid::Spec& sp = g.spec;
  const std::int64_t ns = sp.n_steps, nw = sp.n_w, nr = sp.n_replay;
  const bool weighted = red.objective >= sp.n_laws;
  const std::int64_t la = weighted ? sp.w_law_a : red.objective;
  schedule_steps(g, c, [&](std::int64_t q, const double* a) {
    double x[5] = {a[0], a[1], a[2], a[3], 0.0};
    for (std::int64_t ri = 0; ri < nr; ++ri) {
      x[4] = sp.replay[ri];
      const double va = law_loss(sp, la, x);
      const double vb = weighted ? law_loss(sp, sp.w_law_b, x) : 0.0;
      for (std::int64_t wi = 0; wi < nw; ++wi) {
        double v = weighted ? grid::weighted_loss(sp.w[wi], va, vb) : va;
        if (std::isnan(v)) continue;
        if (red.maximize) v = -v;
        offer(grid::row_group(red, c.code, ri, wi, q), v, ((s * nr + ri) * nw + wi) * ns + q);
      }
    }
  });
}

// Every row of schedule s (config c) written as grid::Grid::materialize writes it, at
// o = row - row0: out[col * nrows + o] for each output column (the laws, then the weighted
// loss), codes[axis * nrows + o] and start[o].
CPTLAW_HD inline void write_schedule(const GridView& g, std::int64_t s, const grid::Config& c, std::int64_t row0,
                                     std::int64_t nrows, double* out, std::int32_t* codes, double* start) {
  const grid::Spec& sp = g.spec;
  const std::int64_t ns = sp.n_steps, nw = sp.n_w, nr = sp.n_replay;
  schedule_steps(g, c, [&](std::int64_t q, const double* a) {
    double x[5] = {a[0], a[1], a[2], a[3], 0.0};
    for (std::int64_t ri = 0; ri < nr; ++ri) {
      x[4] = sp.replay[ri];
      for (std::int64_t wi = 0; wi < nw; ++wi) {
        const std::int64_t o = ((s * nr + ri) * nw + wi) * ns + q - row0;
        for (std::int64_t l = 0; l < sp.n_laws; ++l) out[l * nrows + o] = law_loss(sp, l, x);
        if (sp.w) {
          out[sp.n_laws * nrows + o] =
              grid::weighted_loss(sp.w[wi], law_loss(sp, sp.w_law_a, x), law_loss(sp, sp.w_law_b, x));
        }
        for (int ax = 0; ax < grid::kScheduleAxes; ++ax) codes[ax * nrows + o] = c.code[ax];
        codes[grid::kReplay * nrows + o] = static_cast<std::int32_t>(ri);
        codes[grid::kWeight * nrows + o] = static_cast<std::int32_t>(wi);
        codes[grid::kStep * nrows + o] = static_cast<std::int32_t>(q);
        start[o] = c.start_lr;
      }
    }
  });
}

// The k best (value, row) of one group as a max-heap under grid::entry_less (count <= k
// entries; the root is the k-th best once full): grid::TopK::insert's rule, on arrays the
// device can reach with volatile accesses. Returns the group's new threshold: rows worse than
// it cannot enter (infinity while the group has fewer than k entries).
template <class V, class R, class C>
CPTLAW_HD double heap_offer(V* hv, R* hr, C* count, std::int64_t k, double v, std::int64_t row) {
  auto lt = [](double av, std::int64_t ar, double bv, std::int64_t br) { return av < bv || (av == bv && ar < br); };
  std::int64_t n = *count;
  if (n < k) {  // append, sift up
    std::int64_t i = n++;
    while (i > 0) {
      const std::int64_t parent = (i - 1) / 2;
      if (!lt(hv[parent], hr[parent], v, row)) break;
      hv[i] = hv[parent];
      hr[i] = hr[parent];
      i = parent;
    }
    hv[i] = v;
    hr[i] = row;
    *count = n;
  } else if (lt(v, row, hv[0], hr[0])) {  // better than the worst kept: replace the root, sift down
    std::int64_t i = 0;
    for (;;) {
      std::int64_t child = 2 * i + 1;
      if (child >= k) break;
      if (child + 1 < k && lt(hv[child], hr[child], hv[child + 1], hr[child + 1])) ++child;
      if (!lt(v, row, hv[child], hr[child])) break;
      hv[i] = hv[child];
      hr[i] = hr[child];
      i = child;
    }
    hv[i] = v;
    hr[i] = row;
  }
  return n < k ? std::numeric_limits<double>::infinity() : static_cast<double>(hv[0]);
}

}  // namespace gpu
}  // namespace cptlaw
