/* A C API user's program, as ffmpeg's dnn filter or a language binding uses libtensorflow: build a graph, run it
 * in a session on the user's own buffer, check the numbers against a reference computed here and that the run
 * logged no error; then import a graph that needs an op this build leaves out (XlaLaunch: XLA's JIT is not built)
 * and check that the C API reports it as an error. */
#define _POSIX_C_SOURCE 200809L   /* fileno, dup, dup2 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tensorflow/c/c_api.h>

#define N 3

/* the references without libm (the test links only the recipe's libraries): exp by its series, |x| < 4 here */
static double ref_tanh(double x) {
    double e = 1, term = 1;
    for (int n = 1; n < 60; n++) e += term *= 2 * x / n;
    return (e - 1) / (e + 1);
}

static float absf(float x) { return x < 0 ? -x : x; }

static void check(TF_Status *s, const char *what) {
    if (TF_GetCode(s) != TF_OK) {
        fprintf(stderr, "%s: %s\n", what, TF_Message(s));
        exit(1);
    }
}

static TF_Tensor *matrix(const float *values) {
    const int64_t dims[2] = {N, N};
    TF_Tensor *t = TF_AllocateTensor(TF_FLOAT, dims, 2, N * N * sizeof(float));
    memcpy(TF_TensorData(t), values, N * N * sizeof(float));
    return t;
}

static TF_Operation *op(TF_Graph *g, const char *type, const char *name, TF_Operation *x, TF_Operation *y,
                        TF_Status *s) {
    TF_OperationDescription *d = TF_NewOperation(g, type, name);
    if (x) TF_AddInput(d, (TF_Output){x, 0});
    if (y) TF_AddInput(d, (TF_Output){y, 0});
    if (!x) TF_SetAttrType(d, "dtype", TF_FLOAT);
    TF_Operation *o = TF_FinishOperation(d, s);
    check(s, type);
    return o;
}

static void keep(void *data, size_t len, void *arg) { (void)data, (void)len, (void)arg; }

/* TensorFlow logs to stderr; a line "<time>: E <file>:<line>] ..." is an error. The run of a correct graph must
 * log none: grappler's MLIR optimizer failed on every run, logged and ignored, while the tfg dialect's traits were
 * unknown to libMLIR's pass manager (function-local-statics-exported.patch). Echoes the log, returns whether it has one. */
static int logged_error(FILE *log) {
    char line[4096];
    int found = 0;
    rewind(log);
    while (fgets(line, sizeof line, log)) {
        fputs(line, stderr);
        if (strstr(line, ": E ") || strstr(line, ": F ")) found = 1;
    }
    return found;
}

/* tanh(a . b) + a through the C API, against the same computed by loops. `a` is the user's buffer at 16 bytes
 * from a 64-byte boundary, as malloc gives it: the C API copies what is less aligned than its kernels assume (the
 * x86-64-v3 kernels aborted on it while Eigen's alignment followed -march) */
static int run_graph(void) {
    static float storage[N * N + 4] __attribute__((aligned(64)));
    float *a = storage + 4, b[N * N], want[N * N];
    for (int i = 0; i < N * N; i++) {
        a[i] = (float)(i - 4) / 8.0f;
        b[i] = (float)((i * 7) % 9 - 4) / 5.0f;
    }
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            double acc = 0;
            for (int k = 0; k < N; k++) acc += (double)a[i * N + k] * b[k * N + j];
            want[i * N + j] = (float)(ref_tanh(acc) + a[i * N + j]);
        }
    TF_Status *s = TF_NewStatus();
    TF_Graph *g = TF_NewGraph();
    TF_Operation *pa = op(g, "Placeholder", "a", NULL, NULL, s);
    TF_OperationDescription *d = TF_NewOperation(g, "Const", "b");
    TF_Tensor *bt = matrix(b);
    TF_SetAttrTensor(d, "value", bt, s);
    check(s, "Const value");
    TF_SetAttrType(d, "dtype", TF_FLOAT);
    TF_Operation *cb = TF_FinishOperation(d, s);
    check(s, "Const");
    TF_Operation *mm = op(g, "MatMul", "mm", pa, cb, s);
    TF_Operation *th = op(g, "Tanh", "th", mm, NULL, s);
    TF_Operation *out = op(g, "AddV2", "out", th, pa, s);

    FILE *log = tmpfile();
    int saved = dup(2);
    if (!log || saved < 0) {
        perror("capturing stderr");
        exit(1);
    }
    fflush(stderr);
    dup2(fileno(log), 2);
    TF_SessionOptions *opts = TF_NewSessionOptions();
    TF_Session *sess = TF_NewSession(g, opts, s);
    TF_Output feed = {pa, 0}, fetch = {out, 0};
    const int64_t dims[2] = {N, N};
    TF_Tensor *in = TF_NewTensor(TF_FLOAT, dims, 2, a, N * N * sizeof(float), keep, NULL), *result = NULL;
    if (TF_GetCode(s) == TF_OK) TF_SessionRun(sess, NULL, &feed, &in, 1, &fetch, &result, 1, NULL, 0, NULL, s);
    fflush(stderr);
    dup2(saved, 2);
    int errors = logged_error(log);
    fclose(log);
    check(s, "TF_NewSession, TF_SessionRun");
    const float *got = TF_TensorData(result);
    int bad = 0;
    for (int i = 0; i < N * N; i++)
        if (absf(got[i] - want[i]) > 1e-5f * (1.0f + absf(want[i]))) {
            fprintf(stderr, "element %d: %.8g, want %.8g\n", i, got[i], want[i]);
            bad = 1;
        }
    printf("graph tanh(a.b)+a: %s (TensorFlow %s)\n", bad ? "WRONG" : "ok", TF_Version());
    printf("errors logged by the run: %s\n", errors ? "SOME (above)" : "none");
    bad |= errors;
    TF_DeleteTensor(result);
    TF_DeleteTensor(in);
    TF_DeleteTensor(bt);
    TF_CloseSession(sess, s);
    TF_DeleteSession(sess, s);
    TF_DeleteSessionOptions(opts);
    TF_DeleteGraph(g);
    TF_DeleteStatus(s);
    return bad;
}

/* GraphDef { node { name: "x" op: "XlaLaunch" } }, protobuf wire format written out */
static int import_left_out_op(void) {
    static const char graph_def[] = "\x0a\x0e\x0a\x01x\x12\x09XlaLaunch";
    TF_Buffer *buf = TF_NewBufferFromString(graph_def, sizeof graph_def - 1);
    TF_Graph *g = TF_NewGraph();
    TF_Status *s = TF_NewStatus();
    TF_ImportGraphDefOptions *opts = TF_NewImportGraphDefOptions();
    TF_GraphImportGraphDef(g, buf, opts, s);
    int ok = TF_GetCode(s) != TF_OK && strstr(TF_Message(s), "Op type not registered 'XlaLaunch'") != NULL;
    printf("graph needing XlaLaunch: %s (%d: %s)\n", ok ? "refused" : "NOT REFUSED", TF_GetCode(s), TF_Message(s));
    TF_DeleteImportGraphDefOptions(opts);
    TF_DeleteStatus(s);
    TF_DeleteGraph(g);
    TF_DeleteBuffer(buf);
    return !ok;
}

int main(void) {
    int bad = run_graph();
    bad |= import_left_out_op();
    return bad;
}
