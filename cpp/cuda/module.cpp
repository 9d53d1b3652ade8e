// cptlaw._cuda: pybind11 glue for the CUDA kernels (array checks, GIL release, conversion).
// Device arrays arrive as addresses (python/cptlaw/cuda.py reads them from
// __cuda_array_interface__); host arrays as NumPy arrays. Compiled by the C++ compiler: all
// CUDA code sits behind api.hpp.
#include <pybind11/stl.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "../bindings/bindings.hpp"
#include "../bindings/fit_args.hpp"
#include "../bindings/grid_spec.hpp"
#include "api.hpp"
#include "lm_batch.hpp"

namespace {

namespace gpu = cptlaw::gpu;
namespace gr = cptlaw::grid;
using cptlaw::bindings::GroupSpec;
using cptlaw::bindings::Holder;
using cptlaw::bindings::i64array;
using cptlaw::bindings::u8array;

template <class T>
T* address(std::uintptr_t p) {
  return reinterpret_cast<T*>(p);
}

const gpu::LawEntry& law_entry(const std::string& name) {
  for (const auto& e : gpu::law_table())
    if (e.name == name) return e;
  throw std::invalid_argument("law: unknown law " + name);
}

// inputs: one (address, stride, scalar) per law input; address 0: the scalar.
void law_eval(const std::string& name, const f64array& params,
              const std::vector<std::tuple<std::uintptr_t, std::int64_t, double>>& inputs, std::int64_t n,
              std::uintptr_t out, std::uintptr_t grad, int device, std::uintptr_t stream) {
  const gpu::LawEntry& e = law_entry(name);
  if (params.size() != e.n_params) throw std::invalid_argument("params: wrong length");
  if (static_cast<int>(inputs.size()) != e.n_inputs) throw std::invalid_argument("inputs: wrong count");
  if (n < 0 || out == 0) throw std::invalid_argument("out: no output array");
  gpu::LawInputs in{};
  for (int k = 0; k < e.n_inputs; ++k) {
    in.x[k] = address<const double>(std::get<0>(inputs[static_cast<std::size_t>(k)]));
    in.stride[k] = std::get<1>(inputs[static_cast<std::size_t>(k)]);
    in.scalar[k] = std::get<2>(inputs[static_cast<std::size_t>(k)]);
    if (in.stride[k] != 0 && in.stride[k] != 1) throw std::invalid_argument("inputs: stride must be 0 or 1");
  }
  std::vector<double> p(params.data(), params.data() + e.n_params);
  py::gil_scoped_release release;
  gpu::DeviceGuard guard(device);
  e.launch(p.data(), in, n, address<double>(out), address<double>(grad), stream);
}

const gpu::FitEntry& fit_entry(const std::string& name) {
  for (const auto& e : gpu::fit_table())
    if (e.name == name) return e;
  throw std::invalid_argument("law: unknown law " + name);
}

gpu::FitBatch batch(const std::vector<std::uintptr_t>& inputs, std::uintptr_t y, std::uintptr_t w, std::int64_t F,
                    std::int64_t N) {
  if (inputs.size() > static_cast<std::size_t>(gpu::kMaxInputs)) throw std::invalid_argument("features: too many");
  if (F < 0 || N < 1 || y == 0) throw std::invalid_argument("losses: expected (n_fits, n_points) on the device");
  gpu::FitBatch b{};
  for (std::size_t k = 0; k < inputs.size(); ++k) b.x[k] = address<const double>(inputs[k]);
  b.y = address<const double>(y);
  b.w = address<const double>(w);
  b.F = F;
  b.N = N;
  return b;
}

py::tuple fit_many(const std::string& name, const std::vector<std::uintptr_t>& inputs, std::uintptr_t y,
                   std::uintptr_t w, std::int64_t F, std::int64_t N, const f64array& lo, const f64array& hi,
                   const u8array& fixed, const u8array& linear, const f64array& starts, const f64array& grid,
                   int objective, double delta, int max_iter, double ftol, double xtol, double gtol, int keep,
                   int device, std::uintptr_t stream) {
  const gpu::FitEntry& e = fit_entry(name);
  const py::ssize_t P = e.n_params;
  if (static_cast<int>(inputs.size()) != e.n_inputs) throw std::invalid_argument("inputs: wrong count");
  cptlaw::bindings::check_param_arrays(P, lo, hi, fixed, linear, starts, grid);
  if (keep > cptlaw::batch::kMaxKeep)
    throw std::invalid_argument("keep: must be 1 .. " + std::to_string(cptlaw::batch::kMaxKeep) +
                                " with device='cuda'");
  gpu::FitBatch b = batch(inputs, y, w, F, N);
  b.lo = lo.data();
  b.hi = hi.data();
  b.fixed = fixed.data();
  b.linear = linear.data();
  b.starts = starts.data();
  b.n_starts = static_cast<int>(starts.shape(0));
  b.grid = grid.data();
  b.n_grid = static_cast<int>(grid.shape(0));
  b.opt = cptlaw::bindings::make_options(objective, delta, max_iter, ftol, xtol, gtol, keep);
  f64array params({F, static_cast<std::int64_t>(P)}), obj(F);
  py::array_t<int> status(F), nfev(F);
  const gpu::FitOut out{params.mutable_data(), obj.mutable_data(), status.mutable_data(), nfev.mutable_data()};
  {
    py::gil_scoped_release release;
    e.launch(b, out, device, stream);
  }
  return py::make_tuple(params, obj, status, nfev);
}

py::tuple fit_check(const std::vector<std::uintptr_t>& inputs, std::uintptr_t y, std::uintptr_t w, std::int64_t F,
                    std::int64_t N, int device, std::uintptr_t stream) {
  const gpu::FitBatch b = batch(inputs, y, w, F, N);
  const int ni = static_cast<int>(inputs.size());
  py::array_t<std::uint8_t> flags(F);
  f64array maxima({F, static_cast<std::int64_t>(ni)}), range({F, std::int64_t{2}});
  {
    py::gil_scoped_release release;
    gpu::fit_check(b, ni, flags.mutable_data(), maxima.mutable_data(), range.mutable_data(), device, stream);
  }
  return py::make_tuple(flags, maxima, range);
}

// A NumPy array's copy on the device (for fits of host data).
struct DeviceArray {
  gpu::Buffer buf;
  std::vector<py::ssize_t> shape;
  std::uintptr_t ptr() const { return reinterpret_cast<std::uintptr_t>(buf.get()); }
};

DeviceArray upload(const f64array& a, int device) {
  DeviceArray d;
  d.shape.assign(a.shape(), a.shape() + a.ndim());
  const std::size_t bytes = static_cast<std::size_t>(a.size()) * sizeof(double);
  const double* src = a.data();
  py::gil_scoped_release release;
  d.buf = gpu::upload(src, bytes, device);
  return d;
}

// The grid engine on a device, for chunks of one grid() call.
class Grid {
 public:
  Grid(const py::dict& spec, int device) : holder_(spec), grid_(holder_.spec), dev_(grid_, device) {}

