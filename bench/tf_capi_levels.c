/* TensorFlow's Eigen-bound CPU kernels through the C API, one small graph per kernel: elementwise Tanh and
   Sigmoid, a Sum reduction, Softmax, Conv2D, a depthwise convolution and MatMul, each fed a fixed input (a sine
   pattern, the same in every run) and run in a session with one intra-op and one inter-op thread.

   Prints per kernel "KERNEL MS FNV64 N" (the best of ITERS runs in milliseconds, a hash of the output's bytes, its
   element count) and on stderr which libtensorflow and libtensorflow_framework files the process mapped, so that a
   driver running it through each ISA-level copy (GLIBC_TUNABLES masks, interleaved) can check it measured the copy
   it meant. Equal hashes mean bit-identical outputs; with --dump DIR each output is also written as DIR/KERNEL.f32
   (raw float32), for comparing copies within a tolerance where FMA and the vector width change float rounding.
   TF_ENABLE_ONEDNN_OPTS (read by the library) chooses Eigen's kernels or oneDNN's.

   usage: tf_capi_levels [--dump DIR] ITERS [KERNEL...]   (default: every kernel)
   build: gcc -O2 -o tf_capi_levels tf_capi_levels.c $(pkg-config --cflags --libs tensorflow) -lm */
#define _POSIX_C_SOURCE 200809L   /* clock_gettime under -std=c11 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <time.h>

#include <tensorflow/c/c_api.h>

#define MAX_DIMS 4

struct kernel {
  const char *name;
  const char *op;                /* the TF op the graph runs on its input */
  int ndims;
  int64_t dims[MAX_DIMS];        /* its input's shape */
  int nweight;                   /* 0: unary; else the second input, a Const of this shape */
  int64_t wdims[MAX_DIMS];
  int conv;                      /* Conv2D/DepthwiseConv2dNative: strides and padding attributes */
};

static const struct kernel KERNELS[] = {
  {"tanh", "Tanh", 1, {1 << 20}, 0, {0}, 0},
  {"sigmoid", "Sigmoid", 1, {1 << 20}, 0, {0}, 0},
  {"sum", "Sum", 2, {1024, 1024}, 1, {1}, 0},          /* over axis 1: the weight is the axis, an int32 */
  {"softmax", "Softmax", 2, {1024, 1000}, 0, {0}, 0},
  {"conv2d", "Conv2D", 4, {1, 56, 56, 64}, 4, {3, 3, 64, 64}, 1},
  {"depthwise", "DepthwiseConv2dNative", 4, {1, 112, 112, 32}, 4, {3, 3, 32, 1}, 1},
  {"matmul", "MatMul", 2, {512, 512}, 2, {512, 512}, 0},
};
#define NKERNELS (sizeof KERNELS / sizeof KERNELS[0])

static void check(TF_Status *s, const char *what) {
  if (TF_GetCode(s) != TF_OK) {
    fprintf(stderr, "%s: %s\n", what, TF_Message(s));
    exit(1);
  }
}

static int64_t elements(const int64_t *dims, int n) {
  int64_t count = 1;
  for (int i = 0; i < n; ++i) count *= dims[i];
  return count;
}

/* a float tensor holding the same values in every run: amplitude 2, so Tanh and Sigmoid leave their linear part */
static TF_Tensor *pattern(const int64_t *dims, int n, float phase) {
  TF_Tensor *t = TF_AllocateTensor(TF_FLOAT, dims, n, (size_t)elements(dims, n) * sizeof(float));
  float *data = TF_TensorData(t);
  for (int64_t i = 0; i < elements(dims, n); ++i) data[i] = 2.0f * sinf(0.001f * (float)i + phase);
  return t;
}

static TF_Output constant(TF_Graph *g, const char *name, TF_Tensor *value, TF_Status *s) {
  TF_OperationDescription *d = TF_NewOperation(g, "Const", name);
  TF_SetAttrTensor(d, "value", value, s);
  check(s, "Const value");
  TF_SetAttrType(d, "dtype", TF_TensorType(value));
  TF_Output out = {TF_FinishOperation(d, s), 0};
  check(s, name);
  return out;
}

/* Placeholder "x" -> OP (with the weight as a Const) -> the output */
static TF_Output build(TF_Graph *g, const struct kernel *k, TF_Status *s) {
  TF_OperationDescription *d = TF_NewOperation(g, "Placeholder", "x");
  TF_SetAttrType(d, "dtype", TF_FLOAT);
  TF_Output x = {TF_FinishOperation(d, s), 0};
  check(s, "Placeholder");
  TF_Output w = {NULL, 0};
  if (k->nweight) {
    TF_Tensor *value;
    if (strcmp(k->op, "Sum") == 0) {
      value = TF_AllocateTensor(TF_INT32, k->wdims, 1, sizeof(int32_t));
      *(int32_t *)TF_TensorData(value) = 1;
    } else {
      value = pattern(k->wdims, k->nweight, 0.5f);
    }
    w = constant(g, "w", value, s);
    TF_DeleteTensor(value);
  }
  d = TF_NewOperation(g, k->op, "y");
  TF_AddInput(d, x);
  if (w.oper) TF_AddInput(d, w);
  if (k->conv) {
    const int64_t strides[4] = {1, 1, 1, 1};
    TF_SetAttrIntList(d, "strides", strides, 4);
    TF_SetAttrString(d, "padding", "SAME", 4);
  }
  TF_Output y = {TF_FinishOperation(d, s), 0};
  check(s, k->op);
  return y;
}

