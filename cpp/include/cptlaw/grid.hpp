// Grid search over CPT schedule families (issue 4): evaluate fitted laws over the
// Cartesian product of schedule parameters without building per-step LR arrays.
//
// The grid is a list of *blocks*; each block is the product of level lists over the nine
// schedule axes (PT checkpoint, CPT shape, WSD decay type, peak LR, CPT steps, warmup,
// re-warmup start LR, WSD decay fraction, min LR). A schedule index s in [0, schedules())
// runs over the blocks in order and, inside a block, over the axes in that order (the last
// fastest). Each schedule is crossed with the replay ratios, the loss weights w and the
// evaluation steps (the last fastest), giving
//
//     row = ((s * n_replay + replay) * n_w + w) * n_steps + step.
//
// Per schedule: the CPT segments are built from the parameters (the formulas of
// cptlaw.schedules, i.e. Hugging Face's), the areas at the requested CPT step counts come
// from the closed forms of schedule.hpp (entered with the PT checkpoint's final state, as
// CPTPair does), and the laws are evaluated on blocks of rows with laws.hpp. Results are
// either written out (materialize / rows) or fed to a per-group best-k reduction (reduce),
// so a chunk of any size needs O(groups * k) memory. Work is split across threads by
// schedule; nothing here touches Python. One schedule's decoding (locate, resolve), its
// areas (schedule_areas), a row's loss (law_value) and group (row_group) are CPTLAW_HD
// functions of the Spec: the CUDA grid kernels (cpp/cuda) run the same code per thread.
#pragma once

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <limits>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "cptlaw/areas.hpp"
#include "cptlaw/cancel.hpp"
#include "cptlaw/law_registry.hpp"
#include "cptlaw/parallel.hpp"
#include "cptlaw/schedule.hpp"

