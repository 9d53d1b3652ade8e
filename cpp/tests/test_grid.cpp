// The grid-search engine (cptlaw/grid.hpp) against a brute-force reference: every CPT
// schedule is written out as an explicit per-step LR array (the Hugging Face formulas of
// cptlaw.schedules, coded here independently of grid.hpp's segments), its areas come from
// the per-step recurrence (cptlaw::cpt_areas_row, entered after an explicit PT LR array) and
// the laws are evaluated point by point; the best-k reductions are checked against a sort of
// the materialised rows. Entry point: run_grid_tests(), called by the test main; returns the
// number of failed checks.
#include "cptlaw/grid.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "check.hpp"
#include "cptlaw/areas.hpp"
#include "cptlaw/laws.hpp"

int run_grid_tests();

namespace {

namespace gr = cptlaw::grid;
namespace lw = cptlaw::laws;
using cptlaw::Split;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kPi = 3.141592653589793;
constexpr int kSA = gr::kScheduleAxes;

int g_failures = 0;

void check(bool ok, const std::string& what) {
  if (ok) {
    ++cptlaw_test::passed();
  } else {
    ++g_failures;
    std::printf("  FAIL %s\n", what.c_str());
  }
}

// Both NaN, or close.
bool same(double got, double want, double rtol, double atol) {
  if (std::isnan(got) || std::isnan(want)) return std::isnan(got) && std::isnan(want);
  return cptlaw_test::close(got, want, rtol, atol);
}
bool bit_equal(double a, double b) { return (std::isnan(a) && std::isnan(b)) || a == b; }

// Deterministic pseudo-random numbers (no <random>: the same sequence on every platform).
struct Lcg {
  std::uint64_t s;
  explicit Lcg(std::uint64_t seed) : s(seed) {}
  std::uint64_t next() {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    return s >> 33;
  }
  std::int64_t below(std::int64_t n) { return static_cast<std::int64_t>(next() % static_cast<std::uint64_t>(n)); }
};

// -- explicit LR arrays --------------------------------------------------------------------
// PT schedules: linear warmup, then constant, then a linear decay to `floor` (a nonzero
// final momentum, so the PT/CPT split matters).
std::vector<double> pt_wsd(std::int64_t n, std::int64_t W, std::int64_t D, double peak, double floor) {
  std::vector<double> x(static_cast<std::size_t>(n));
  for (std::int64_t t = 0; t < n; ++t) {
    double v = peak;
    if (t < W) v = peak * static_cast<double>(t) / static_cast<double>(W);
    if (t >= n - D) v = peak + (floor - peak) * static_cast<double>(t - (n - D) + 1) / static_cast<double>(D);
    x[static_cast<std::size_t>(t)] = v;
  }
  return x;
}
std::vector<double> pt_cosine(std::int64_t n, std::int64_t W, double peak, double floor) {
  std::vector<double> x(static_cast<std::size_t>(n));
  for (std::int64_t t = 0; t < n; ++t) {
    const double p = static_cast<double>(t - W) / static_cast<double>(n - W);
    x[static_cast<std::size_t>(t)] = t < W ? peak * static_cast<double>(t) / static_cast<double>(W)
                                           : floor + (peak - floor) * 0.5 * (1.0 + std::cos(kPi * p));
  }
  return x;
}

struct LawDef {
  std::string name;
  std::vector<double> p;
  int kind = -1;
  LawDef(std::string n, std::vector<double> params) : name(std::move(n)), p(std::move(params)) {
    const auto& reg = cptlaw::laws::registry();
    for (std::size_t k = 0; k < reg.size(); ++k)
      if (name == reg[k].name) kind = static_cast<int>(k);
  }
};

// A grid spec and the arrays it points into.
struct Fixture {
  std::vector<std::vector<double>> pt;  // PT checkpoints as explicit LR arrays
  std::vector<double> levels[kSA];
  std::vector<std::array<std::vector<std::int32_t>, kSA>> blocks;
  bool min_is_ratio = true;
  std::vector<double> replay{0.0};
  std::vector<double> w;            // empty: no weighted loss
  std::vector<std::int64_t> steps;  // empty: the final step
  double lam = 0.999;
  Split split = Split::by_source;
  std::vector<LawDef> laws;
  std::int64_t w_law_a = 0, w_law_b = 1;

  // Flattened by spec().
  std::vector<double> pt_state, params;
  std::vector<std::int64_t> bsize, boff, poff;
  std::vector<std::int32_t> bcodes, kinds;

  // Level code of value v on an axis (NaN is one value).
  std::int32_t code(int axis, double v) {
    auto& L = levels[axis];
    for (std::size_t i = 0; i < L.size(); ++i)
      if (L[i] == v || (std::isnan(L[i]) && std::isnan(v))) return static_cast<std::int32_t>(i);
    L.push_back(v);
    return static_cast<std::int32_t>(L.size() - 1);
  }
  // A block: PT checkpoint indices, then the values of axes 1..8 (shape .. min).
  void block(const std::vector<std::int32_t>& pts, const std::vector<std::vector<double>>& vals) {
    std::array<std::vector<std::int32_t>, kSA> b;
    b[gr::kPT] = pts;
    for (int a = 1; a < kSA; ++a)
      for (double v : vals[static_cast<std::size_t>(a - 1)]) b[static_cast<std::size_t>(a)].push_back(code(a, v));
    blocks.push_back(b);
  }

  std::int64_t n_w() const { return w.empty() ? 1 : static_cast<std::int64_t>(w.size()); }
  std::int64_t n_steps() const { return steps.empty() ? 1 : static_cast<std::int64_t>(steps.size()); }
  std::int64_t n_replay() const { return static_cast<std::int64_t>(replay.size()); }
  std::int64_t rps() const { return n_replay() * n_w() * n_steps(); }
  std::int64_t outputs() const { return static_cast<std::int64_t>(laws.size()) + (w.empty() ? 0 : 1); }

