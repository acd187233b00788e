// Run each one-op .tflite model given: the best of ITERS invokes (ms) and a checksum of the output, one thread.
// Prints "MODEL MS CHECKSUM" per model, and on stderr which libtensorflowlite the process loaded (the bench
// checks it is the copy it meant).
// usage: tflite_run ITERS MODEL.tflite...
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>

#include "tensorflow/lite/interpreter.h"
#include "tensorflow/lite/interpreter_builder.h"
#include "tensorflow/lite/kernels/register.h"
#include "tensorflow/lite/model_builder.h"

static void fill(TfLiteTensor* t) {
  float* d = t->data.f;
  for (size_t i = 0; i < t->bytes / sizeof(float); ++i) d[i] = 2.0f * std::sin(0.001f * static_cast<float>(i));
}

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s ITERS MODEL.tflite...\n", argv[0]);
    return 2;
  }
  const int iters = std::atoi(argv[1]);
  for (int m = 2; m < argc; ++m) {
    auto model = tflite::FlatBufferModel::BuildFromFile(argv[m]);
    tflite::ops::builtin::BuiltinOpResolver resolver;
    std::unique_ptr<tflite::Interpreter> interp;
    if (!model || tflite::InterpreterBuilder(*model, resolver)(&interp, 1) != kTfLiteOk || !interp ||
        interp->AllocateTensors() != kTfLiteOk) {
      std::fprintf(stderr, "%s: cannot build an interpreter\n", argv[m]);
      return 1;
    }
    for (int t : interp->inputs()) fill(interp->tensor(t));
    if (interp->Invoke() != kTfLiteOk) {
      std::fprintf(stderr, "%s: Invoke failed\n", argv[m]);
      return 1;
    }
    double best = 1e30;
    for (int k = 0; k < iters; ++k) {
      auto t0 = std::chrono::steady_clock::now();
      interp->Invoke();
      best = std::min(best, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    const TfLiteTensor* out = interp->tensor(interp->outputs()[0]);
    double sum = 0;
    for (size_t i = 0; i < out->bytes / sizeof(float); ++i) sum += out->data.f[i];
    std::printf("%s %.4f %.9g\n", argv[m], best, sum);
  }
  std::ifstream maps("/proc/self/maps");
  for (std::string line; std::getline(maps, line);) {
    auto at = line.find('/');
    if (at != std::string::npos && line.find("libtensorflowlite.so") != std::string::npos) {
      std::fprintf(stderr, "loaded %s\n", line.substr(at).c_str());
      break;
    }
  }
  return 0;
}
