// What the CUDA law and grid kernels do per point / per schedule (cpp/cuda/law_points.hpp,
// grid_rows.hpp), run on the CPU against the CPU engine: the same law values as
// laws::evaluate, the same rows as grid::Grid::materialize, the same best rows as
// grid::Grid::reduce, and the device heap against grid::TopK.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <vector>

#include <cstring>

#include "../cuda/grid_rows.hpp"
#include "../cuda/law_points.hpp"
#include "check.hpp"
#include "cptlaw/grid.hpp"
#include "cptlaw/law_registry.hpp"
#include "cptlaw/laws.hpp"

namespace {

using namespace cptlaw;
namespace gr = cptlaw::grid;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

bool same_bits(double a, double b) { return (std::isnan(a) && std::isnan(b)) || a == b; }
// Equal up to rounding: the CPU's vectorised loops may contract a * b + c into one FMA (the
// multi-versioned x86-64-v3/v4 code), the per-point code here does not.
// (Values here are O(1) losses and gradients: an absolute 1e-13 is a few units in the last place.)
bool near(double a, double b) {
  return (std::isnan(a) && std::isnan(b)) || a == b || std::fabs(a - b) <= 1e-13 * (std::fabs(b) + 1.0);
}

// -- laws ----------------------------------------------------------------------------------
struct LawCheck {
  int* failures;
  cptlaw_test::Uniform rng{7};
  template <class Law>
  void operator()(const char*, laws::GridInputs) {
    constexpr int NI = Law::n_inputs, P = Law::n_params;
    const std::int64_t n = 301;
    std::vector<std::vector<double>> cols(NI);
    for (auto& c : cols)
      for (std::int64_t i = 0; i < n; ++i) c.push_back(0.05 + 3.0 * rng.next());
    cols[static_cast<std::size_t>(NI - 1)][5] = -1.0;  // some inputs out of the law's domain
    double p[P];
    for (int k = 0; k < P; ++k) p[k] = 0.1 + rng.next();
    // Every input broadcast in turn (stride 0), the others dense; once all dense.
    for (int b = -1; b < NI; ++b) {
      const double* x[NI];
      std::int64_t stride[NI];
      gpu::LawInputs in{};
      for (int k = 0; k < NI; ++k) {
        x[k] = cols[static_cast<std::size_t>(k)].data();
        stride[k] = k == b ? 0 : 1;
        in.x[k] = x[k];
        in.stride[k] = stride[k];
      }
      for (bool grad : {false, true}) {
        std::vector<double> want(n), got(n), gw(grad ? n * P : 0), gg(grad ? n * P : 0);
        laws::evaluate<Law>(p, x, stride, n, want.data(), grad ? gw.data() : nullptr, 1);
        for (std::int64_t i = 0; i < n; ++i) {
          if (grad) {
            gpu::law_point<Law, true>(p, in, i, got.data(), gg.data());
          } else {
            gpu::law_point<Law, false>(p, in, i, got.data(), nullptr);
          }
        }
        bool ok = true;
        for (std::int64_t i = 0; i < n; ++i) ok = ok && near(got[i], want[i]);
        for (std::size_t i = 0; i < gw.size(); ++i) ok = ok && near(gg[i], gw[i]);
        CPTLAW_CHECK(ok, *failures);
      }
    }
    // A scalar input equals a broadcast array.
    {
      gpu::LawInputs in{}, ref{};
      const double v = 1.7;
      for (int k = 0; k < NI; ++k) {
        in.x[k] = ref.x[k] = cols[static_cast<std::size_t>(k)].data();
        in.stride[k] = ref.stride[k] = 1;
      }
      in.x[0] = nullptr;
      in.scalar[0] = v;
      ref.x[0] = &v;
      ref.stride[0] = 0;
      bool ok = true;
      for (std::int64_t i = 0; i < n; ++i) {
        double a, c;
        gpu::law_point<Law, false>(p, in, i, &a - i, nullptr);
        gpu::law_point<Law, false>(p, ref, i, &c - i, nullptr);
        ok = ok && same_bits(a, c);
      }
      CPTLAW_CHECK(ok, *failures);
    }
  }
};

// -- grid ----------------------------------------------------------------------------------
// A grid spec and the arrays it points into.
struct Spec {
  std::vector<double> pt_state, levels[gr::kScheduleAxes], replay{0.0}, w, params;
  std::vector<std::int64_t> bsize, boff, steps, poff{0};
  std::vector<std::int32_t> codes, kinds;
  gr::Spec s;