  gr::Spec spec() {
    pt_state.clear();
    for (const auto& x : pt) {  // the state after the last PT step: S1, S2, m, lr
      double s1 = 0.0, s2 = 0.0, m = 0.0, prev = x[0];
      for (std::size_t i = 0; i < x.size(); ++i) {
        s1 += x[i];
        if (i > 0) {
          m = lam * m + (prev - x[i]);
          s2 += m;
        }
        prev = x[i];
      }
      pt_state.insert(pt_state.end(), {s1, s2, m, x.back()});
    }
    bsize.clear();
    boff.clear();
    bcodes.clear();
    for (const auto& b : blocks)
      for (int a = 0; a < kSA; ++a) {
        bsize.push_back(static_cast<std::int64_t>(b[static_cast<std::size_t>(a)].size()));
        boff.push_back(static_cast<std::int64_t>(bcodes.size()));
        bcodes.insert(bcodes.end(), b[static_cast<std::size_t>(a)].begin(), b[static_cast<std::size_t>(a)].end());
      }
    kinds.clear();
    params.clear();
    poff.assign(1, 0);
    for (const auto& l : laws) {
      kinds.push_back(l.kind);
      params.insert(params.end(), l.p.begin(), l.p.end());
      poff.push_back(static_cast<std::int64_t>(params.size()));
    }
    gr::Spec s;
    s.pt_state = pt_state.data();
    s.n_pt = static_cast<std::int64_t>(pt.size());
    for (int a = 1; a < kSA; ++a) {
      s.levels[a] = levels[a].data();
      s.n_levels[a] = static_cast<std::int64_t>(levels[a].size());
    }
    s.n_blocks = static_cast<std::int64_t>(blocks.size());
    s.block_size = bsize.data();
    s.block_code_off = boff.data();
    s.block_codes = bcodes.data();
    s.n_codes = static_cast<std::int64_t>(bcodes.size());
    s.min_is_ratio = min_is_ratio;
    s.replay = replay.data();
    s.n_replay = n_replay();
    if (!w.empty()) {
      s.w = w.data();
      s.n_w = n_w();
      s.w_law_a = w_law_a;
      s.w_law_b = w_law_b;
    }
    if (!steps.empty()) {
      s.steps = steps.data();
      s.n_steps = n_steps();
    }
    s.lam = lam;
    s.split = split;
    s.n_laws = static_cast<std::int64_t>(laws.size());
    s.law_kind = kinds.data();
    s.law_params = params.data();
    s.law_param_off = poff.data();
    return s;
  }

