// PyTorch's C++ frontend as its users write it (pytorch.org's "example-app": #include <torch/torch.h>), built
// against the installed libtorch-dev with `pkg-config torch` (libtorch.so, which links libtorch_cpu; the include
// directory torch/csrc/api/include) and run with each installed ISA level's copies (recipes/pytorch.yaml:
// consumer-tests). One SGD step of a linear layer on a least-squares loss, checked against the same step computed
// here in closed form from the layer's own initial weights.
#include <torch/torch.h>

#include <cmath>
#include <cstdio>

int main() {
  torch::manual_seed(7);
  const int64_t n = 16, in = 5, out = 3;
  const double lr = 0.1;
  torch::nn::Linear layer(torch::nn::LinearOptions(in, out));
  layer->to(torch::kDouble);
  auto x = torch::randn({n, in}, torch::kDouble);
  auto y = torch::randn({n, out}, torch::kDouble);
  auto w0 = layer->weight.detach().clone();
  auto b0 = layer->bias.detach().clone();

  torch::optim::SGD sgd(layer->parameters(), torch::optim::SGDOptions(lr));
  sgd.zero_grad();
  auto loss = (layer->forward(x) - y).pow(2).sum() / (2.0 * n);
  loss.backward();
  sgd.step();

  // loss = |x w^T + b - y|^2 / 2n: dL/dw = r^T x / n, dL/db = sum_rows(r) / n, r = x w^T + b - y
  auto r = x.matmul(w0.t()) + b0 - y;
  auto w1 = w0 - lr * r.t().matmul(x) / n;
  auto b1 = b0 - lr * r.sum(0) / n;
  double ew = (layer->weight.detach() - w1).abs().max().item<double>();
  double eb = (layer->bias.detach() - b1).abs().max().item<double>();
  double el = std::abs(loss.item<double>() - r.pow(2).sum().item<double>() / (2.0 * n));
  bool ok = ew < 1e-12 && eb < 1e-12 && el < 1e-12;   // float64, the same operations in another order
  std::printf("%s SGD step of torch::nn::Linear: weight error %.3g, bias error %.3g, loss error %.3g\n",
              ok ? "ok  " : "FAIL", ew, eb, el);
  return ok ? 0 : 1;
}