  py::tuple materialize(std::int64_t s0, std::int64_t s1) {
    if (s0 < 0 || s1 < s0 || s1 > grid_.schedules()) throw std::out_of_range("grid: schedule range out of range");
    const std::int64_t nrows = (s1 - s0) * grid_.rows_per_schedule();
    f64array vals({grid_.outputs(), nrows});
    py::array_t<std::int32_t> codes({static_cast<std::int64_t>(gr::kAxes), nrows});
    f64array start(nrows);
    double* v = vals.mutable_data();
    std::int32_t* c = codes.mutable_data();
    double* st = start.mutable_data();
    {
      py::gil_scoped_release release;
      dev_.materialize(s0, s1, v, c, st);
    }
    return py::make_tuple(vals, codes, start);
  }

  // seed: (groups,) values no selected row may exceed (the k-th best of earlier chunks).
  py::tuple reduce(std::int64_t s0, std::int64_t s1, std::int64_t objective, bool maximize, std::int64_t k,
                   std::int64_t groups, const i64array& mul, const py::list& maps, const f64array& seed) {
    if (s0 < 0 || s1 < s0 || s1 > grid_.schedules()) throw std::out_of_range("grid: schedule range out of range");
    if (objective < 0 || objective >= grid_.outputs()) throw std::invalid_argument("grid: objective out of range");
    const GroupSpec gs(holder_, objective, maximize, k, groups, mul, maps);
    if (seed.size() != groups) throw std::invalid_argument("grid: seed must have one value per group");
    f64array vals({groups, k});
    i64array rows({groups, k});
    i64array counts(groups);
    double* v = vals.mutable_data();
    std::int64_t* r = rows.mutable_data();
    std::int64_t* n = counts.mutable_data();
    const double* sd = seed.data();
    {
      py::gil_scoped_release release;
      dev_.reduce(s0, s1, gs.red, sd, v, r, n);
    }
    return py::make_tuple(vals, rows, counts);
  }