  // Every schedule's codes, in the grid's order (blocks, then axes with the last fastest).
  std::vector<std::array<std::int32_t, kSA>> enumerate() const {
    std::vector<std::array<std::int32_t, kSA>> out;
    for (const auto& b : blocks) {
      std::array<std::size_t, kSA> pos{};
      for (;;) {
        std::array<std::int32_t, kSA> c{};
        for (std::size_t a = 0; a < kSA; ++a) c[a] = b[a][pos[a]];
        out.push_back(c);
        std::size_t a = kSA;
        for (; a > 0; --a) {
          if (++pos[a - 1] < b[a - 1].size()) break;
          pos[a - 1] = 0;
        }
        if (a == 0) break;
      }
    }
    return out;
  }
};

// -- the reference -------------------------------------------------------------------------
struct RefSchedule {
  bool valid = true;
  std::int64_t n = 0;
  std::vector<double> x;  // the CPT LR of every step
  double start_lr = kNaN;
};

// The CPT schedule of one combination, step by step (cptlaw.schedules' formulas).
RefSchedule ref_schedule(const Fixture& f, const std::array<std::int32_t, kSA>& c) {
  auto lv = [&](int a) { return f.levels[a][static_cast<std::size_t>(c[static_cast<std::size_t>(a)])]; };
  const auto& pt = f.pt[static_cast<std::size_t>(c[gr::kPT])];
  RefSchedule r;
  const int shape = static_cast<int>(lv(gr::kShape));
  const double peak = lv(gr::kPeak);
  const std::int64_t n = static_cast<std::int64_t>(lv(gr::kSteps)), W = static_cast<std::int64_t>(lv(gr::kWarmup));
  r.n = n;
  r.valid = n >= 1 && W <= n && peak > 0.0;
  double ratio = 0.0, min_lr = 0.0;
  if (shape != gr::shape_constant) {
    const double m = lv(gr::kMin);
    ratio = f.min_is_ratio ? m : m / peak;
    min_lr = f.min_is_ratio ? m * peak : m;
    r.valid = r.valid && (f.min_is_ratio ? m <= 1.0 : m <= peak);
  }
  std::int64_t D = 0;
  if (shape == gr::shape_wsd) {
    D = static_cast<std::int64_t>(std::nearbyint(lv(gr::kFrac) * static_cast<double>(n - W)));  // np.rint
    r.valid = r.valid && D >= 0 && D <= n - W;
  }
  double s = 0.0;  // warmup start / peak
  if (W > 0) {
    const double st = lv(gr::kStart);
    if (st == gr::kStartHF) {
      r.start_lr = shape == gr::shape_wsd || shape == gr::shape_one_minus_sqrt ? min_lr : 0.0;
    } else {
      r.start_lr = st == gr::kStartPT ? pt.back() : st;
    }
    s = r.start_lr / peak;
  }
  if (!r.valid) return r;
  r.x.resize(static_cast<std::size_t>(n));
  const std::int64_t rest = n - W;
  for (std::int64_t t = 0; t < n; ++t) {
    double v;
    if (t < W) {
      v = peak * ((static_cast<double>(t) / static_cast<double>(W)) * (1.0 - s) + s);
    } else {
      const std::int64_t j = t - W;
      switch (shape) {
        case gr::shape_constant:
          v = peak;
          break;
        case gr::shape_cosine: {
          const double p = static_cast<double>(j) / static_cast<double>(std::max<std::int64_t>(1, rest));
          v = peak * (0.5 * (1.0 + std::cos(kPi * p)) * (1.0 - ratio) + ratio);
          break;
        }
        case gr::shape_linear:
          v = peak * ((static_cast<double>(rest - j) / static_cast<double>(std::max<std::int64_t>(1, rest))) *
                          (1.0 - ratio) +
                      ratio);
          break;
        case gr::shape_one_minus_sqrt: {
          const double p = static_cast<double>(j) / static_cast<double>(std::max<std::int64_t>(1, rest));
          v = peak * ((1.0 - std::sqrt(p)) * (1.0 - ratio) + ratio);
          break;
        }
        default: {
          const std::int64_t S = rest - D;
          if (j < S) {
            v = peak;
          } else {
            const double p = static_cast<double>(j - S) / static_cast<double>(std::max<std::int64_t>(1, D));
            const int dt = static_cast<int>(lv(gr::kDecayType));
            const double fr = dt == gr::decay_linear   ? 1.0 - p
                              : dt == gr::decay_cosine ? 0.5 * (1.0 + std::cos(kPi * p))
                                                       : 1.0 - std::sqrt(p);
            v = peak * (fr * (1.0 - ratio) + ratio);
          }
        }
      }
    }
    r.x[static_cast<std::size_t>(t)] = v;
  }
  return r;
}

template <class Law>
double eval1(const double* p, std::initializer_list<double> raw) {
  double x[Law::n_inputs], z[Law::n_prep];
  int i = 0;
  for (double v : raw) x[i++] = v;
  Law::prepare(x, z);
  return Law::template eval<false>(p, z, nullptr);
}

// One law at areas a = (s1_pt, s2_pt, s1_cpt, s2_cpt) and replay ratio r.
double law_value(const LawDef& L, const double* a, double r) {
  const double* p = L.p.data();
  if (L.name == "annealing") return eval1<lw::Annealing>(p, {a[0] + a[2], a[1] + a[3]});
  if (L.name == "cpt") return eval1<lw::CPT>(p, {a[0], a[1], a[2], a[3]});
  if (L.name == "replay_pt") return eval1<lw::Replay<false>>(p, {a[0], a[1], a[2], a[3], r});
  if (L.name == "replay_cpt") return eval1<lw::Replay<true>>(p, {a[0], a[1], a[2], a[3], r});
  if (L.name == "cpt_power_s2") return eval1<lw::CPTPowerS2>(p, {a[0], a[1], a[2], a[3]});
  if (L.name == "open_source") return eval1<lw::OpenSource>(p, {a[2], a[3]});
  if (L.name == "cpt_shared_c") return eval1<lw::CPTSharedC>(p, {a[0], a[1], a[2], a[3]});
  return kNaN;
}

// Reference rows: vals[c][row], codes[row][12], start[row], and which rows are valid.
struct Ref {
  std::vector<std::vector<double>> vals;
  std::vector<std::array<std::int32_t, gr::kAxes>> codes;
  std::vector<double> start;
  std::vector<char> valid;
  std::int64_t invalid_schedules = 0;
};

Ref reference(const Fixture& f) {
  const auto scheds = f.enumerate();
  const std::int64_t nr = f.n_replay(), nw = f.n_w(), ns = f.n_steps(), rps = f.rps();
  const std::int64_t rows = static_cast<std::int64_t>(scheds.size()) * rps;
  Ref ref;
  ref.vals.assign(static_cast<std::size_t>(f.outputs()), std::vector<double>(static_cast<std::size_t>(rows), kNaN));
  ref.codes.resize(static_cast<std::size_t>(rows));
  ref.start.resize(static_cast<std::size_t>(rows));
  ref.valid.assign(static_cast<std::size_t>(rows), 0);
  cptlaw::AreaOptions opt;
  opt.decay = f.lam;
  std::vector<double> s1p, s2p, s1c, s2c;
  for (std::size_t si = 0; si < scheds.size(); ++si) {
    const auto& c = scheds[si];
    const RefSchedule rs = ref_schedule(f, c);
    if (!rs.valid) ++ref.invalid_schedules;
    const auto& xp = f.pt[static_cast<std::size_t>(c[gr::kPT])];
    const std::int64_t np = static_cast<std::int64_t>(xp.size());
    if (rs.valid) {
      const std::size_t len = static_cast<std::size_t>(np + rs.n);
      s1p.assign(len, 0.0);
      s2p.assign(len, 0.0);
      s1c.assign(len, 0.0);
      s2c.assign(len, 0.0);
      cptlaw::cpt_areas_row(xp.data(), np, rs.x.data(), rs.n, opt, f.split, s1p.data(), s2p.data(), s1c.data(),
                            s2c.data());
    }
    for (std::int64_t ri = 0; ri < nr; ++ri)
      for (std::int64_t wi = 0; wi < nw; ++wi)
        for (std::int64_t q = 0; q < ns; ++q) {
          const std::int64_t row = ((static_cast<std::int64_t>(si) * nr + ri) * nw + wi) * ns + q;
          const std::size_t ur = static_cast<std::size_t>(row);
          auto& cd = ref.codes[ur];
          std::copy(c.begin(), c.end(), cd.begin());
          cd[gr::kReplay] = static_cast<std::int32_t>(ri);
          cd[gr::kWeight] = static_cast<std::int32_t>(wi);
          cd[gr::kStep] = static_cast<std::int32_t>(q);
          ref.start[ur] = rs.start_lr;
          const std::int64_t k = f.steps.empty() ? rs.n : f.steps[static_cast<std::size_t>(q)];
          if (!rs.valid || k > rs.n) continue;
          ref.valid[ur] = 1;
          const std::size_t i = static_cast<std::size_t>(np + k - 1);  // k = 0: the PT checkpoint itself
          const double a[4] = {s1p[i], s2p[i], s1c[i], s2c[i]};
          for (std::size_t l = 0; l < f.laws.size(); ++l)
            ref.vals[l][ur] = law_value(f.laws[l], a, f.replay[static_cast<std::size_t>(ri)]);
          if (!f.w.empty()) {
            const double wv = f.w[static_cast<std::size_t>(wi)];
            ref.vals[f.laws.size()][ur] = wv * ref.vals[static_cast<std::size_t>(f.w_law_a)][ur] +
                                          (1.0 - wv) * ref.vals[static_cast<std::size_t>(f.w_law_b)][ur];
          }
        }
  }
  return ref;
}

// -- grid outputs --------------------------------------------------------------------------
struct Rows {
  std::int64_t n = 0;
  std::vector<std::vector<double>> vals;
  std::vector<std::int32_t> codes;  // codes[a * n + r]
  std::vector<double> start;
  std::vector<double*> ptrs;
  Rows(std::int64_t outputs, std::int64_t n_) : n(n_) {
    // Filled with a sentinel: a row the grid forgets to write shows up.
    vals.assign(static_cast<std::size_t>(outputs), std::vector<double>(static_cast<std::size_t>(n), -12345.0));
    codes.assign(static_cast<std::size_t>(gr::kAxes * n), -7);
    start.assign(static_cast<std::size_t>(n), -12345.0);
    for (auto& v : vals) ptrs.push_back(v.data());
  }
  double v(std::int64_t c, std::int64_t r) const {
    return vals[static_cast<std::size_t>(c)][static_cast<std::size_t>(r)];
  }
  std::int32_t code(int a, std::int64_t r) const { return codes[static_cast<std::size_t>(a * n + r)]; }
};

Rows materialize(const gr::Grid& g, std::int64_t s0, std::int64_t s1, int threads) {
  Rows r(g.outputs(), (s1 - s0) * g.rows_per_schedule());
  g.materialize(s0, s1, r.ptrs.data(), r.codes.data(), r.start.data(), threads);
  return r;
}

// Rows [off, off + part.n) of `full` equal `part` bit for bit.
bool same_rows(const Rows& full, std::int64_t off, const Rows& part) {
  for (std::int64_t c = 0; c < static_cast<std::int64_t>(part.vals.size()); ++c)
    for (std::int64_t r = 0; r < part.n; ++r)
      if (!bit_equal(full.v(c, off + r), part.v(c, r))) return false;
  for (int a = 0; a < gr::kAxes; ++a)
    for (std::int64_t r = 0; r < part.n; ++r)
      if (full.code(a, off + r) != part.code(a, r)) return false;
  for (std::int64_t r = 0; r < part.n; ++r)
    if (!bit_equal(full.start[static_cast<std::size_t>(off + r)], part.start[static_cast<std::size_t>(r)]))
      return false;
  return true;
}

// Compares a full materialisation with the reference; `probe_from`: outputs from this index
// on are areas (absolute tolerance).
void compare_with_reference(const std::string& name, const Fixture& f, const Ref& ref, const Rows& got,
                            std::int64_t probe_from) {
  const std::int64_t rows = static_cast<std::int64_t>(ref.codes.size());
  check(got.n == rows, name + ": row count");
  if (got.n != rows) return;
  int bad_val = 0, bad_nan = 0, bad_code = 0, bad_start = 0, nonfinite_valid = 0;
  std::int64_t n_valid = 0, n_nan = 0;
  for (std::int64_t r = 0; r < rows; ++r) {
    const std::size_t ur = static_cast<std::size_t>(r);
    for (int a = 0; a < gr::kAxes; ++a) bad_code += got.code(a, r) != ref.codes[ur][static_cast<std::size_t>(a)];
    bad_start += !same(got.start[ur], ref.start[ur], 1e-15, 0.0);
    if (ref.valid[ur]) ++n_valid; else ++n_nan;
    for (std::int64_t c = 0; c < f.outputs(); ++c) {
      const double want = ref.vals[static_cast<std::size_t>(c)][ur], v = got.v(c, r);
      if (!ref.valid[ur]) {
        bad_nan += !std::isnan(v);
        continue;
      }
      if (!std::isfinite(want)) ++nonfinite_valid;
      const bool probe = c >= probe_from && c < static_cast<std::int64_t>(f.laws.size());
      if (!same(v, want, 1e-10, probe ? 1e-12 : 0.0)) {
        if (bad_val++ < 4)
          std::printf("  %s: row %lld output %lld: grid %.17g, reference %.17g\n", name.c_str(),
                      static_cast<long long>(r), static_cast<long long>(c), v, want);
      }
    }
  }
  check(bad_code == 0, name + ": codes of every row");
  check(bad_start == 0, name + ": start LR of every row");
  check(bad_val == 0, name + ": values equal the recurrence reference (rtol 1e-10)");
  check(bad_nan == 0, name + ": invalid combinations / steps beyond the schedule give NaN");
  check(nonfinite_valid == 0, name + ": valid rows are finite in the reference");
  check(n_valid > 0, name + ": has valid rows");
  (void)n_nan;
}

// -- reductions ----------------------------------------------------------------------------
struct RedSpec {
  gr::Reduction red;
  std::vector<std::int32_t> maps[gr::kAxes];
  gr::Reduction get() {
    gr::Reduction r = red;
    for (int a = 0; a < gr::kAxes; ++a)
      if (!maps[a].empty()) {
        r.map[a] = maps[a].data();
        r.map_len[a] = static_cast<std::int64_t>(maps[a].size());
      }
    return r;
  }
};

// Best-k per group by sorting the materialised rows (ties to the smaller row).
std::vector<std::vector<gr::Entry>> brute_reduce(const Rows& all, std::int64_t row0, std::int64_t row1,
                                                 const gr::Reduction& red) {
  std::vector<std::vector<gr::Entry>> out(static_cast<std::size_t>(red.groups));
  for (std::int64_t r = row0; r < row1; ++r) {
    double v = all.v(red.objective, r);
    if (std::isnan(v)) continue;
    if (red.maximize) v = -v;
    std::int64_t g = 0;
    for (int a = 0; a < gr::kAxes; ++a) {
      if (red.mul[a] == 0) continue;
      const std::int32_t c = all.code(a, r);
      g += red.mul[a] * (red.map[a] ? red.map[a][c] : c);
    }
    out[static_cast<std::size_t>(g)].push_back({v, r});
  }
  for (auto& e : out) {
    std::sort(e.begin(), e.end(), gr::entry_less);
    if (static_cast<std::int64_t>(e.size()) > red.k) e.resize(static_cast<std::size_t>(red.k));
  }
  return out;
}

bool same_topk(const gr::TopK& t, const std::vector<std::vector<gr::Entry>>& want, std::int64_t k) {
  if (t.k() != k || t.counts().size() != want.size()) return false;
  for (std::size_t g = 0; g < want.size(); ++g) {
    if (t.counts()[g] != static_cast<std::int64_t>(want[g].size())) return false;
    for (std::int64_t i = 0; i < k; ++i) {
      const gr::Entry& e = t.slots()[g * static_cast<std::size_t>(k) + static_cast<std::size_t>(i)];
      if (i < static_cast<std::int64_t>(want[g].size())) {
        if (e.v != want[g][static_cast<std::size_t>(i)].v || e.row != want[g][static_cast<std::size_t>(i)].row)
          return false;
      } else if (!(e.row == -1 && e.v == std::numeric_limits<double>::infinity())) {
        return false;
      }
    }
  }
  return true;
}

// reduce() on 1 and 3 threads and over chunks merged (as cptlaw.grid merges them) against
// the brute force over the materialised rows.
void check_reduction(const std::string& name, const gr::Grid& g, const Rows& all, RedSpec& rs,
                     const std::vector<std::int64_t>& cuts) {
  const gr::Reduction red = rs.get();
  const auto want = brute_reduce(all, 0, all.n, red);
  for (int threads : {1, 3}) {
    gr::TopK t;
    g.reduce(0, g.schedules(), red, t, threads);
    check(same_topk(t, want, red.k), name + ": reduce equals brute force, threads " + std::to_string(threads));
  }
  // Chunks [cuts[i], cuts[i+1]) reduced separately (2 threads), then merged.
  gr::TopK acc(red.groups, red.k);
  for (std::size_t i = 0; i + 1 < cuts.size(); ++i) {
    gr::TopK part;
    g.reduce(cuts[i], cuts[i + 1], red, part, 2);
    const auto wp = brute_reduce(all, cuts[i] * g.rows_per_schedule(), cuts[i + 1] * g.rows_per_schedule(), red);
    check(same_topk(part, wp, red.k), name + ": chunk reduce equals brute force over the chunk");
    acc.merge(part);
  }
  acc.finish();
  check(same_topk(acc, want, red.k), name + ": merged chunks equal the whole");
}

// -- fixtures ------------------------------------------------------------------------------
std::vector<LawDef> all_laws() {
  return {
      {"cpt", {3.057, 0.490, 0.497, 0.299, 0.298, 0.366, 28, 0.189}},       // 0 "pt"
      {"cpt", {3.024, 0.412, 0.677, 0.278, 0.324, -0.666, 5662, 0.146}},    // 1 "cpt"
      {"replay_pt", {3.0, 0.45, 0.5, 0.3, 0.3, 0.4, 0.35, 30, 0.2, 1.5}},   // 2
      {"replay_cpt", {3.0, 0.4, 0.6, 0.28, 0.32, -0.5, -0.6, 5000, 0.15, 0.8}},
      {"cpt_power_s2", {3.0, 0.5, 0.5, 0.3, 0.3, 0.36, 28, 0.19, 0.9, 1.1}},
      {"open_source", {2.5, 0.5, 0.4, 5.0, 0.3, 20, 0.2, 0.3}},
      {"annealing", {2.8, 0.5, 0.5, 0.3}},
      {"cpt_shared_c", {3.0, 0.45, 0.55, 0.3, -0.5, 400, 0.2}},
      // Probes (index 8 on): the areas themselves.
      {"cpt", {0, 0, 0, -1, 0, 0, 0, 0}},             // s2_pt
      {"cpt", {0, 0, 0, 0, -1, 0, 0, 0}},             // s2_cpt
      {"annealing", {0, 1, -1, 0}},                   // s1_pt + s1_cpt
      {"open_source", {-1, 1, -1, 1, 0, 0, 0, 0}},    // s1_cpt
  };
}
constexpr std::int64_t kProbeFrom = 8;

// Every shape, decay type, start LR, warmup (0, > 0, = steps, > steps), min LR (incl. > peak)
// and PT checkpoint, crossed with replay ratios, weights and CPT steps.
Fixture main_fixture(Split split, double lam) {
  Fixture f;
  f.split = split;
  f.lam = lam;
  f.pt.push_back(pt_wsd(2000, 100, 400, 3e-4, 3e-5));
  f.pt.push_back(pt_cosine(1500, 50, 2e-4, 2e-5));
  const double HF = gr::kStartHF, PT = gr::kStartPT;
  // shape, decay type, peak, steps, warmup, start, frac, min (ratio)
  f.block({0, 1}, {{gr::shape_cosine, gr::shape_linear, gr::shape_one_minus_sqrt}, {kNaN}, {1e-4, 3e-4}, {800, 1500},
                   {0}, {kNaN}, {kNaN}, {0.0, 0.1}});
  f.block({1, 0}, {{gr::shape_wsd},
                   {gr::decay_linear, gr::decay_cosine, gr::decay_sqrt},
                   {2e-4},
                   {1000, 1201},
                   {120, 0},
                   {HF, PT, 5e-5},
                   {0.0, 0.37, 0.5, 1.0},  // 0.37: rounds up; 0.5 of 1201: a tie (to even, as np.rint)
                   {0.05}});
  f.block({0}, {{gr::shape_constant}, {kNaN}, {1.5e-4}, {700}, {0, 100, 700, 900}, {HF, PT}, {kNaN}, {kNaN}});
  f.block({1}, {{gr::shape_cosine, gr::shape_linear, gr::shape_wsd, gr::shape_one_minus_sqrt},
                {gr::decay_cosine},
                {2.5e-4},
                {600},
                {60},
                {HF, 1e-4},
                {0.3},
                {0.2, 1.5}});  // ratio 1.5: min LR above the peak, invalid
  f.replay = {0.0, 0.5};
  f.w = {0.0, 0.3, 1.0};
  f.steps = {0, 1, 37, 400, 600, 700, 1000, 1201, 1600};
  f.laws = all_laws();
  return f;
}

void test_main_grid(Split split, double lam, bool full) {
  const std::string name = std::string("grid split ") + std::to_string(static_cast<int>(split)) + " lam " +
                           std::to_string(lam);
  Fixture f = main_fixture(split, lam);
  const gr::Spec spec = f.spec();
  const gr::Grid g(spec);
  const std::int64_t S = g.schedules();
  check(S == static_cast<std::int64_t>(f.enumerate().size()), name + ": schedules()");
  check(g.rows_per_schedule() == f.rps() && g.outputs() == f.outputs() && g.rows() == S * f.rps(),
        name + ": rows_per_schedule / outputs / rows");
  const Ref ref = reference(f);
  check(ref.invalid_schedules > 0, name + ": fixture has invalid combinations");
  const Rows all = materialize(g, 0, S, 1);
  compare_with_reference(name, f, ref, all, kProbeFrom);
  if (!full) return;

  // Threads and chunk boundaries change nothing, bit for bit.
  check(same_rows(all, 0, materialize(g, 0, S, 3)), name + ": materialize, 3 threads == 1 thread");
  const std::vector<std::int64_t> cuts = {0, 1, 7, 100, S - 1, S};
  bool chunks_ok = true;
  for (std::size_t i = 0; i + 1 < cuts.size(); ++i) {
    const Rows part = materialize(g, cuts[i], cuts[i + 1], 2);
    chunks_ok = chunks_ok && same_rows(all, cuts[i] * g.rows_per_schedule(), part);
  }
  check(chunks_ok, name + ": materialize over chunks == whole");
  const Rows none = materialize(g, 5, 5, 3);
  check(none.n == 0, name + ": empty schedule range");

  // rows(): any order, repeats, on 1 and 3 threads, equal the materialised rows.
  {
    Lcg rng(12345);
    std::vector<std::int64_t> pick;
    for (int i = 0; i < 700; ++i) pick.push_back(rng.below(g.rows()));
    pick.push_back(0);
    pick.push_back(g.rows() - 1);
    pick.push_back(pick[3]);
    const std::int64_t n = static_cast<std::int64_t>(pick.size());
    for (int threads : {1, 3}) {
      Rows got(g.outputs(), n);
      g.rows(pick.data(), n, got.ptrs.data(), got.codes.data(), got.start.data(), threads);
      bool ok = true;
      for (std::int64_t q = 0; q < n; ++q) {
        const std::int64_t r = pick[static_cast<std::size_t>(q)];
        for (std::int64_t c = 0; c < g.outputs(); ++c) ok = ok && bit_equal(got.v(c, q), all.v(c, r));
        for (int a = 0; a < gr::kAxes; ++a) ok = ok && got.code(a, q) == all.code(a, r);
        ok = ok && bit_equal(got.start[static_cast<std::size_t>(q)], all.start[static_cast<std::size_t>(r)]);
      }
      check(ok, name + ": rows() == materialize, threads " + std::to_string(threads));
    }
  }

  // Reductions.
  {  // weighted loss, best 3 per (CPT length level x step)
    RedSpec rs;
    rs.red.objective = g.outputs() - 1;
    rs.red.k = 3;
    const std::int64_t nsteps_lv = static_cast<std::int64_t>(f.levels[gr::kSteps].size());
    rs.red.mul[gr::kStep] = 1;
    rs.red.mul[gr::kSteps] = f.n_steps();
    rs.red.groups = nsteps_lv * f.n_steps();
    check_reduction(name + " weighted/steps", g, all, rs, cuts);
  }
  {  // one law, maximised, k larger than most groups, a map merging shapes, plus unused groups
    RedSpec rs;
    rs.red.objective = 4;
    rs.red.maximize = true;
    rs.red.k = 40;
    rs.maps[gr::kShape].resize(f.levels[gr::kShape].size());
    for (std::size_t i = 0; i < rs.maps[gr::kShape].size(); ++i)
      rs.maps[gr::kShape][i] = f.levels[gr::kShape][i] == gr::shape_wsd ? 1 : 0;
    rs.red.mul[gr::kShape] = 1;
    rs.red.mul[gr::kPT] = 2;
    rs.red.mul[gr::kReplay] = 4;
    rs.red.mul[gr::kWeight] = 8;
    rs.red.groups = 8 * 3 + 5;  // the last 5 never reached
    check_reduction(name + " max/mapped", g, all, rs, {0, 13, 14, S});
  }
  {  // one group, k above the number of rows
    RedSpec rs;
    rs.red.objective = 0;
    rs.red.k = g.rows() + 10;
    check_reduction(name + " k > rows", g, all, rs, {0, S / 2, S});
  }
}

// One combination, the final step, no replay / weight axes.
void test_single(Split split) {
  const std::string name = std::string("single split ") + std::to_string(static_cast<int>(split));
  Fixture f;
  f.split = split;
  f.pt.push_back(pt_wsd(3000, 200, 600, 2e-4, 1e-5));
  f.block({0}, {{gr::shape_wsd}, {gr::decay_sqrt}, {1e-4}, {2500}, {300}, {gr::kStartPT}, {0.2}, {0.1}});
  f.laws = all_laws();
  const gr::Spec spec = f.spec();
  const gr::Grid g(spec);
  check(g.schedules() == 1 && g.rows() == 1 && g.outputs() == static_cast<std::int64_t>(f.laws.size()),
        name + ": one row");
  const Ref ref = reference(f);
  const Rows all = materialize(g, 0, 1, 3);
  compare_with_reference(name, f, ref, all, kProbeFrom);
  check(all.code(gr::kStep, 0) == 0 && all.code(gr::kReplay, 0) == 0 && all.code(gr::kWeight, 0) == 0,
        name + ": crossed codes 0");
  RedSpec rs;
  rs.red.objective = 1;
  rs.red.k = 5;
  check_reduction(name, g, all, rs, {0, 0, 1, 1});
}

// Edge schedules: 1-step schedules (warmup = steps, no warmup, full WSD decay), steps = {0}
// only, and the final step with absolute min LRs (one above the peak: NaN).
void test_edges() {
  {
    Fixture f;
    f.pt.push_back(pt_cosine(500, 20, 3e-4, 3e-5));
    f.min_is_ratio = false;
    f.block({0}, {{gr::shape_constant, gr::shape_cosine, gr::shape_linear, gr::shape_wsd, gr::shape_one_minus_sqrt},
                  {gr::decay_linear},
                  {1e-4},
                  {1, 2, 3},
                  {0, 1, 2},
                  {gr::kStartHF, gr::kStartPT},
                  {1.0, 0.5},
                  {0.0, 2e-5, 2e-4}});
    f.laws = all_laws();
    using Steps = std::vector<std::int64_t>;
    for (const Steps& steps : {Steps{}, Steps{0}, Steps{0, 1, 2, 3, 4}}) {
      f.steps = steps;
      const std::string name = "edges, " + std::to_string(steps.size()) + " steps";
      const gr::Spec spec = f.spec();
      const gr::Grid g(spec);
      const Ref ref = reference(f);
      check(ref.invalid_schedules > 0, name + ": has invalid combinations");
      const Rows all = materialize(g, 0, g.schedules(), 2);
      compare_with_reference(name, f, ref, all, kProbeFrom);
      RedSpec rs;
      rs.red.objective = 0;
      rs.red.k = 2;
      rs.red.mul[gr::kSteps] = 1;
      rs.red.groups = 3;
      check_reduction(name, g, all, rs, {0, 3, g.schedules()});
    }
  }
  // Grid sizes where buffering matters: more than one block of 256 rows per schedule.
  {
    Fixture f;
    f.split = Split::by_time;
    f.pt.push_back(pt_wsd(800, 50, 100, 1e-4, 1e-5));
    f.block({0}, {{gr::shape_cosine}, {kNaN}, {1e-4, 2e-4}, {400}, {20}, {gr::kStartHF}, {kNaN}, {0.1}});
    for (std::int64_t k = 0; k <= 400; k += 1) f.steps.push_back(k);  // 401 steps per schedule
    f.replay = {0.1, 0.9};
    f.laws = all_laws();
    const gr::Spec spec = f.spec();
    const gr::Grid g(spec);
    const Ref ref = reference(f);
    const Rows all = materialize(g, 0, g.schedules(), 3);
    compare_with_reference("every step", f, ref, all, kProbeFrom);
    RedSpec rs;
    rs.red.objective = 2;
    rs.red.k = 7;
    rs.red.mul[gr::kReplay] = 1;
    rs.red.groups = 2;
    check_reduction("every step", g, all, rs, {0, 1, 2});
  }
}

// Malformed specs and ranges are exceptions, not crashes.
template <class E, class Fn>
void expect_throw(const std::string& what, Fn&& fn) {
  bool thrown = false;
  try {
    fn();
  } catch (const E&) {
    thrown = true;
  } catch (...) {
  }
  check(thrown, what + " throws");
}

void test_errors() {
  Fixture f;
  f.pt.push_back(pt_cosine(300, 10, 1e-4, 1e-5));
  f.block({0}, {{gr::shape_cosine}, {kNaN}, {1e-4}, {100}, {0}, {kNaN}, {kNaN}, {0.0}});
  f.laws = {all_laws()[0], all_laws()[1]};
  f.steps = {0, 50};
  const gr::Spec good = f.spec();
  using IA = std::invalid_argument;
  auto bad = [&](const std::string& what, auto edit) {
    gr::Spec s = good;
    edit(s);
    expect_throw<IA>("spec with " + what, [&] { gr::Grid g(s); });
  };
  const std::int64_t desc[] = {50, 0}, neg[] = {-1, 5};
  // 99: no such law; 4 (model_size): a law whose inputs the grid does not have.
  const std::int32_t wrong_kind[] = {1, 99}, no_grid_kind[] = {1, 4}, bad_codes[] = {0, 0, 0, 0, 0, 0, 0, 0, 5};
  const std::int64_t bad_off[] = {0, 0, 1};
  bad("steps descending", [&](gr::Spec& s) { s.steps = desc; });
  bad("negative step", [&](gr::Spec& s) { s.steps = neg; });
  bad("n_steps > 1 and the final step", [&](gr::Spec& s) { s.steps = nullptr; });
  bad("no law", [&](gr::Spec& s) { s.n_laws = 0; });
  bad("unknown law kind", [&](gr::Spec& s) { s.law_kind = wrong_kind; });
  bad("law without grid inputs", [&](gr::Spec& s) { s.law_kind = no_grid_kind; });
  bad("wrong parameter count", [&](gr::Spec& s) { s.law_param_off = bad_off; });
  bad("level code out of range", [&](gr::Spec& s) { s.block_codes = bad_codes; });
  bad("no PT", [&](gr::Spec& s) { s.n_pt = 0; });
  bad("weights count without weights", [&](gr::Spec& s) { s.n_w = 2; });
  bad("decay > 1", [&](gr::Spec& s) { s.lam = 1.5; });
  const gr::Grid g(good);
  std::vector<double> v0(4), v1(4), st(4);
  std::vector<std::int32_t> cd(gr::kAxes * 4);
  double* out[] = {v0.data(), v1.data()};
  using OOR = std::out_of_range;
  expect_throw<OOR>("materialize past the end", [&] { g.materialize(0, 2, out, cd.data(), st.data(), 1); });
  expect_throw<OOR>("materialize reversed range", [&] { g.materialize(1, 0, out, cd.data(), st.data(), 1); });
  const std::int64_t far[] = {2};
  expect_throw<OOR>("rows past the end", [&] { g.rows(far, 1, out, cd.data(), st.data(), 1); });
  gr::Reduction red;
  gr::TopK t;
  red.objective = 2;  // no weighted loss: outputs are 0, 1
  expect_throw<IA>("reduce objective out of range", [&] { g.reduce(0, 1, red, t, 1); });
  red.objective = 0;
  red.k = 0;
  expect_throw<IA>("reduce k = 0", [&] { g.reduce(0, 1, red, t, 1); });
}

}  // namespace

