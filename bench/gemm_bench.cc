// One 8-bit GEMM workload (gemmlowp's EightBitIntGemm, uint8 x uint8 -> uint8, single thread) through whichever
// copy of libeight_bit_int_gemm.so.0 ld.so mapped. Prints: the copy, the best of REPS in GOP/s, a result checksum.
//   gemm_bench [N [REPS]]
#include <dlfcn.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include <eight_bit_int_gemm/eight_bit_int_gemm.h>

using namespace gemmlowp::eight_bit_int_gemm;

int main(int argc, char **argv)
{
    const int n = argc > 1 ? std::atoi(argv[1]) : 512;
    const int reps = argc > 2 ? std::atoi(argv[2]) : 5;
    std::vector<std::uint8_t> a(n * n), b(n * n), c(n * n);
    for (int i = 0; i < n * n; i++) {
        a[i] = static_cast<std::uint8_t>(i * 7 + 3);
        b[i] = static_cast<std::uint8_t>(i * 13 + 5);
    }
    SetMaxNumThreads(1);
    // (A - 128)(B - 128), scaled back into uint8 around 128
    auto gemm = [&] {
        EightBitIntGemm(false, false, false, n, n, n, a.data(), -128, n, b.data(), -128, n, c.data(), 128 << 10, 1,
                        10, n, BitDepthSetting::A8B8);
    };
    gemm();  // warm up: packing buffers, the global context
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        auto t0 = std::chrono::steady_clock::now();
        gemm();
        best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    std::uint64_t sum = 1469598103934665603ull;  // FNV-1a over the result
    for (std::uint8_t v : c)
        sum = (sum ^ v) * 1099511628211ull;
    Dl_info info;
    if (!dladdr(reinterpret_cast<void *>(&SetMaxNumThreads), &info))
        return 1;
    std::printf("%s %.3f %016llx\n", info.dli_fname, 2.0 * n * n * n / best / 1e9,
                static_cast<unsigned long long>(sum));
    FreePersistentResources();
    return 0;
}
