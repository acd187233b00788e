/* A user's C program against libtensorflowlite-dev's C API (libtensorflowlite_c): loads upstream's test model
 * tensorflow/lite/testdata/add.bin (output = 3 x input; the autopkgtest runs in the source tree), resizes its
 * input, runs it and checks the numbers, as upstream's CApiSimple.Smoke test does; and a model that is not a
 * flatbuffer gets the C API's own error (NULL), not a crash. */
#include <stdio.h>
#include <string.h>

#include <tensorflow/lite/c/c_api.h>

static int failures;

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "c-api-add: FAIL: %s\n", what);
        failures++;
    }
}

int main(void)
{
    static const char garbage[64] = "this is not a TF Lite flatbuffer";
    TfLiteModel *model = TfLiteModelCreate(garbage, sizeof garbage);
    check(model == NULL, "a model that is not a flatbuffer is refused");

    model = TfLiteModelCreateFromFile("tensorflow/lite/testdata/add.bin");
    check(model != NULL, "tensorflow/lite/testdata/add.bin loads");
    if (model == NULL)
        return 1;
    TfLiteInterpreterOptions *options = TfLiteInterpreterOptionsCreate();
    TfLiteInterpreterOptionsSetNumThreads(options, 2);
    TfLiteInterpreter *interpreter = TfLiteInterpreterCreate(model, options);
    TfLiteInterpreterOptionsDelete(options);
    TfLiteModelDelete(model);
    check(interpreter != NULL, "the interpreter is created");
    if (interpreter == NULL)
        return 1;

    const int dims[1] = {4};
    check(TfLiteInterpreterResizeInputTensor(interpreter, 0, dims, 1) == kTfLiteOk, "the input resizes to [4]");
    check(TfLiteInterpreterAllocateTensors(interpreter) == kTfLiteOk, "tensors are allocated");
    TfLiteTensor *input = TfLiteInterpreterGetInputTensor(interpreter, 0);
    check(TfLiteTensorType(input) == kTfLiteFloat32 && TfLiteTensorNumDims(input) == 1 &&
          TfLiteTensorDim(input, 0) == 4 && strcmp(TfLiteTensorName(input), "input") == 0, "the input tensor");
    const float in[4] = {1.f, 3.f, -2.5f, 1e-3f};
    check(TfLiteTensorCopyFromBuffer(input, in, sizeof in) == kTfLiteOk, "the input is copied in");
    check(TfLiteInterpreterInvoke(interpreter) == kTfLiteOk, "the model runs");

    const TfLiteTensor *output = TfLiteInterpreterGetOutputTensor(interpreter, 0);
    float out[4];
    check(TfLiteTensorCopyToBuffer(output, out, sizeof out) == kTfLiteOk, "the output is copied out");
    for (int i = 0; i < 4; i++) {   /* x + x + x in float32: exact for these inputs */
        char what[64];
        snprintf(what, sizeof what, "output[%d] = %g, expected %g", i, out[i], 3.f * in[i]);
        check(out[i] == in[i] + in[i] + in[i], what);
    }
    TfLiteInterpreterDelete(interpreter);
    printf("c-api-add: TF Lite %s, %s\n", TfLiteVersion(), failures ? "FAILED" : "all checks passed");
    return failures != 0;
}