namespace cptlaw {
namespace grid {

// Axes. The first kScheduleAxes define a schedule (and are the block axes); the last
// three cross every schedule.
enum Axis : int {
  kPT = 0,         // PT checkpoint index
  kShape = 1,      // CPT shape code (ShapeCode)
  kDecayType = 2,  // WSD decay type code (DecayCode); NaN level where irrelevant
  kPeak = 3,       // CPT peak LR
  kSteps = 4,      // CPT length (steps)
  kWarmup = 5,     // CPT (re-)warmup steps
  kStart = 6,      // LR at the first warmup step: kStartHF, kStartPT or an LR; NaN if no warmup
  kFrac = 7,       // WSD decay fraction of the post-warmup steps; NaN where irrelevant
  kMin = 8,        // min LR (absolute or ratio of peak, see Spec::min_is_ratio); NaN where irrelevant
  kScheduleAxes = 9,
  kReplay = 9,  // replay ratio r_pt
  kWeight = 10,  // loss weight w
  kStep = 11,    // evaluation step (CPT step count)
  kAxes = 12,
};

// shape_one_minus_sqrt: a 1-sqrt decay over every step after the warmup (schedules.one_minus_sqrt).
enum ShapeCode : int {
  shape_constant = 0,
  shape_linear = 1,
  shape_cosine = 2,
  shape_wsd = 3,
  shape_one_minus_sqrt = 4,
};
enum DecayCode : int { decay_linear = 0, decay_cosine = 1, decay_sqrt = 2 };
// start_lr levels: Hugging Face's own start (0, or min_lr for WSD) / the PT checkpoint's final LR.
constexpr double kStartHF = -1.0, kStartPT = -2.0;

// Laws are given by their kind code: the index in the law registry (law_registry.hpp),
// which also says how each reads the rows' areas. visit_law calls f(laws::Kind<Law, grid
// inputs>{}) for the law of kind code `kind` if the grid can evaluate it (nothing
// otherwise): the one dispatch over the grid's laws, for the CPU's blocks of rows and the
// CUDA rows alike.
CPTLAW_NO_EXEC_CHECK
template <class F>
CPTLAW_HD void visit_law(int kind, F&& f) {
  laws::visit_law(kind, [&](auto k) {
    if constexpr (decltype(k)::grid != laws::GridInputs::none) f(k);
  });
}

// Loss of one row under law kind `kind` with parameters p; x = (s1_pt, s2_pt, s1_cpt, s2_cpt, r_pt).
CPTLAW_HD inline double law_value(int kind, const double* p, const double* x) {
  double v = std::numeric_limits<double>::quiet_NaN();
  visit_law(kind, [&](auto k) {
    using K = decltype(k);
    using Law = typename K::law;
    double raw[Law::n_inputs], z[Law::n_prep];
    for (int i = 0; i < Law::n_inputs; ++i) raw[i] = x[i];
    if constexpr (K::grid == laws::GridInputs::whole) {
      raw[0] = x[0] + x[2];
      raw[1] = x[1] + x[3];
    } else if constexpr (K::grid == laws::GridInputs::cpt_only) {
      raw[0] = x[2];
      raw[1] = x[3];
    }
    Law::prepare(raw, z);
    v = Law::template eval<false>(p, z, nullptr);
  });
  return v;
}

// The weighted loss w L_a + (1 - w) L_b (P1 Eq. 5).
CPTLAW_HD inline double weighted_loss(double w, double la, double lb) { return w * la + (1.0 - w) * lb; }

// Everything a grid needs, as flat arrays (the caller keeps them alive).
struct Spec {
  // PT checkpoints: state after the last PT step, rows of (S1, S2, m, lr); n_pt >= 1.
  const double* pt_state = nullptr;
  std::int64_t n_pt = 0;
  // Level values of schedule axes 1..8 (index kPT unused).
  const double* levels[kScheduleAxes] = {};
  std::int64_t n_levels[kScheduleAxes] = {};
  // Blocks: block b is the product over axes a of the level indices
  // codes[code_off[b*9 + a] .. + size[b*9 + a]) (for kPT: PT checkpoint indices).
  std::int64_t n_blocks = 0;
  const std::int64_t* block_size = nullptr;
  const std::int64_t* block_code_off = nullptr;
  const std::int32_t* block_codes = nullptr;
  std::int64_t n_codes = 0;
  bool min_is_ratio = true;
  // Crossed axes.
  const double* replay = nullptr;  // r_pt values, n_replay >= 1
  std::int64_t n_replay = 1;
  const double* w = nullptr;  // null: no weighted loss (then n_w must be 1)
  std::int64_t n_w = 1;
  const std::int64_t* steps = nullptr;  // CPT step counts, ascending, >= 0; null: the final step
  std::int64_t n_steps = 1;
  // Areas.
  double lam = 0.999;
  Split split = Split::by_source;
  // Laws: registry kind codes, parameters law_params[param_off[l] .. param_off[l+1]).
  std::int64_t n_laws = 0;
  const std::int32_t* law_kind = nullptr;
  const double* law_params = nullptr;
  const std::int64_t* law_param_off = nullptr;
  // Weighted loss w * L[w_law_a] + (1 - w) * L[w_law_b] (used when w != null).
  std::int64_t w_law_a = 0, w_law_b = 0;
};

// A best-k per group reduction (of the rows' objective values, smallest first; ties go to
// the smaller row index, so the result does not depend on chunking or thread count).
struct Reduction {
  std::int64_t objective = 0;  // output column: law index, or n_laws for the weighted loss
  bool maximize = false;       // rank by -value
  std::int64_t k = 1;
  std::int64_t groups = 1;
  // group = sum_a mul[a] * map_a(code[a]), map_a = identity when map[a] is null.
  std::int64_t mul[kAxes] = {};
  const std::int32_t* map[kAxes] = {};
  std::int64_t map_len[kAxes] = {};
};

// Group of a row with schedule codes `code` at replay, weight and step levels ri, wi, q.
CPTLAW_HD inline std::int64_t row_group(const Reduction& red, const std::int32_t* code, std::int64_t ri,
                                        std::int64_t wi, std::int64_t q) {
  std::int64_t grp = 0;
  auto add = [&](int a, std::int64_t c) {
    if (red.mul[a] == 0) return;
    grp += red.mul[a] * (red.map[a] ? red.map[a][c] : c);
  };
  for (int a = 0; a < kScheduleAxes; ++a) add(a, code[a]);
  add(kReplay, ri);
  add(kWeight, wi);
  add(kStep, q);
  return grp;
}

struct Entry {
  double v;
  std::int64_t row;
};
inline bool entry_less(const Entry& a, const Entry& b) { return a.v < b.v || (a.v == b.v && a.row < b.row); }

// k best entries of each group (max-heaps of size k, sorted on finish()).
class TopK {
 public:
  TopK() = default;
  TopK(std::int64_t groups, std::int64_t k)
      : k_(k), slots_(static_cast<std::size_t>(groups * k), Entry{std::numeric_limits<double>::infinity(), -1}),
        count_(static_cast<std::size_t>(groups), 0) {}

  void insert(std::int64_t g, double v, std::int64_t row) {
    Entry* h = slots_.data() + g * k_;
    std::int64_t& c = count_[static_cast<std::size_t>(g)];
    const Entry e{v, row};
    if (c < k_) {
      h[c++] = e;
      std::push_heap(h, h + c, entry_less);
    } else if (entry_less(e, h[0])) {
      std::pop_heap(h, h + k_, entry_less);
      h[k_ - 1] = e;
      std::push_heap(h, h + k_, entry_less);
    }
  }
  void merge(const TopK& o) {
    const std::int64_t G = static_cast<std::int64_t>(count_.size());
    for (std::int64_t g = 0; g < G; ++g) {
      const Entry* h = o.slots_.data() + g * k_;
      for (std::int64_t i = 0; i < o.count_[static_cast<std::size_t>(g)]; ++i) insert(g, h[i].v, h[i].row);
    }
  }
  // Each group's entries in ascending order; empty slots (v = inf, row = -1) after them.
  void finish() {
    const std::int64_t G = static_cast<std::int64_t>(count_.size());
    for (std::int64_t g = 0; g < G; ++g) {
      Entry* h = slots_.data() + g * k_;
      std::sort(h, h + count_[static_cast<std::size_t>(g)], entry_less);
    }
  }
  std::int64_t k() const { return k_; }
  const std::vector<Entry>& slots() const { return slots_; }
  const std::vector<std::int64_t>& counts() const { return count_; }

