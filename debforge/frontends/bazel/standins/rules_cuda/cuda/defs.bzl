# @rules_cuda//cuda:defs.bzl: CUDA targets are recorded (the CUDA flavour is a separate source package).
cuda_library = __df_rule("cuda_library")
cuda_objects = __df_rule("cuda_objects")

def requires_cuda_enabled():
    # rules_cuda marks targets incompatible unless CUDA is enabled; Debian's main build has no CUDA.
    return ["@platforms//:incompatible"]
