// libtorch_cpu's ops through one ISA-level copy of the installed library: matmul, conv2d, elementwise (tanh, and
// x * y + z), reductions (sum over a dimension, softmax) and an autograd step (a two-layer perceptron's forward and
// backward pass), each fed fixed inputs (a sine pattern, the same in every run), float32.
//
// Prints per op "OP MS FNV64 N" (the best of ITERS runs in milliseconds after a warm-up run, a hash of the output's
// bytes, its element count), and on stderr the libtorch_cpu and libc10 files the process mapped and the kernel
// capability ATen's own dispatch chose, so that a driver running it through each ISA-level copy (GLIBC_TUNABLES
// masks, interleaved: bench/torch_levels.py) can check it measured the copy it meant. Equal hashes mean
// bit-identical outputs; with --dump DIR each output is also written as DIR/OP.f32 (raw float32).
//
// usage: torch_levels [--dump DIR] [--threads N] ITERS [OP...]   (default: every op; 1 thread)
// build: g++ -O2 -o torch_levels torch_levels.cpp -ltorch_cpu -lc10
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/Version.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace {

// the same values in every run: amplitude 2, so tanh leaves its linear part
at::Tensor pattern(at::IntArrayRef sizes, float phase) {
  at::Tensor t = at::empty(sizes, at::kFloat);
  float* p = t.data_ptr<float>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = 2.0f * std::sin(0.001f * static_cast<float>(i) + phase);
  return t;
}

struct Op {
  std::function<void()> setup;   // inputs, made once
  std::function<at::Tensor()> run;
};

std::map<std::string, Op> ops() {
  static at::Tensor a, b, c, x, w, hidden, out, target;
  std::map<std::string, Op> m;
  m["matmul"] = {[] { a = pattern({512, 512}, 0); b = pattern({512, 512}, 1); },
                 [] { return at::matmul(a, b); }};
  m["conv2d"] = {[] { x = pattern({1, 64, 56, 56}, 0); w = pattern({64, 64, 3, 3}, 1).div_(64 * 9); },
                 [] { return at::conv2d(x, w, {}, 1, 1); }};
  m["tanh"] = {[] { a = pattern({1 << 20}, 0); }, [] { return at::tanh(a); }};
  m["fma"] = {[] { a = pattern({1 << 20}, 0); b = pattern({1 << 20}, 1); c = pattern({1 << 20}, 2); },
              [] { return at::addcmul(c, a, b); }};
  m["sum"] = {[] { a = pattern({1024, 1024}, 0); }, [] { return a.sum(1); }};
  m["softmax"] = {[] { a = pattern({1024, 1000}, 0); }, [] { return at::softmax(a, 1); }};
  // x (64 x 512) -> linear 512 -> relu -> linear 10 -> mean squared error against a fixed target; the gradient
  // of the first layer's weight is the output
  m["autograd"] = {[] {
                     x = pattern({64, 512}, 0);
                     w = pattern({512, 512}, 1).div_(512);
                     hidden = pattern({10, 512}, 2).div_(512);
                     target = pattern({64, 10}, 3);
                   },
                   [] {
                     at::Tensor w1 = w.detach().requires_grad_(), w2 = hidden.detach().requires_grad_();
                     out = at::linear(at::relu(at::linear(x, w1)), w2);
                     (out - target).pow(2).mean().backward();
                     return w1.grad();
                   }};
  return m;
}

double best_ms(const Op& op, int iters, at::Tensor& result) {
  result = op.run();   // warm-up: first-touch allocation, oneDNN's primitive creation
  double best = INFINITY;
  for (int i = 0; i < iters; ++i) {
    auto start = std::chrono::steady_clock::now();
    result = op.run();
    std::chrono::duration<double, std::milli> took = std::chrono::steady_clock::now() - start;
    best = std::min(best, took.count());
  }
  return best;
}

uint64_t fnv64(const at::Tensor& t) {
  const auto* p = static_cast<const unsigned char*>(t.data_ptr());
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < static_cast<size_t>(t.nbytes()); ++i) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

// the libtorch_cpu and libc10 files the process mapped, as /proc/self/maps names them (symlinks resolved)
void report_loaded() {
  std::ifstream maps("/proc/self/maps");
  std::string line, last;
  while (std::getline(maps, line)) {
    auto slash = line.find('/');
    if (slash == std::string::npos) continue;
    std::string path = line.substr(slash);
    auto name = path.substr(path.rfind('/') + 1);
    if (path != last && (name.rfind("libtorch_cpu.so", 0) == 0 || name.rfind("libc10.so", 0) == 0))
      std::fprintf(stderr, "loaded %s\n", path.c_str());
    last = path;
  }
  std::fprintf(stderr, "capability %s\n", at::get_cpu_capability().c_str());
}

}  // namespace

int main(int argc, char** argv) {
  const char* dump = nullptr;
  int threads = 1, i = 1;
  for (; i + 1 < argc && std::strncmp(argv[i], "--", 2) == 0; i += 2) {
    if (std::strcmp(argv[i], "--dump") == 0) dump = argv[i + 1];
    else if (std::strcmp(argv[i], "--threads") == 0) threads = std::atoi(argv[i + 1]);
    else break;
  }
  if (i >= argc || std::atoi(argv[i]) < 1 || threads < 1) {
    std::fprintf(stderr, "usage: torch_levels [--dump DIR] [--threads N] ITERS [OP...]\n");
    return 2;
  }
  int iters = std::atoi(argv[i++]);
  at::set_num_threads(threads);
  auto all = ops();
  std::vector<std::string> chosen(argv + i, argv + argc);
  if (chosen.empty())
    for (auto& [name, _] : all) chosen.push_back(name);
  for (auto& name : chosen) {
    auto op = all.find(name);
    if (op == all.end()) {
      std::fprintf(stderr, "unknown op '%s'\n", name.c_str());
      return 2;
    }
    op->second.setup();
    at::Tensor out;
    double ms = best_ms(op->second, iters, out);
    out = out.contiguous();
    std::printf("%s %.4f %016llx %lld\n", name.c_str(), ms, static_cast<unsigned long long>(fnv64(out)),
                static_cast<long long>(out.numel()));
    if (dump) {
      std::ofstream f(std::string(dump) + "/" + name + ".f32", std::ios::binary);
      f.write(static_cast<const char*>(out.data_ptr()), static_cast<std::streamsize>(out.nbytes()));
    }
  }
  report_loaded();
  return 0;
}