 private:
  std::int64_t k_ = 1;
  std::vector<Entry> slots_;
  std::vector<std::int64_t> count_;
};

// One schedule's parameters, resolved from its level codes.
struct Config {
  std::int32_t code[kScheduleAxes] = {};
  const double* pt = nullptr;  // S1, S2, m, lr after PT
  int shape = 0, dtype = 0;
  double peak = 0.0;
  std::int64_t n = 0, W = 0, D = 0;
  double floor = 0.0;  // min LR / peak
  double start = 0.0;  // warmup start LR / peak
  double start_lr = 0.0;  // reported start LR (NaN without warmup)
  bool valid = true;
};

// -- one schedule, as CPTLAW_HD functions of the spec (host or device pointers) ----------------

// Position of a schedule: its block and the index into each axis' code list.
struct Cursor {
  std::int64_t block = 0;
  std::int64_t pos[kScheduleAxes] = {};
};

// Cursor of schedule s; starts[b] is the first schedule of block b (n_blocks + 1 entries).
CPTLAW_HD inline Cursor locate(const Spec& sp, const std::int64_t* starts, std::int64_t s) {
  Cursor c;
  std::int64_t lo = 0, hi = sp.n_blocks + 1;  // upper_bound(starts, s) - 1
  while (lo < hi) {
    const std::int64_t mid = lo + (hi - lo) / 2;
    if (starts[mid] <= s) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  c.block = lo - 1;
  std::int64_t local = s - starts[c.block];
  for (int a = kScheduleAxes - 1; a >= 0; --a) {
    const std::int64_t size = sp.block_size[c.block * kScheduleAxes + a];
    c.pos[a] = local % size;
    local /= size;
  }
  return c;
}

// The cursor of the next schedule.
CPTLAW_HD inline void next(const Spec& sp, Cursor& c) {
  for (int a = kScheduleAxes - 1; a >= 0; --a) {
    if (++c.pos[a] < sp.block_size[c.block * kScheduleAxes + a]) return;
    c.pos[a] = 0;
  }
  ++c.block;  // wrapped: first schedule of the next block (positions already 0)
}

CPTLAW_HD inline Config resolve(const Spec& sp, const Cursor& cur) {
  Config c;
  for (int a = 0; a < kScheduleAxes; ++a)
    c.code[a] = sp.block_codes[sp.block_code_off[cur.block * kScheduleAxes + a] + cur.pos[a]];
  auto level = [&](int a) { return sp.levels[a][c.code[a]]; };
  c.pt = sp.pt_state + 4 * static_cast<std::int64_t>(c.code[kPT]);
  c.shape = static_cast<int>(level(kShape));
  c.peak = level(kPeak);
  c.n = static_cast<std::int64_t>(level(kSteps));
  c.W = static_cast<std::int64_t>(level(kWarmup));
  c.valid = c.W <= c.n && c.n >= 1 && c.peak > 0.0;
  if (c.shape != shape_constant) {
    const double m = level(kMin);
    c.floor = sp.min_is_ratio ? m : m / c.peak;  // schedules._min_ratio: min_lr / peak
    c.valid = c.valid && (sp.min_is_ratio ? m <= 1.0 : m <= c.peak);
  }
  if (c.shape == shape_wsd) {
    c.dtype = static_cast<int>(level(kDecayType));
    c.D = static_cast<std::int64_t>(std::nearbyint(level(kFrac) * static_cast<double>(c.n - c.W)));
    if (c.valid && (c.D < 0 || c.D > c.n - c.W)) c.valid = false;
  }
  // Warmup start: HF starts at 0 (at min_lr for its WSD schedule, which 1-sqrt is); "pt"
  // continues from the PT LR.
  c.start_lr = std::numeric_limits<double>::quiet_NaN();
  if (c.W > 0) {
    const double st = level(kStart);
    if (st == kStartHF) {
      const bool from_min = c.shape == shape_wsd || c.shape == shape_one_minus_sqrt;
      c.start = from_min ? c.floor : 0.0;
      c.start_lr = !from_min ? 0.0 : (sp.min_is_ratio ? c.floor * c.peak : level(kMin));
    } else {
      c.start_lr = st == kStartPT ? c.pt[3] : st;
      c.start = c.start_lr / c.peak;
    }
  }
  return c;
}

// CPT segments, as cptlaw.schedules builds them (cosine, linear, 1-sqrt, wsd, rewarmup); at most 4.
CPTLAW_HD inline int segments(const Config& c, sched::Segment* out) {
  int k = 0;
  auto add = [&](std::int64_t len, sched::Shape shape, double floor, double off, double den, double a) {
    if (len <= 0) return;
    sched::Segment& s = out[k++];
    s.len = len;
    s.shape = shape;
    s.scale = c.peak;
    s.floor = floor;
    s.off = off;
    s.den = den;
    s.a = a;
    s.b = 0.0;
  };
  auto dmax = [](std::int64_t v) { return static_cast<double>(std::max<std::int64_t>(1, v)); };
  add(c.W, sched::Shape::linear, c.start, 0.0, dmax(c.W), 0.0);
  const std::int64_t rest = c.n - c.W;
  switch (c.shape) {
    case shape_constant:
      add(rest, sched::Shape::constant, 0.0, 0.0, 1.0, 0.0);
      break;
    case shape_cosine:
      add(rest, sched::Shape::cosine, c.floor, 0.0, dmax(rest), 0.5);
      break;
    case shape_linear:
      add(rest, sched::Shape::ratio_down, c.floor, static_cast<double>(rest), dmax(rest), 0.0);
      break;
    case shape_one_minus_sqrt:  // no closed form: its areas cost O(steps after the warmup)
      add(rest, sched::Shape::sqrt_down, c.floor, 0.0, dmax(rest), 0.5);
      break;
    default: {
      add(rest - c.D, sched::Shape::constant, 0.0, 0.0, 1.0, 0.0);
      const sched::Shape ds = c.dtype == decay_cosine ? sched::Shape::cosine
                              : c.dtype == decay_sqrt ? sched::Shape::sqrt_down
                                                      : sched::Shape::one_minus;
      add(c.D, ds, c.floor, 0.0, dmax(c.D), 0.5);
      break;
    }
  }
  return k;
}

// Areas of one valid schedule at ascending CPT step counts steps[0..ns) (steps null: the
// final step), entered with the PT checkpoint's final state under the transfer rule of
// areas.hpp (as CPTPair does): one sweep over its pieces; inside a recurrence-only piece a
// cursor continues from the previous step. out(q, a) receives a = (S1_pt, S2_pt, S1_cpt,
// S2_cpt) at steps[q] (NaN beyond the schedule); pt_dec(q) is sched::pt_momentum_area(dc,
// steps[q]) (pt_dec(0) = pt_momentum_area(dc, c.n) for the final step).
CPTLAW_NO_EXEC_CHECK
template <class PtDecay, class Out>
CPTLAW_HD void schedule_areas(const Config& c, const sched::Decay& dc, Split split, const std::int64_t* steps,
                              std::int64_t ns, PtDecay&& pt_dec, Out&& out) {
  const double* f = c.pt;
  const Transfer tr = transfer(split, f[2], f[3], f[1]);
  auto write = [&](std::int64_t q, std::int64_t k, const sched::State& st) {
    double a[4] = {f[0], f[1], 0.0, 0.0};
    if (k != 0) {
      if (tr.pt_continues) a[1] += pt_dec(q) * tr.pt_m;
      a[2] = st.s1;
      a[3] = st.s2;
    }
    out(q, a);
  };
  sched::Segment seg[4];
  const int np = segments(c, seg);
  sched::Piece pc[4];
  std::int64_t start = 0;
  for (int i = 0; i < np; ++i) {
    pc[i] = sched::detail::make_piece(seg[i], start, dc, nullptr);
    start += seg[i].len;
  }
  sched::State entry;
  entry.m = tr.cpt_m;
  entry.x = tr.prev_lr;
  entry.s2 = tr.cpt_s2;
  if (!steps) {  // the final step
    for (int i = 0; i < np; ++i) sched::advance(entry, pc[i], seg[i].len, dc, nullptr);
    write(0, c.n, entry);
    return;
  }
  int pi = 0;
  std::int64_t pstart = 0, cur_j = -1;
  sched::State cur;
  for (std::int64_t q = 0; q < ns; ++q) {
    const std::int64_t k = steps[q];
    if (k == 0) {
      write(q, 0, entry);
      continue;
    }
    if (k > c.n) {  // beyond this schedule (steps ascend: so are the rest)
      const double nan = std::numeric_limits<double>::quiet_NaN();
      const double a[4] = {nan, nan, nan, nan};
      for (; q < ns; ++q) out(q, a);
      break;
    }
    const std::int64_t t = k - 1;
    while (t >= pstart + seg[pi].len) {
      if (cur_j >= 0) {
        sched::advance_steps(cur, pc[pi], cur_j, seg[pi].len, dc, nullptr);
        entry = cur;
      } else {
        sched::advance(entry, pc[pi], seg[pi].len, dc, nullptr);
      }
      pstart += seg[pi].len;
      ++pi;
      cur_j = -1;
    }
    const std::int64_t kk = t - pstart + 1;
    if (pc[pi].kind == sched::Piece::generic) {
      if (cur_j < 0) {
        cur = entry;
        cur_j = 0;
      }
      sched::advance_steps(cur, pc[pi], cur_j, kk, dc, nullptr);
      cur_j = kk;
      write(q, k, cur);
    } else {
      sched::State st = entry;
      sched::advance(st, pc[pi], kk, dc, nullptr);
      write(q, k, st);
    }
  }
}

class Grid {
 public:
  // Rows of law inputs evaluated together.
  static constexpr std::int64_t kBlock = 256;

  explicit Grid(const Spec& s) : s_(s), dc_(s.lam) {
    auto bad = [](const std::string& what) { throw std::invalid_argument("grid spec: " + what); };
    if (s.n_pt < 1 || !s.pt_state) bad("no PT checkpoint");
    if (s.n_blocks < 1) bad("no block");
    if (s.n_replay < 1 || !s.replay) bad("no replay level");
    if (s.w == nullptr && s.n_w != 1) bad("n_w without weights");
    if (s.n_w < 1) bad("no weight level");
    if (s.n_steps < 1) bad("no step");
    if (s.steps) {
      for (std::int64_t i = 0; i < s.n_steps; ++i)
        if (s.steps[i] < 0 || (i > 0 && s.steps[i] <= s.steps[i - 1])) bad("steps must be ascending and >= 0");
    } else if (s.n_steps != 1) {
      bad("the final step is one step");
    }
    if (s.n_laws < 1) bad("no law");
    const auto& reg = laws::registry();
    for (std::int64_t l = 0; l < s.n_laws; ++l) {
      const int kind = s.law_kind[l];
      if (kind < 0 || kind >= static_cast<int>(reg.size()) || reg[kind].grid == laws::GridInputs::none)
        bad("unknown law kind");
      if (s.law_param_off[l + 1] - s.law_param_off[l] != reg[kind].n_params) bad("wrong parameter count");
    }
    if (s.w && (s.w_law_a < 0 || s.w_law_a >= s.n_laws || s.w_law_b < 0 || s.w_law_b >= s.n_laws))
      bad("weighted laws out of range");
    starts_.assign(static_cast<std::size_t>(s.n_blocks) + 1, 0);
    for (std::int64_t b = 0; b < s.n_blocks; ++b) {
      std::int64_t count = 1;
      for (int a = 0; a < kScheduleAxes; ++a) {
        const std::int64_t size = s.block_size[b * kScheduleAxes + a];
        const std::int64_t off = s.block_code_off[b * kScheduleAxes + a];
        if (size < 1 || off < 0 || off + size > s.n_codes) bad("block codes out of range");
        const std::int64_t nlev = a == kPT ? s.n_pt : s.n_levels[a];
        for (std::int64_t i = 0; i < size; ++i) {
          const std::int32_t c = s.block_codes[off + i];
          if (c < 0 || c >= nlev) bad("level code out of range");
        }
        if (count > std::numeric_limits<std::int64_t>::max() / size) bad("too many combinations");
        count *= size;
      }
      starts_[static_cast<std::size_t>(b) + 1] = starts_[static_cast<std::size_t>(b)] + count;
    }
    // by_source: S2_pt after k CPT steps is S2_pt(T) + m_pt * sum_{r=1..k} lam^r; the factor
    // depends on k only (sched::pt_momentum_area, as CPTPair::areas_at).
    if (s.steps) {
      pt_decay_.resize(static_cast<std::size_t>(s.n_steps));
      for (std::int64_t q = 0; q < s.n_steps; ++q) pt_decay_[static_cast<std::size_t>(q)] = pt_decay(s.steps[q]);
    }
    rows_per_schedule_ = s.n_replay * s.n_w * s.n_steps;
    outputs_ = s.n_laws + (s.w ? 1 : 0);
  }

  std::int64_t schedules() const { return starts_.back(); }
  std::int64_t rows_per_schedule() const { return rows_per_schedule_; }
  std::int64_t rows() const { return schedules() * rows_per_schedule_; }
  std::int64_t outputs() const { return outputs_; }
  // What a device copy of the grid needs besides the spec's arrays.
  const Spec& spec() const { return s_; }
  const sched::Decay& decay() const { return dc_; }
  const std::vector<std::int64_t>& block_starts() const { return starts_; }
  const std::vector<double>& pt_decays() const { return pt_decay_; }  // pt_decay(steps[q])

  // Rows of schedules [s0, s1): out[c][r] for each output column c (laws, then the weighted
  // loss), codes[a * nrows + r] the level code of every axis, start[r] the re-warmup start LR
  // (NaN without warmup); r = row - s0 * rows_per_schedule(). With `done` (s1 - s0 flags),
  // done[s - s0] = 1 once schedule s is written: after Cancelled, those rows are complete.
  void materialize(std::int64_t s0, std::int64_t s1, double* const* out, std::int32_t* codes, double* start,
                   int threads, std::uint8_t* done = nullptr) const {
    check_range(s0, s1);
    const std::int64_t nrows = (s1 - s0) * rows_per_schedule_;
    const std::int64_t row0 = s0 * rows_per_schedule_;
    Writer sink{this, out, codes, start, nrows};
    for_blocks(s0, s1, threads, [&](std::int64_t b, std::int64_t e) {
      run_schedules(b, e, row0, sink);
      if (done) std::fill(done + (b - s0), done + (e - s0), std::uint8_t{1});
    });
  }

  // Best-k reduction of the rows of schedules [s0, s1) into `result` (groups x k; finished).
  // `rows_seen` (optional) counts the rows fed to it. After Cancelled, `result` holds the
  // (finished) reduction over those rows.
  void reduce(std::int64_t s0, std::int64_t s1, const Reduction& red, TopK& result, int threads,
              std::int64_t* rows_seen = nullptr) const {
    check_range(s0, s1);
    if (red.objective < 0 || red.objective >= outputs_) throw std::invalid_argument("grid: objective out of range");
    if (red.k < 1 || red.groups < 1) throw std::invalid_argument("grid: k and groups must be >= 1");
    result = TopK(red.groups, red.k);
    std::mutex mu;
    std::int64_t seen = 0;
    std::atomic<std::int64_t> next{s0};
    const std::int64_t block = block_size(s1 - s0, threads);
    const std::int64_t tasks = tasks_for(s1 - s0, block, threads);
    // One task per thread, each with its own best-k, pulling small blocks of schedules; a
    // task that stops early still hands in what it has.
    try {
      parallel_for(tasks, static_cast<int>(tasks), 1, [&](std::int64_t, std::int64_t) {
        Reducer sink{this, &red, TopK(red.groups, red.k)};
        auto hand_in = [&] {
          std::lock_guard<std::mutex> lock(mu);
          result.merge(sink.top);
          seen += sink.rows;
        };
        try {
          for (std::int64_t b; (b = next.fetch_add(block)) < s1;) run_schedules(b, std::min(s1, b + block), 0, sink);
        } catch (...) {
          hand_in();
          throw;
        }
        hand_in();
      });
    } catch (...) {
      result.finish();
      if (rows_seen) *rows_seen = seen;
      throw;
    }
    result.finish();
    if (rows_seen) *rows_seen = seen;
  }

  // The given rows (any order, repeats allowed): out[c][q], codes[a * n + q], start[q].
  void rows(const std::int64_t* rows, std::int64_t n, double* const* out, std::int32_t* codes, double* start,
            int threads) const {
    const std::int64_t total = this->rows();
    for (std::int64_t q = 0; q < n; ++q)
      if (rows[q] < 0 || rows[q] >= total) throw std::out_of_range("grid: row index out of range");
    Writer sink{this, out, codes, start, n};
    parallel_for(n, threads, 256, [&](std::int64_t b, std::int64_t e) { run_rows(rows, b, e, sink); });
  }

  // Threads worth starting for n schedules in blocks of `block`: no more than blocks.
  static std::int64_t tasks_for(std::int64_t n, std::int64_t block, int threads) {
    return std::max<std::int64_t>(1, std::min<std::int64_t>(std::max(threads, 1), (n + block - 1) / block));
  }

 private:
  // Schedules per work item: ~2K rows (a fraction of a millisecond), so threads finish
  // together; fewer when the range is small.
  std::int64_t block_size(std::int64_t n, int threads) const {
    const std::int64_t fine = std::max<std::int64_t>(1, 2048 / rows_per_schedule_);
    const std::int64_t even = (n + 4 * std::max(threads, 1) - 1) / (4 * std::max(threads, 1));
    return std::max<std::int64_t>(1, std::min(fine, even));
  }
  // fn(b, e) over blocks of [s0, s1), handed out dynamically to `threads` threads.
  template <class Fn>
  void for_blocks(std::int64_t s0, std::int64_t s1, int threads, Fn&& fn) const {
    if (s1 <= s0) return;
    std::atomic<std::int64_t> next{s0};
    const std::int64_t block = block_size(s1 - s0, threads);
    const std::int64_t tasks = tasks_for(s1 - s0, block, threads);
    parallel_for(tasks, static_cast<int>(tasks), 1, [&](std::int64_t, std::int64_t) {
      for (std::int64_t b; (b = next.fetch_add(block)) < s1;) fn(b, std::min(s1, b + block));
    });
  }

  // -- decoding ---------------------------------------------------------------------------
  void check_range(std::int64_t s0, std::int64_t s1) const {
    if (s0 < 0 || s1 < s0 || s1 > schedules()) throw std::out_of_range("grid: schedule range out of range");
  }

  Cursor locate(std::int64_t s) const { return grid::locate(s_, starts_.data(), s); }
  void next(Cursor& c) const { grid::next(s_, c); }
  Config resolve(const Cursor& cur) const { return grid::resolve(s_, cur); }

  // -- one schedule's areas -----------------------------------------------------------------
  // Areas (S1_pt, S2_pt, S1_cpt, S2_cpt) of one schedule at every requested step.
  void schedule_areas(const Config& c, double* s1p, double* s2p, double* s1c, double* s2c) const {
    const std::int64_t ns = s_.n_steps;
    const double nan = std::numeric_limits<double>::quiet_NaN();
    if (!c.valid) {
      std::fill(s1p, s1p + ns, nan);
      std::fill(s2p, s2p + ns, nan);
      std::fill(s1c, s1c + ns, nan);
      std::fill(s2c, s2c + ns, nan);
      return;
    }
    auto pt_dec = [&](std::int64_t q) { return s_.steps ? pt_decay_[static_cast<std::size_t>(q)] : pt_decay(c.n); };
    grid::schedule_areas(c, dc_, s_.split, s_.steps, ns, pt_dec, [&](std::int64_t q, const double* a) {
      s1p[q] = a[0];
      s2p[q] = a[1];
      s1c[q] = a[2];
      s2c[q] = a[3];
    });
  }

  // -- law evaluation on buffered rows ----------------------------------------------------
  struct RowInfo {
    std::int32_t code[kScheduleAxes];
    std::int32_t replay, step, w0, w1;
    double start_lr;
    std::int64_t row;      // row index at w = 0
    std::int64_t out;      // output position at w = w0
    std::int64_t out_step; // output stride per weight level
  };

  struct Buffer {
    std::vector<double> x[5], sum1, sum2;
    std::vector<std::vector<double>> loss;
    std::vector<RowInfo> info;
    std::int64_t n = 0;
    explicit Buffer(std::int64_t n_laws) : loss(static_cast<std::size_t>(n_laws)), info(kBlock) {
      for (auto& v : x) v.resize(kBlock);
      sum1.resize(kBlock);
      sum2.resize(kBlock);
      for (auto& v : loss) v.resize(kBlock);
    }
  };

  void eval_laws(Buffer& buf) const {
    const std::int64_t n = buf.n;
    const double* x[5] = {buf.x[0].data(), buf.x[1].data(), buf.x[2].data(), buf.x[3].data(), buf.x[4].data()};
    for (std::int64_t l = 0; l < s_.n_laws; ++l) {
      const double* p = s_.law_params + s_.law_param_off[l];
      double* out = buf.loss[static_cast<std::size_t>(l)].data();
      visit_law(s_.law_kind[l], [&](auto k) {
        using K = decltype(k);
        const double* in[5] = {x[0], x[1], x[2], x[3], x[4]};
        if constexpr (K::grid == laws::GridInputs::whole) {
          for (std::int64_t i = 0; i < n; ++i) {
            buf.sum1[i] = x[0][i] + x[2][i];
            buf.sum2[i] = x[1][i] + x[3][i];
          }
          in[0] = buf.sum1.data();
          in[1] = buf.sum2.data();
        } else if constexpr (K::grid == laws::GridInputs::cpt_only) {
          in[0] = x[2];
          in[1] = x[3];
        }
        laws::eval_dense<typename K::law>(p, in, n, out);
      });
    }
  }

  // Output value c of buffered row i at weight level wi.
  double value(const Buffer& buf, std::int64_t i, std::int64_t c, std::int64_t wi) const {
    if (c < s_.n_laws) return buf.loss[static_cast<std::size_t>(c)][i];
    return weighted_loss(s_.w[wi], buf.loss[static_cast<std::size_t>(s_.w_law_a)][i],
                         buf.loss[static_cast<std::size_t>(s_.w_law_b)][i]);
  }

  template <class Sink>
  void flush(Buffer& buf, Sink& sink) const {
    if (buf.n == 0) return;
    eval_laws(buf);
    for (std::int64_t i = 0; i < buf.n; ++i) {
      const RowInfo& r = buf.info[static_cast<std::size_t>(i)];
      for (std::int32_t wi = r.w0; wi < r.w1; ++wi) sink(buf, i, r, wi);
    }
    buf.n = 0;
  }

  // Writes rows out (materialize, rows).
  struct Writer {
    const Grid* g;
    double* const* out;
    std::int32_t* codes;
    double* start;
    std::int64_t nrows;
    void operator()(const Buffer& buf, std::int64_t i, const RowInfo& r, std::int32_t wi) const {
      const std::int64_t o = r.out + (wi - r.w0) * r.out_step;
      for (std::int64_t c = 0; c < g->outputs_; ++c) out[c][o] = g->value(buf, i, c, wi);
      for (int a = 0; a < kScheduleAxes; ++a) codes[a * nrows + o] = r.code[a];
      codes[kReplay * nrows + o] = r.replay;
      codes[kWeight * nrows + o] = wi;
      codes[kStep * nrows + o] = r.step;
      start[o] = r.start_lr;
    }
  };

  // Feeds rows to a best-k per group.
  struct Reducer {
    const Grid* g;
    const Reduction* red;
    TopK top;
    std::int64_t rows = 0;  // rows fed
    void operator()(const Buffer& buf, std::int64_t i, const RowInfo& r, std::int32_t wi) {
      ++rows;
      double v = g->value(buf, i, red->objective, wi);
      if (std::isnan(v)) return;
      if (red->maximize) v = -v;
      const std::int64_t grp = row_group(*red, r.code, r.replay, wi, r.step);
      top.insert(grp, v, r.row + static_cast<std::int64_t>(wi) * g->s_.n_steps);
    }
  };

  // Queues the area rows of one schedule (all replay levels and steps).
  template <class Sink>
  void push_schedule(const Config& c, std::int64_t sched, std::int64_t row0, Buffer& buf, Sink& sink,
                     std::vector<double>& a) const {
    const std::int64_t ns = s_.n_steps;
    double *s1p = a.data(), *s2p = s1p + ns, *s1c = s2p + ns, *s2c = s1c + ns;
    schedule_areas(c, s1p, s2p, s1c, s2c);
    for (std::int64_t ri = 0; ri < s_.n_replay; ++ri) {
      for (std::int64_t q = 0; q < ns; ++q) {
        const std::int64_t row = (sched * s_.n_replay + ri) * s_.n_w * ns + q;
        push_row(c, a, q, ri, 0, s_.n_w, row, row - row0, ns, buf, sink);
      }
    }
  }

  // Appends the row at CPT step index q, replay level ri, weights [w0, w1) of the
  // schedule whose areas are in `a` (s1_pt, s2_pt, s1_cpt, s2_cpt, each n_steps long).
  template <class Sink>
  void push_row(const Config& c, const std::vector<double>& a, std::int64_t q, std::int64_t ri, std::int64_t w0,
                std::int64_t w1, std::int64_t row, std::int64_t out, std::int64_t out_step, Buffer& buf,
                Sink& sink) const {
    const std::int64_t ns = s_.n_steps;
    if (buf.n == kBlock) flush(buf, sink);
    const std::int64_t i = buf.n++;
    for (int k = 0; k < 4; ++k) buf.x[k][i] = a[static_cast<std::size_t>(k * ns + q)];
    buf.x[4][i] = s_.replay[ri];
    RowInfo& r = buf.info[static_cast<std::size_t>(i)];
    std::copy(c.code, c.code + kScheduleAxes, r.code);
    r.replay = static_cast<std::int32_t>(ri);
    r.step = static_cast<std::int32_t>(q);
    r.w0 = static_cast<std::int32_t>(w0);
    r.w1 = static_cast<std::int32_t>(w1);
    r.start_lr = c.start_lr;
    r.row = row;
    r.out = out;
    r.out_step = out_step;
  }

  template <class Sink>
  void run_schedules(std::int64_t s0, std::int64_t s1, std::int64_t row0, Sink& sink) const {
    if (s1 <= s0) return;
    Buffer buf(s_.n_laws);
    std::vector<double> a(static_cast<std::size_t>(4 * s_.n_steps));
    Cursor cur = locate(s0);
    for (std::int64_t s = s0; s < s1; ++s) {
      if (((s - s0) & 15) == 15) CPTLAW_CHECKPOINT();
      push_schedule(resolve(cur), s, row0, buf, sink, a);
      next(cur);
    }
    flush(buf, sink);
  }

  template <class Sink>
  void run_rows(const std::int64_t* rows, std::int64_t b, std::int64_t e, Sink& sink) const {
    Buffer buf(s_.n_laws);
    std::vector<double> a(static_cast<std::size_t>(4 * s_.n_steps));
    const std::int64_t ns = s_.n_steps;
    for (std::int64_t q = b; q < e; ++q) {
      if (((q - b) & 15) == 15) CPTLAW_CHECKPOINT();
      const std::int64_t row = rows[q];
      const std::int64_t sched = row / rows_per_schedule_;
      std::int64_t rem = row % rows_per_schedule_;
      const std::int64_t si = rem % ns;
      rem /= ns;
      const std::int64_t wi = rem % s_.n_w;
      const std::int64_t ri = rem / s_.n_w;
      const Config c = resolve(locate(sched));
      double *s1p = a.data(), *s2p = s1p + ns, *s1c = s2p + ns, *s2c = s1c + ns;
      schedule_areas(c, s1p, s2p, s1c, s2c);
      push_row(c, a, si, ri, wi, wi + 1, row - wi * ns, q, 1, buf, sink);
    }
    flush(buf, sink);
  }

  double pt_decay(std::int64_t k) const { return sched::pt_momentum_area(dc_, k); }

  Spec s_;
  sched::Decay dc_;
  std::vector<double> pt_decay_;  // pt_decay(steps[q])
  std::vector<std::int64_t> starts_;  // first schedule of each block; back() = total
  std::int64_t rows_per_schedule_ = 1;
  std::int64_t outputs_ = 1;
};

}  // namespace grid
}  // namespace cptlaw
