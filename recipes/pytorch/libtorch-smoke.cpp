// A small libtorch program, built against the installed libtorch-dev and run with each installed ISA level's
// copies of libtorch_cpu and libc10 (recipes/pytorch.yaml: consumer-tests). It creates tensors, runs matmul and
// conv2d forward and an autograd backward pass, and checks every result against a reference computed here, with
// plain loops or in closed form, from the same inputs (never against numbers copied from an earlier run).
#include <ATen/ATen.h>
#include <ATen/Version.h>
#include <dlfcn.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <vector>

namespace {

int failures = 0;

void check(const char* what, double error, double tolerance) {
  bool ok = error <= tolerance;   // a NaN fails
  std::printf("%s %s: largest relative error %.3g (tolerance %.3g)\n", ok ? "ok  " : "FAIL", what, error,
              tolerance);
  failures += !ok;
}

// Deterministic inputs in [-1, 1), rounded to the tensor's type so that the reference sees what the tensor holds.
std::vector<double> inputs(size_t n, uint32_t seed, at::ScalarType type) {
  std::vector<double> v(n);
  uint32_t x = seed * 2654435761u + 1;
  for (auto& e : v) {
    x = x * 1664525u + 1013904223u;
    e = (x >> 8) / double(1 << 23) - 1.0;
    if (type == at::kFloat) e = static_cast<float>(e);
  }
  return v;
}

// a copy, for float64 too: the tensor never aliases the inputs the reference reads
at::Tensor tensor(const std::vector<double>& v, at::IntArrayRef sizes, at::ScalarType type) {
  return at::from_blob(const_cast<double*>(v.data()), sizes, at::kDouble).to(type, false, /*copy=*/true);
}

// The largest |got - want| / (1 + |want|) over all elements (NaN if any element is NaN or the sizes differ).
double error(const at::Tensor& got, const std::vector<double>& want) {
  at::Tensor g = got.to(at::kDouble).contiguous();
  if (g.numel() != static_cast<int64_t>(want.size())) return NAN;
  const double* p = g.data_ptr<double>();
  double worst = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    double e = std::fabs(p[i] - want[i]) / (1.0 + std::fabs(want[i]));
    if (!(e <= worst)) worst = e;
  }
  return worst;
}

void matmul(at::ScalarType type, const char* what, double tolerance) {
  const int64_t M = 67, K = 45, N = 83;   // odd sizes: the kernels' edge handling too
  auto a = inputs(M * K, 1, type), b = inputs(K * N, 2, type);
  std::vector<double> want(M * N, 0.0);
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j)
      for (int64_t k = 0; k < K; ++k) want[i * N + j] += a[i * K + k] * b[k * N + j];
  check(what, error(at::matmul(tensor(a, {M, K}, type), tensor(b, {K, N}, type)), want), tolerance);
}

// conv2d of x (N, C, H, W) with w (O, C, R, S), bias, stride (2, 1), padding (1, 2)
struct Conv {
  static constexpr int64_t N = 2, C = 3, H = 10, W = 12, O = 4, R = 3, S = 3, SH = 2, SW = 1, PH = 1, PW = 2;
  static constexpr int64_t OH = (H + 2 * PH - R) / SH + 1, OW = (W + 2 * PW - S) / SW + 1;
  std::vector<double> x = inputs(N * C * H * W, 3, at::kFloat), w = inputs(O * C * R * S, 4, at::kFloat),
                      bias = inputs(O, 5, at::kFloat);

  // the input element under output (oh, ow) and kernel tap (r, s), 0 in the padding
  double in(int64_t n, int64_t c, int64_t oh, int64_t ow, int64_t r, int64_t s) const {
    int64_t h = oh * SH - PH + r, v = ow * SW - PW + s;
    return h < 0 || h >= H || v < 0 || v >= W ? 0.0 : x[((n * C + c) * H + h) * W + v];
  }