/* ConfigProto{intra_op_parallelism_threads: 1, inter_op_parallelism_threads: 1}, serialized: fields 2 and 5 */
static const unsigned char ONE_THREAD[] = {0x10, 0x01, 0x28, 0x01};

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static uint64_t fnv64(const unsigned char *p, size_t n) {
  uint64_t h = 14695981039346656037ull;
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

static void dump(const char *dir, const char *name, const TF_Tensor *t) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s.f32", dir, name);
  FILE *f = fopen(path, "wb");
  if (f == NULL || fwrite(TF_TensorData(t), 1, TF_TensorByteSize(t), f) != TF_TensorByteSize(t) || fclose(f)) {
    perror(path);
    exit(1);
  }
}

static void run(const struct kernel *k, int iters, const char *dir) {
  TF_Status *s = TF_NewStatus();
  TF_Graph *g = TF_NewGraph();
  TF_Output y = build(g, k, s);
  TF_Output x = {TF_GraphOperationByName(g, "x"), 0};
  TF_SessionOptions *opts = TF_NewSessionOptions();
  TF_SetConfig(opts, ONE_THREAD, sizeof ONE_THREAD, s);
  check(s, "TF_SetConfig");
  TF_Session *session = TF_NewSession(g, opts, s);
  check(s, "TF_NewSession");
  TF_Tensor *in = pattern(k->dims, k->ndims, 0.0f), *out = NULL;
  double best = 1e30;
  for (int i = 0; i <= iters; ++i) {   /* the first run warms up (allocations, oneDNN's primitives) */
    if (out) TF_DeleteTensor(out);
    double t0 = now_ms();
    TF_SessionRun(session, NULL, &x, &in, 1, &y, &out, 1, NULL, 0, NULL, s);
    double ms = now_ms() - t0;
    check(s, k->name);
    if (i > 0 && ms < best) best = ms;
  }
  size_t bytes = TF_TensorByteSize(out);
  printf("%s %.4f %016llx %zu\n", k->name, best, (unsigned long long)fnv64(TF_TensorData(out), bytes),
         bytes / sizeof(float));
  if (dir) dump(dir, k->name, out);
  TF_DeleteTensor(out);
  TF_DeleteTensor(in);
  TF_CloseSession(session, s);
  TF_DeleteSession(session, s);
  TF_DeleteSessionOptions(opts);
  TF_DeleteGraph(g);
  TF_DeleteStatus(s);
}

/* which copy of each library ld.so mapped, as the bench checks it */
static void loaded(void) {
  FILE *maps = fopen("/proc/self/maps", "r");
  char line[4096], last[2][4096] = {"", ""};
  const char *libs[2] = {"/libtensorflow.so.", "/libtensorflow_framework.so."};
  while (maps && fgets(line, sizeof line, maps)) {
    char *path = strchr(line, '/');
    for (int i = 0; i < 2 && path; ++i)
      if (strstr(path, libs[i]) && strcmp(path, last[i]) != 0) {
        snprintf(last[i], sizeof last[i], "%s", path);
        fprintf(stderr, "loaded %s", path);
      }
  }
  if (maps) fclose(maps);
}

int main(int argc, char **argv) {
  const char *dir = NULL;
  if (argc > 2 && strcmp(argv[1], "--dump") == 0) {
    dir = argv[2];
    argv += 2;
    argc -= 2;
  }
  int iters = argc > 1 ? atoi(argv[1]) : 0;
  if (iters < 1) {
    fprintf(stderr, "usage: tf_capi_levels [--dump DIR] ITERS [KERNEL...]\n");
    return 2;
  }
  for (int a = 2; a < argc; ++a) {
    size_t i = 0;
    while (i < NKERNELS && strcmp(argv[a], KERNELS[i].name) != 0) ++i;
    if (i == NKERNELS) {
      fprintf(stderr, "tf_capi_levels: no kernel '%s'\n", argv[a]);
      return 2;
    }
  }
  for (size_t i = 0; i < NKERNELS; ++i) {
    int wanted = argc == 2;
    for (int a = 2; a < argc; ++a) wanted |= strcmp(argv[a], KERNELS[i].name) == 0;
    if (wanted) run(&KERNELS[i], iters, dir);
  }
  loaded();
  return 0;
}