// Cancellation keeps finished work: materialize flags the schedules it completed (their rows
// equal an uninterrupted run's), reduce hands in the reduction over the rows it evaluated.
void test_cancel() {
  Fixture f;
  f.pt.push_back(pt_wsd(3000, 200, 600, 2e-4, 1e-5));
  std::vector<double> peaks;
  for (int i = 0; i < 2000; ++i) peaks.push_back(1e-5 * (1 + i));
  // 1-sqrt decays have no closed form: each schedule costs ~its 200K decay steps.
  f.block({0}, {{gr::shape_wsd}, {gr::decay_sqrt}, peaks, {400000}, {0}, {gr::kStartHF}, {0.5}, {0.0}});
  f.laws = {all_laws()[1]};
  f.steps = {1, 1000, 400000};
  const gr::Spec spec = f.spec();
  const gr::Grid g(spec);
  const std::int64_t S = g.schedules(), rps = g.rows_per_schedule();
  // The poll stops the call at its second check (~60 ms in): long before 2000 schedules.
  int polls = 0;
  auto stop_second = [](void* ctx) { return ++*static_cast<int*>(ctx) >= 2; };
  {
    Rows part(g.outputs(), S * rps);
    std::vector<std::uint8_t> done(static_cast<std::size_t>(S), 0);
    bool stopped = false;
    try {
      cptlaw::CancelScope scope(stop_second, &polls);
      g.materialize(0, S, part.ptrs.data(), part.codes.data(), part.start.data(), 2, done.data());
    } catch (const cptlaw::Cancelled&) {
      stopped = true;
    }
    check(stopped, "cancel: materialize stops");
    std::int64_t n_done = 0;
    bool rows_ok = true;
    for (std::int64_t s = 0; s < S; ++s) {
      if (!done[static_cast<std::size_t>(s)]) continue;
      ++n_done;
      const Rows one = materialize(g, s, s + 1, 1);
      Rows mine(g.outputs(), rps);
      for (std::int64_t c = 0; c < g.outputs(); ++c)
        for (std::int64_t r = 0; r < rps; ++r) mine.vals[c][r] = part.v(c, s * rps + r);
      for (int a = 0; a < gr::kAxes; ++a)
        for (std::int64_t r = 0; r < rps; ++r) mine.codes[a * rps + r] = part.code(a, s * rps + r);
      for (std::int64_t r = 0; r < rps; ++r) mine.start[r] = part.start[s * rps + r];
      rows_ok = rows_ok && same_rows(one, 0, mine);
    }
    check(n_done < S, "cancel: not every schedule done");
    check(rows_ok, "cancel: the rows of finished schedules are complete and exact");
  }
  {
    polls = 0;
    gr::Reduction red;
    red.objective = 0;
    red.k = 3;
    gr::TopK top;
    std::int64_t seen = -1;
    bool stopped = false;
    try {
      cptlaw::CancelScope scope(stop_second, &polls);
      g.reduce(0, S, red, top, 2, &seen);
    } catch (const cptlaw::Cancelled&) {
      stopped = true;
    }
    check(stopped, "cancel: reduce stops");
    check(seen >= 0 && seen < S * rps, "cancel: reduce counts the rows it saw");
    std::int64_t kept = top.counts()[0];
    check(kept == std::min<std::int64_t>(3, seen), "cancel: the reduction holds the rows seen");
  }
}

int run_grid_tests() {
  g_failures = 0;
  const int before = cptlaw_test::passed();
  test_main_grid(Split::by_source, 0.999, true);
  test_main_grid(Split::by_time, 0.99, true);
  test_main_grid(Split::restart, 0.999, false);
  test_main_grid(Split::by_source, 0.9, false);
  test_main_grid(Split::by_source, 1.0, false);  // the decay factor's edge regimes
  test_main_grid(Split::by_time, 0.0, false);
  test_single(Split::by_source);
  test_single(Split::by_time);
  test_edges();
  test_errors();
  test_cancel();
  std::printf("grid tests: %s (%d passed, %d failures)\n", g_failures == 0 ? "ok" : "FAILED",
              cptlaw_test::passed() - before, g_failures);
  return g_failures;
}