  std::vector<double> forward() const {
    std::vector<double> y(N * O * OH * OW);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t o = 0; o < O; ++o)
        for (int64_t oh = 0; oh < OH; ++oh)
          for (int64_t ow = 0; ow < OW; ++ow) {
            double sum = bias[o];
            for (int64_t c = 0; c < C; ++c)
              for (int64_t r = 0; r < R; ++r)
                for (int64_t s = 0; s < S; ++s) sum += in(n, c, oh, ow, r, s) * w[((o * C + c) * R + r) * S + s];
            y[((n * O + o) * OH + oh) * OW + ow] = sum;
          }
    return y;
  }

  // d(sum of the output)/dw: each tap's inputs summed over every output position
  std::vector<double> weight_grad() const {
    std::vector<double> g(O * C * R * S, 0.0);
    for (int64_t o = 0; o < O; ++o)
      for (int64_t c = 0; c < C; ++c)
        for (int64_t r = 0; r < R; ++r)
          for (int64_t s = 0; s < S; ++s)
            for (int64_t n = 0; n < N; ++n)
              for (int64_t oh = 0; oh < OH; ++oh)
                for (int64_t ow = 0; ow < OW; ++ow) g[((o * C + c) * R + r) * S + s] += in(n, c, oh, ow, r, s);
    return g;
  }
};

void conv2d() {
  Conv conv;
  at::Tensor x = tensor(conv.x, {Conv::N, Conv::C, Conv::H, Conv::W}, at::kFloat);
  at::Tensor w = tensor(conv.w, {Conv::O, Conv::C, Conv::R, Conv::S}, at::kFloat).requires_grad_();
  at::Tensor b = tensor(conv.bias, {Conv::O}, at::kFloat).requires_grad_();
  at::Tensor y = at::conv2d(x, w, b, {Conv::SH, Conv::SW}, {Conv::PH, Conv::PW});
  check("conv2d float32", error(y, conv.forward()), 1e-4);
  y.sum().backward();
  check("conv2d backward, weight gradient", error(w.grad(), conv.weight_grad()), 1e-4);
  // d(sum)/d(bias[o]) is the number of output positions of each channel
  check("conv2d backward, bias gradient",
        error(b.grad(), std::vector<double>(Conv::O, double(Conv::N * Conv::OH * Conv::OW))), 1e-6);
}

void autograd() {
  // L = sum(sin(x) * x^2): dL/dx = cos(x) x^2 + 2 x sin(x)
  auto v = inputs(1000, 6, at::kDouble);
  for (auto& e : v) e *= 3.0;
  at::Tensor x = tensor(v, {10, 100}, at::kDouble).requires_grad_();
  (at::sin(x) * x * x).sum().backward();
  std::vector<double> want(v.size());
  for (size_t i = 0; i < v.size(); ++i) want[i] = std::cos(v[i]) * v[i] * v[i] + 2 * v[i] * std::sin(v[i]);
  check("autograd of sum(sin(x) * x^2), float64", error(x.grad(), want), 1e-12);

  // L = sum((A B)^2) / 2: dL/dA = (A B) B^T
  const int64_t M = 31, K = 17, N = 23;
  auto a = inputs(M * K, 7, at::kDouble), b = inputs(K * N, 8, at::kDouble);
  at::Tensor ta = tensor(a, {M, K}, at::kDouble).requires_grad_();
  at::Tensor p = at::matmul(ta, tensor(b, {K, N}, at::kDouble));
  (p * p).sum().div(2).backward();
  std::vector<double> ab(M * N, 0.0), grad(M * K, 0.0);
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j)
      for (int64_t k = 0; k < K; ++k) ab[i * N + j] += a[i * K + k] * b[k * N + j];
  for (int64_t i = 0; i < M; ++i)
    for (int64_t k = 0; k < K; ++k)
      for (int64_t j = 0; j < N; ++j) grad[i * K + k] += ab[i * N + j] * b[k * N + j];
  check("autograd of sum((A B)^2) / 2, float64", error(ta.grad(), grad), 1e-12);
}

}  // namespace

int main() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&at::get_cpu_capability), &info) && info.dli_fname)
    std::printf("libtorch_cpu: %s; ATen's kernels: %s\n", info.dli_fname, at::get_cpu_capability().c_str());
  matmul(at::kFloat, "matmul float32", 1e-4);
  matmul(at::kDouble, "matmul float64", 1e-12);
  conv2d();
  autograd();
  std::printf("%s: %d check(s) failed\n", failures ? "FAIL" : "ok", failures);
  return failures ? 1 : 0;
}
