#include <cmath>
#include <vector>

#include "check.hpp"
#include "cptlaw/laws.hpp"

namespace {

// Central differences of eval<false> against the analytic gradient of eval<true>.
template <class Law>
int check_gradient(const double* params, const double* raw) {
  int f = 0;
  double z[Law::n_prep], g[Law::n_params];
  Law::prepare(raw, z);
  const double v = Law::template eval<true>(params, z, g);
  CPTLAW_CHECK(std::isfinite(v), f);
  for (int k = 0; k < Law::n_params; ++k) {
    double p[Law::n_params];
    for (int j = 0; j < Law::n_params; ++j) p[j] = params[j];
    const double h = 1e-6 * std::fmax(1.0, std::fabs(p[k]));
    p[k] = params[k] + h;
    const double up = Law::template eval<false>(p, z, nullptr);
    p[k] = params[k] - h;
    const double dn = Law::template eval<false>(p, z, nullptr);
    CPTLAW_CHECK(cptlaw_test::close(g[k], (up - dn) / (2 * h), 1e-5, 1e-8), f);
  }
  return f;
}

}  // namespace

int run_law_tests() {
  using namespace cptlaw::laws;
  int f = 0;
  const double raw4[] = {12.0, 0.3, 2.5, -0.05};
  const double raw5[] = {12.0, 0.3, 2.5, 0.2, 0.25};
  const double cpt[] = {3.05, 0.49, 0.5, 0.3, 0.29, 0.37, 28.0, 0.19};
  f += check_gradient<Annealing>(cpt, raw4);
  f += check_gradient<CPT>(cpt, raw4);
  const double replay[] = {3.07, 0.48, 0.51, 0.28, 0.26, 0.055, 0.28, 99.0, 0.2, 3.2};
  f += check_gradient<Replay<false>>(replay, raw5);
  f += check_gradient<Replay<true>>(replay, raw5);
  const double size_raw[] = {12.0, 0.3, 2.5, 0.2, 106.0};
  const double size[] = {3.0, 0.5, 0.5, 0.3, 0.3, 0.01, -0.02, 0.4, 30.0, 0.2, 1.5, 0.3};
  f += check_gradient<ModelSize>(size, size_raw);
  const double open[] = {2.9, 0.5, 0.6, 40.0, -0.6, 500.0, 0.15, 0.3};
  f += check_gradient<OpenSource>(open, raw4 + 2);
  const double pw[] = {3.05, 0.49, 0.5, 0.3, 0.29, 0.37, 28.0, 0.19, 0.9, 1.1};
  f += check_gradient<CPTPowerS2>(pw, raw4);
  const double ood[] = {0.4, 0.7};
  f += check_gradient<OutOfDomain>(ood, raw4);
  // Non-positive forward area: NaN, not a crash.
  {
    const double bad[] = {0.0, 0.1};
    double z[2];
    Annealing::prepare(bad, z);
    CPTLAW_CHECK(std::isnan(Annealing::eval<false>(cpt, z, nullptr)), f);
  }
  // Threaded strided evaluation agrees with the scalar formula; broadcast input (stride 0).
  {
    const std::int64_t n = 300000;
    std::vector<double> s1(n), out(n), grad(n * 4);
    for (std::int64_t i = 0; i < n; ++i) s1[i] = 1.0 + 1e-4 * i;
    const double s2 = 0.25;
    const double* x[] = {s1.data(), &s2};
    const std::int64_t stride[] = {1, 0};
    evaluate<Annealing>(cpt, x, stride, n, out.data(), grad.data(), 2);
    const std::int64_t i = 123457;
    const double expect = cpt[0] + cpt[1] * std::pow(s1[i], -cpt[2]) - cpt[3] * s2;
    CPTLAW_CHECK(cptlaw_test::close(out[i], expect, 1e-13), f);
    const std::int64_t dense_stride[] = {1, 1};
    std::vector<double> s2v(n, s2), out2(n);
    const double* x2[] = {s1.data(), s2v.data()};
    evaluate<Annealing>(cpt, x2, dense_stride, n, out2.data(), nullptr, 2);
    CPTLAW_CHECK(out2[i] == out[i], f);
  }
  return f;
}
