// The grid engine on the device: each thread takes a run of consecutive schedules (one
// locate, then next) and runs grid_rows.hpp on each: rows written out, or offered to a best-k
// table per group in device memory. Nothing of the grid is materialised but the chunk's rows
// (materialize) or the groups x k table (reduce).
//
// The table: per group a max-heap of its k best (value, row) under a lock, and a threshold
// (the k-th best so far, or the previous chunks' k-th best) read without the lock: a row
// worse than it cannot enter, so after the first rows nearly every row is rejected by one
// load. Rows of one warp that pass go through the lock only if fewer than k rows of the same
// group in the warp beat them (a labelled partition of the warp), so the first wave of
// candidates does not serialise on one lock.
#include <cooperative_groups.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

#include "api.hpp"
#include "device.cuh"
#include "grid_rows.hpp"

namespace cg = cooperative_groups;

namespace cptlaw {
namespace gpu {
namespace {

constexpr int kThreads = 128;
constexpr std::int64_t kRun = 8;  // schedules per thread and pass

struct Table {
  double* v;          // groups x k
  std::int64_t* r;    // groups x k
  std::int64_t* n;    // entries per group
  double* thr;        // groups: rows with a larger value cannot enter
  int* lock;          // groups
  std::int64_t k;
  bool aggregate;     // group labels fit in an int: partition the warp by group
};

__device__ void insert_locked(const Table& t, std::int64_t g, double v, std::int64_t row) {
  int* lk = t.lock + g;
  while (atomicCAS(lk, 0, 1) != 0) __nanosleep(64);
  __threadfence();
  volatile double* hv = t.v + g * t.k;
  volatile std::int64_t* hr = t.r + g * t.k;
  volatile std::int64_t* n = t.n + g;
  const double heap_thr = heap_offer(hv, hr, n, t.k, v, row);
  volatile double* thr = t.thr + g;
  *thr = fmin(*thr, heap_thr);
  __threadfence();
  atomicExch(lk, 0);
}

__device__ void offer(const Table& t, std::int64_t g, double v, std::int64_t row) {
  if (!(v <= __ldcg(t.thr + g))) return;
  if (!t.aggregate) {
    insert_locked(t, g, v, row);
    return;
  }
  const cg::coalesced_group active = cg::coalesced_threads();
  const cg::coalesced_group peers = cg::labeled_partition(active, static_cast<int>(g));
  const unsigned size = peers.size();
  std::int64_t rank = 0;  // rows of this group in the warp that beat this one
  for (unsigned j = 0; j < size; ++j) {
    const double vj = peers.shfl(v, j);
    const long long rj = peers.shfl(static_cast<long long>(row), j);
    rank += (vj < v || (vj == v && rj < row)) ? 1 : 0;
  }
  const std::int64_t turns = t.k < static_cast<std::int64_t>(size) ? t.k : static_cast<std::int64_t>(size);
  for (std::int64_t turn = 0; turn < turns; ++turn) {  // one lane of the group at a time, best first
    if (rank == turn) insert_locked(t, g, v, row);
    peers.sync();
  }
}

// This thread's schedules of [s0, s1): runs of kRun consecutive schedules (one locate, then a
// cheap next() per schedule), the runs strided over the whole launch. fn(s, config) each.
template <class Fn>
__device__ void for_each_schedule(const GridView& g, std::int64_t s0, std::int64_t s1, Fn&& fn) {
  const std::int64_t step = static_cast<std::int64_t>(gridDim.x) * blockDim.x * kRun;
  for (std::int64_t b = s0 + (static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) * kRun; b < s1;
       b += step) {
    grid::Cursor cur = grid::locate(g.spec, g.starts, b);
    const std::int64_t e = b + kRun < s1 ? b + kRun : s1;
    for (std::int64_t s = b; s < e; ++s) {
      fn(s, grid::resolve(g.spec, cur));
      if (s + 1 < e) grid::next(g.spec, cur);
    }
  }
}

__global__ void __launch_bounds__(kThreads) reduce_kernel(GridView g, grid::Reduction red, std::int64_t s0,
                                                          std::int64_t s1, Table t) {
  for_each_schedule(g, s0, s1, [&](std::int64_t s, const grid::Config& c) {
    reduce_schedule(g, red, s, c, [&](std::int64_t grp, double v, std::int64_t row) { offer(t, grp, v, row); });
  });
}

__global__ void __launch_bounds__(kThreads) write_kernel(GridView g, std::int64_t s0, std::int64_t s1,
                                                         std::int64_t row0, std::int64_t nrows, double* out,
                                                         std::int32_t* codes, double* start) {
  for_each_schedule(g, s0, s1, [&](std::int64_t s, const grid::Config& c) {
    write_schedule(g, s, c, row0, nrows, out, codes, start);
  });
}

__global__ void init_table(Table t, std::int64_t groups) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < groups; i += stride) {
    t.n[i] = 0;
    t.lock[i] = 0;
  }
}

// Host arrays copied into one device buffer, each at an 8-byte aligned offset.
class Packer {
 public:
  template <class T>
  std::size_t add(const T* p, std::int64_t count) {
    offsets_.push_back(p ? bytes_.size() : static_cast<std::size_t>(-1));
    if (p && count > 0) {
      const char* src = reinterpret_cast<const char*>(p);
      bytes_.insert(bytes_.end(), src, src + static_cast<std::size_t>(count) * sizeof(T));
      bytes_.resize((bytes_.size() + 7) / 8 * 8);
    }
    return offsets_.size() - 1;
  }
  Buffer upload(int device) { return gpu::upload(bytes_.data(), bytes_.size(), device); }
  template <class T>
  static T* at(const Buffer& b, const Packer& pk, std::size_t id) {
    const std::size_t off = pk.offsets_[id];
    return off == static_cast<std::size_t>(-1) ? nullptr : reinterpret_cast<T*>(static_cast<char*>(b.get()) + off);
  }

