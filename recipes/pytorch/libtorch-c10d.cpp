// c10d's Gloo process group as a distributed training program uses it, built against the installed libtorch-dev
// (torch_cpu.pc: USE_C10D_GLOO, which ProcessGroupGloo.hpp needs, as Debian's Caffe2Targets.cmake gives it) and
// run with each installed ISA level's copies (recipes/pytorch.yaml: consumer-tests). Two ranks, one thread each,
// meet through an in-process store and talk over Gloo's TCP transport on the loopback address: an allreduce and
// a broadcast, each checked against the values the ranks started with.
#include <torch/csrc/distributed/c10d/HashStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>

#include <ATen/ATen.h>

#include <cstdio>
#include <thread>
#include <vector>

static bool run(int rank, int size, const c10::intrusive_ptr<c10d::Store>& store) {
  auto options = c10d::ProcessGroupGloo::Options::create();
  options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
  c10d::ProcessGroupGloo group(store, rank, size, options);

  std::vector<at::Tensor> sum{at::arange(6, at::kFloat) * (rank + 1)};   // rank r holds (r + 1) * [0, 6)
  group.allreduce(sum)->wait();
  std::vector<at::Tensor> from0{at::full({3}, 10.0 + rank, at::kDouble)};
  c10d::BroadcastOptions root0;
  root0.rootRank = 0;
  group.broadcast(from0, root0)->wait();

  bool summed = at::equal(sum[0], at::arange(6, at::kFloat) * (size * (size + 1) / 2));
  bool arrived = at::equal(from0[0], at::full({3}, 10.0, at::kDouble));
  std::printf("%s rank %d of %d: allreduce %s, broadcast %s\n", summed && arrived ? "ok  " : "FAIL", rank, size,
              summed ? "sums" : "differs", arrived ? "arrives" : "differs");
  return summed && arrived;
}

int main() {
  const int size = 2;
  auto store = c10::make_intrusive<c10d::HashStore>();
  std::vector<char> ok(size, 0);
  std::vector<std::thread> ranks;
  for (int r = 0; r < size; ++r) {
    ranks.emplace_back([&, r] { ok[r] = run(r, size, store); });
  }
  for (auto& t : ranks) {
    t.join();
  }
  return ok[0] && ok[1] ? 0 : 1;
}