  // A block: every level of each axis (PT: every checkpoint).
  void block(const std::vector<std::int32_t> (&axes)[gr::kScheduleAxes]) {
    for (int a = 0; a < gr::kScheduleAxes; ++a) {
      bsize.push_back(static_cast<std::int64_t>(axes[a].size()));
      boff.push_back(static_cast<std::int64_t>(codes.size()));
      codes.insert(codes.end(), axes[a].begin(), axes[a].end());
    }
  }
  // A law by its registry name.
  void law(const char* name, std::vector<double> p) {
    int kind = -1;
    const auto& reg = laws::registry();
    for (std::size_t k = 0; k < reg.size(); ++k)
      if (std::strcmp(reg[k].name, name) == 0) kind = static_cast<int>(k);
    kinds.push_back(kind);
    params.insert(params.end(), p.begin(), p.end());
    poff.push_back(static_cast<std::int64_t>(params.size()));
  }
  const gr::Spec& make(bool min_is_ratio, double lam, Split split) {
    s = gr::Spec{};
    s.pt_state = pt_state.data();
    s.n_pt = static_cast<std::int64_t>(pt_state.size() / 4);
    for (int a = 1; a < gr::kScheduleAxes; ++a) {
      s.levels[a] = levels[a].data();
      s.n_levels[a] = static_cast<std::int64_t>(levels[a].size());
    }
    s.n_blocks = static_cast<std::int64_t>(bsize.size() / gr::kScheduleAxes);
    s.block_size = bsize.data();
    s.block_code_off = boff.data();
    s.block_codes = codes.data();
    s.n_codes = static_cast<std::int64_t>(codes.size());
    s.min_is_ratio = min_is_ratio;
    s.replay = replay.data();
    s.n_replay = static_cast<std::int64_t>(replay.size());
    if (!w.empty()) {
      s.w = w.data();
      s.n_w = static_cast<std::int64_t>(w.size());
      s.w_law_a = 0;
      s.w_law_b = 1;
    }
    if (!steps.empty()) {
      s.steps = steps.data();
      s.n_steps = static_cast<std::int64_t>(steps.size());
    }
    s.lam = lam;
    s.split = split;
    s.n_laws = static_cast<std::int64_t>(kinds.size());
    s.law_kind = kinds.data();
    s.law_params = params.data();
    s.law_param_off = poff.data();
    return s;
  }
};

std::vector<std::int32_t> iota(int n) {
  std::vector<std::int32_t> v(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = i;
  return v;
}

// Two PT checkpoints, every shape and WSD decay type, with and without (re-)warmup, some
// invalid combinations (warmup > steps, min LR > peak); the CPT law for D_pt and D_cpt (plus
// a replay law when `replay`).
Spec make_spec(bool replay, bool weights, bool with_steps) {
  Spec sp;
  sp.pt_state = {12.0, 1.5, 2e-5, 1e-4, 10.0, 1.0, -1e-6, 2e-4};
  auto& L = sp.levels;
  L[gr::kShape] = {gr::shape_cosine, gr::shape_linear, gr::shape_wsd, gr::shape_constant};
  L[gr::kDecayType] = {gr::decay_linear, gr::decay_cosine, gr::decay_sqrt, kNaN};
  L[gr::kPeak] = {5e-5, 1e-4, 3e-4};
  L[gr::kSteps] = {400, 1000, 3000};
  L[gr::kWarmup] = {0, 50, 500};
  L[gr::kStart] = {gr::kStartHF, gr::kStartPT, 2e-5, kNaN};
  L[gr::kFrac] = {0.1, 0.3, kNaN};
  L[gr::kMin] = {0.0, 0.1, 2.0, kNaN};  // 2.0: min > peak (ratio), invalid
  const std::vector<std::int32_t> pts = iota(2), peaks = iota(3), lens = iota(3);
  sp.block({pts, {0}, {3}, peaks, lens, {1, 2}, {0, 1, 2}, {2}, {0, 1, 2}});  // cosine with warmup
  sp.block({pts, {1}, {3}, peaks, lens, {0}, {3}, {2}, {0, 1}});              // linear, no warmup
  sp.block({pts, {2}, {0, 1, 2}, peaks, lens, {0, 1}, {0}, {0, 1}, {0, 1}});  // wsd
  sp.block({pts, {3}, {3}, peaks, lens, {0, 2}, {1}, {2}, {3}});              // constant
  sp.law("cpt", {3.0, 0.5, 0.5, 0.3, 0.3, 0.4, 30.0, 0.2});
  sp.law("cpt", {3.0, 0.4, 0.6, 0.3, 0.3, -0.6, 500.0, 0.15});
  if (replay) {
    sp.law("replay_cpt", {3.0, 0.4, 0.6, 0.3, 0.3, 0.1, -0.6, 500.0, 0.15, 3.0});
    sp.law("replay_pt", {3.0, 0.4, 0.6, 0.3, 0.3, 0.1, 0.6, 500.0, 0.15, 3.0});
    sp.replay = {0.0, 0.25, 0.5};
  }
  sp.law("annealing", {2.9, 0.5, 0.5, 0.3});
  sp.law("open_source", {3.0, 0.4, 0.6, 8.0, -0.5, 400.0, 0.2, 0.3});
  sp.law("cpt_power_s2", {3.0, 0.5, 0.5, 0.3, 0.3, 0.4, 30.0, 0.2, 0.9, 1.1});
  sp.law("cpt_shared_c", {3.0, 0.5, 0.5, 0.3, -0.6, 500.0, 0.15});
  if (weights) sp.w = {0.0, 0.3, 1.0};
  if (with_steps) sp.steps = {0, 1, 49, 50, 51, 399, 400, 401, 999, 2000, 3000, 3500};
  return sp;
}

gpu::GridView view_of(const gr::Grid& g) {
  return gpu::GridView{g.spec(), g.block_starts().data(), g.spec().steps ? g.pt_decays().data() : nullptr,
                       g.decay()};
}

int check_grid(bool replay, bool weights, bool with_steps, Split split) {
  int f = 0;
  Spec sp = make_spec(replay, weights, with_steps);
  const gr::Grid g(sp.make(true, 0.999, split));
  const gpu::GridView v = view_of(g);
  const std::int64_t S = g.schedules(), rows = g.rows(), C = g.outputs();
  // materialize
  std::vector<double> want(static_cast<std::size_t>(C * rows)), got(want.size());
  std::vector<double*> wp;
  for (std::int64_t c = 0; c < C; ++c) wp.push_back(want.data() + c * rows);
  std::vector<std::int32_t> wc(static_cast<std::size_t>(gr::kAxes * rows)), gc(wc.size(), -7);
  std::vector<double> ws(static_cast<std::size_t>(rows)), gs(ws.size(), 9.0);
  g.materialize(0, S, wp.data(), wc.data(), ws.data(), 2);
  gr::Cursor cur = gr::locate(v.spec, v.starts, 0);
  for (std::int64_t s = 0; s < S; ++s) {
    gpu::write_schedule(v, s, gr::resolve(v.spec, cur), 0, rows, got.data(), gc.data(), gs.data());
    if (s + 1 < S) gr::next(v.spec, cur);
  }
  bool same = wc == gc;
  std::int64_t nan_rows = 0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    same = same && near(got[i], want[i]);
    nan_rows += std::isnan(want[i]) ? 1 : 0;
  }
  for (std::size_t i = 0; i < ws.size(); ++i) same = same && same_bits(gs[i], ws[i]);
  CPTLAW_CHECK(same, f);
  CPTLAW_CHECK(nan_rows > 0 && nan_rows < static_cast<std::int64_t>(want.size()) / 2, f);
  // reduce: per group of (shape, step) and overall; min and max; k = 1 and 4; any start locate
  for (int grouped = 0; grouped < 2; ++grouped)
    for (bool maximize : {false, true})
      for (std::int64_t k : {std::int64_t{1}, std::int64_t{4}}) {
        gr::Reduction red;
        red.objective = C - 1;
        red.maximize = maximize;
        red.k = k;
        red.groups = 1;
        if (grouped) {
          red.mul[gr::kStep] = 1;
          red.mul[gr::kShape] = g.spec().n_steps;
          red.groups = 4 * g.spec().n_steps;
        }
        gr::TopK want_top, got_top(red.groups, k);
        g.reduce(0, S, red, want_top, 2);
        // the kernel's runs of schedules: locate at each run start
        for (std::int64_t b = 0; b < S; b += 5) {
          gr::Cursor c2 = gr::locate(v.spec, v.starts, b);
          for (std::int64_t s = b; s < std::min(S, b + 5); ++s) {
            auto offer = [&](std::int64_t grp, double val, std::int64_t row) { got_top.insert(grp, val, row); };
            gpu::reduce_schedule(v, red, s, gr::resolve(v.spec, c2), offer);
            if (s + 1 < std::min(S, b + 5)) gr::next(v.spec, c2);
          }
        }
        got_top.finish();
        bool eq = want_top.counts() == got_top.counts();
        for (std::size_t i = 0; eq && i < want_top.slots().size(); ++i)
          eq = near(got_top.slots()[i].v, want_top.slots()[i].v) &&
               want_top.slots()[i].row == got_top.slots()[i].row;
        CPTLAW_CHECK(eq, f);
      }
  return f;
}

// The device heap keeps the same k best as grid::TopK, whatever the order; ties on the value
// go to the smaller row.
int check_heap() {
  int f = 0;
  cptlaw_test::Uniform rng{99};
  for (std::int64_t k : {1, 2, 3, 8, 17}) {
    const std::int64_t G = 3;
    gr::TopK ref(G, k);
    std::vector<double> hv(static_cast<std::size_t>(G * k));
    std::vector<std::int64_t> hr(hv.size()), cnt(static_cast<std::size_t>(G), 0);
    std::vector<double> thr(static_cast<std::size_t>(G), std::numeric_limits<double>::infinity());
    bool thr_ok = true;
    for (std::int64_t row = 0; row < 400; ++row) {
      const std::int64_t g = row % G;
      const double v = std::floor(rng.next() * 40.0) / 4.0;  // many ties
      const std::int64_t r = (row * 7919) % 400;              // rows out of order
      ref.insert(g, v, r);
      std::int64_t* n = &cnt[static_cast<std::size_t>(g)];
      const double t = gpu::heap_offer(hv.data() + g * k, hr.data() + g * k, n, k, v, r);
      // the threshold is the worst kept entry once full
      double worst = -std::numeric_limits<double>::infinity();
      for (std::int64_t i = 0; i < cnt[static_cast<std::size_t>(g)]; ++i) worst = std::max(worst, hv[g * k + i]);
      thr_ok = thr_ok && (cnt[static_cast<std::size_t>(g)] < k ? std::isinf(t) : t == worst);
    }
    ref.finish();
    bool eq = true;
    for (std::int64_t g = 0; g < G; ++g) {
      std::vector<gr::Entry> e;
      for (std::int64_t i = 0; i < cnt[static_cast<std::size_t>(g)]; ++i) e.push_back({hv[g * k + i], hr[g * k + i]});
      std::sort(e.begin(), e.end(), gr::entry_less);
      eq = eq && static_cast<std::int64_t>(e.size()) == ref.counts()[static_cast<std::size_t>(g)];
      for (std::size_t i = 0; eq && i < e.size(); ++i)
        eq = e[i].v == ref.slots()[static_cast<std::size_t>(g * k) + i].v &&
             e[i].row == ref.slots()[static_cast<std::size_t>(g * k) + i].row;
    }
    CPTLAW_CHECK(eq, f);
    CPTLAW_CHECK(thr_ok, f);
  }
  return f;
}

}  // namespace

int run_gpu_rows_tests() {
  int f = 0;
  LawCheck lc{&f};
  laws::for_each_law(lc);
  f += check_grid(false, true, false, Split::by_source);
  f += check_grid(true, true, true, Split::by_source);
  f += check_grid(false, false, true, Split::by_time);
  f += check_grid(true, false, false, Split::restart);
  f += check_heap();
  std::printf("gpu rows tests: %s (%d failures)\n", f ? "FAILED" : "ok", f);
  return f;
}