 private:
  std::vector<char> bytes_;
  std::vector<std::size_t> offsets_;
};

}  // namespace

struct DeviceGrid::Impl {
  int device;
  Buffer data;
  GridView view;
};

DeviceGrid::DeviceGrid(const grid::Grid& g, int device)
    : impl_(nullptr), outputs_(g.outputs()), rows_per_schedule_(g.rows_per_schedule()) {
  const grid::Spec& s = g.spec();
  Packer pk;
  const std::size_t pt = pk.add(s.pt_state, 4 * s.n_pt);
  std::size_t lv[grid::kScheduleAxes];
  for (int a = 0; a < grid::kScheduleAxes; ++a) lv[a] = pk.add(s.levels[a], s.n_levels[a]);
  const std::size_t bsize = pk.add(s.block_size, s.n_blocks * grid::kScheduleAxes);
  const std::size_t boff = pk.add(s.block_code_off, s.n_blocks * grid::kScheduleAxes);
  const std::size_t bcodes = pk.add(s.block_codes, s.n_codes);
  const std::size_t replay = pk.add(s.replay, s.n_replay);
  const std::size_t w = pk.add(s.w, s.n_w);
  const std::size_t steps = pk.add(s.steps, s.n_steps);
  const std::size_t kind = pk.add(s.law_kind, s.n_laws);
  const std::size_t params = pk.add(s.law_params, s.law_param_off[s.n_laws]);
  const std::size_t poff = pk.add(s.law_param_off, s.n_laws + 1);
  const std::size_t starts = pk.add(g.block_starts().data(), static_cast<std::int64_t>(g.block_starts().size()));
  const std::size_t ptdec = pk.add(s.steps ? g.pt_decays().data() : nullptr, s.n_steps);
  impl_ = new Impl{device, pk.upload(device), GridView{}};
  const Buffer& b = impl_->data;
  GridView& v = impl_->view;
  v.spec = s;
  v.spec.pt_state = Packer::at<const double>(b, pk, pt);
  for (int a = 0; a < grid::kScheduleAxes; ++a) v.spec.levels[a] = Packer::at<const double>(b, pk, lv[a]);
  v.spec.block_size = Packer::at<const std::int64_t>(b, pk, bsize);
  v.spec.block_code_off = Packer::at<const std::int64_t>(b, pk, boff);
  v.spec.block_codes = Packer::at<const std::int32_t>(b, pk, bcodes);
  v.spec.replay = Packer::at<const double>(b, pk, replay);
  v.spec.w = Packer::at<const double>(b, pk, w);
  v.spec.steps = Packer::at<const std::int64_t>(b, pk, steps);
  v.spec.law_kind = Packer::at<const std::int32_t>(b, pk, kind);
  v.spec.law_params = Packer::at<const double>(b, pk, params);
  v.spec.law_param_off = Packer::at<const std::int64_t>(b, pk, poff);
  v.starts = Packer::at<const std::int64_t>(b, pk, starts);
  v.pt_decay = Packer::at<const double>(b, pk, ptdec);
  v.dc = g.decay();
}

DeviceGrid::~DeviceGrid() { delete impl_; }