 private:
  Holder holder_;
  gr::Grid grid_;
  gpu::DeviceGrid dev_;
};

}  // namespace

PYBIND11_MODULE(_cuda, m) {
  m.doc() = "cptlaw CUDA kernels (private; use cptlaw.cuda and device='cuda').";
  py::register_exception<gpu::Error>(m, "CudaError", PyExc_RuntimeError);
  m.def("device_count", []() {
    std::string why;
    const int n = gpu::device_count(&why);
    return py::make_tuple(n, why);
  });
  m.def(
      "device_info",
      [](int device) {
        const gpu::DeviceInfo i = gpu::device_info(device);
        py::dict d;
        d["name"] = i.name;
        d["compute_capability"] = py::make_tuple(i.major, i.minor);
        d["multiprocessors"] = i.sms;
        d["memory"] = i.memory;
        return d;
      },
      py::arg("device"));
  m.def(
      "synchronize",
      [](std::uintptr_t stream, int device) {
        py::gil_scoped_release release;
        gpu::DeviceGuard g(device);
        gpu::synchronize(stream);
      },
      py::arg("stream"), py::arg("device"));
  m.def(
      "copy_bandwidth",
      [](std::size_t bytes, int repeats, int device) {
        py::gil_scoped_release release;
        return gpu::copy_bandwidth(bytes, repeats, device);
      },
      py::arg("bytes"), py::arg("repeats"), py::arg("device"));
  py::list names;
  for (const auto& e : gpu::law_table()) names.append(e.name);
  m.attr("law_names") = names;
  m.attr("max_keep") = cptlaw::batch::kMaxKeep;  // grid candidates a fit refines, at most
  m.def("law_eval", &law_eval, py::arg("name"), py::arg("params"), py::arg("inputs"), py::arg("n"), py::arg("out"),
        py::arg("grad"), py::arg("device"), py::arg("stream"));
  m.def("fit_many", &fit_many, py::arg("name"), py::arg("inputs"), py::arg("y"), py::arg("w"), py::arg("n_fits"),
        py::arg("n_points"), py::arg("lo"), py::arg("hi"), py::arg("fixed"), py::arg("linear"), py::arg("starts"),
        py::arg("grid"), py::arg("objective"), py::arg("delta"), py::arg("max_iter"), py::arg("ftol"), py::arg("xtol"),
        py::arg("gtol"), py::arg("keep"), py::arg("device"), py::arg("stream"));
  m.def("fit_check", &fit_check, py::arg("inputs"), py::arg("y"), py::arg("w"), py::arg("n_fits"),
        py::arg("n_points"), py::arg("device"), py::arg("stream"));
  py::class_<DeviceArray>(m, "DeviceArray")
      .def_property_readonly("ptr", &DeviceArray::ptr)
      .def_property_readonly("shape", [](const DeviceArray& d) { return py::tuple(py::cast(d.shape)); })
      .def_property_readonly("device", [](const DeviceArray& d) { return d.buf.device(); });
  m.def("upload", &upload, py::arg("array"), py::arg("device"));
  py::class_<Grid>(m, "Grid")
      .def(py::init<const py::dict&, int>(), py::arg("spec"), py::arg("device"))
      .def("materialize", &Grid::materialize, py::arg("s0"), py::arg("s1"))
      .def("reduce", &Grid::reduce, py::arg("s0"), py::arg("s1"), py::arg("objective"), py::arg("maximize"),
           py::arg("k"), py::arg("groups"), py::arg("mul"), py::arg("maps"), py::arg("seed"));
}