void DeviceGrid::materialize(std::int64_t s0, std::int64_t s1, double* out, std::int32_t* codes, double* start) {
  if (s1 <= s0) return;
  DeviceGuard guard(impl_->device);
  const std::int64_t nrows = (s1 - s0) * rows_per_schedule_;
  const std::size_t n = static_cast<std::size_t>(nrows);
  const std::size_t out_bytes = static_cast<std::size_t>(outputs_) * n * sizeof(double);
  const std::size_t code_bytes = static_cast<std::size_t>(grid::kAxes) * n * sizeof(std::int32_t);
  Buffer buf(out_bytes + ((code_bytes + 7) / 8) * 8 + n * sizeof(double), impl_->device);
  double* d_out = static_cast<double*>(buf.get());
  std::int32_t* d_codes = reinterpret_cast<std::int32_t*>(static_cast<char*>(buf.get()) + out_bytes);
  double* d_start = reinterpret_cast<double*>(static_cast<char*>(buf.get()) + out_bytes + ((code_bytes + 7) / 8) * 8);
  const int blocks = fill_blocks(write_kernel, kThreads, (s1 - s0 + kRun - 1) / kRun);
  write_kernel<<<blocks, kThreads>>>(impl_->view, s0, s1, s0 * rows_per_schedule_, nrows, d_out, d_codes, d_start);
  check(cudaGetLastError(), "grid kernel launch");
  copy_to_host(out, d_out, out_bytes, 0);
  copy_to_host(codes, d_codes, code_bytes, 0);
  copy_to_host(start, d_start, n * sizeof(double), 0);
}

void DeviceGrid::reduce(std::int64_t s0, std::int64_t s1, const grid::Reduction& red, const double* seed,
                        double* vals, std::int64_t* rows, std::int64_t* counts) {
  const std::int64_t G = red.groups, k = red.k;
  const std::size_t slots = static_cast<std::size_t>(G * k);
  std::fill(vals, vals + slots, std::numeric_limits<double>::infinity());
  std::fill(rows, rows + slots, std::int64_t{-1});
  std::fill(counts, counts + G, std::int64_t{0});
  if (s1 <= s0) return;
  DeviceGuard guard(impl_->device);
  const int device = impl_->device;
  // The group maps on the device.
  Packer pk;
  std::size_t maps[grid::kAxes];
  for (int a = 0; a < grid::kAxes; ++a) maps[a] = pk.add(red.map[a], red.map_len[a]);
  Buffer mb = pk.upload(device);
  grid::Reduction dred = red;
  for (int a = 0; a < grid::kAxes; ++a) dred.map[a] = Packer::at<const std::int32_t>(mb, pk, maps[a]);
  // The table, thresholds from the seed.
  const std::size_t gn = static_cast<std::size_t>(G);
  Buffer tb(slots * (sizeof(double) + sizeof(std::int64_t)) + gn * (sizeof(std::int64_t) + sizeof(double)) +
                ((gn * sizeof(int) + 7) / 8) * 8,
            device);
  char* p = static_cast<char*>(tb.get());
  Table t;
  t.v = reinterpret_cast<double*>(p);
  t.r = reinterpret_cast<std::int64_t*>(t.v + slots);
  t.n = t.r + slots;
  t.thr = reinterpret_cast<double*>(t.n + gn);
  t.lock = reinterpret_cast<int*>(t.thr + gn);
  t.k = k;
  t.aggregate = G <= std::numeric_limits<int>::max();
  copy_to_device(t.thr, seed, gn * sizeof(double), 0);
  init_table<<<fill_blocks(init_table, 256, G), 256>>>(t, G);
  check(cudaGetLastError(), "grid table launch");
  const int blocks = fill_blocks(reduce_kernel, kThreads, (s1 - s0 + kRun - 1) / kRun);
  reduce_kernel<<<blocks, kThreads>>>(impl_->view, dred, s0, s1, t);
  check(cudaGetLastError(), "grid kernel launch");
  // Each group's entries in ascending order (Grid::reduce's finished TopK).
  std::vector<double> hv(slots);
  std::vector<std::int64_t> hr(slots);
  copy_to_host(hv.data(), t.v, slots * sizeof(double), 0);
  copy_to_host(hr.data(), t.r, slots * sizeof(std::int64_t), 0);
  copy_to_host(counts, t.n, gn * sizeof(std::int64_t), 0);
  std::vector<grid::Entry> e;
  for (std::int64_t g = 0; g < G; ++g) {
    const std::int64_t c = counts[g];
    e.clear();
    for (std::int64_t i = 0; i < c; ++i) e.push_back(grid::Entry{hv[g * k + i], hr[g * k + i]});
    std::sort(e.begin(), e.end(), grid::entry_less);
    for (std::int64_t i = 0; i < c; ++i) {
      vals[g * k + i] = e[static_cast<std::size_t>(i)].v;
      rows[g * k + i] = e[static_cast<std::size_t>(i)].row;
    }
  }
}

}  // namespace gpu
}  // namespace cptlaw
